"""企退 — enterprise retirees: pensions; older records still carry 15-digit IDs, GBK CSV."""

from pipelines.sources.spec import PersonRole, CsvFormat, SourceSpec

SPEC = SourceSpec(
    system="qitui",
    label="企退 企业退休人员",
    table="enterprise_retirees",
    entity="person",
    format=CsvFormat(encoding="gbk"),
    file_glob="*.csv",
    columns={
        "姓名": "name",
        "身份证号": "id_number",
        "性别": "sex",
        "退休日期": "retirement_date",
        "月养老金": "monthly_pension",
        "原工作单位": "employer_name",
        "居住地址": "address",
        "联系电话": "phone",
    },
    required=("name",),
    cadence_days=31,
    description="企业退休人员社会化管理名册与养老金。",
    persons=(PersonRole("person", "name", id_number="id_number", sex="sex"),),
    identity_rank=2,
    feeds=("persons", "retirees"),
    person_facts=("retiree",),
)
