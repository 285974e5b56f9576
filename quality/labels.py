"""Chinese wording for data officers: rules, expectations, decisions and yes/no, as data.

Rules are stored in English in the results table (stable identifiers for queries and tests);
reports and the workbench show them through these tables.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import polars as pl

BEIJING = timezone(timedelta(hours=8), "北京时间")

# rule text (or its start, for rules carrying a threshold) → Chinese
RULES: dict[str, str] = {
    "ID checksum (GB 11643)": "身份证号校验位正确（GB 11643）",
    "credit code checksum (GB 32100)": "统一社会信用代码校验位正确（GB 32100）",
    "division code in the division table": "行政区划代码在区划表中",
    "community code in the division table": "社区代码在区划表中",
    "district code in the division table": "区县代码在区划表中",
    "address_id exists in the address base": "地址编号在统一地址库中",
    "person_id exists in golden persons": "人员编号在人员主数据中",
    "the table has rows": "表不为空",
    "one row per key": "主键唯一",
    "rows carry their divisions": "行带有行政区划",
    "address match rate ≥ 95 %": "地址匹配率 ≥ 95%",
}
QUARANTINE_SHARE = re.compile(r"^at most ([\d.]+%) of the batch quarantined$")
# Great Expectations' expectation types → what they check
EXPECTATIONS: dict[str, str] = {
    "expect_column_values_to_not_be_null": "必填（不能为空）",
    "expect_column_values_to_be_in_set": "取值在允许范围内",
    "expect_column_values_to_be_between": "数值在合理区间内",
    "expect_column_values_to_match_regex": "格式正确",
    "expect_column_to_exist": "字段存在",
    "expect_table_row_count_to_be_between": "批次有数据",
    "expect_column_max_to_be_between": "最大值在区间内",
    "table.not_empty": "表不为空",
    "table.unique_keys": "主键唯一",
    "table.share_at_least": "比例不低于下限",
}
ADDRESS_DECISIONS: dict[str, str] = {
    "accept": "已匹配", "review": "待复核", "reject": "未匹配", "no_candidate": "无候选", "new_address": "新地址（待入库）",
    "building": "仅匹配到楼幢",
}
REVIEW_ACTIONS: dict[str, str] = {"accept": "采纳候选", "none": "均不是", "new": "新地址", "undo": "撤销"}
PERSON_ACTIONS: dict[str, str] = {"same": "是同一人", "different": "不是同一人", "undo": "撤销"}


def rule_label(rule: str | None, expectation: str | None) -> str:
    """The Chinese wording of a stored rule (a threshold in brackets kept), else of its expectation type."""
    rule = rule or ""
    share = QUARANTINE_SHARE.match(rule)
    if share:
        return f"隔离行不超过批次的 {share.group(1)}"
    for english, chinese in RULES.items():
        if rule.startswith(english):
            return f"{chinese} {rule[len(english):].strip()}".strip()
    return EXPECTATIONS.get(expectation or "", rule or expectation or "")


def yes_no(value: bool | None) -> str:
    return "" if value is None else ("是" if value else "否")


def yes_no_expr(column: str) -> pl.Expr:
    """:func:`yes_no` over a boolean column."""
    return pl.col(column).replace_strict({True: "是", False: "否"}, return_dtype=pl.String)


def beijing(moment: datetime | None) -> str:
    """A UTC moment as Beijing time, to the minute (naive moments are UTC, as Delta stores them)."""
    if moment is None:
        return ""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def short_run(run_id: str) -> str:
    """The first block of a Dagster run id: enough to tell runs apart in a report."""
    return run_id.split("-")[0][:8]


__all__ = ["ADDRESS_DECISIONS", "BEIJING", "EXPECTATIONS", "PERSON_ACTIONS", "REVIEW_ACTIONS", "RULES", "beijing", "rule_label", "short_run", "yes_no", "yes_no_expr"]
