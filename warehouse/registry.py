"""The table registry: every curated (gold) table's name, keys, partitioning and Chinese labels.

Downstream teams read ``docs/tables.md``, which is generated from this registry
(``enteronce quality dictionary``); quality suites read the keys and column kinds from here too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from warehouse.catalog import CATALOG

DIVISION_COLUMNS = ["province_code", "city_code", "district_code", "street_code", "community_code"]

# Labels for gold-only columns (canonical fields take theirs from the catalogue).
LABELS = {
    "person_id": "人员编号", "household_key": "家庭编号", "address_id": "标准地址编码", "building_id": "楼幢编码",
    "business_id": "市场主体/场所编号", "record_id": "来源记录编号", "province_code": "省级区划代码",
    "city_code": "市级区划代码", "district_code": "区县区划代码", "street_code": "街道区划代码",
    "community_code": "社区区划代码", "source_system": "来源系统", "batch_id": "批次号", "source_row": "来源行号",
    "systems": "来源系统列表", "records": "来源记录数", "age": "年龄", "elderly_60": "60岁以上",
    "elderly_80": "80岁以上", "living_alone": "独居", "gugua": "孤寡", "disabled": "残疾人",
    "subsidy_recipient": "低保/低边/特困", "retiree": "企业退休", "floating_population": "流动人口",
    "members": "家庭人数", "head_person_id": "户主人员编号", "full_text": "标准地址全称", "road": "道路",
    "road_no": "门牌号", "compound": "小区", "building": "幢", "unit": "单元", "room": "室",
    "reading_date": "抄表日期", "kwh": "日用电量(千瓦时)", "registered": "已登记", "last_inspection": "最近检查日期",
    "city_inspections": "城管巡查次数", "fire_inspections": "消防检查次数", "power_account_no": "用电户号",
    "valid_ids": "有效身份证号个数", "household_no": "户号", "rooms": "居住房间数", "member_ids": "成员人员编号",
    "relations": "成员与户主关系", "has_elderly_80": "有80岁以上老人", "has_disabled": "有残疾人", "receives_subsidy": "享受救助",
    "addresses": "地址数", "source_file": "来源文件", "replay_of_batch_id": "更正所对应批次", "source": "来源系统",
    "division_code": "行政区划代码",
}
DIVISION_CODES = ("community_code", "street_code", "district_code", "city_code", "province_code")  # deepest first


def place_expr(columns: list[str] | None = None, fallback: str | None = None, levels: int = 5) -> pl.Expr:
    """A row's place: the deepest of the ``levels`` deepest division codes it names (of those among
    ``columns``; all when None), else ``fallback``. What every scoping by division starts from."""
    present = [pl.col(c) for c in DIVISION_CODES[:levels] if columns is None or c in columns]
    return pl.coalesce(*present, pl.lit(fallback, dtype=pl.String)) if present else pl.lit(fallback, dtype=pl.String)


SUFFIX_LABELS = {"_source": "来源", "_valid": "校验通过", "_raw": "原始值"}


@dataclass(frozen=True)
class TableSpec:
    name: str  # gold/<name>
    label: str
    description: str
    keys: tuple[str, ...]
    required: tuple[str, ...] = ()  # must never be null
    partition_by: tuple[str, ...] = ()
    lineage: tuple[str, ...] = ("source_system", "batch_id", "source_row")
    divisions: bool = True  # carries the five division code columns
    rules: dict[str, dict] = field(default_factory=dict)  # hand-written expectations by column
    inputs: tuple[str, ...] = ()  # master tables it is built from ("layer/system/table"), besides its sources' silver

    def input_paths(self) -> list[tuple[str, ...]]:
        return [tuple(i.split("/")) for i in self.inputs]

    def label_of(self, column: str) -> str:
        for suffix, word in SUFFIX_LABELS.items():
            if column.endswith(suffix) and column != suffix:
                base = self.label_of(column.removesuffix(suffix))
                return base + word if base else ""
        if column in CATALOG:
            return CATALOG[column].label
        return LABELS.get(column, "")


GOLD = [
    TableSpec("persons", "人口（一人一档）", "one row per resolved person: surviving fields and their sources, derived flags",
              keys=("person_id",), required=("person_id",), lineage=("systems", "records"),
              rules={"id_number": {"valid_id": 1.0}, "age": {"between": (0, 120)}, "sex": {"in_set": ["男", "女"]}},
              inputs=("person/golden/persons", "address/base/addresses")),
    TableSpec("households", "家庭户（人房关联）", "households and the room they live in",
              keys=("household_key",), required=("household_key", "members"), lineage=("household_no",),
              rules={"members": {"between": (1, 20)}},
              inputs=("person/golden/households", "address/base/addresses")),
    TableSpec("addresses", "标准地址", "the unified address base with all five levels",
              keys=("address_id",), required=("address_id", "building_id", "road"), lineage=("source_file",),
              inputs=("address/base/addresses",)),
    TableSpec("buildings", "楼幢", "buildings of the address base", keys=("building_id",), required=("building_id",), lineage=("addresses",),
              inputs=("address/base/buildings",)),
    TableSpec("businesses", "市场主体与经营场所", "one record per business/premises with its inspections counted",
              keys=("business_id",), required=("business_id", "business_name"), lineage=("systems",),
              rules={"credit_code": {"valid_credit": 0.98}, "registered_capital": {"between": (0, 1e7)}},
              inputs=("business/golden/businesses", "address/base/addresses")),
    TableSpec("welfare", "社会救助（按月）", "低保/低边/特困 payments by month and person",
              keys=("person_id", "payment_month", "assistance_type"), required=("person_id", "assistance_type"),
              rules={"monthly_amount": {"between": (0, 50000)}, "assistance_type": {"in_set": ["低保", "低边", "特困"]}},
              inputs=("address/links/address_links", "address/base/addresses", "person/links/person_links")),
    # one certificate per person (a re-issued one keeps its number); keyed by person so that the
    # certificate number — an ID number plus two digits — can be masked outside the hub like one
    TableSpec("disability", "残疾人", "disability certificates by person", keys=("person_id",),
              required=("person_id", "disability_cert_no"),
              rules={"disability_grade": {"in_set": ["一级", "二级", "三级", "四级"]}},
              inputs=("address/links/address_links", "address/base/addresses", "person/links/person_links")),
    TableSpec("elderly", "老年人", "residents aged 60+, living situation and 高龄津贴", keys=("person_id",),
              required=("person_id", "age"), lineage=("systems", "records"), rules={"age": {"between": (60, 120)}},
              inputs=("person/golden/persons", "address/base/addresses", "address/links/address_links", "person/links/person_links")),
    TableSpec("retirees", "企业退休人员", "enterprise retirees and pensions", keys=("person_id",), required=("person_id",),
              rules={"monthly_pension": {"between": (0, 100000)}},
              inputs=("address/links/address_links", "address/base/addresses", "person/links/person_links")),
    TableSpec("inspections", "检查记录", "city-management and fire inspections linked to their business",
              keys=("record_id",), required=("record_id", "business_id", "inspection_date"), lineage=("record_id",),
              inputs=("business/links/inspections", "address/base/addresses")),
    TableSpec("grid_events", "网格事件", "grid events with their resolved address", keys=("event_id",),
              required=("event_id", "reported_at"),
              inputs=("address/links/address_links", "address/base/addresses")),
    TableSpec("weather_warnings", "气象预警", "weather warnings by area", keys=("warning_id",), required=("warning_id", "warning_level"),
              rules={"warning_level": {"in_set": ["蓝色", "黄色", "橙色", "红色"]}},
              inputs=()),
    TableSpec("power_daily", "居民日用电量", "daily kWh per power account and address", keys=("power_account_no", "reading_date"),
              required=("power_account_no", "reading_date", "kwh"), rules={"kwh": {"between": (0, 500)}},
              inputs=("address/links/address_links", "address/base/addresses")),
]
GOLD_BY_NAME = {t.name: t for t in GOLD}
