"""Keeping personal data out of logs, event logs, tracebacks and alerts.

Quarantine and rejected-file tables hold raw values on purpose (a data officer must see them to
fix them; the lake is owner-only). Everything that leaves the lake as text — log lines, Dagster
event logs, webhook alerts — goes through :func:`scrub`: ID numbers and phone numbers are
masked to their first and last characters.
"""

from __future__ import annotations

import logging
import re

# 18-digit (last may be X) and 15-digit ID numbers; mobile numbers; landlines with area code.
# Digits on either side must not be digits (a 20-digit account number is not an ID).
_PATTERNS = [
    re.compile(r"(?<![0-9])([1-9][0-9]{5})[0-9]{8}([0-9]{3}[0-9Xx])(?![0-9A-Za-z])"),  # 18-digit ID
    re.compile(r"(?<![0-9])([1-9][0-9]{5})[0-9]{6}([0-9]{3})(?![0-9])"),  # 15-digit ID
    re.compile(r"(?<![0-9])(1[3-9][0-9])[0-9]{4}([0-9]{4})(?![0-9])"),  # mobile
    re.compile(r"(?<![0-9])(0[0-9]{2,3}-?)[0-9]{4}([0-9]{3,4})(?![0-9])"),  # landline
]


def _mask(match: re.Match) -> str:
    first, last = match.group(1), match.group(2)
    return first[:3] + "*" * (len(match.group(0)) - 3 - len(last[-2:])) + last[-2:]


def scrub(text: str) -> str:
    """``text`` with every ID number and phone number masked (``330***********12``)."""
    for pattern in _PATTERNS:
        text = pattern.sub(_mask, text)
    return text


class ScrubFilter(logging.Filter):
    """A logging filter that scrubs the formatted message (and any traceback text) of a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None  # the scrubbed text stands in for the raw traceback
            del exc
        return True


def install(logger: logging.Logger | None = None) -> None:
    """Scrub every record passing ``logger``'s handlers (the root logger's by default)."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, ScrubFilter) for f in handler.filters):
            handler.addFilter(ScrubFilter())
    if not any(isinstance(f, ScrubFilter) for f in target.filters):
        target.addFilter(ScrubFilter())


__all__ = ["scrub", "ScrubFilter", "install"]
