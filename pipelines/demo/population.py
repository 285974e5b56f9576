"""Synthetic district: the unified address base, residents in households, businesses.

Everything is drawn with one seeded numpy generator and built as whole columns, so a million
residents take seconds. Division codes and names are real (the shipped Zhejiang table); roads,
compounds, people and businesses are invented.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from pipelines.demo import vocab
from pipelines.ids import CREDIT_CHARSET, credit_check_chars, id_check_chars, org_check_values
from pipelines.reference import district_communities

REFERENCE_DATE = date(2026, 11, 1)


@dataclass
class Population:
    communities: pl.DataFrame
    addresses: pl.DataFrame  # the unified address base: one row per room / premises
    buildings: pl.DataFrame
    persons: pl.DataFrame
    businesses: pl.DataFrame


def _pick(rng: np.random.Generator, items: list[str], n: int, weights: list[float] | None = None) -> np.ndarray:
    p = None if weights is None else np.asarray(weights, dtype=float) / np.sum(weights)
    return np.asarray(items, dtype=object)[rng.choice(len(items), size=n, p=p)]


def build_address_base(rng: np.random.Generator, communities: pl.DataFrame, rooms_needed: int, shops_needed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Roads, compounds, buildings, units and rooms, plus street-front premises, per community."""
    n_comm = communities.height
    # Each community has a few roads of its own; compound and shop addresses sit on them.
    roads_per = rng.integers(3, 7, size=n_comm)
    road_comm = np.repeat(np.arange(n_comm), roads_per)
    road_names = vocab.unique_names(rng, vocab.ROAD_HEADS, vocab.ROAD_TAILS, vocab.ROAD_SUFFIXES, len(road_comm))

    avg_rooms = 11 * 2.5 * 9 * 2.5
    n_compounds = max(n_comm, int(np.ceil(rooms_needed * 1.2 / avg_rooms)))
    comp_comm = np.concatenate([np.arange(n_comm), rng.integers(0, n_comm, size=n_compounds - n_comm)])
    comp_road_idx = _road_for(rng, comp_comm, road_comm)
    # Small districts (tests, demos) get smaller compounds rather than mostly empty ones.
    max_buildings = int(np.clip(rooms_needed * 1.3 / n_compounds / (2.5 * 9 * 2.5) * 2, 2, 19))
    compounds = pl.DataFrame(
        {
            "community_idx": comp_comm,
            "road": road_names[comp_road_idx],
            "road_no": rng.integers(1, 400, size=n_compounds),
            "compound": vocab.unique_names(rng, vocab.COMPOUND_HEADS, vocab.COMPOUND_TAILS, vocab.COMPOUND_SUFFIXES, n_compounds),
            "n_buildings": rng.integers(1, max_buildings + 1, size=n_compounds),
            "n_units": rng.integers(1, 5, size=n_compounds),
            "n_floors": rng.integers(4, 16, size=n_compounds),
            "rooms_per_floor": rng.integers(2, 4, size=n_compounds),
        }
    ).with_row_index("compound_idx")
    rooms = (
        compounds.with_columns(pl.int_ranges(1, pl.col("n_buildings") + 1).alias("building"))
        .explode("building")
        .with_columns(pl.int_ranges(1, pl.col("n_units") + 1).alias("unit"))
        .explode("unit")
        .with_columns(pl.int_ranges(1, pl.col("n_floors") + 1).alias("floor"))
        .explode("floor")
        .with_columns(pl.int_ranges(1, pl.col("rooms_per_floor") + 1).alias("door"))
        .explode("door")
        .with_columns(
            (pl.col("floor") * 100 + pl.col("door")).cast(pl.String).alias("room"),
            pl.lit("residential").alias("kind"),
        )
    )
    # Street-front premises: a road number of their own, one ground-floor unit.
    n_shops = max(shops_needed, 1)
    shop_road_idx = rng.integers(0, len(road_comm), size=n_shops)
    shops = pl.DataFrame(
        {
            "community_idx": road_comm[shop_road_idx],
            "road": road_names[shop_road_idx],
            "road_no": rng.integers(400, 1200, size=n_shops),
        }
    ).unique(["road", "road_no"], keep="first", maintain_order=True)
    shops = shops.with_columns(
        pl.lit(None, pl.String).alias("compound"),
        pl.lit(None, pl.Int64).alias("building"),
        pl.lit(None, pl.Int64).alias("unit"),
        pl.lit(1, pl.Int64).alias("floor"),
        pl.lit(None, pl.String).alias("room"),
        pl.lit("commercial").alias("kind"),
    )
    cols = ["community_idx", "road", "road_no", "compound", "building", "unit", "floor", "room", "kind"]
    base = pl.concat([rooms.select(cols).cast({"road_no": pl.Int64, "building": pl.Int64, "unit": pl.Int64, "floor": pl.Int64}), shops.select(cols).cast({"road_no": pl.Int64})])
    comm = communities.with_row_index("community_idx").with_columns(pl.col("community_idx").cast(pl.Int64))
    base = base.with_columns(pl.col("community_idx").cast(pl.Int64)).join(comm, on="community_idx", how="left")
    base = base.with_row_index("seq").with_columns(
        pl.format("AD{}", pl.col("seq").cast(pl.String).str.zfill(8)).alias("address_id")
    )
    building_key = pl.concat_str(
        [pl.col("community_code"), pl.col("road"), pl.col("road_no").cast(pl.String), pl.col("building").cast(pl.String).fill_null("")],
        separator="|",
    )
    base = base.with_columns(building_key.alias("_bkey"))
    bids = base.select("_bkey").unique(maintain_order=True).with_row_index("bseq").with_columns(
        pl.format("BD{}", pl.col("bseq").cast(pl.String).str.zfill(7)).alias("building_id")
    )
    base = base.join(bids.drop("bseq"), on="_bkey", how="left").drop("_bkey", "seq")
    base = base.with_columns(standard_text().alias("full_text"))
    buildings = base.group_by("building_id", maintain_order=True).agg(
        pl.first("community_code", "road", "road_no", "compound", "building", "kind"),
        pl.len().alias("units_in_building"),
    )
    return base, buildings


def standard_text() -> pl.Expr:
    """The standard full address: five levels, road and number, compound, building, unit, room."""
    return pl.concat_str(
        [
            pl.col("province_name"), pl.col("city_name"), pl.col("district_name"),
            pl.col("street_name"), pl.col("community_name"),
            pl.col("road"), pl.col("road_no").cast(pl.String), pl.lit("号"),
            pl.col("compound").fill_null(""),
            pl.when(pl.col("building").is_not_null()).then(pl.format("{}幢", pl.col("building"))).otherwise(pl.lit("")),
            pl.when(pl.col("unit").is_not_null()).then(pl.format("{}单元", pl.col("unit"))).otherwise(pl.lit("")),
            pl.when(pl.col("room").is_not_null()).then(pl.format("{}室", pl.col("room"))).otherwise(pl.lit("")),
        ]
    )


def _road_for(rng: np.random.Generator, comm_idx: np.ndarray, road_comm: np.ndarray) -> np.ndarray:
    """A random road index belonging to each row's community."""
    starts = np.searchsorted(road_comm, comm_idx, side="left")
    ends = np.searchsorted(road_comm, comm_idx, side="right")
    return starts + (rng.random(len(comm_idx)) * (ends - starts)).astype(np.int64)


def build_persons(rng: np.random.Generator, base: pl.DataFrame, n_persons: int, district_code: str, id_area_codes: list[str]) -> pl.DataFrame:
    """Households in rooms; members with ages, sexes, valid IDs, names and flags."""
    sizes_p = np.array([0.25, 0.30, 0.25, 0.12, 0.08])
    est_households = int(n_persons / (sizes_p * np.arange(1, 6)).sum() * 1.05) + 1
    sizes = rng.choice(np.arange(1, 6), size=est_households, p=sizes_p)
    cum = np.cumsum(sizes)
    n_households = int(np.searchsorted(cum, n_persons) + 1)
    sizes = sizes[:n_households]
    sizes[-1] -= int(cum[n_households - 1] - n_persons)
    rooms = base.filter(pl.col("kind") == "residential")
    if n_households > rooms.height:
        raise ValueError(f"{n_households} households do not fit in {rooms.height} rooms")
    room_pick = rng.choice(rooms.height, size=n_households, replace=False)
    hh = rooms[room_pick].select("address_id", "building_id", "community_code", "street_name")
    hh = hh.with_columns(
        pl.Series("household_size", sizes),
        pl.format("{}{}", pl.lit(district_code), pl.int_range(0, n_households).cast(pl.String).str.zfill(7)).alias("household_no"),
        pl.format("33{}", pl.Series(rng.integers(10**7, 10**8 - 1, size=n_households)).cast(pl.String)).alias("power_account_no"),
    )
    hh_idx = np.repeat(np.arange(n_households), sizes)
    member = np.concatenate([np.arange(s) for s in sizes]) if n_households else np.array([], dtype=int)
    n = len(hh_idx)
    # Head's age: single-person households skew old (独居老人), others follow the adult pyramid.
    head_age = np.where(
        sizes == 1,
        rng.choice(vocab.AGE_BANDS, size=n_households, p=vocab.SINGLE_AGE_P) + rng.integers(0, 5, n_households),
        rng.choice(vocab.AGE_BANDS, size=n_households, p=vocab.HEAD_AGE_P) + rng.integers(0, 5, n_households),
    )
    ha = head_age[hh_idx]
    age = np.select(
        [member == 0, member == 1, member == 4],
        [ha, ha + rng.integers(-4, 5, n), ha + rng.integers(24, 33, n)],
        default=ha - rng.integers(24, 36, n),
    )
    age = np.clip(age, 0, 104)
    head_male = rng.random(n_households) < 0.6
    male = np.where(member == 0, head_male[hh_idx], np.where(member == 1, ~head_male[hh_idx], rng.random(n) < 0.51))
    relation = np.select(
        [member == 0, member == 1, member == 4],
        ["户主", "配偶", np.where(male, "父亲", "母亲")],
        default=np.where(male, "子", "女"),
    )
    days = rng.integers(0, 365, n)
    # Twins: now and then the second child shares the first child's birthday.
    twin = (member == 3) & (rng.random(n) < 0.03)
    twin_idx = np.flatnonzero(twin)
    age[twin_idx] = age[twin_idx - 1]
    days[twin_idx] = days[twin_idx - 1]
    birth = (np.datetime64(REFERENCE_DATE) - (age * 365.25).astype("timedelta64[D]") - days.astype("timedelta64[D]")).astype("datetime64[D]")
    # ID numbers: issuing area (mostly this district, including the pre-2021 江干/下城 codes),
    # birth date, a sequence whose parity is the sex, and the GB 11643 check character.
    area = _pick(rng, id_area_codes, n, vocab.area_weights(id_area_codes, district_code))
    ids = _unique_ids(rng, area, birth, male)
    surname = _pick(rng, vocab.SURNAMES, n, vocab.SURNAME_WEIGHTS)
    given = vocab.given_names(rng, n)
    name = np.char.add(surname.astype(str), given.astype(str)).astype(object)
    minority = rng.random(n) < 0.008
    name[minority] = vocab.minority_names(rng, int(minority.sum()))
    ethnicity = np.where(minority, _pick(rng, ["维吾尔族", "回族", "藏族"], n), np.where(rng.random(n) < 0.985, "汉族", _pick(rng, vocab.ETHNICITIES, n)))
    phone = np.char.add(_pick(rng, ["13", "15", "18", "17", "19"], n).astype(str), rng.integers(10**8, 10**9, n).astype(str))
    persons = pl.DataFrame(
        {
            "person_id": _serials("P", n, 8),
            "name": name.astype(str),
            "id_number": ids,
            "sex": np.where(male, "男", "女"),
            "birth_date": birth,
            "age": age.astype(np.int64),
            "ethnicity": ethnicity,
            "phone": phone,
            "household_idx": hh_idx,
            "relation_to_head": relation,
        }
    )
    persons = persons.with_columns(hh[hh_idx].select("household_no", "address_id", "building_id", "community_code", "street_name", "household_size", "power_account_no"))
    # A few residents are registered at another room of the district than the one they live in.
    moved = rng.random(n) < 0.06
    other_room = rooms["address_id"].to_numpy()[rng.integers(0, rooms.height, n)]
    persons = persons.with_columns(
        pl.Series("registered_address_id", np.where(moved, other_room, persons["address_id"].to_numpy())),
        pl.Series("registered", rng.random(n) < 0.97),  # 3 % are non-registered residents (流动人口)
    )
    return persons


def _unique_ids(rng: np.random.Generator, area: np.ndarray, birth: np.ndarray, male: np.ndarray) -> np.ndarray:
    n = len(area)
    ymd = birth.astype("datetime64[D]").astype(str).astype("<U10")
    ymd = np.char.replace(ymd, "-", "")
    seq = rng.integers(0, 500, n) * 2 + np.where(male, 1, 0)
    for _ in range(20):
        first17 = np.char.add(np.char.add(area.astype("<U6"), ymd), np.char.zfill(seq.astype(str), 3))
        _, first_idx, counts = np.unique(first17, return_index=True, return_counts=True)
        dup = np.ones(n, dtype=bool)
        dup[first_idx] = False
        if not dup.any():
            break
        seq[dup] = rng.integers(0, 500, int(dup.sum())) * 2 + np.where(male[dup], 1, 0)
    digits = np.frombuffer(first17.astype("S17").tobytes(), dtype=np.uint8).reshape(n, 17) - ord("0")
    return np.char.add(first17, id_check_chars(digits.astype(np.int64)).astype("<U1"))


def build_businesses(rng: np.random.Generator, base: pl.DataFrame, persons: pl.DataFrame, n_businesses: int, district_code: str) -> pl.DataFrame:
    """Businesses with valid credit codes, a legal representative and a premises address."""
    premises = base.filter(pl.col("kind") == "commercial")
    n = min(n_businesses, premises.height)
    site = premises[rng.choice(premises.height, size=n, replace=False)].select("address_id", "building_id", "community_code")
    individual = rng.random(n) < 0.55  # 个体工商户 vs 企业
    org = rng.integers(0, 10, size=(n, 8))
    org_check = org_check_values(org)
    org_check = np.where(org_check == 10, CREDIT_CHARSET.index("X"), org_check)
    first17 = np.column_stack(
        [
            np.full(n, 9),  # 工商 registration authority
            np.where(individual, 2, 1),  # 2 个体工商户, 1 企业
            np.tile(np.array([int(c) for c in district_code]), (n, 1)),
            org,
            org_check,
        ]
    )
    check = credit_check_chars(first17)
    charset = np.asarray(list(CREDIT_CHARSET))
    codes = np.array(["".join(row) for row in charset[first17]], dtype=object)
    codes = np.char.add(codes.astype(str), check.astype(str))
    adults = persons.filter(pl.col("age").is_between(22, 70))
    reps = adults[rng.integers(0, adults.height, n)]
    industry = _pick(rng, vocab.INDUSTRIES, n)
    stem = vocab.unique_names(rng, vocab.BUSINESS_HEADS, vocab.BUSINESS_TAILS, [""], n)
    suffix = np.where(individual, _pick(rng, ["店", "商行", "经营部", "馆"], n), _pick(rng, ["有限公司", "科技有限公司", "贸易有限公司"], n))
    name = np.where(individual, np.char.add(np.char.add("上城区" , stem.astype(str)), np.char.add(industry.astype(str), suffix.astype(str))), np.char.add(np.char.add("杭州", stem.astype(str)), np.char.add(industry.astype(str), suffix.astype(str))))
    capital = np.round(np.where(individual, rng.lognormal(2.5, 0.8, n), rng.lognormal(5.0, 1.3, n)), 1)
    established = (np.datetime64("2026-10-31") - rng.integers(30, 365 * 25, n).astype("timedelta64[D]")).astype("datetime64[D]")
    expiry = (established + (365 * rng.choice([20, 30, 50], n)).astype("timedelta64[D]")).astype("datetime64[D]")
    # Some licences run out soon (reminder use case); a few big new registrations (visit prompt).
    soon = rng.random(n) < 0.03
    expiry = np.where(soon, np.datetime64("2026-11-01") + rng.integers(1, 90, n).astype("timedelta64[D]"), expiry)
    return pl.DataFrame(
        {
            "business_id": _serials("B", n, 7),
            "business_name": name.astype(str),
            "credit_code": codes,
            "legal_person_id": reps["person_id"],
            "legal_representative": reps["name"],
            "registered_capital": capital,
            "established_date": established,
            "licence_expiry": expiry,
            "business_status": _pick(rng, ["存续", "在业", "注销"], n, [0.6, 0.35, 0.05]),
            "individual": individual,
            "phone": reps["phone"],
        }
    ).with_columns(site)


def _serials(prefix: str, n: int, width: int) -> np.ndarray:
    return np.char.add(prefix, np.char.zfill(np.arange(n).astype(str), width))


def _with_birth(ids: np.ndarray, birth: np.ndarray) -> np.ndarray:
    """ID numbers re-issued for new birth dates: the same area and sequence, a new check character."""
    ymd = np.char.replace(birth.astype("datetime64[D]").astype(str).astype("<U10"), "-", "")
    first17 = np.char.add(np.char.add(np.char.ljust(ids.astype("<U18"), 18).astype("<U6"), ymd),
                          np.array([i[14:17] for i in ids.astype(str)], dtype="<U3"))
    digits = np.frombuffer(first17.astype("S17").tobytes(), dtype=np.uint8).reshape(len(ids), 17) - ord("0")
    return np.char.add(first17, id_check_chars(digits.astype(np.int64)).astype("<U1"))


def planted_cases(rule_id: str, keys: list[str] | pl.Series, action: str | None = None) -> pl.DataFrame:
    """Rows of truth/alerts_planted.parquet: the rule, the case's key (ID number, credit code or warning id) and the action expected."""
    return pl.DataFrame({"key": pl.Series(keys, dtype=pl.String)}).select(
        pl.lit(rule_id).alias("rule_id"), "key", pl.lit(action, pl.String).alias("action"))


def plant_alert_cases(pop: Population, seed: int) -> tuple[Population, pl.DataFrame]:
    """Cases each proactive alert rule must find, planted with a generator of their own (every other
    value stays as the seed made it): residents turning 80 within 30 days of the reference date and
    big new businesses (≥ 1,000 万元 = 10,000,000 yuan capital, registered in the last 30 days) and
    businesses in operation whose licence runs out within 60 days. Returns the population and what was planted."""
    rng = np.random.default_rng(seed + 80)
    persons = pop.persons
    candidates = np.flatnonzero(((persons["age"] >= 70) & (persons["age"] <= 79)).to_numpy())
    chosen = rng.choice(candidates, size=min(len(candidates), max(2, persons.height // 1000)), replace=False)
    turning = np.datetime64(REFERENCE_DATE) + rng.integers(1, 29, len(chosen)).astype("timedelta64[D]")
    birth = np.array([np.datetime64(date(int(str(t)[:4]) - 80, int(str(t)[5:7]), min(int(str(t)[8:10]), 28))) for t in turning]).astype("datetime64[D]")
    ids = persons["id_number"].to_numpy().copy()
    ids[chosen] = _with_birth(ids[chosen], birth)
    values, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():  # a re-issued number taken already: leave those persons out
        keep = ~np.isin(ids[chosen], values[counts > 1])
        chosen, birth = chosen[keep], birth[keep]
        ids = persons["id_number"].to_numpy().copy()
        ids[chosen] = _with_birth(ids[chosen], birth)
    births = persons["birth_date"].to_numpy().astype("datetime64[D]").copy()
    births[chosen] = birth
    ages = persons["age"].to_numpy().copy()
    ages[chosen] = 79
    persons = persons.with_columns(pl.Series("id_number", ids), pl.Series("birth_date", births).cast(pl.Date), pl.Series("age", ages))
    businesses = pop.businesses
    companies = np.flatnonzero((~businesses["individual"]).to_numpy())
    big = rng.choice(companies, size=min(len(companies), max(1, businesses.height // 100)), replace=False)
    established = businesses["established_date"].to_numpy().astype("datetime64[D]").copy()
    established[big] = np.datetime64(REFERENCE_DATE) - rng.integers(1, 25, len(big)).astype("timedelta64[D]")
    capital = businesses["registered_capital"].to_numpy().copy()
    capital[big] = np.round(rng.uniform(1200, 8000, len(big)), 1)  # 万元: 12–80 million yuan
    status = businesses["business_status"].to_numpy().copy()
    status[big] = "存续"
    expiring = rng.choice(np.setdiff1d(np.arange(businesses.height), big), size=max(1, businesses.height // 50), replace=False)
    expiry = businesses["licence_expiry"].to_numpy().astype("datetime64[D]").copy()
    expiry[expiring] = np.datetime64(REFERENCE_DATE) + rng.integers(5, 55, len(expiring)).astype("timedelta64[D]")
    status[expiring] = "在业"
    businesses = businesses.with_columns(pl.Series("established_date", established).cast(pl.Date), pl.Series("registered_capital", capital),
                                         pl.Series("business_status", status), pl.Series("licence_expiry", expiry).cast(pl.Date))
    planted = pl.concat([
        planted_cases("turning_80", persons["id_number"].gather(chosen)),
        planted_cases("big_new_business", businesses["credit_code"].gather(big)),
        planted_cases("licence_expiring", businesses["credit_code"].gather(expiring)),
    ])
    return Population(pop.communities, pop.addresses, pop.buildings, persons, businesses), planted


def build_population(seed: int, district_code: str, n_persons: int) -> Population:
    rng = np.random.default_rng(seed)
    communities = district_communities(district_code)
    n_business = max(20, n_persons // 30)
    rooms_needed = int(n_persons / 2.3 * 1.15) + 50
    base, buildings = build_address_base(rng, communities, rooms_needed, int(n_business * 1.3))
    area_codes = vocab.id_area_codes(district_code)
    persons = build_persons(rng, base, n_persons, district_code, area_codes)
    businesses = build_businesses(rng, base, persons, n_business, district_code)
    return Population(communities, base, buildings, persons, businesses)
