"""老龄 — ageing office: older residents, living situation and 高龄津贴, XLSX."""

from pipelines.sources.spec import PersonRole, SourceSpec, XlsxFormat

SPEC = SourceSpec(
    system="laoling",
    label="老龄 老年人",
    table="elderly_residents",
    entity="person",
    format=XlsxFormat(title_rows=1, header_rows=1),
    file_glob="*.xlsx",
    columns={
        "姓名": "name",
        "身份证号码": "id_number",
        "性别": "sex",
        "年龄": "age",
        "居住状况": "living_status",
        "高龄津贴(元)": "elderly_allowance",
        "居住地址": "address",
        "联系电话": "phone",
    },
    required=("name",),
    cadence_days=31,
    description="60 周岁以上老年人，独居/孤寡情况与高龄津贴。",
    persons=(PersonRole("person", "name", id_number="id_number", sex="sex"),),
    identity_rank=3,
    feeds=("persons", "elderly"),
)
