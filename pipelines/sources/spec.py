"""Declarative source specs: what each departmental system delivers and how it maps to the catalogue.

A spec is data. Adding a system means adding one module in ``pipelines/sources/`` that defines
``SPEC = SourceSpec(...)``; the registry, the Dagster assets and the sensors pick it up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from warehouse.catalog import field as catalog_field


@dataclass(frozen=True)
class CsvFormat:
    encoding: str = "utf-8"  # "gbk", "utf-8", "utf-8-sig" (BOM)
    separator: str = ","
    kind: str = "csv"


@dataclass(frozen=True)
class XlsxFormat:
    title_rows: int = 0  # rows above the header (report titles, units, dates)
    header_rows: int = 1  # header rows; >1 means merged group cells above the column names
    sheet: int = 0
    kind: str = "xlsx"


@dataclass(frozen=True)
class JsonLinesFormat:
    encoding: str = "utf-8"
    kind: str = "jsonl"


@dataclass(frozen=True)
class JsonFormat:
    records_key: str | None = None  # key of the record array in a top-level object, if any
    encoding: str = "utf-8"
    kind: str = "json"


@dataclass(frozen=True)
class XmlFormat:
    record_tag: str = "record"
    kind: str = "xml"


@dataclass(frozen=True)
class ParquetFormat:
    kind: str = "parquet"


Format = CsvFormat | XlsxFormat | JsonLinesFormat | JsonFormat | XmlFormat | ParquetFormat


@dataclass(frozen=True)
class PersonRole:
    """A person a row describes, by canonical field (None where the system does not say).

    ``role`` "person" is the row's main subject; a birth record also names the "child"."""

    role: str
    name: str
    id_number: str | None = None
    birth_date: str | None = None
    sex: str | None = None
    address: str = "address"


@dataclass(frozen=True)
class SourceSpec:
    """One departmental system's delivery: file format, column mapping, required fields."""

    system: str  # short pinyin key; also the landing folder and the middle of every asset key
    label: str  # Chinese name shown to people, e.g. "公安 户籍"
    table: str  # what one row is, e.g. "household_register"
    entity: str  # person | birth | business | inspection | event | warning | meter_reading
    format: Format
    file_glob: str
    columns: dict[str, str]  # source column → canonical field (several sources may alias one field)
    required: tuple[str, ...] = ()  # canonical fields that must be present and readable
    ignored: tuple[str, ...] = ()  # delivered columns known to carry nothing to standardise (序号)
    cadence_days: int = 1  # expected delivery interval, for freshness checks
    # delivers only when there is something to deliver (corrections): no batch yet is not a
    # failure of the tables it feeds, and there is no cadence to be late for
    on_demand: bool = False
    description: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    persons: tuple[PersonRole, ...] = ()  # person-bearing: the persons a row describes (person master)
    identity_rank: int = 99  # authority for names, IDs, birth dates and sex (lower wins; police register 0)
    feeds: tuple[str, ...] = ()  # curated tables built from this system (its batches are audited before they publish)
    done_marker: bool = False  # take a file only once ``<file>.done`` is beside it (systems that upload slowly)
    # what a person's record here establishes in the golden record: "registered" (户籍人口: the
    # household number and relation to the head come from this system), "retiree"
    person_facts: tuple[str, ...] = ()
    # delivers millions of rows (a meter reading per account and day): its standardisation and the
    # curated tables built from its batches run one at a time with the other memory-heavy steps
    bulk: bool = False

    def __post_init__(self) -> None:
        for canonical in set(self.columns.values()) | set(self.required):
            catalog_field(canonical)  # raises with a clear message on a typo
        for person in self.persons:
            named = [f for f in (person.name, person.id_number, person.birth_date, person.sex, person.address) if f]
            unknown = [f for f in named if f not in self.columns.values()]
            if unknown:
                raise ValueError(f"{self.system}: person role '{person.role}' names fields with no source column: {unknown}")
        missing = set(self.required) - set(self.columns.values())
        if missing:
            raise ValueError(f"{self.system}: required fields {sorted(missing)} have no source column")

    def canonical_fields(self) -> list[str]:
        """Canonical fields in first-mention order."""
        return list(dict.fromkeys(self.columns.values()))

    def sources_of(self, canonical: str) -> list[str]:
        return [src for src, dst in self.columns.items() if dst == canonical]
