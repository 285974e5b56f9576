"""The 13 departmental exports, each in its system's native shape, plus their ground truth.

Each ``export_<system>`` picks the people, premises or events that system knows about, renders
them the way that system's staff type them (noise), writes the file(s) under
``landing/<system>/`` and returns ground-truth rows: which file row is which person, address
and business, and whether the row is expected to pass (``silver``) or be quarantined. The
pipelines never read the truth; tests and benchmarks do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import polars as pl
import xlsxwriter

from pipelines.demo.noise import format_dates, full_width, noisy_ids, noisy_names, render_addresses
from pipelines.demo.population import REFERENCE_DATE, Population

TRUTH_SCHEMA = {
    "system": pl.String,
    "file": pl.String,
    "source_row": pl.Int64,
    "person_id": pl.String,
    "address_id": pl.String,
    "business_id": pl.String,
    "child_person_id": pl.String,  # births: the baby (person_id is the mother)
    "expect": pl.String,  # silver | quarantine
    "kind": pl.String,  # original | duplicate | correction | garbage
}
ADDRESS_PARTS = ["address_id", "province_name", "city_name", "district_name", "street_name", "community_name", "road", "road_no", "compound", "building", "unit", "room"]


@dataclass
class ExportContext:
    pop: Population
    landing: Path
    seed: int
    noise: float = 1.0
    power_days: int = 30

    def rng(self, system: str) -> np.random.Generator:
        return np.random.default_rng([self.seed, sum(system.encode())])

    def folder(self, system: str) -> Path:
        path = self.landing / system
        path.mkdir(parents=True, exist_ok=True)
        return path

    def addresses(self, address_ids: pl.Series, rng: np.random.Generator, free_text: bool = False) -> pl.Series:
        parts = pl.DataFrame({"address_id": address_ids}).join(
            self.pop.addresses.select(ADDRESS_PARTS), on="address_id", how="left", maintain_order="left"
        )
        return render_addresses(parts, rng, self.noise, free_text)


# ------------------------------------------------------------------------------ shared steps
def _with_duplicates(df: pl.DataFrame, rng: np.random.Generator, share: float) -> pl.DataFrame:
    """Repeat a share of rows (the same record delivered twice), at random positions."""
    n_dup = int(df.height * share)
    df = df.with_columns(pl.lit("original").alias("_kind"))
    if n_dup:
        dups = df[rng.choice(df.height, n_dup, replace=False)].with_columns(pl.lit("duplicate").alias("_kind"))
        df = pl.concat([df, dups])
    return df[rng.permutation(df.height)]


def _with_garbage(df: pl.DataFrame, rng: np.random.Generator, columns: dict[str, str], per: int = 4000) -> pl.DataFrame:
    """Overwrite a few rows with unusable values (e.g. ``#REF!`` in a name) — quarantine expected."""
    n = max(1, df.height // per)
    idx = rng.choice(df.height, n, replace=False)
    flag = np.zeros(df.height, dtype=bool)
    flag[idx] = True
    f = pl.Series(flag)
    return df.with_columns(
        *[pl.when(f).then(pl.lit(v)).otherwise(pl.col(c)).alias(c) for c, v in columns.items()],
        pl.when(f).then(pl.lit("garbage")).otherwise(pl.col("_kind")).alias("_kind"),
    )


def _truth(system: str, file: Path, df: pl.DataFrame, first_row: int) -> pl.DataFrame:
    cols = {c: (pl.col(c) if c in df.columns else pl.lit(None, pl.String)) for c in ("person_id", "address_id", "business_id", "child_person_id")}
    return df.select(
        pl.lit(system).alias("system"),
        pl.lit(file.name).alias("file"),
        pl.int_range(first_row, first_row + df.height, dtype=pl.Int64).alias("source_row"),
        *[e.alias(c) for c, e in cols.items()],
        pl.when(pl.col("_kind") == "garbage").then(pl.lit("quarantine")).otherwise(pl.lit("silver")).alias("expect"),
        pl.col("_kind").alias("kind"),
    )


def _write_csv(df: pl.DataFrame, path: Path, encoding: str) -> None:
    text = df.write_csv(null_value="")
    path.write_bytes(text.encode(encoding))


def _write_xlsx(path: Path, titles: list[str], groups: list[tuple[str, int]] | None, columns: list[str], df: pl.DataFrame, date_cols: tuple[str, ...] = ()) -> int:
    """A report-style workbook: merged title rows, optional merged group header, then data.

    Returns the Excel row number of the first data row (1-based) for ground truth.
    """
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    wb.set_properties({"created": datetime(2026, 11, 1)})  # fixed, so output is deterministic per seed
    ws = wb.add_worksheet("Sheet1")
    bold = wb.add_format({"bold": True, "align": "center"})
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    width = len(columns)
    row = 0
    for title in titles:
        ws.merge_range(row, 0, row, width - 1, title, bold)
        row += 1
    if groups:
        col = 0
        for label, span in groups:
            if span == 1:
                ws.merge_range(row, col, row + 1, col, label, bold)
            else:
                ws.merge_range(row, col, row, col + span - 1, label, bold)
                ws.write_row(row + 1, col, columns[col : col + span], bold)
            col += span
        row += 2
    else:
        ws.write_row(row, 0, columns, bold)
        row += 1
    first = row + 1
    date_idx = {columns.index(c) for c in date_cols}
    for values in df.select(columns).iter_rows():
        for j, value in enumerate(values):
            if value is None:
                continue
            if j in date_idx and isinstance(value, date):
                ws.write_datetime(row, j, datetime(value.year, value.month, value.day), date_fmt)
            else:
                ws.write(row, j, value)
        row += 1
    wb.close()
    return first


def _ymd(d: date) -> str:
    return d.strftime("%Y%m%d")


# --------------------------------------------------------------------------- the 13 systems
def export_gongan(ctx: ExportContext) -> pl.DataFrame:
    rng = ctx.rng("gongan")
    p = ctx.pop.persons.filter(pl.col("registered"))
    df = p.select(
        "person_id",
        "address_id",
        pl.col("household_no").alias("户号"),
        pl.Series("姓名", noisy_names(p["name"], rng, 0.004, 0.0)),
        pl.Series("公民身份号码", noisy_ids(p["id_number"], rng, bad_check=0.002, missing=0.0)),
        pl.col("sex").alias("性别"),
        pl.col("ethnicity").alias("民族"),
        pl.Series("出生日期", format_dates(p["birth_date"], rng, "compact", 0.02)),
        pl.col("relation_to_head").alias("与户主关系"),
        pl.Series("户籍地址", ctx.addresses(p["registered_address_id"], rng)),
        pl.Series("现住址", ctx.addresses(p["address_id"], rng)),
        pl.Series("联系电话", full_width(p["phone"], rng, 0.01)),
    )
    df = _with_duplicates(df, rng, 0.004)
    df = _with_garbage(df, rng, {"姓名": "#REF!", "公民身份号码": "作废"})
    cols = ["户号", "姓名", "公民身份号码", "性别", "民族", "出生日期", "与户主关系", "户籍地址", "现住址", "联系电话"]
    path = ctx.folder("gongan") / f"gongan_hjrk_{_ymd(REFERENCE_DATE)}.csv"
    _write_csv(df.select(cols), path, "gbk")
    truth = [_truth("gongan", path, df, 2)]
    # A late correction batch: the register fixes phone numbers and current addresses.
    fix = p.sample(max(1, p.height // 200), seed=ctx.seed)
    corr = fix.select(
        "person_id",
        "address_id",
        pl.col("household_no").alias("户号"),
        pl.col("name").alias("姓名"),
        pl.col("id_number").alias("公民身份号码"),
        pl.col("sex").alias("性别"),
        pl.col("ethnicity").alias("民族"),
        pl.col("birth_date").dt.strftime("%Y%m%d").alias("出生日期"),
        pl.col("relation_to_head").alias("与户主关系"),
        pl.Series("户籍地址", ctx.addresses(fix["registered_address_id"], rng)),
        pl.Series("现住址", ctx.addresses(fix["address_id"], rng, free_text=False)),
        pl.col("phone").alias("联系电话"),
    ).with_columns(pl.lit("correction").alias("_kind"))
    cpath = ctx.folder("gongan") / f"gongan_hjrk_{_ymd(REFERENCE_DATE + timedelta(days=1))}_更正.csv"
    _write_csv(corr.select(cols), cpath, "gbk")
    truth.append(_truth("gongan", cpath, corr, 2))
    return pl.concat(truth)


def export_minzheng(ctx: ExportContext) -> pl.DataFrame:
    rng = ctx.rng("minzheng")
    heads = ctx.pop.persons.filter(pl.col("relation_to_head") == "户主")
    heads = heads[rng.choice(heads.height, max(3, heads.height // 60), replace=False)]
    n = heads.height
    kind = np.asarray(["低保", "低边", "特困"])[rng.choice(3, n, p=[0.6, 0.3, 0.1])]
    per_head = np.select([kind == "低保", kind == "低边"], [1182.0, 591.0], 1537.0)
    start = (np.datetime64("2026-10-01") - rng.integers(30, 3000, n).astype("timedelta64[D]")).astype("datetime64[D]")
    df = heads.select(
        "person_id",
        "address_id",
        pl.col("name").alias("姓名"),
        pl.Series("身份证号", noisy_ids(heads["id_number"], rng)),
        pl.col("phone").alias("联系电话"),
        pl.col("household_size").alias("家庭人口"),
        pl.Series("家庭住址", ctx.addresses(heads["address_id"], rng)),
        pl.Series("救助类别", kind),
        pl.Series("月救助金额(元)", np.round(per_head * heads["household_size"].to_numpy(), 2)),
        pl.lit("2026年10月").alias("发放月份"),
        pl.Series("起始日期", start).cast(pl.Date),
    )
    df = _with_duplicates(df, rng, 0.005)
    df = _with_garbage(df, rng, {"姓名": "合计", "身份证号": "", "救助类别": ""}, per=10**9)
    df = df.with_row_index("序号", offset=1).with_columns(pl.col("序号").cast(pl.Int64))
    cols = ["序号", "姓名", "身份证号", "联系电话", "家庭人口", "家庭住址", "救助类别", "月救助金额(元)", "发放月份", "起始日期"]
    path = ctx.folder("minzheng") / "上城区社会救助发放花名册_202610.xlsx"
    first = _write_xlsx(
        path,
        ["上城区2026年10月城乡低保、低边、特困人员救助金发放花名册"],
        [("序号", 1), ("户主信息", 3), ("家庭信息", 2), ("救助信息", 4)],
        cols,
        df,
        date_cols=("起始日期",),
    )
    return _truth("minzheng", path, df, first)


DISABILITY_TYPES = ["视力残疾", "听力残疾", "言语残疾", "肢体残疾", "智力残疾", "精神残疾", "多重残疾"]
GRADES = ["一级", "二级", "三级", "四级"]


def export_canlian(ctx: ExportContext) -> pl.DataFrame:
    rng = ctx.rng("canlian")
    p = ctx.pop.persons
    p = p[rng.choice(p.height, max(3, p.height // 35), replace=False)]
    n = p.height
    t = rng.integers(0, 7, n)
    g = rng.choice(4, n, p=[0.15, 0.25, 0.3, 0.3])
    cert = pl.Series(p["id_number"]) + pl.Series((t + 1).astype(str)) + pl.Series((g + 1).astype(str))
    df = p.select(
        "person_id",
        "address_id",
        pl.Series("姓名", noisy_names(p["name"], rng)),
        pl.Series("身份证号", noisy_ids(p["id_number"], rng)),
        pl.col("sex").alias("性别"),
        pl.Series("残疾证号", cert),
        pl.Series("残疾类别", np.asarray(DISABILITY_TYPES)[t]),
        pl.Series("残疾等级", np.asarray(GRADES)[g]),
        pl.Series("补贴金额", np.where(g < 2, "320", "160")),
        pl.Series("居住地址", ctx.addresses(p["address_id"], rng)),
        pl.col("phone").alias("联系电话"),
    )
    df = _with_duplicates(df, rng, 0.005)
    df = _with_garbage(df, rng, {"残疾证号": "", "姓名": "***"})
    path = ctx.folder("canlian") / f"canlian_cjr_{_ymd(REFERENCE_DATE)}.csv"
    _write_csv(df.drop("person_id", "address_id", "_kind"), path, "utf-8-sig")
    return _truth("canlian", path, df, 2)


def export_laoling(ctx: ExportContext) -> pl.DataFrame:
    rng = ctx.rng("laoling")
    p = ctx.pop.persons.filter(pl.col("age") >= 60)
    n = p.height
    alone = (p["household_size"] == 1).to_numpy()
    status = np.where(alone, np.where(rng.random(n) < 0.15, "孤寡", "独居"), np.where(rng.random(n) < 0.5, "与子女同住", "与配偶同住"))
    age = p["age"].to_numpy()
    allowance = np.select([age >= 100, age >= 90, age >= 80], ["500", "300", "100"], "0")
    age_text = np.where(rng.random(n) < 0.1, np.char.add(age.astype(str), "岁"), age.astype(str))
    df = p.select(
        "person_id",
        "address_id",
        pl.Series("姓名", noisy_names(p["name"], rng)),
        pl.Series("身份证号码", noisy_ids(p["id_number"], rng, legacy15=0.02, missing=0.01)),
        pl.col("sex").alias("性别"),
        pl.Series("年龄", age_text),
        pl.Series("居住状况", status),
        pl.Series("高龄津贴(元)", allowance),
        pl.Series("居住地址", ctx.addresses(p["address_id"], rng)),
        pl.col("phone").alias("联系电话"),
    )
    df = _with_duplicates(df, rng, 0.003)
    df = _with_garbage(df, rng, {"姓名": "0", "年龄": "不详"})
    cols = ["姓名", "身份证号码", "性别", "年龄", "居住状况", "高龄津贴(元)", "居住地址", "联系电话"]
    path = ctx.folder("laoling") / "上城区老年人基础信息_202610.xlsx"
    first = _write_xlsx(path, ["上城区60周岁以上老年人基础信息表（2026年10月）"], None, cols, df)
    return _truth("laoling", path, df, first)


def export_renshe(ctx: ExportContext) -> pl.DataFrame:
    rng = ctx.rng("renshe")
    p = ctx.pop.persons.filter(pl.col("age").is_between(16, 64))
    p = p[rng.choice(p.height, int(p.height * 0.85), replace=False)]
    n = p.height
    employers = ctx.pop.businesses["business_name"].to_numpy()
    df = p.select(
        "person_id",
        "address_id",
        pl.Series("xm", noisy_names(p["name"], rng)),
        pl.Series("sfzh", noisy_ids(p["id_number"], rng)),
        pl.Series("xb", np.where(p["sex"].to_numpy() == "男", "1", "2")),
        pl.Series("csrq", format_dates(p["birth_date"], rng, "compact", 0.0)),
        pl.Series("jyzt", np.asarray(["就业", "灵活就业", "失业", "退休"])[rng.choice(4, n, p=[0.7, 0.15, 0.05, 0.1])]),
        pl.Series("cbzt", np.asarray(["参保缴费", "暂停缴费", "未参保"])[rng.choice(3, n, p=[0.85, 0.1, 0.05])]),
        pl.Series("dwmc", employers[rng.integers(0, len(employers), n)]),
        pl.col("phone").alias("lxdh"),
        pl.Series("jzdz", ctx.addresses(p["address_id"], rng)),
    )
    df = _with_duplicates(df, rng, 0.004)
    path = ctx.folder("renshe") / f"renshe_jycb_{_ymd(REFERENCE_DATE)}.jsonl"
    lines = df.drop("person_id", "address_id", "_kind").write_ndjson().splitlines()
    # One export interrupted mid-record, the way a timed-out API page looks.
    bad = int(rng.integers(0, len(lines)))
    lines[bad] = lines[bad][: len(lines[bad]) // 2]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    df = df.with_columns(pl.when(pl.int_range(pl.len()) == bad).then(pl.lit("garbage")).otherwise(pl.col("_kind")).alias("_kind"))
    return _truth("renshe", path, df, 1)


def export_qitui(ctx: ExportContext) -> pl.DataFrame:
    rng = ctx.rng("qitui")
    p = ctx.pop.persons.filter(pl.col("age") >= pl.when(pl.col("sex") == "男").then(60).otherwise(55))
    p = p[rng.choice(p.height, int(p.height * 0.6), replace=False)]
    n = p.height
    retire_age = np.where(p["sex"].to_numpy() == "男", 60, 55)
    retired = (p["birth_date"].to_numpy().astype("datetime64[D]") + (retire_age * 365.25).astype("timedelta64[D]")).astype("datetime64[D]")
    pension = np.round(rng.normal(3600, 900, n).clip(1800, 12000), 2)
    pension_text = np.where(rng.random(n) < 0.2, np.char.add(np.char.mod("%.2f", pension), "元"), np.char.mod("%.2f", pension))
    df = p.select(
        "person_id",
        "address_id",
        pl.Series("姓名", noisy_names(p["name"], rng)),
        pl.Series("身份证号", noisy_ids(p["id_number"], rng, legacy15=0.3)),
        pl.col("sex").alias("性别"),
        pl.Series("退休日期", format_dates(pl.Series(retired).cast(pl.Date), rng, "dot", 0.05)),
        pl.Series("月养老金", pension_text),
        pl.Series("原工作单位", np.asarray(["杭州钢铁厂", "杭州丝绸印染厂", "浙江麻纺织厂", "杭州制氧机厂", "杭州第一棉纺厂", "杭州汽车发动机厂"])[rng.integers(0, 6, n)]),
        pl.Series("居住地址", ctx.addresses(p["address_id"], rng)),
        pl.col("phone").alias("联系电话"),
    )
    df = _with_duplicates(df, rng, 0.004)
    df = _with_garbage(df, rng, {"退休日期": "待核实", "月养老金": "见附表"})
    path = ctx.folder("qitui") / "qitui_txry_202610.csv"
    _write_csv(df.drop("person_id", "address_id", "_kind"), path, "gbk")
    return _truth("qitui", path, df, 2)


def export_jisheng(ctx: ExportContext) -> pl.DataFrame:
    rng = ctx.rng("jisheng")
    persons = ctx.pop.persons
    kids = persons.filter((pl.col("age") <= 3) & pl.col("relation_to_head").is_in(["子", "女"]))
    mothers = persons.filter(pl.col("relation_to_head").is_in(["户主", "配偶"]) & (pl.col("sex") == "女")).select(
        "household_idx", pl.col("person_id").alias("mother_person_id"), pl.col("name").alias("m_name"), pl.col("id_number").alias("m_id")
    ).unique("household_idx", keep="first", maintain_order=True)
    b = kids.join(mothers, on="household_idx", how="inner", maintain_order="left")
    n = b.height
    named = rng.random(n) < 0.9
    df = b.select(
        pl.col("mother_person_id").alias("person_id"),
        pl.col("person_id").alias("child_person_id"),
        "address_id",
        pl.Series("母亲姓名", noisy_names(b["m_name"], rng)),
        pl.Series("母亲身份证号", noisy_ids(b["m_id"], rng)),
        pl.Series("婴儿姓名", np.where(named, b["name"].to_numpy(), "")),
        pl.col("sex").alias("婴儿性别"),
        pl.Series("出生日期", format_dates(b["birth_date"], rng, "cn", 0.05)),
        pl.Series("出生医院", np.asarray(["浙江大学医学院附属妇产科医院", "杭州市妇产科医院", "浙江省人民医院", "杭州市第一人民医院"])[rng.integers(0, 4, n)]),
        pl.Series("家庭住址", ctx.addresses(b["address_id"], rng)),
        pl.col("phone").alias("联系电话"),
    )
    if df.height == 0:
        raise ValueError("no births in this population; generate more persons")
    df = _with_duplicates(df, rng, 0.005)
    df = _with_garbage(df, rng, {"出生日期": "2026年13月45日"})
    path = ctx.folder("jisheng") / "jisheng_csdj_2026W44.csv"
    _write_csv(df.drop("person_id", "child_person_id", "address_id", "_kind"), path, "utf-8")
    return _truth("jisheng", path, df, 2)


def _business_frame(ctx: ExportContext, b: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    return b.with_columns(pl.Series("_address", ctx.addresses(b["address_id"], rng)))


def export_chengguan(ctx: ExportContext) -> pl.DataFrame:
    rng = ctx.rng("chengguan")
    shops = ctx.pop.businesses.filter(pl.col("individual") & (pl.col("business_status") != "注销"))
    visits = shops[np.repeat(np.arange(shops.height), rng.integers(1, 4, shops.height))]
    visits = _business_frame(ctx, visits, rng)
    n = visits.height
    day = (np.datetime64("2026-10-01") + rng.integers(0, 31, n).astype("timedelta64[D]")).astype("datetime64[D]")
    result = np.asarray(["合格", "责令整改", "已整改"])[rng.choice(3, n, p=[0.75, 0.15, 0.1])]
    issue = np.where(result == "合格", "", np.asarray(["占道经营", "门前三包不到位", "店招破损", "乱堆放"])[rng.integers(0, 4, n)])
    df = visits.select(
        "business_id",
        "address_id",
        pl.col("business_name").str.replace("^上城区", "").alias("店铺名称"),
        pl.Series("统一社会信用代码", np.where(rng.random(n) < 0.6, visits["credit_code"].to_numpy(), "")),
        pl.col("legal_representative").alias("经营者"),
        pl.col("_address").alias("经营地址"),
        pl.Series("巡查日期", format_dates(pl.Series(day).cast(pl.Date), rng, "slash", 0.05)),
        pl.Series("巡查结果", result),
        pl.Series("问题描述", issue),
        pl.col("phone").alias("联系电话"),
    )
    df = _with_duplicates(df, rng, 0.005)
    df = _with_garbage(df, rng, {"店铺名称": "", "巡查日期": "见上"}, per=2000)
    cols = ["店铺名称", "统一社会信用代码", "经营者", "经营地址", "巡查日期", "巡查结果", "问题描述", "联系电话"]
    path = ctx.folder("chengguan") / "城管沿街商铺巡查记录_202610.xlsx"
    first = _write_xlsx(path, ["上城区沿街商铺巡查记录表", "填报单位：上城区城市管理局    统计周期：2026年10月"], None, cols, df)
    return _truth("chengguan", path, df, first)


def export_shichang(ctx: ExportContext) -> pl.DataFrame:
    rng = ctx.rng("shichang")
    b = _business_frame(ctx, ctx.pop.businesses, rng)
    n = b.height
    forever = rng.random(n) < 0.2
    df = b.select(
        "business_id",
        "address_id",
        pl.col("business_name").alias("entName"),
        pl.Series("uniscid", np.where(rng.random(n) < 0.01, np.char.lower(b["credit_code"].to_numpy().astype(str)), b["credit_code"].to_numpy())),
        pl.col("legal_representative").alias("legalRep"),
        pl.col("registered_capital").alias("regCap"),
        pl.col("established_date").dt.strftime("%Y-%m-%d").alias("estDate"),
        pl.Series("opTo", np.where(forever, "长期", b["licence_expiry"].dt.strftime("%Y-%m-%d").to_numpy())),
        pl.col("business_status").alias("regState"),
        pl.col("_address").alias("dom"),
        pl.col("phone").alias("tel"),
    )
    df = _with_duplicates(df, rng, 0.003)
    df = _with_garbage(df, rng, {"uniscid": "待补录"}, per=1500)
    records = df.drop("business_id", "address_id", "_kind").to_dicts()
    path = ctx.folder("shichang") / f"scjg_scztdj_{_ymd(REFERENCE_DATE)}.json"
    path.write_text(json.dumps({"total": len(records), "data": records}, ensure_ascii=False, indent=1), encoding="utf-8")
    return _truth("shichang", path, df, 1)


def export_xiaofang(ctx: ExportContext) -> pl.DataFrame:
    rng = ctx.rng("xiaofang")
    b = ctx.pop.businesses
    b = _business_frame(ctx, b[rng.choice(b.height, max(3, b.height // 3), replace=False)], rng)
    n = b.height
    hazards = rng.choice([0, 0, 0, 1, 2, 3], n)
    df = b.select(
        "business_id",
        "address_id",
        pl.col("business_name").alias("单位名称"),
        pl.Series("社会信用代码", np.where(rng.random(n) < 0.7, b["credit_code"].to_numpy(), "")),
        pl.col("_address").alias("场所地址"),
        pl.Series("检查日期", format_dates(pl.Series((np.datetime64("2026-10-01") + rng.integers(0, 31, n).astype("timedelta64[D]")).astype("datetime64[D]")).cast(pl.Date), rng, "iso", 0.03)),
        pl.Series("检查结论", np.where(hazards > 0, "不合格", "合格")),
        pl.Series("隐患数量", np.where(rng.random(n) < 0.3, np.char.add(hazards.astype(str), "处"), hazards.astype(str))),
        pl.col("legal_representative").alias("负责人"),
    )
    df = _with_duplicates(df, rng, 0.005)
    df = _with_garbage(df, rng, {"检查日期": "——"}, per=1500)
    path = ctx.folder("xiaofang") / "xiaofang_jcjl_202610.csv"
    _write_csv(df.drop("business_id", "address_id", "_kind"), path, "utf-8")
    return _truth("xiaofang", path, df, 2)


EVENT_CATEGORIES = ["矛盾纠纷", "安全隐患", "环境卫生", "违章搭建", "消防通道占用", "独居老人关爱", "设施损坏"]


def export_zongzhi(ctx: ExportContext) -> pl.DataFrame:
    rng = ctx.rng("zongzhi")
    base = ctx.pop.addresses
    n = max(10, ctx.pop.persons.height // 50)
    where = base[rng.integers(0, base.height, n)]
    t0 = np.datetime64("2026-10-01T00:00:00")
    when = t0 + rng.integers(0, 31 * 86400, n).astype("timedelta64[s]")
    cat = np.asarray(EVENT_CATEGORIES)[rng.integers(0, len(EVENT_CATEGORIES), n)]
    ts = pl.Series(when.astype("datetime64[ms]")).cast(pl.Datetime("us"))
    fmt = rng.random(n) < 0.8
    reporters = ctx.pop.persons["name"].to_numpy()[rng.integers(0, ctx.pop.persons.height, 40)]
    df = where.select(
        "address_id",
        pl.format("SJ{}", pl.int_range(0, n).cast(pl.String).str.zfill(7)).alias("event_no"),
        pl.Series("report_time", np.where(fmt, ts.dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy(), ts.dt.strftime("%Y/%-m/%-d %H:%M").to_numpy())),
        pl.format("{}{}", pl.col("community_code"), pl.Series(rng.integers(1, 20, n)).cast(pl.String).str.zfill(3)).alias("grid_code"),
        pl.Series("reporter", reporters[rng.integers(0, 40, n)]),
        pl.Series("category", cat),
        pl.Series("content", np.char.add(cat.astype(str), "，网格员巡查发现，已拍照上报。")),
        pl.Series("location", ctx.addresses(where["address_id"], rng, free_text=True)),
    )
    df = _with_duplicates(df, rng, 0.01)
    df = _with_garbage(df, rng, {"report_time": "刚才"}, per=1000)
    path = ctx.folder("zongzhi") / f"zongzhi_wgsj_{_ymd(REFERENCE_DATE)}.jsonl"
    path.write_text(df.drop("address_id", "_kind").write_ndjson(), encoding="utf-8")
    return _truth("zongzhi", path, df, 1)


def export_qixiang(ctx: ExportContext) -> pl.DataFrame:
    rng = ctx.rng("qixiang")
    streets = ctx.pop.communities["street_code"].unique().sort().to_list()
    district = ctx.pop.communities["district_code"][0]
    areas = [district, district[:4], *streets]
    n = 36
    kinds = ["暴雨", "台风", "高温", "大风", "寒潮", "大雾", "雷电"]
    levels = ["蓝色", "黄色", "橙色", "红色"]
    records = []
    for i in range(n):  # a month of warnings: small, hand-shaped like the provincial feed
        start = datetime(2026, 10, 1) + timedelta(hours=int(rng.integers(0, 30 * 24)))
        records.append(
            {
                "identifier": f"33010041600000_2026{i:05d}",
                "areaCode": areas[int(rng.integers(0, len(areas)))],
                "eventType": kinds[int(rng.integers(0, len(kinds)))],
                "severity": levels[int(rng.choice(4, p=[0.4, 0.35, 0.2, 0.05]))],
                "sendTime": start.strftime("%Y-%m-%d %H:%M:%S"),
                "effective": start.strftime("%Y-%m-%dT%H:%M:%S"),
                "expires": (start + timedelta(hours=int(rng.integers(6, 48)))).strftime("%Y-%m-%d %H:%M:%S"),
                "description": "杭州市气象台发布预警信号，请注意防范。",
            }
        )
    records[int(rng.integers(0, n))]["areaCode"] = "上城"  # a free-text area: quarantined
    bad_idx = next(i for i, r in enumerate(records) if r["areaCode"] == "上城")
    body = "\n".join(
        "  <alert>\n" + "\n".join(f"    <{k}>{escape(v)}</{k}>" for k, v in r.items()) + "\n  </alert>" for r in records
    )
    path = ctx.folder("qixiang") / "qixiang_yjxh_202610.xml"
    path.write_text(f'<?xml version="1.0" encoding="UTF-8"?>\n<alerts sender="杭州市气象台">\n{body}\n</alerts>\n', encoding="utf-8")
    df = pl.DataFrame({"_kind": ["garbage" if i == bad_idx else "original" for i in range(n)]})
    return _truth("qixiang", path, df, 1)


def export_dianli(ctx: ExportContext) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Daily Parquet files, one per day. Truth is per account (rows × days would be huge)."""
    rng = ctx.rng("dianli")
    heads = ctx.pop.persons.filter(pl.col("relation_to_head") == "户主")
    accounts = heads.select(
        "power_account_no",
        "person_id",
        "address_id",
        "household_size",
        pl.col("age"),
        pl.col("name").alias("cons_name"),
    ).with_columns(pl.Series("elec_addr", ctx.addresses(heads["address_id"], rng)))
    n = accounts.height
    base_kwh = rng.gamma(4.0, 1.2, n) * (0.6 + 0.4 * accounts["household_size"].to_numpy())
    # Some older people living alone stop using power in the last days (the care alert's signal).
    silent = (accounts["household_size"].to_numpy() == 1) & (accounts["age"].to_numpy() >= 70) & (rng.random(n) < 0.05)
    end = REFERENCE_DATE - timedelta(days=1)
    folder = ctx.folder("dianli")
    garbage_rows = []
    for d in range(ctx.power_days):
        day = end - timedelta(days=ctx.power_days - 1 - d)
        kwh = np.round(base_kwh * rng.lognormal(0.0, 0.25, n), 2)
        if d >= ctx.power_days - 3:
            kwh = np.where(silent, np.round(rng.random(n) * 0.05, 2), kwh)
        missing = rng.random(n) < 0.0005
        frame = accounts.select(
            "power_account_no", "cons_name", "elec_addr",
            pl.lit(day).alias("data_date"),
            pl.Series("pap_e", np.where(missing, np.nan, kwh)).fill_nan(None),
        )
        path = folder / f"dianli_rydl_{_ymd(day)}.parquet"
        frame.rename({"power_account_no": "cons_no"}).write_parquet(path)
        idx = np.flatnonzero(missing)
        garbage_rows.append(
            pl.DataFrame({"file": [path.name] * len(idx), "source_row": (idx + 1).astype(np.int64)}, schema={"file": pl.String, "source_row": pl.Int64})
        )
    truth_accounts = accounts.select("power_account_no", "person_id", "address_id", pl.Series("silent_last_3_days", silent))
    return truth_accounts, pl.concat(garbage_rows)


EXPORTS = [
    export_gongan, export_minzheng, export_canlian, export_laoling, export_renshe, export_qitui,
    export_jisheng, export_chengguan, export_shichang, export_xiaofang, export_zongzhi, export_qixiang,
]
