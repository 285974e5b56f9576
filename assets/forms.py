"""Monthly forms in Dagster: one asset partitioned by month builds every form template for every
community into the reports folder (``<reports>/forms/<YYYY-MM>/<community>/<form>.xlsx``); a
schedule builds the month just ended on the 1st."""

import datetime as dt

import dagster as dg

from assets.gold import gold_key
from assets.resources import QualityResource, WarehouseResource
from pipelines.forms import build_every, load_forms
from pipelines.forms.xlsx import write_form
from pipelines.pii import scrubbed_errors
from pipelines.reference import division_names

FORMS_GROUP = "forms"
MONTHS = dg.MonthlyPartitionsDefinition(start_date="2026-01-01", timezone="Asia/Shanghai", end_offset=1)
TABLES = sorted({table for form in load_forms().values() for table in form.tables()})


@dg.asset(
    key=dg.AssetKey(["forms", "monthly"]),
    partitions_def=MONTHS,
    deps=[gold_key(name) for name in TABLES],
    group_name=FORMS_GROUP,
    kinds={"polars", "xlsx"},
    description="报表一键生成: every form template, for every community, for the month (formatted XLSX in the reports folder)",
)
@scrubbed_errors
def monthly_forms(context: dg.AssetExecutionContext, warehouse: WarehouseResource, quality: QualityResource):
    month = dt.date.fromisoformat(context.partition_key)
    wh = warehouse.get()
    tables = {name: wh.scan("gold", "curated", name) for name in TABLES}
    tables = {name: frame for name, frame in tables.items() if frame is not None}
    persons = tables.get("persons")
    communities = [] if persons is None else sorted(persons.select("community_code").drop_nulls().unique().collect()["community_code"].to_list())
    names = division_names()
    root = quality.folder() / "forms" / f"{month:%Y-%m}"
    stamp = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")
    files, forms = 0, load_forms()
    for scope, name, frame in build_every(forms, tables, month, communities):
        folder = root / scope
        folder.mkdir(parents=True, exist_ok=True)
        write_form(forms[name], frame, folder / f"{name}.xlsx", f"填报单位：{names.get(scope, scope)}（{scope}）　统计月份：{month:%Y年%m月}　制表时间：{stamp}")
        files += 1
    context.log.info(f"{files} forms for {len(communities)} communities in {root}")
    return dg.MaterializeResult(metadata={"communities": len(communities), "files": files, "folder": str(root)})


monthly_forms_job = dg.define_asset_job("monthly_forms", selection=dg.AssetSelection.groups(FORMS_GROUP), partitions_def=MONTHS,
                                        description="报表一键生成: the month's forms for every community")
monthly_forms_schedule = dg.build_schedule_from_partitioned_job(monthly_forms_job, hour_of_day=6, day_of_month=1,
                                                                default_status=dg.DefaultScheduleStatus.RUNNING)
