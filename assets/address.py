"""Address master assets: the unified address base, address links and the review queue."""

import dagster as dg
import polars as pl

from address_master.base import MAX_LOSS, AddressBaseError, load_base, replacement_problems
from address_master.links import count_address_values, refresh_links
from address_master.store import BASE_ADDRESSES, BASE_BUILDINGS, LAYER, LINKS, REVIEW_QUEUE, remember_inputs, unchanged_since_last_run, write_base
from pipelines.pii import scrubbed_errors
from pipelines.ingest import file_sha256
from assets.automation import EAGER
from assets.executor import LARGE, MASTER_INPUT
from assets.resources import LandingResource, WarehouseResource
from assets.sources import folder_sensor, markdown_table, silver_key
from pipelines.sources import all_specs

BASE_FOLDER = "address_base"
ADDRESSES_KEY = dg.AssetKey([LAYER, *BASE_ADDRESSES])
BUILDINGS_KEY = dg.AssetKey([LAYER, *BASE_BUILDINGS])
LINKS_KEY = dg.AssetKey([LAYER, *LINKS])
QUEUE_KEY = dg.AssetKey([LAYER, *REVIEW_QUEUE])


class AddressBaseConfig(dg.Config):
    max_loss: float = MAX_LOSS
    """Refuse a base that drops or re-keys more than this share of the addresses in force."""
    force: bool = False
    """Import even so (a deliberate re-coding of the base, confirmed by a data officer)."""


@dg.multi_asset(
    name="address_base",
    op_tags=MASTER_INPUT,
    check_specs=[dg.AssetCheckSpec("reference_guard", asset=ADDRESSES_KEY, description="a new base that is empty or drops/re-keys many addresses is refused; the base in force stays")],
    specs=[
        dg.AssetSpec(ADDRESSES_KEY, group_name="address_master", kinds={"delta", "polars"}, automation_condition=EAGER, description="统一地址库: standard addresses with all five levels' codes and names"),
        dg.AssetSpec(BUILDINGS_KEY, group_name="address_master", kinds={"delta", "polars"}, automation_condition=EAGER, description="buildings (building_id) of the address base"),
    ],
)
@scrubbed_errors
def address_base(context: dg.AssetExecutionContext, config: AddressBaseConfig, warehouse: WarehouseResource, landing: LandingResource):
    """Import the newest CSV in landing/address_base/ (import format) as the address base."""
    folder = landing.path() / BASE_FOLDER
    files = sorted(folder.glob("*.csv")) if folder.is_dir() else []
    if not files:
        raise dg.Failure(f"no address base delivered: put the district's export (CSV) in {folder} or run `enteronce address import-base FILE`")
    wh = warehouse.get()
    digest = file_sha256(files[-1])
    if unchanged_since_last_run(wh, (LAYER, "base"), digest):
        # the same base again: writing it would move its version and re-link every address
        context.log.info(f"{files[-1].name} is the base already in force; nothing to import")
        # reported (unchanged) so that steps downstream in this run still do their own new work
        yield dg.MaterializeResult(asset_key=ADDRESSES_KEY, metadata={"changed": False, "source_file": str(files[-1])})
        yield dg.MaterializeResult(asset_key=BUILDINGS_KEY, metadata={"changed": False})
        yield dg.AssetCheckResult(check_name="reference_guard", asset_key=ADDRESSES_KEY, passed=True, description=f"{files[-1].name} in force")
        return
    try:
        addresses, buildings, rejected = load_base(files[-1])
        current = wh.read(LAYER, *BASE_ADDRESSES, columns=["address_id"]).get_column("address_id", default=None)
        problems = [] if config.force else replacement_problems(current, addresses["address_id"], config.max_loss)
    except AddressBaseError as err:
        problems = [str(err)]
    if problems:
        # refused: the base in force stays, everything downstream goes on with it
        context.log.error(f"address base {files[-1].name} refused: {'; '.join(problems)}")
        yield dg.MaterializeResult(asset_key=ADDRESSES_KEY, metadata={"changed": False, "refused_file": str(files[-1])})
        yield dg.MaterializeResult(asset_key=BUILDINGS_KEY, metadata={"changed": False})
        yield dg.AssetCheckResult(check_name="reference_guard", asset_key=ADDRESSES_KEY, passed=False, severity=dg.AssetCheckSeverity.ERROR,
                                  description=f"{files[-1].name} refused, the previous base stays in force: {'; '.join(problems)}")
        return
    write_base(wh, addresses, buildings, rejected, source=str(files[-1]))
    remember_inputs(wh, (LAYER, "base"), digest)
    if rejected.height:
        context.log.warning(f"{rejected.height} bad rows in {files[-1].name} not imported")
    yield dg.MaterializeResult(
        asset_key=ADDRESSES_KEY,
        metadata={"changed": True, "addresses": addresses.height, "rejected_rows": rejected.height, "source_file": str(files[-1]), "rejected": markdown_table(rejected)},
    )
    yield dg.MaterializeResult(asset_key=BUILDINGS_KEY, metadata={"buildings": buildings.height})
    yield dg.AssetCheckResult(check_name="reference_guard", asset_key=ADDRESSES_KEY, passed=True, description=f"{files[-1].name} imported ({addresses.height:,} addresses)")


def address_links_asset() -> dg.AssetsDefinition:
    """The links asset, depending on the silver table of every system known when it is built."""

    @dg.multi_asset(
        name="address_links",
        op_tags={"dagster/priority": "3", **LARGE},
        specs=[
            dg.AssetSpec(
                LINKS_KEY,
                deps=[ADDRESSES_KEY, *[silver_key(s) for s in all_specs().values()]],
                group_name="address_master",
                kinds={"delta", "polars"},
                automation_condition=EAGER,
                description="addresses__matched: every address column of every silver row → address_id, building_id, score, method",
            ),
            dg.AssetSpec(QUEUE_KEY, deps=[ADDRESSES_KEY, LINKS_KEY], group_name="address_master", kinds={"delta", "polars"}, automation_condition=EAGER, description="address texts waiting for a data officer, with top candidates"),
        ],
        check_specs=[dg.AssetCheckSpec("every_address_linked", asset=LINKS_KEY, blocking=True, description="one link row per silver address value")],
    )
    @scrubbed_errors
    def address_links(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        wh = warehouse.get()
        specs = list(all_specs().values())
        refreshed = refresh_links(wh, specs)
        queue = refreshed.queue
        total_links = wh.row_count(LAYER, *LINKS)
        expected = count_address_values(wh, specs)
        by_decision = refreshed.by_decision.sort("len", descending=True)
        accepted = int(by_decision.filter(pl.col("decision") == "accept")["len"].sum())
        context.log.info(f"{refreshed.reason}: linked {refreshed.linked} address values ({refreshed.texts} distinct texts)")
        yield dg.MaterializeResult(
            asset_key=LINKS_KEY,
            metadata={
                "linked_this_run": refreshed.linked,
                "address_values": total_links,
                "full_relink": refreshed.full,
                "why": refreshed.reason,
                "match_rate_this_run": accepted / refreshed.linked if refreshed.linked else 1.0,
                "by_decision": markdown_table(by_decision),
            },
        )
        yield dg.MaterializeResult(asset_key=QUEUE_KEY, metadata={"texts_to_review": queue.height, "records_waiting": int(queue["records"].sum() or 0) if queue.height else 0})
        yield dg.AssetCheckResult(
            check_name="every_address_linked",
            asset_key=LINKS_KEY,
            passed=total_links == expected,
            description=f"{total_links} links for {expected} silver address values",
        )

    return address_links


def address_assets() -> list[dg.AssetsDefinition]:
    return [address_base, address_links_asset()]

address_base_sensor = folder_sensor(
    "landing_address_base", BASE_FOLDER, "*.csv", [ADDRESSES_KEY, BUILDINGS_KEY],
    "watches landing/address_base/ for a new delivery of the unified address base",
)
