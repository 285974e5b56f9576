"""Notifications to people: one JSON POST to a configurable webhook (企业微信/钉钉 bots, a chat
relay, an on-call tool). Texts name tables, checks and counts, never values from the rows."""

from __future__ import annotations

import json
import logging
import urllib.request
from datetime import datetime, timezone

from pipelines.pii import scrub

log = logging.getLogger(__name__)


def notification(kind: str, title: str, text: str, **facts) -> dict:
    """The payload: ``kind`` (run_failure | gate_failure | late_delivery | file_rejected |
    column_drift | reference_refused), a Chinese title, a text, facts. Title and text are scrubbed
    (:func:`pipelines.pii.scrub`): an alert never carries an ID number, phone or quoted value."""
    return {"kind": kind, "title": scrub(title), "text": scrub(text), "at": datetime.now(timezone.utc).isoformat(), **facts}


def send(url: str, payload: dict, timeout: float = 5.0) -> bool:
    """POST ``payload`` as JSON to ``url``; True on a 2xx answer. No URL: only logged."""
    if not url:
        log.warning("no webhook configured (ENTERONCE_WEBHOOK_URL): %s", payload["title"])
        return False
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json; charset=utf-8"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 - URL is the operator's own setting
            return 200 <= answer.status < 300
    except OSError as err:
        log.error("webhook %s did not take the notification %r: %s", url, payload["title"], err)
        return False
