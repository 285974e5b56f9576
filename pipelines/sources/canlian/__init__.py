"""残联 — disabled persons' federation: disability certificates and subsidies, UTF-8 CSV with BOM."""

from pipelines.sources.spec import PersonRole, CsvFormat, SourceSpec

SPEC = SourceSpec(
    system="canlian",
    label="残联 残疾人",
    table="disability_certificates",
    entity="person",
    format=CsvFormat(encoding="utf-8-sig"),
    file_glob="*.csv",
    columns={
        "姓名": "name",
        "身份证号": "id_number",
        "性别": "sex",
        "残疾证号": "disability_cert_no",
        "残疾类别": "disability_type",
        "残疾等级": "disability_grade",
        "补贴金额": "subsidy_amount",
        "居住地址": "address",
        "联系电话": "phone",
    },
    required=("name", "disability_cert_no"),
    cadence_days=31,
    description="残疾人证（身份证号+类别+等级）及两项补贴。",
    persons=(PersonRole("person", "name", id_number="id_number", sex="sex"),),
    identity_rank=4,
    feeds=("persons", "disability"),
)
