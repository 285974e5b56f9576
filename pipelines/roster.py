"""Emergency roster (黄金十分钟): every vulnerable resident of some buildings, addresses or a division,
with building, unit, room, phone and why they are on the list, sorted for door-to-door work.

The categories are data (:data:`CATEGORIES`): a label and a polars condition over the curated
persons' flags. A resident is listed once, with every category that applies.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from warehouse.registry import place_expr

MINOR_ALONE = "_minor_alone"
# label → condition over gold persons (``_minor_alone`` is computed per household, below)
CATEGORIES: dict[str, pl.Expr] = {
    "独居老人": pl.col("elderly_60") & pl.col("living_alone"),
    "孤寡老人": pl.col("gugua"),
    "高龄老人（80岁以上）": pl.col("elderly_80"),
    "残疾人": pl.col("disabled"),
    "困难群众（低保/低边/特困）": pl.col("subsidy_recipient"),
    "独处未成年人": pl.col(MINOR_ALONE),
}
ADDRESS_COLUMNS = ("compound", "road", "road_no", "building", "unit", "room", "full_text")
HEADERS = {
    "community_code": "社区代码", "compound": "小区", "road": "道路", "road_no": "门牌号", "building": "幢", "unit": "单元",
    "room": "室", "name": "姓名", "age": "年龄", "sex": "性别", "phone": "联系电话", "categories": "类别",
    "full_text": "标准地址", "person_id": "人员编号", "building_id": "楼幢编码", "address_id": "标准地址编码",
}


@dataclass(frozen=True)
class Where:
    """Which residents: those in ``buildings``, at ``address_ids``, or inside division ``scope`` (any that are given)."""

    buildings: tuple[str, ...] = ()
    address_ids: tuple[str, ...] = ()
    scope: str | None = None

    def expr(self) -> pl.Expr:
        parts = []
        if self.buildings:
            parts.append(pl.col("building_id").is_in(list(self.buildings)))
        if self.address_ids:
            parts.append(pl.col("address_id").is_in(list(self.address_ids)))
        if self.scope:
            parts.append(place_expr(levels=3).str.starts_with(self.scope))
        if not parts:
            raise ValueError("roster: name buildings, addresses or a division")
        return pl.any_horizontal(parts)


def _natural(column: str) -> list[pl.Expr]:
    """Sort keys that put 2 before 10 (the number in the text, then the text)."""
    return [pl.col(column).str.extract(r"(\d+)").cast(pl.Int64, strict=False), pl.col(column)]


def roster(persons: pl.LazyFrame, addresses: pl.LazyFrame, where: Where) -> pl.DataFrame:
    """The vulnerable residents ``where`` says, with their room and categories, in door-to-door order."""
    people = persons.filter(where.expr()).with_columns(
        # a minor alone: living alone, or in a household with no adult (households share one room)
        ((pl.col("age") < 18) & (pl.col("living_alone").fill_null(False)
                                 | (pl.col("household_no").is_not_null() & (pl.col("age").max().over("household_no") < 18)).fill_null(False))
         ).alias(MINOR_ALONE),
    )
    labelled = people.with_columns(
        pl.concat_list([pl.when(condition.fill_null(False)).then(pl.lit(label)) for label, condition in CATEGORIES.items()])
        .list.drop_nulls().list.join("、").alias("categories"),
    ).filter(pl.col("categories") != "")
    rooms = addresses.select("address_id", *ADDRESS_COLUMNS)
    return (labelled.join(rooms, on="address_id", how="left")
            .select("community_code", *ADDRESS_COLUMNS[:-1], "name", "age", "sex", "phone", "categories", "full_text", "person_id",
                    "building_id", "address_id")
            .sort(["community_code", "road", *_natural("road_no"), *_natural("building"), *_natural("unit"), *_natural("room"), "name"],
                  nulls_last=True)
            .collect())


def with_headers(frame: pl.DataFrame) -> pl.DataFrame:
    """The roster with Chinese column headers (for print and XLSX)."""
    return frame.rename({c: HEADERS.get(c, c) for c in frame.columns})


__all__ = ["CATEGORIES", "HEADERS", "Where", "roster", "with_headers"]
