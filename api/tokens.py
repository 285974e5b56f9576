"""API tokens: each maps to one division (level + code) and one role; only a hash is stored.

A token reads ``eo_<token_id>_<secret>``. The warehouse table ``api/_auth/tokens`` holds the
token id, the SHA-256 of the secret (a 256-bit random secret needs no slow hash), the grant and
its life: issued, expires, revoked. The secret is shown once, when the token is issued.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import polars as pl

from api.store import Watched
from pipelines.reference import LENGTH_OF_LEVEL, division_names
from warehouse.masking import ROLES, role_policy
from warehouse.storage import Warehouse

TOKENS = ("api", "_auth", "tokens")
PREFIX = "eo"
DEFAULT_DAYS = 90
SCHEMA = {
    "token_id": pl.String, "secret_sha256": pl.String, "level": pl.String, "code": pl.String, "role": pl.String,
    "label": pl.String, "issued_at": pl.Datetime("us", "UTC"), "expires_at": pl.Datetime("us", "UTC"),
    "revoked_at": pl.Datetime("us", "UTC"),
}


class TokenError(ValueError):
    """A token cannot be issued or revoked as asked; the message says why."""


@dataclass(frozen=True)
class Grant:
    """What a valid token may see: rows inside ``code``, columns masked by ``policy``."""

    token_id: str
    level: str
    code: str
    role: str
    policy: dict[str, str]
    label: str = ""  # who the token was issued to (``--label``): decisions made with it are recorded under this name


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def read_tokens(wh: Warehouse) -> pl.DataFrame:
    frame = wh.read(*TOKENS)
    return frame if frame.height else pl.DataFrame(schema=SCHEMA)


def issue_token(wh: Warehouse, level: str, code: str, role: str, *, days: int = DEFAULT_DAYS, label: str = "",
                now: datetime | None = None) -> tuple[str, str]:
    """Issue a token for ``role`` at the division ``code`` of ``level``; returns (token id, the token itself)."""
    if level not in LENGTH_OF_LEVEL:
        raise TokenError(f"unknown level '{level}'; levels: {', '.join(LENGTH_OF_LEVEL)}")
    if role not in ROLES:
        raise TokenError(f"unknown role '{role}'; roles: {', '.join(ROLES)}")
    if len(code) != LENGTH_OF_LEVEL[level] or not code.isdigit():
        raise TokenError(f"code '{code}' is not a {level} code ({LENGTH_OF_LEVEL[level]} digits)")
    if code not in division_names():
        raise TokenError(f"code '{code}' is not in the division table (pipelines/reference)")
    if days <= 0:
        raise TokenError("--days must be positive")
    now = now or datetime.now(timezone.utc)
    token_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    row = pl.DataFrame([{
        "token_id": token_id, "secret_sha256": _digest(secret), "level": level, "code": code, "role": role, "label": label,
        "issued_at": now, "expires_at": now + timedelta(days=days), "revoked_at": None,
    }], schema=SCHEMA)
    with wh.writer_lock("api_tokens"):
        wh.write(row, *TOKENS, mode="append")
    return token_id, f"{PREFIX}_{token_id}_{secret}"


def revoke_token(wh: Warehouse, token_id: str, now: datetime | None = None) -> None:
    """Revoke ``token_id`` (it answers 401 from the next check on)."""
    with wh.writer_lock("api_tokens"):
        tokens = read_tokens(wh)
        if tokens.filter(pl.col("token_id") == token_id).height == 0:
            raise TokenError(f"no token '{token_id}'")
        stamp = now or datetime.now(timezone.utc)
        revoked = tokens.with_columns(
            pl.when((pl.col("token_id") == token_id) & pl.col("revoked_at").is_null()).then(pl.lit(stamp, dtype=SCHEMA["revoked_at"]))
            .otherwise(pl.col("revoked_at")).alias("revoked_at"))
        wh.write(revoked.select(list(SCHEMA)), *TOKENS, mode="overwrite")


class TokenStore:
    """Checks bearer tokens against the token table, re-reading it when it has moved
    (at most every ``refresh_seconds``: a revocation takes effect within that time)."""

    def __init__(self, wh: Warehouse, refresh_seconds: float = 1.0):
        self.wh = wh
        self.refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._checked = 0.0
        self._version: int | None = -1  # -1: not read yet
        self._by_id: dict[str, dict] = {}
        self._watched = Watched(wh, TOKENS)

    def _refresh(self) -> None:
        with self._lock:
            if time.monotonic() - self._checked < self.refresh_seconds and self._version != -1:
                return
            version = self._watched.version()
            if version != self._version:
                self._by_id = {row["token_id"]: row for row in (pl.read_delta(self._watched.table).to_dicts() if version is not None else [])}
                self._version = version
            self._checked = time.monotonic()

    def check(self, raw: str | None, now: datetime | None = None) -> tuple[Grant | None, str]:
        """The grant of a bearer token, or None and why not (missing, malformed, unknown, expired, revoked)."""
        if not raw:
            return None, "缺少令牌 (missing token)"
        parts = raw.split("_", 2)
        if len(parts) != 3 or parts[0] != PREFIX:
            return None, "令牌格式错误 (malformed token)"
        self._refresh()
        row = self._by_id.get(parts[1])
        if row is None or not hmac.compare_digest(row["secret_sha256"], _digest(parts[2])):
            return None, "令牌无效 (unknown token)"
        now = now or datetime.now(timezone.utc)
        if row["revoked_at"] is not None:
            return None, "令牌已吊销 (revoked token)"
        if row["expires_at"] <= now:
            return None, "令牌已过期 (expired token)"
        return Grant(row["token_id"], row["level"], row["code"], row["role"], role_policy(row["level"], row["role"]), row["label"] or ""), ""


__all__ = ["Grant", "TOKENS", "TokenError", "TokenStore", "issue_token", "read_tokens", "revoke_token"]
