"""Where the masters' tables live: ``(layer, system, table)`` paths shared by writers and readers.

Kept in the storage layer so that builders further down the flow (gold, sync, forms) can read
master tables without importing the code that writes them.
"""

from __future__ import annotations

ADDRESS_LAYER = "address"
BASE_ADDRESSES = ("base", "addresses")
BASE_BUILDINGS = ("base", "buildings")
ADDRESS_LINKS = ("links", "address_links")
REVIEW_QUEUE = ("review", "queue")
REVIEW_DECISIONS = ("review", "decisions")

PERSON_LINKS = ("person", "links", "person_links")
GOLDEN_PERSONS = ("person", "golden", "persons")
HOUSEHOLDS = ("person", "golden", "households")
BUSINESSES = ("business", "golden", "businesses")
INSPECTIONS = ("business", "links", "inspections")
LINK_STATE = ("links", "_state")  # base and decisions versions the links were computed against
ADDRESS_TEXTS = ("links", "texts")  # one row per distinct address key: its match, reused for texts seen before
PERSON_RECORDS = ("person", "links", "records")  # every resolved record's prepared comparison keys
PERSON_STATE = ("person", "links", "_state")  # links state and authority order the persons were resolved with; epoch of the last full resolve; MOVED_PREFIX columns
MOVED_PREFIX = "moved_"  # a column of PERSON_STATE per system: when an update last moved known records of it to another person
PERSON_REVIEW_QUEUE = ("person", "review", "queue")  # records left a person of their own with candidates close to the line
PERSON_REVIEW_DECISIONS = ("person", "review", "decisions")  # data officers' same / different decisions, append-only
