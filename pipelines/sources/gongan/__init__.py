"""公安 户籍 — police household register: every registered resident, GBK CSV."""

from pipelines.sources.spec import PersonRole, CsvFormat, SourceSpec

SPEC = SourceSpec(
    system="gongan",
    label="公安 户籍",
    table="household_register",
    entity="person",
    format=CsvFormat(encoding="gbk"),
    file_glob="*.csv",
    columns={
        "户号": "household_no",
        "姓名": "name",
        "公民身份号码": "id_number",
        "性别": "sex",
        "民族": "ethnicity",
        "出生日期": "birth_date",
        "与户主关系": "relation_to_head",
        "户籍地址": "registered_address",
        "现住址": "address",
        "联系电话": "phone",
    },
    required=("name", "id_number"),
    cadence_days=1,
    description="户籍人口，含户号、与户主关系、户籍地址与现住址。",
    persons=(PersonRole("person", "name", id_number="id_number", birth_date="birth_date", sex="sex"),),
    identity_rank=0,
    feeds=("persons", "households", "elderly"),
    person_facts=("registered",),
)
