"""计生/卫健 — health & family planning: births and mothers, CSV with 2021年3月5日 dates."""

from pipelines.sources.spec import PersonRole, CsvFormat, SourceSpec

SPEC = SourceSpec(
    system="jisheng",
    label="卫健 出生登记",
    table="births",
    entity="birth",
    format=CsvFormat(encoding="utf-8"),
    file_glob="*.csv",
    columns={
        "母亲姓名": "mother_name",
        "母亲身份证号": "mother_id_number",
        "婴儿姓名": "child_name",
        "婴儿性别": "child_sex",
        "出生日期": "child_birth_date",
        "出生医院": "hospital",
        "家庭住址": "address",
        "联系电话": "phone",
    },
    required=("mother_name", "child_birth_date"),
    cadence_days=7,
    description="出生医学证明登记：婴儿与母亲。",
    persons=(PersonRole("person", "mother_name", id_number="mother_id_number"), PersonRole("child", "child_name", birth_date="child_birth_date", sex="child_sex"),),
    identity_rank=6,
    feeds=("persons",),
)
