"""市场监管 — market regulation: registered businesses, licences and capital, JSON."""

from pipelines.sources.spec import JsonFormat, SourceSpec

SPEC = SourceSpec(
    system="shichang",
    label="市场监管 市场主体",
    table="businesses",
    entity="business",
    format=JsonFormat(records_key="data"),
    file_glob="*.json",
    columns={
        "entName": "business_name",
        "uniscid": "credit_code",
        "legalRep": "legal_representative",
        "regCap": "registered_capital",
        "estDate": "established_date",
        "opTo": "licence_expiry",
        "regState": "business_status",
        "dom": "address",
        "tel": "phone",
    },
    required=("business_name", "credit_code"),
    cadence_days=1,
    description="市场主体登记信息：统一社会信用代码、注册资本（万元）、营业期限。",
    feeds=("businesses",),
)
