"""人社 — human resources & social security: employment and insurance, JSON lines with pinyin keys."""

from pipelines.sources.spec import PersonRole, JsonLinesFormat, SourceSpec

SPEC = SourceSpec(
    system="renshe",
    label="人社 就业参保",
    table="employment_insurance",
    entity="person",
    format=JsonLinesFormat(),
    file_glob="*.jsonl",
    # Keys are pinyin initials, as the provincial platform exports them.
    columns={
        "xm": "name",  # 姓名
        "sfzh": "id_number",  # 身份证号
        "xb": "sex",  # 性别 (1 男 / 2 女)
        "csrq": "birth_date",  # 出生日期 yyyymmdd
        "jyzt": "employment_status",  # 就业状态
        "cbzt": "insurance_status",  # 参保状态
        "dwmc": "employer_name",  # 单位名称
        "lxdh": "phone",  # 联系电话
        "jzdz": "address",  # 居住地址
    },
    required=("name",),
    cadence_days=7,
    description="就业登记与社会保险参保状态。",
    persons=(PersonRole("person", "name", id_number="id_number", birth_date="birth_date", sex="sex"),),
    identity_rank=1,
    feeds=("persons",),
)
