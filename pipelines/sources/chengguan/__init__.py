"""城管 — urban management: street-front shops and their inspections, XLSX."""

from pipelines.sources.spec import SourceSpec, XlsxFormat

SPEC = SourceSpec(
    system="chengguan",
    label="城管 沿街商铺巡查",
    table="shop_inspections",
    entity="inspection",
    format=XlsxFormat(title_rows=2, header_rows=1),
    file_glob="*.xlsx",
    columns={
        "店铺名称": "business_name",
        "统一社会信用代码": "credit_code",
        "经营者": "legal_representative",
        "经营地址": "address",
        "巡查日期": "inspection_date",
        "巡查结果": "inspection_result",
        "问题描述": "issue_description",
        "联系电话": "phone",
    },
    required=("business_name", "inspection_date"),
    cadence_days=7,
    description="沿街商铺门前三包、占道经营等巡查记录。",
    feeds=("businesses", "inspections"),
)
