"""Append-only, hash-chained audit log: every decision the gateway takes, in a form a command can verify.

Each entry has ``seq`` (1, 2, 3, ... without gaps), ``at``, ``actor``, ``action``, ``message_id`` (or none),
``detail`` (a JSON object), ``prev_hash`` (the previous entry's hash; 64 zeros for the first) and ``hash``::

    hash = SHA-256( canonical JSON of {seq, at, actor, action, message_id, detail, prev_hash} )

Canonical JSON here means: keys sorted, no insignificant whitespace, UTF-8, no NaN, and ``at`` written as
``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC. The detail is stored as that canonical text too, so the database keeps
exactly what was hashed on every backend.

Appends (:func:`append_entry`) run inside the caller's transaction, so an entry exists exactly when the state
change it describes was committed. A one-row table ``audit_head`` holds the last ``seq`` and ``hash``; every
append reads it with ``SELECT ... FOR UPDATE`` and updates it, which serialises concurrent appenders: on
PostgreSQL the row lock does it (several gateway processes keep one consistent chain), on SQLite the write
transaction (``BEGIN IMMEDIATE``, see the store) already does. Lock order is always message rows first, then
the head, so appenders cannot deadlock.

:func:`verify_chain` walks the entries in order and stops at the first break, saying which entry and why:

- **changed**: an entry no longer matches its own hash (its content was edited);
- **inserted**: an entry lies past the recorded head, or sits between two entries that link to each other;
- **deleted**: a gap in ``seq``, an entry that does not link to the one before, or entries missing at the end.

What a hash chain cannot show on its own: someone able to write the database and recompute hashes can rewrite
the log from some point on, head row included. Keep the ``head`` of a verification (seq and hash) somewhere
else and pass it back as ``anchor``: a rewrite of anything up to that entry is then detected too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    type_coerce,
    update,
)

from exchange import Code, StoreError
from exchange.services._sqltypes import UTCDateTime

#: ``prev_hash`` of the first entry.
GENESIS_HASH = "0" * 64

#: Naming convention for constraints, so migrations (Alembic) get the same names on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: All of the gateway store's tables (the store adds its own to it); Alembic's ``target_metadata``.
metadata = MetaData(naming_convention=NAMING_CONVENTION)

#: 64-bit ids everywhere; on SQLite an INTEGER PRIMARY KEY (its 64-bit rowid) so autoincrement works.
BigId = BigInteger().with_variant(Integer(), "sqlite")




audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(255), nullable=False),
    Column("action", String(64), nullable=False),
    Column("message_id", String(255), nullable=True, index=True),
    Column("detail", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigId, nullable=False),
    Column("hash", String(64), nullable=False),
)

_HEAD_ID = 1


def canonical_json(value: Any) -> str:
    """The one JSON form that is hashed and stored (sorted keys, compact, UTF-8, no NaN)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def format_time(at: datetime) -> str:
    """``at`` as hashed: UTC with microseconds and a ``Z``. Naive datetimes are refused."""
    if at.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    message_id: str | None,
    detail: Mapping[str, Any],
    prev_hash: str,
) -> str:
    """SHA-256 (hex) of the canonical JSON of an entry's fields and the previous hash."""
    payload = {
        "seq": seq,
        "at": format_time(at),
        "actor": actor,
        "action": action,
        "message_id": message_id,
        "detail": dict(detail),
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One entry of the audit log as stored."""

    seq: int
    at: datetime
    actor: str
    action: str
    message_id: str | None
    detail: Mapping[str, Any]
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": format_time(self.at),
            "actor": self.actor,
            "action": self.action,
            "message_id": self.message_id,
            "detail": dict(self.detail),
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True, slots=True)
class ChainAnchor:
    """A (seq, hash) pair kept outside the database, to detect a rewrite up to that entry."""

    seq: int
    hash: str


class ChainFault(StrEnum):
    """Why the chain broke at an entry."""

    CHANGED = "changed"
    INSERTED = "inserted"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class ChainVerification:
    """Result of :func:`verify_chain`. ``head`` is the last entry that verified (keep it as a future anchor)."""

    ok: bool
    checked: int
    head: ChainAnchor | None
    broken_seq: int | None = None
    fault: ChainFault | None = None
    reason: str = ""

    @property
    def code(self) -> Code | None:
        return None if self.ok else Code.AUDIT_CHAIN_BROKEN

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "head": None if self.head is None else {"seq": self.head.seq, "hash": self.head.hash},
            "broken_seq": self.broken_seq,
            "fault": None if self.fault is None else self.fault.value,
            "reason": self.reason,
            "code": None if self.code is None else self.code.value,
        }


# Built once (bound parameters, no values in them): every message appends an entry, and a statement built per call
# costs SQLAlchemy more to construct and key than to run.
_LOCK_HEAD = select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == _HEAD_ID).with_for_update()
_MOVE_HEAD = update(audit_head).where(audit_head.c.id == _HEAD_ID)


def ensure_head(conn: Connection) -> None:
    """Create the head row of an empty log (part of creating the schema). Idempotent."""
    if conn.execute(select(audit_head.c.id).where(audit_head.c.id == _HEAD_ID)).first() is None:
        conn.execute(insert(audit_head), dict(id=_HEAD_ID, seq=0, hash=GENESIS_HASH))


def append_entry(
    conn: Connection,
    *,
    at: datetime,
    actor: str,
    action: str,
    message_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry inside the caller's (write) transaction and return it.

    Locks the head row first (``FOR UPDATE``), so concurrent appenders line up behind each other.
    """
    head = conn.execute(_LOCK_HEAD).first()
    if head is None:
        if conn.execute(select(func.max(audit_log.c.seq))).scalar() is not None:
            raise StoreError(
                "the audit log has entries but its head row is gone: run `ptx audit verify`; nothing appended",
                code=Code.AUDIT_CHAIN_BROKEN,
            )
        ensure_head(conn)
        prev_seq, prev_hash = 0, GENESIS_HASH
    else:
        prev_seq, prev_hash = int(head.seq), str(head.hash)
    body: dict[str, Any] = json.loads(canonical_json(dict(detail or {})))
    seq = prev_seq + 1
    digest = entry_hash(
        seq=seq, at=at, actor=actor, action=action, message_id=message_id, detail=body, prev_hash=prev_hash
    )
    conn.execute(
        insert(audit_log), dict(
            seq=seq,
            at=at,
            actor=actor,
            action=action,
            message_id=message_id,
            detail=canonical_json(body),
            prev_hash=prev_hash,
            hash=digest,
        )
    )
    conn.execute(_MOVE_HEAD, {"seq": seq, "hash": digest})
    return AuditEntry(seq, at, actor, action, message_id, MappingProxyType(body), prev_hash, digest)


def _readable_detail(text: str) -> dict[str, Any]:
    """A stored detail for display; an edited, unreadable one is shown as such (verification reports it)."""
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    return value if isinstance(value, dict) else {"unreadable": text[:200]}


def read_entries(
    conn: Connection, *, after_seq: int = 0, limit: int = 100, message_id: str | None = None
) -> tuple[AuditEntry, ...]:
    """Entries with ``seq > after_seq`` in order (keyset paging), optionally for one message."""
    query = select(audit_log).where(audit_log.c.seq > after_seq)
    if message_id is not None:
        query = query.where(audit_log.c.message_id == message_id)
    rows = conn.execute(query.order_by(audit_log.c.seq).limit(limit)).all()
    return tuple(
        AuditEntry(
            seq=int(row.seq),
            at=row.at,
            actor=row.actor,
            action=row.action,
            message_id=row.message_id,
            detail=MappingProxyType(_readable_detail(row.detail)),
            prev_hash=row.prev_hash,
            hash=row.hash,
        )
        for row in rows
    )


def _entry_at(value: Any) -> datetime | None:
    """``at`` of a row read for verification (raw text on SQLite, so a mangled value is a finding, not a crash)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _stored_hash_matches(row: Any) -> bool:
    at = _entry_at(row.at)
    try:
        detail = json.loads(row.detail)
    except ValueError:
        return False
    if at is None or not isinstance(detail, dict):
        return False
    expected = entry_hash(
        seq=int(row.seq),
        at=at,
        actor=row.actor,
        action=row.action,
        message_id=row.message_id,
        detail=detail,
        prev_hash=row.prev_hash,
    )
    return expected == row.hash


def verify_chain(conn: Connection, *, anchor: ChainAnchor | None = None, batch: int = 1000) -> ChainVerification:
    """Check every entry in ``seq`` order against its own hash, its predecessor and the recorded head.

    Run it inside one read transaction (a consistent snapshot); the store does. Stops at the first break.
    """
    head_row = conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == _HEAD_ID)).first()
    recorded = None if head_row is None else ChainAnchor(int(head_row.seq), str(head_row.hash))
    prev_seq, prev_hash, before_prev_hash = 0, GENESIS_HASH, None
    checked = 0
    at_column = type_coerce(audit_log.c.at, String()) if conn.dialect.name == "sqlite" else audit_log.c.at
    columns = [column for column in audit_log.c if column.name != "at"] + [at_column.label("at")]

    def broken(seq: int, fault: ChainFault, reason: str) -> ChainVerification:
        head = ChainAnchor(prev_seq, prev_hash) if prev_seq else None
        return ChainVerification(False, checked, head, broken_seq=seq, fault=fault, reason=reason)

    while True:
        rows = conn.execute(
            select(*columns).where(audit_log.c.seq > prev_seq).order_by(audit_log.c.seq).limit(batch)
        ).all()
        if not rows:
            break
        for row in rows:
            seq = int(row.seq)
            if recorded is not None and seq > recorded.seq:
                return broken(
                    seq, ChainFault.INSERTED,
                    f"entry {seq} lies past the recorded head (entry {recorded.seq}): it was added outside the gateway",
                )
            if seq != prev_seq + 1:
                missing = f"entry {prev_seq + 1}" if seq == prev_seq + 2 else f"entries {prev_seq + 1}..{seq - 1}"
                return broken(prev_seq + 1, ChainFault.DELETED, f"{missing} missing: deleted")
            if row.prev_hash != prev_hash:
                if before_prev_hash is not None and row.prev_hash == before_prev_hash:
                    return broken(
                        prev_seq, ChainFault.INSERTED,
                        f"entry {prev_seq} was inserted: entry {seq} links to the entry before it",
                    )
                if prev_seq == 0:
                    return broken(seq, ChainFault.DELETED, "the first entry does not start the chain: entries before it were deleted")
                return broken(
                    seq, ChainFault.DELETED,
                    f"entry {seq} does not link to entry {prev_seq}: an entry between them was deleted, "
                    f"or entry {prev_seq} was rewritten",
                )
            if not _stored_hash_matches(row):
                return broken(seq, ChainFault.CHANGED, f"entry {seq} does not match its hash: it was changed")
            if anchor is not None and seq == anchor.seq and row.hash != anchor.hash:
                return broken(
                    seq, ChainFault.CHANGED, f"entry {seq} differs from the anchor: the log was rewritten since"
                )
            before_prev_hash, prev_hash, prev_seq = prev_hash, str(row.hash), seq
            checked += 1

    if recorded is None and prev_seq:
        return broken(prev_seq, ChainFault.DELETED, "the recorded head (table audit_head) was deleted")
    if recorded is not None and prev_seq < recorded.seq:
        return broken(
            prev_seq + 1, ChainFault.DELETED,
            f"entries {prev_seq + 1}..{recorded.seq} missing at the end: deleted (the head records {recorded.seq})",
        )
    if recorded is not None and prev_seq and recorded.hash != prev_hash:
        return broken(prev_seq, ChainFault.CHANGED, f"entry {prev_seq} does not match the recorded head")
    if anchor is not None and anchor.seq > prev_seq:
        return broken(
            prev_seq + 1, ChainFault.DELETED, f"the anchored entry {anchor.seq} is missing: entries were deleted"
        )
    return ChainVerification(True, checked, ChainAnchor(prev_seq, prev_hash) if prev_seq else None)


__all__ = [
    "GENESIS_HASH",
    "AuditEntry",
    "ChainAnchor",
    "ChainFault",
    "ChainVerification",
    "UTCDateTime",
    "append_entry",
    "canonical_json",
    "entry_hash",
    "ensure_head",
    "format_time",
    "metadata",
    "read_entries",
    "verify_chain",
]
