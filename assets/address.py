"""Address master assets: the unified address base, address links and the review queue."""

import dagster as dg
import polars as pl

from address_master.base import AddressBaseError, load_base
from address_master.links import collect_addresses, link_addresses, read_decisions, review_queue
from address_master.store import BASE_ADDRESSES, BASE_BUILDINGS, LAYER, LINKS, REVIEW_QUEUE, read_base, write_base
from assets.automation import EAGER
from assets.resources import LandingResource, WarehouseResource
from assets.sources import folder_sensor, markdown_table, silver_key
from pipelines.sources import all_specs

BASE_FOLDER = "address_base"
ADDRESSES_KEY = dg.AssetKey([LAYER, *BASE_ADDRESSES])
BUILDINGS_KEY = dg.AssetKey([LAYER, *BASE_BUILDINGS])
LINKS_KEY = dg.AssetKey([LAYER, *LINKS])
QUEUE_KEY = dg.AssetKey([LAYER, *REVIEW_QUEUE])


@dg.multi_asset(
    name="address_base",
    specs=[
        dg.AssetSpec(ADDRESSES_KEY, group_name="address_master", kinds={"delta", "polars"}, automation_condition=EAGER, description="统一地址库: standard addresses with all five levels' codes and names"),
        dg.AssetSpec(BUILDINGS_KEY, group_name="address_master", kinds={"delta", "polars"}, automation_condition=EAGER, description="buildings (building_id) of the address base"),
    ],
)
def address_base(context: dg.AssetExecutionContext, warehouse: WarehouseResource, landing: LandingResource):
    """Import the newest CSV in landing/address_base/ (import format) as the address base."""
    folder = landing.path() / BASE_FOLDER
    files = sorted(folder.glob("*.csv")) if folder.is_dir() else []
    if not files:
        raise dg.Failure(f"no address base delivered: put the district's export (CSV) in {folder} or run `enteronce address import-base FILE`")
    try:
        addresses, buildings, rejected = load_base(files[-1])
    except AddressBaseError as err:
        raise dg.Failure(str(err)) from None
    wh = warehouse.get()
    write_base(wh, addresses, buildings, rejected, source=str(files[-1]))
    if rejected.height:
        context.log.warning(f"{rejected.height} bad rows in {files[-1].name} not imported")
    yield dg.MaterializeResult(
        asset_key=ADDRESSES_KEY,
        metadata={"addresses": addresses.height, "rejected_rows": rejected.height, "source_file": str(files[-1]), "rejected": markdown_table(rejected)},
    )
    yield dg.MaterializeResult(asset_key=BUILDINGS_KEY, metadata={"buildings": buildings.height})


@dg.multi_asset(
    name="address_links",
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
def address_links(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    wh = warehouse.get()
    base = read_base(wh)
    records = collect_addresses(wh, list(all_specs().values()))
    links, candidates = link_addresses(records, base, read_decisions(wh))
    queue = review_queue(links, candidates, base)
    wh.write(links, LAYER, *LINKS, mode="overwrite")
    wh.write(queue, LAYER, *REVIEW_QUEUE, mode="overwrite")
    by_decision = links.group_by("decision").len().sort("len", descending=True)
    by_system = links.group_by("source_system").agg(
        pl.len().alias("addresses"), (pl.col("decision") == "accept").mean().round(4).alias("match_rate")
    ).sort("source_system")
    context.log.info(f"linked {links.height} address values ({links['address_key'].n_unique()} distinct texts)")
    yield dg.MaterializeResult(
        asset_key=LINKS_KEY,
        metadata={
            "address_values": links.height,
            "match_rate": float((links["decision"] == "accept").mean() or 0.0),
            "by_decision": markdown_table(by_decision),
            "by_system": markdown_table(by_system),
        },
    )
    yield dg.MaterializeResult(asset_key=QUEUE_KEY, metadata={"texts_to_review": queue.height, "records_waiting": int(queue["records"].sum() or 0)})
    yield dg.AssetCheckResult(
        check_name="every_address_linked",
        asset_key=LINKS_KEY,
        passed=links.height == records.height,
        description=f"{links.height} links for {records.height} silver address values",
    )


ADDRESS_ASSETS = [address_base, address_links]

address_base_sensor = folder_sensor(
    "landing_address_base", BASE_FOLDER, "*.csv", [ADDRESSES_KEY, BUILDINGS_KEY],
    "watches landing/address_base/ for a new delivery of the unified address base",
)
