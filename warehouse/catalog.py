"""The field catalogue: every canonical field once, with its Chinese label and parser kind.

Source specs map their own column names onto these fields, so the catalogue is where
"the same field typed into many forms" collapses into one definition (最多录一次).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CanonicalField:
    name: str
    label: str
    kind: str  # parser kind, see pipelines.standardize.PARSERS
    description: str = ""


_FIELDS = [
    # people
    CanonicalField("name", "姓名", "name"),
    CanonicalField("id_number", "公民身份号码", "id_number", "18 位，15 位旧号升位，校验位大写"),
    CanonicalField("sex", "性别", "sex", "男/女"),
    CanonicalField("birth_date", "出生日期", "date"),
    CanonicalField("death_date", "死亡日期", "date"),
    CanonicalField("ethnicity", "民族", "text"),
    CanonicalField("phone", "联系电话", "phone"),
    CanonicalField("household_no", "户号", "code"),
    CanonicalField("relation_to_head", "与户主关系", "text"),
    CanonicalField("registered_address", "户籍地址", "address"),
    CanonicalField("address", "现住址", "address", "居住或经营地址"),
    CanonicalField("age", "年龄", "integer"),
    # civil affairs 民政
    CanonicalField("assistance_type", "救助类别", "text", "低保/低边/特困"),
    CanonicalField("family_size", "家庭人口", "integer"),
    CanonicalField("monthly_amount", "月救助金额(元)", "amount"),
    CanonicalField("payment_month", "发放月份", "date"),
    CanonicalField("start_date", "起始日期", "date"),
    # disabled persons 残联
    CanonicalField("disability_cert_no", "残疾证号", "code"),
    CanonicalField("disability_type", "残疾类别", "text"),
    CanonicalField("disability_grade", "残疾等级", "text"),
    CanonicalField("subsidy_amount", "补贴金额(元)", "amount"),
    # ageing office 老龄
    CanonicalField("living_status", "居住状况", "text", "独居/孤寡/与子女同住…"),
    CanonicalField("elderly_allowance", "高龄津贴(元)", "amount"),
    # human resources 人社 / retirees 企退
    CanonicalField("employment_status", "就业状态", "text"),
    CanonicalField("insurance_status", "参保状态", "text"),
    CanonicalField("employer_name", "单位名称", "text"),
    CanonicalField("retirement_date", "退休日期", "date"),
    CanonicalField("monthly_pension", "月养老金(元)", "amount"),
    # health / family planning 计生
    CanonicalField("mother_name", "母亲姓名", "name"),
    CanonicalField("mother_id_number", "母亲身份证号", "id_number"),
    CanonicalField("child_name", "婴儿姓名", "name"),
    CanonicalField("child_sex", "婴儿性别", "sex"),
    CanonicalField("child_birth_date", "婴儿出生日期", "date"),
    CanonicalField("hospital", "出生医院", "text"),
    # businesses and premises 市场监管 / 城管 / 消防
    CanonicalField("business_name", "单位名称(商户)", "text"),
    CanonicalField("credit_code", "统一社会信用代码", "credit_code"),
    CanonicalField("legal_representative", "法定代表人/经营者", "name"),
    CanonicalField("registered_capital", "注册资本(万元)", "amount"),
    CanonicalField("established_date", "成立日期", "date"),
    CanonicalField("licence_expiry", "营业期限至", "date"),
    CanonicalField("business_status", "登记状态", "text"),
    CanonicalField("inspection_date", "检查日期", "date"),
    CanonicalField("inspection_result", "检查结果", "text"),
    CanonicalField("issue_description", "问题描述", "text"),
    CanonicalField("hazard_count", "隐患数量", "integer"),
    # grid governance 综治
    CanonicalField("event_id", "事件编号", "code"),
    CanonicalField("reported_at", "上报时间", "datetime"),
    CanonicalField("grid_code", "网格编码", "code"),
    CanonicalField("reporter", "上报人", "name"),
    CanonicalField("event_category", "事件类别", "text"),
    CanonicalField("description", "事件描述", "text"),
    # weather 气象
    CanonicalField("warning_id", "预警编号", "code"),
    CanonicalField("division_code", "行政区划代码", "division_code"),
    CanonicalField("warning_type", "预警类型", "text"),
    CanonicalField("warning_level", "预警级别", "text"),
    CanonicalField("issued_at", "发布时间", "datetime"),
    CanonicalField("starts_at", "生效时间", "datetime"),
    CanonicalField("ends_at", "解除时间", "datetime"),
    # corrections flowing back from the five levels' nodes 校正回流
    CanonicalField("person_id", "人员编号", "text", "一人一档的人员编号（原样保留大小写）"),
    CanonicalField("correction_id", "更正编号", "code"),
    CanonicalField("node_code", "更正节点区划代码", "division_code", "提交更正的省/市/区/街道/社区节点"),
    CanonicalField("corrected_by", "核实人", "name"),
    CanonicalField("corrected_at", "核实时间", "datetime"),
    CanonicalField("correction_reason", "更正原因", "text"),
    # power 电力
    CanonicalField("power_account_no", "用电户号", "code"),
    CanonicalField("reading_date", "抄表日期", "date"),
    CanonicalField("kwh", "日用电量(千瓦时)", "amount"),
]

CATALOG: dict[str, CanonicalField] = {f.name: f for f in _FIELDS}

# Plausibility, as data: a value breaking its rule quarantines the row with the reason.
# past — not after today; birth — past and at most MAX_AGE years ago; age — 0 to MAX_AGE.
PLAUSIBLE = {
    "birth_date": "birth", "child_birth_date": "birth", "age": "age",
    "established_date": "past", "inspection_date": "past", "reported_at": "past", "issued_at": "past",
    "reading_date": "past", "payment_month": "past", "corrected_at": "past",
}
MAX_AGE = 120
PLAUSIBLE["death_date"] = "past"

# Dates that cannot come in the other order in one row (earlier, later): a row breaking one is
# quarantined naming both columns. A pair applies to a system delivering both fields.
DATE_ORDER = [
    ("birth_date", "death_date"),
    ("birth_date", "retirement_date"),
    ("birth_date", "start_date"),
    ("established_date", "licence_expiry"),
]


def field(name: str) -> CanonicalField:
    """The canonical field called ``name``; a clear error for a typo in a source spec."""
    try:
        return CATALOG[name]
    except KeyError:
        raise KeyError(f"'{name}' is not a canonical field; add it to pipelines/catalog.py") from None
