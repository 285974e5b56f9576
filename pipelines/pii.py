"""Keeping personal data out of logs, event logs, tracebacks and alerts.

Quarantine and rejected-file tables hold raw values on purpose (a data officer must see them to
fix them; the lake is owner-only, see :mod:`warehouse.storage`). Everything that leaves the lake
as text goes through :func:`scrub`:

- log records of every logger, Dagster's ``context.log`` included (:func:`install` puts a
  scrubbing record factory in place, so a record is clean before any handler sees it);
- exceptions leaving an asset or check (:func:`scrubbed_errors`: the step failure Dagster stores
  carries the scrubbed traceback, not the original exception and its chain);
- webhook alerts (:func:`pipelines.notify.notification`).

Our own messages name files, columns and counts; values come in through third-party error texts
(a parser quoting the line it choked on), so those are scrubbed ``strict``ly.
"""

from __future__ import annotations

import functools
import inspect
import logging
import re
import traceback
from typing import Any, Callable, TypeVar

# 18-digit (last may be X) and 15-digit ID numbers; mobile numbers; landlines with area code.
# Digits on either side must not be digits (a 20-digit account number is not an ID).
_PATTERNS = [
    re.compile(r"(?<![0-9])([1-9][0-9]{5})[0-9]{8}([0-9]{3}[0-9Xx])(?![0-9A-Za-z])"),  # 18-digit ID
    re.compile(r"(?<![0-9])([1-9][0-9]{5})[0-9]{6}([0-9]{3})(?![0-9])"),  # 15-digit ID
    re.compile(r"(?<![0-9])(1[3-9][0-9])[0-9]{4}([0-9]{4})(?![0-9])"),  # mobile
    re.compile(r"(?<![0-9])(0[0-9]{2,3}-?)[0-9]{4}([0-9]{3,4})(?![0-9])"),  # landline
]
# a quoted value (as parsers and our quarantine reasons quote them) holding Chinese text or digits
_QUOTED = re.compile(r"""(['"`“「])([^'"`”」\n]*?(?:[\u3400-\u9fff]|[0-9０-９]{4})[^'"`”」\n]*?)(['"`”」])""")
_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff·]+")
MASK = "＊"


def _mask(match: re.Match) -> str:
    first, last = match.group(1), match.group(2)
    return first[:3] + "*" * (len(match.group(0)) - 3 - len(last[-2:])) + last[-2:]


@functools.cache
def _known_words() -> frozenset[str]:
    """Column names, catalogue labels and system labels: Chinese that is not personal data."""
    from pipelines.sources import all_specs  # late: the catalogue is not needed to scrub digits
    from warehouse.catalog import CATALOG

    words = {f.label for f in CATALOG.values()}
    for spec in all_specs().values():
        words |= set(spec.columns) | set(spec.ignored) | set(spec.label.split())
    return frozenset(words)


def _quoted(match: re.Match) -> str:
    inner = match.group(2)
    return match.group(0) if inner in _known_words() else f"{match.group(1)}{MASK * min(len(inner), 3)}{match.group(3)}"


def _cjk(match: re.Match) -> str:
    run = match.group(0)
    return run if run in _known_words() else MASK * min(len(run), 3)


def scrub(text: str, strict: bool = False) -> str:
    """``text`` with every ID number and phone number masked (first 3 and last 2 characters kept) and quoted
    values holding Chinese or digits replaced by ``＊``. ``strict`` (third-party error texts, which
    may quote a raw line unquoted) also masks every Chinese run that is not a known column name,
    catalogue label or system label."""
    for pattern in _PATTERNS:
        text = pattern.sub(_mask, text)
    text = _QUOTED.sub(_quoted, text)
    if strict:
        text = _CJK_RUN.sub(_cjk, text)
    return text


def _scrub_record(record: logging.LogRecord) -> logging.LogRecord:
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 — a bad format string must not lose the record
        message = str(record.msg)
    cleaned = scrub(message)
    if cleaned != message:
        record.msg, record.args = cleaned, None
    if record.exc_info and record.exc_info[1] is not None:
        record.exc_text = scrub("".join(traceback.format_exception(*record.exc_info)), strict=True)
        record.exc_info = None  # the scrubbed text stands in for the raw traceback
    return record


def install() -> None:
    """Scrub every log record of this process as it is made (idempotent).

    A record factory rather than a handler filter: filters on a logger do not see records of its
    children, and Dagster adds its own handlers; the factory is the one place every record passes."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "scrubs", False):
        return

    def scrubbing_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return _scrub_record(factory(*args, **kwargs))

    scrubbing_factory.scrubs = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(scrubbing_factory)


class ScrubbedError(Exception):
    """An exception whose text (type, message, traceback and chain) has been scrubbed."""


F = TypeVar("F", bound=Callable[..., Any])


def _scrubbed(err: BaseException) -> ScrubbedError:
    text = scrub("".join(traceback.format_exception(err)), strict=True)
    return ScrubbedError(f"{type(err).__name__}: {scrub(str(err), strict=True)}\n--- scrubbed traceback ---\n{text}")


def _passes_through(err: BaseException) -> bool:
    """Framework control flow (Dagster's Failure, RetryRequested, interrupts) is not ours to rewrite."""
    return type(err).__module__.split(".")[0] == "dagster" or not isinstance(err, Exception)


def scrubbed_errors(fn: F) -> F:
    """Wrap an asset or check body: any exception leaves as a :class:`ScrubbedError` with the
    original traceback scrubbed, so the step failure in the event log holds no personal data."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator(*args: Any, **kwargs: Any) -> Any:
            try:
                yield from fn(*args, **kwargs)
            except Exception as err:
                if _passes_through(err):
                    raise
                raise _scrubbed(err) from None

        return generator  # type: ignore[return-value]

    @functools.wraps(fn)
    def plain(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as err:
            if _passes_through(err):
                raise
            raise _scrubbed(err) from None

    return plain  # type: ignore[return-value]


__all__ = ["scrub", "ScrubbedError", "install", "scrubbed_errors"]
