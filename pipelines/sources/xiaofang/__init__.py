"""消防 — fire: fire-safety inspections of premises, UTF-8 CSV."""

from pipelines.sources.spec import CsvFormat, SourceSpec

SPEC = SourceSpec(
    system="xiaofang",
    label="消防 消防检查",
    table="fire_inspections",
    entity="inspection",
    format=CsvFormat(encoding="utf-8"),
    file_glob="*.csv",
    columns={
        "单位名称": "business_name",
        "社会信用代码": "credit_code",
        "场所地址": "address",
        "检查日期": "inspection_date",
        "检查结论": "inspection_result",
        "隐患数量": "hazard_count",
        "负责人": "legal_representative",
    },
    required=("business_name", "inspection_date"),
    cadence_days=7,
    description="九小场所、沿街商铺消防安全检查。",
    feeds=("businesses", "inspections"),
)
