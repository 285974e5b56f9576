"""Person master and business assets: person links, golden persons, households, businesses."""

import dagster as dg
import polars as pl

from address_master.businesses import SOURCES as BUSINESS_SOURCES
from address_master.businesses import collect_business_records, golden_businesses, resolve_businesses
from address_master.person_master import GOLDEN as GOLDEN_TABLE
from address_master.person_master import update_person_master
from address_master.person_records import count_person_records, person_systems
from address_master.store import input_signature, remember_inputs, unchanged_since_last_run
from assets.address import LINKS_KEY
from assets.automation import EAGER
from assets.executor import LARGE
from assets.resources import WarehouseResource
from assets.sources import markdown_table, silver_key
from pipelines.pii import scrubbed_errors
from pipelines.sources import all_specs

PERSON_LINKS = dg.AssetKey(["person", "links", "person_links"])
GOLDEN_PERSONS = dg.AssetKey(["person", "golden", "persons"])
HOUSEHOLDS = dg.AssetKey(["person", "golden", "households"])
BUSINESSES = dg.AssetKey(["business", "golden", "businesses"])
INSPECTIONS = dg.AssetKey(["business", "links", "inspections"])


def _silver_deps(systems) -> list[dg.AssetKey]:
    specs = all_specs()
    return [silver_key(specs[s]) for s in systems if s in specs]


FLAGS = ["elderly_60", "elderly_80", "living_alone", "gugua", "disabled", "subsidy_recipient", "retiree", "floating_population"]


class PersonMasterConfig(dg.Config):
    full_resolve: bool = False
    """Resolve every record again (records may move between people); by default only new batches
    are resolved, against the people already known."""


def person_master_asset() -> dg.AssetsDefinition:
    """The person master, depending on every person-bearing system known when it is built."""

    @dg.multi_asset(
        name="person_master",
        op_tags={"dagster/priority": "3", **LARGE},  # on the longest path of a day: first when both cores are busy
        specs=[
            dg.AssetSpec(PERSON_LINKS, deps=[LINKS_KEY, *_silver_deps(person_systems(all_specs()))], group_name="person_master", kinds={"delta", "polars"}, automation_condition=EAGER, description="persons__resolved: every person-bearing silver row → person_id, rule, score"),
            dg.AssetSpec(GOLDEN_PERSONS, deps=[PERSON_LINKS], group_name="person_master", kinds={"delta", "polars"}, automation_condition=EAGER, description="one row per person; each field with its source system; derived flags (elderly, living alone, 孤寡, disabled, subsidy, retiree, floating population)"),
            dg.AssetSpec(HOUSEHOLDS, deps=[GOLDEN_PERSONS], group_name="person_master", kinds={"delta", "polars"}, automation_condition=EAGER, description="households and the room they live in (人房关联)"),
        ],
        check_specs=[
            dg.AssetCheckSpec("every_person_record_linked", asset=PERSON_LINKS, blocking=True, description="each person-bearing silver row has a person_id"),
            dg.AssetCheckSpec("one_valid_id_per_person", asset=GOLDEN_PERSONS, blocking=True, description="no golden person carries two different valid ID numbers"),
            dg.AssetCheckSpec("household_members_share_a_room", asset=HOUSEHOLDS, description="members of a household live in one room (WARN: lists households spread over rooms)"),
        ],
    )
    @scrubbed_errors
    def person_master(context: dg.AssetExecutionContext, config: PersonMasterConfig, warehouse: WarehouseResource):
        wh = warehouse.get()
        update = update_person_master(wh, all_specs(), full=config.full_resolve)
        context.log.info(f"person master: {update.mode} ({update.reason})")
        if update.mode == "unchanged":
            # reported (unchanged) so that steps downstream in this run still do their own new work
            for key in (PERSON_LINKS, GOLDEN_PERSONS, HOUSEHOLDS):
                yield dg.MaterializeResult(asset_key=key, metadata={"changed": False})
        else:
            context.log.info(f"{update.resolved} records resolved ({update.neighbourhood} known records compared), {update.persons_touched} persons touched; {update.persons} persons in {update.households} households")
            yield dg.MaterializeResult(asset_key=PERSON_LINKS, metadata={"mode": update.mode, "reason": update.reason, "records_resolved": update.resolved, "records_removed": update.removed, "by_rule": markdown_table(update.rules)})
            flags = wh.read(*GOLDEN_TABLE, columns=FLAGS).select(pl.col(FLAGS).sum())
            yield dg.MaterializeResult(asset_key=GOLDEN_PERSONS, metadata={"persons": update.persons, "persons_touched": update.persons_touched, "flags": markdown_table(flags)})
            yield dg.MaterializeResult(asset_key=HOUSEHOLDS, metadata={"households": update.households})
        # the checks read what is stored, so they hold (or fail) whether or not this run recomputed it
        linked = wh.read("person", "links", "person_links", columns=["person_id"])
        expected = count_person_records(wh, all_specs())
        unlinked = linked["person_id"].null_count()
        yield dg.AssetCheckResult(check_name="every_person_record_linked", asset_key=PERSON_LINKS, passed=unlinked == 0 and linked.height == expected, description=f"{unlinked} of {expected} records without a person ({linked.height} links)")
        golden = wh.read("person", "golden", "persons", columns=["person_id", "name", "systems", "valid_ids"])
        two_ids = golden.filter(pl.col("valid_ids") > 1)
        yield dg.AssetCheckResult(check_name="one_valid_id_per_person", asset_key=GOLDEN_PERSONS, passed=two_ids.height == 0, description=f"{two_ids.height} persons with several valid IDs", metadata={"examples": markdown_table(two_ids.select("person_id", "systems").head(10))})
        homes = wh.read("person", "golden", "households", columns=["household_key", "members", "rooms"])
        spread = homes.filter(pl.col("rooms") > 1)
        yield dg.AssetCheckResult(
            check_name="household_members_share_a_room", asset_key=HOUSEHOLDS, passed=spread.height == 0, severity=dg.AssetCheckSeverity.WARN,
            description=f"{spread.height} of {homes.height} households spread over several rooms",
            metadata={"examples": markdown_table(spread.head(10))},
        )

    return person_master


def business_master_asset() -> dg.AssetsDefinition:
    """The business master over market regulation, city management and fire."""

    @dg.multi_asset(
        name="business_master",
        specs=[
            dg.AssetSpec(BUSINESSES, deps=[LINKS_KEY, *_silver_deps(["shichang", "chengguan", "xiaofang"])], group_name="person_master", kinds={"delta", "polars"}, automation_condition=EAGER, description="one record per business/premises across market regulation, city management and fire"),
            dg.AssetSpec(INSPECTIONS, deps=[BUSINESSES], group_name="person_master", kinds={"delta", "polars"}, automation_condition=EAGER, description="every inspection linked to its business (最多查一次)"),
        ],
    )
    @scrubbed_errors
    def business_master(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        wh = warehouse.get()
        signature = input_signature(wh, list(BUSINESS_SOURCES))
        if unchanged_since_last_run(wh, ("business", "golden"), signature):
            context.log.info("no new business or inspection batches and the same address links: businesses unchanged")
            yield dg.MaterializeResult(asset_key=BUSINESSES, metadata={"changed": False})
            yield dg.MaterializeResult(asset_key=INSPECTIONS, metadata={"changed": False})
            return
        records = collect_business_records(wh)
        links = resolve_businesses(records)
        golden, inspections = golden_businesses(records, links)
        wh.write(golden, "business", "golden", "businesses", mode="overwrite")
        wh.write(inspections, "business", "links", "inspections", mode="overwrite")
        remember_inputs(wh, ("business", "golden"), signature)
        yield dg.MaterializeResult(asset_key=BUSINESSES, metadata={"businesses": golden.height, "by_rule": markdown_table(links.group_by("rule").len())})
        yield dg.MaterializeResult(asset_key=INSPECTIONS, metadata={"inspections": inspections.height})

    return business_master


def person_assets() -> list[dg.AssetsDefinition]:
    return [person_master_asset(), business_master_asset()]
