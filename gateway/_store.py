"""The gateway's durable store: messages, status history, delivery attempts, receipts and the audit log.

SQLAlchemy 2.0 Core on a synchronous engine; the HTTP app and the delivery workers call it from worker threads.
The same code runs on SQLite (the default: one file, WAL mode, foreign keys on, a busy timeout, full sync) and
on PostgreSQL with psycopg 3 (several gateway processes on one database).

Every public method is one transaction: it commits everything it describes (state, history, audit entry) or
nothing. Failures of the database become :class:`~exchange.StoreError` with a stable code:

=====================  ==============================================================================
code                   when
=====================  ==============================================================================
``STORE-LOCKED``       SQLite stayed busy past the busy timeout; PostgreSQL lock timeout or deadlock
``STORE-FULL``         disk or quota full (SQLite ``SQLITE_FULL``, PostgreSQL class 53)
``STORE-CORRUPT``      the file is damaged or not a database
``STORE-SCHEMA``       the schema is not at this version's revision, or a newer version migrated it
``STORE-UNAVAILABLE``  anything else: cannot open, read-only, connection lost, I/O error
=====================  ==============================================================================

Concurrency, so that several workers (threads or processes) can share one store:

- *SQLite*: write transactions start with ``BEGIN IMMEDIATE`` and so run one at a time; a process's own
  writers take turns on a lock in arrival order first (SQLite's busy handler polls with back-off, which under
  load let one writer starve past the timeout), other processes queue on the file lock within the busy
  timeout. Read transactions use a plain ``BEGIN`` and see a snapshot (WAL) without blocking writers.
  Writes are group-committed: the recorded messages, claims and finished delivery attempts of the threads that
  wait while another's transaction runs are written together in the next one (one ``COMMIT``, one fsync); every
  caller returns after the commit that holds its write (:meth:`Store._write_grouped`).
- *PostgreSQL* (several gateway processes on one database): write transactions run at READ COMMITTED and lock
  the rows they change first with ``SELECT ... FOR UPDATE``; claiming due deliveries uses ``FOR UPDATE SKIP
  LOCKED``, so workers never wait for, nor take, each other's messages, and a row claimed and committed by
  another process meanwhile is re-checked and passed over. Reads run at REPEATABLE READ (one snapshot). Lock
  order is delivery rows, then their message row (``FOR NO KEY UPDATE``, which the foreign-key locks of rows
  inserted meanwhile do not block), then the audit head (see ``gateway._audit``), so writers cannot deadlock.
- *Duplicates* are decided by the unique constraint on ``message_id``: a concurrent insert of the same id
  (from any process) waits for the first, loses, rolls back and is answered as a duplicate (same digest) or a
  conflict (other digest).
- *Schema*: :meth:`Store.open` migrates to the newest revision (Alembic; :mod:`gateway._migrate`), under an
  advisory lock on PostgreSQL so that processes starting together migrate once.

Several receivers: an accepted message is stored once and has one row in ``deliveries`` per receiver (a transit
declaration: every country on its route); each is claimed, attempted, retried, dead-lettered and acknowledged on its
own, and the message's ``status`` is derived from theirs (:func:`gateway._status.overall_status`).

Delivery leases (crash safety): claiming a delivery sets ``status = DELIVERING``, a lease owner and a lease
expiry, and stores the expiry as ``next_attempt_at``. A worker that dies mid-attempt never finishes, so once the
lease expires the message is due again and another worker reclaims it (the lost attempt is recorded as
``abandoned``). Transport is therefore at-least-once; receivers deduplicate by message id. Finishing an attempt
checks that the caller still holds the lease (``GW-LEASE-LOST`` otherwise). A gateway that is the store's only
process may call :meth:`Store.expire_leases` when it starts, so its previous run's messages need not wait.

Times come from the injected clock ``now`` (aware UTC), never from the database server.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from types import MappingProxyType, SimpleNamespace, TracebackType
from typing import Any, NamedTuple, Self

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Row,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    create_engine,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect

from exchange import Code, ConfigurationError, ExchangeError, InputError, StoreError, redact_url
from gateway._audit import (
    AuditEntry,
    BigId,
    ChainAnchor,
    ChainVerification,
    UTCDateTime,
    append_entry,
    ensure_head,
    metadata,
    read_entries,
    verify_chain,
)
from gateway._migrate import SchemaRevision, check_schema, migrate
from gateway._status import (
    CLAIMABLE,
    PENDING,
    RECEIPT_ACCEPTING,
    MessageStatus,
    Verdict,
    check_transition,
    overall_status,
)

log = logging.getLogger("gateway.store")

Clock = Callable[[], datetime]

#: What a receiver's own code must look like to be recorded (``NODE-DUPLICATE-CONFLICT``): the column's width.
RECEIVER_CODE = re.compile(r"[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+")
RECEIVER_CODE_MAX = 64


def utc_now() -> datetime:
    return datetime.now(UTC)


def envelope_digest(envelope: bytes) -> str:
    """SHA-256 (lower-case hex) of the envelope bytes exactly as received."""
    return hashlib.sha256(envelope).hexdigest()


def _values(enum: type[StrEnum]) -> str:
    return ", ".join(f"'{member.value}'" for member in enum)


# --- tables -------------------------------------------------------------------------------------------------

messages = Table(
    "messages",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("message_id", String(255), nullable=False, unique=True),
    Column("sender", String(255), nullable=False),
    # The first receiver; every receiver of an accepted message has its row in ``deliveries``.
    Column("receiver", String(255), nullable=False),
    Column("document_type", String(128), nullable=False),
    Column("conversation_id", String(255), nullable=True),
    Column("size", Integer, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("verdict", String(16), nullable=False),
    # RECEIVED, ACCEPTED or REJECTED; then derived from the deliveries' statuses (``overall_status``).
    Column("status", String(32), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint(f"status IN ({_values(MessageStatus)})", name="status"),
    CheckConstraint(f"verdict IN ({_values(Verdict)})", name="verdict"),
    Index(None, "status"),
    Index(None, "sender"),
    Index(None, "receiver"),
    Index(None, "received_at"),
)

#: Each message's bytes as received and its report: written once, beside the row whose status changes at every step.
#: In the ``messages`` row, SQLite rewrote the 18 KB envelope's overflow pages at each status change (the row's size
#: changes with the status's), about 20 pages per change (bench/gateway.py, the gateway's I/O per message).
message_bodies = Table(
    "message_bodies",
    metadata,
    Column("message_pk", BigId, ForeignKey("messages.id"), primary_key=True, autoincrement=False),
    Column("envelope", LargeBinary, nullable=False),
    Column("report", Text, nullable=False),
)

#: One row per receiver of an accepted message: its own status, attempts, lease, dead letter and receipt.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("message_pk", BigId, ForeignKey("messages.id"), nullable=False, index=True),
    Column("receiver", String(255), nullable=False),
    # The receiver's place in the envelope (0 first): the order of the route.
    Column("position", Integer, nullable=False),
    Column("status", String(32), nullable=False),
    Column("inbox_url", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # Start of the current delivery cycle: received_at, or the time of the last manual retry (age bound).
    Column("cycle_started_at", UTCDateTime, nullable=False),
    # When a worker may next take the delivery: the retry time, or the lease expiry while DELIVERING.
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("lease_owner", String(255), nullable=True),
    Column("lease_expires_at", UTCDateTime, nullable=True),
    Column("last_error_code", String(64), nullable=True),
    Column("last_error", Text, nullable=True),
    CheckConstraint(f"status IN ({_values(MessageStatus)})", name="status"),
    UniqueConstraint("message_pk", "receiver"),
    Index(None, "status", "next_attempt_at"),
    Index(None, "receiver"),
)

status_history = Table(
    "status_history",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("message_pk", BigId, ForeignKey("messages.id"), nullable=False, index=True),
    # The delivery a change is of; none for the message's own (RECEIVED, ACCEPTED, REJECTED).
    Column("delivery_pk", BigId, ForeignKey("deliveries.id"), nullable=True, index=True),
    Column("status", String(32), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("detail", Text, nullable=False),
)

delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("message_pk", BigId, ForeignKey("messages.id"), nullable=False, index=True),
    Column("delivery_pk", BigId, ForeignKey("deliveries.id"), nullable=False, index=True),
    Column("number", Integer, nullable=False),
    Column("worker", String(255), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("http_status", Integer, nullable=True),
    Column("code", String(64), nullable=True),
    Column("message", Text, nullable=False),
    Column("duration_ms", Float, nullable=True),
    # The code the receiver's own answer carried (``{"code": ...}``), whatever the gateway made of it.
    Column("receiver_code", String(64), nullable=True),
)

receipts = Table(
    "receipts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("message_pk", BigId, ForeignKey("messages.id"), nullable=False, index=True),
    # None only for a receipt about a message that was never delivered (rejected at submission): kept, ignored.
    Column("delivery_pk", BigId, ForeignKey("deliveries.id"), nullable=True, index=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("verified", Boolean, nullable=False),
    Column("verdict", String(16), nullable=True),
    Column("code", String(64), nullable=True),
    Column("reason", Text, nullable=False),
)

#: The ePhyto hub interface's mailbox (:mod:`gateway._ephyto`): certificates delivered through
#: /hub/DeliveryService, pulled by their receiver's hub client or, when the receiver runs a ptx node, forwarded as
#: the message ``forwarded_as`` of ``messages`` (whose status then is the envelope's HUBTrackingInfo).
hub_envelopes = Table(
    "ephyto_envelopes",
    metadata,
    Column("hub_number", String(64), primary_key=True),
    Column("message_id", String(255), nullable=False, unique=True),
    Column("sender", String(16), nullable=False),
    Column("receiver", String(16), nullable=False, index=True),
    Column("certificate_type", Integer, nullable=False),
    Column("certificate_status", Integer, nullable=False),
    Column("nppo_number", String(255), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("status", String(32), nullable=False),
    Column("tracking", String(32), nullable=False),
    Column("error_message", Text, nullable=True),
    Column("report", Text, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("pulled_at", UTCDateTime, nullable=True),
    Column("forwarded_as", String(255), nullable=True),
)

_SUMMARY_COLUMNS = tuple(messages.c)

# Statements of the paths every message takes, built once with bound parameters: SQLAlchemy then reuses their
# cache keys and compiled forms, where a statement built per call with its values in it (``insert(t).values(...)``,
# ``where(c == value)``) costs about 0.2 ms of CPU each time to construct and key (bench/gateway.py, part 1).
_SUMMARY_BY_ID = select(*_SUMMARY_COLUMNS).where(messages.c.message_id == bindparam("message_id"))
_SUMMARY_BY_PK = select(*_SUMMARY_COLUMNS).where(messages.c.id == bindparam("pk"))
_DIGEST_BY_ID = select(messages.c.digest).where(messages.c.message_id == bindparam("message_id"))
#: :data:`_DIGEST_BY_ID` as SQLite runs it (qmark parameters), for the one-statement read in :meth:`Store.digest_of`
_SQLITE_DIGEST_BY_ID = str(_DIGEST_BY_ID.compile(dialect=sqlite_dialect()))
_LEGS_OF = (select(deliveries).where(deliveries.c.message_pk.in_(bindparam("pks", expanding=True)))
            .order_by(deliveries.c.message_pk, deliveries.c.position))
_LEGS_OF_ONE = select(deliveries).where(deliveries.c.message_pk == bindparam("pk")).order_by(deliveries.c.position)
# Store.claim_due, in two steps: the due deliveries' ids from the index on (status, next_attempt_at) alone, then
# those rows with their messages. One joined, ordered, limited select made SQLite sort every due row with its
# message's envelope before the limit: a claim read the whole backlog (~800 pages with 160 messages waiting).
_DUE_LEGS = (
    select(deliveries.c.id)
    .where(deliveries.c.status.in_([s.value for s in CLAIMABLE]), deliveries.c.next_attempt_at <= bindparam("now"))
    .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
    .limit(bindparam("limit"))
    .with_for_update(of=deliveries, skip_locked=True)
)
_CLAIMED_LEGS = (
    select(deliveries, messages.c.message_id, messages.c.sender, messages.c.document_type,
           messages.c.conversation_id, messages.c.digest, message_bodies.c.envelope, messages.c.received_at)
    .join(messages, messages.c.id == deliveries.c.message_pk)
    .join(message_bodies, message_bodies.c.message_pk == deliveries.c.message_pk)
    .where(deliveries.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
)
_LEGS_FOR_UPDATE = (select(deliveries, messages.c.message_id).join(messages, messages.c.id == deliveries.c.message_pk)
                    .where(messages.c.message_id == bindparam("message_id")))
# Store._lock_legs: in route order, locked (a message's legs, or one receiver's)
_LOCK_LEGS = _LEGS_FOR_UPDATE.order_by(deliveries.c.position).with_for_update(of=deliveries)
_LOCK_LEG = (_LEGS_FOR_UPDATE.where(deliveries.c.receiver == bindparam("receiver")).order_by(deliveries.c.position)
             .with_for_update(of=deliveries))
_UPDATE_LEG = update(deliveries).where(deliveries.c.id == bindparam("leg_pk"))
_UPDATE_MESSAGE = update(messages).where(messages.c.id == bindparam("message_pk_"))
# FOR NO KEY UPDATE: see Store._sync
_LOCK_MESSAGE_STATUS = select(messages.c.status).where(messages.c.id == bindparam("pk")).with_for_update(key_share=True)
_LEG_STATUSES = select(deliveries.c.status).where(deliveries.c.message_pk == bindparam("pk"))


# --- values in and out --------------------------------------------------------------------------------------


class AttemptOutcome(StrEnum):
    """What one delivery attempt came to. ``abandoned`` is recorded by the store when a lease expired."""

    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"
    RECEIVER_REJECTED = "receiver_rejected"
    RETRYABLE = "retryable"
    PERMANENT = "permanent"
    ABANDONED = "abandoned"


class ReceiptVerdict(StrEnum):
    """What a verified receipt says about the message."""

    RECEIVED = "received"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class ReceiptEvidence:
    """A receipt as the gateway got it. ``verified`` only after signature, signer, message id and digest matched.

    A refused receipt is kept too (``verified=False`` with a ``code`` such as ``GW-RECEIPT-INVALID``): it is
    evidence, it just moves no status. Build with :meth:`accepted` or :meth:`refused`.
    """

    body: bytes
    verified: bool
    verdict: ReceiptVerdict | None = None
    code: Code | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        if self.verified and self.verdict is None:
            raise ValueError("a verified receipt must say received or rejected")
        if not self.verified and self.code is None:
            raise ValueError("a refused receipt needs the code of why it was refused")

    @classmethod
    def accepted(cls, body: bytes, verdict: ReceiptVerdict, reason: str = "") -> ReceiptEvidence:
        """A receipt that verified; ``reason`` carries the receiver's reasons for a rejection."""
        return cls(body=body, verified=True, verdict=verdict, reason=reason)

    @classmethod
    def refused(cls, body: bytes, reason: str, code: Code = Code.GW_RECEIPT_INVALID) -> ReceiptEvidence:
        return cls(body=body, verified=False, code=code, reason=reason)


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """What a delivery hook reports for one attempt. Build with the class methods; they keep it consistent."""

    result: AttemptOutcome
    http_status: int | None = None
    code: Code | None = None
    message: str = ""
    receipt: ReceiptEvidence | None = None
    #: The receiver's own code from its answer (e.g. ``NODE-DUPLICATE-CONFLICT``); ``code`` is the gateway's.
    receiver_code: str | None = None

    def __post_init__(self) -> None:
        result, receipt = self.result, self.receipt
        if self.receiver_code is not None and not (
            len(self.receiver_code) <= RECEIVER_CODE_MAX and RECEIVER_CODE.fullmatch(self.receiver_code)
        ):
            raise ValueError(f"receiver code {self.receiver_code!r} is not a code (A-Z, 0-9, dashes; 64 at most)")
        if result is AttemptOutcome.ABANDONED:
            raise ValueError("only the store records abandoned attempts")
        if result in (AttemptOutcome.RETRYABLE, AttemptOutcome.PERMANENT) and self.code is None:
            raise ValueError("a failed attempt needs a code")
        if result is AttemptOutcome.ACKNOWLEDGED and not (
            receipt and receipt.verified and receipt.verdict is ReceiptVerdict.RECEIVED
        ):
            raise ValueError("acknowledged needs a verified positive receipt")
        if result is AttemptOutcome.RECEIVER_REJECTED and not (
            receipt and receipt.verified and receipt.verdict is ReceiptVerdict.REJECTED
        ):
            raise ValueError("receiver_rejected needs a verified rejection")
        if result is AttemptOutcome.DELIVERED and receipt is not None and receipt.verified:
            raise ValueError("a verified receipt makes the outcome acknowledged or receiver_rejected")

    @property
    def delivered(self) -> bool:
        """The receiver took the bytes (whatever it then said about them)."""
        return self.result in (AttemptOutcome.DELIVERED, AttemptOutcome.ACKNOWLEDGED, AttemptOutcome.RECEIVER_REJECTED)

    @classmethod
    def transport_ok(cls, http_status: int | None = None, receipt: ReceiptEvidence | None = None) -> DeliveryOutcome:
        """Delivered; with a receipt in the answer this becomes acknowledged / receiver_rejected / refused-kept."""
        if receipt is not None and receipt.verified:
            result = (
                AttemptOutcome.ACKNOWLEDGED
                if receipt.verdict is ReceiptVerdict.RECEIVED
                else AttemptOutcome.RECEIVER_REJECTED
            )
            return cls(result, http_status=http_status, receipt=receipt, message=receipt.reason)
        return cls(AttemptOutcome.DELIVERED, http_status=http_status, receipt=receipt)

    @classmethod
    def retryable(
        cls, code: Code, message: str, http_status: int | None = None, receiver_code: str | None = None
    ) -> DeliveryOutcome:
        return cls(AttemptOutcome.RETRYABLE, http_status=http_status, code=code, message=message,
                   receiver_code=receiver_code)

    @classmethod
    def permanent(
        cls, code: Code, message: str, http_status: int | None = None, receiver_code: str | None = None
    ) -> DeliveryOutcome:
        return cls(AttemptOutcome.PERMANENT, http_status=http_status, code=code, message=message,
                   receiver_code=receiver_code)


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """A checked message as the app records it. ``report`` is the pipeline's JSON-ready report.

    ``codes`` are the error codes that decided a rejection (for the audit entry and metrics). An accepted message
    needs the receiver's ``inbox_url``. A message with several receivers (a transit declaration) names them all in
    ``receivers`` (``receiver`` is the first) and where each one's inbox is in ``inbox_urls``.
    """

    message_id: str
    sender: str
    receiver: str
    document_type: str
    envelope: bytes
    verdict: Verdict
    report: Mapping[str, Any]
    received_at: datetime
    conversation_id: str | None = None
    inbox_url: str | None = None
    codes: tuple[str, ...] = ()
    receivers: tuple[str, ...] = ()
    inbox_urls: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.receivers:
            object.__setattr__(self, "receivers", (self.receiver,))
        if not self.inbox_urls and self.inbox_url and len(self.receivers) == 1:
            object.__setattr__(self, "inbox_urls", {self.receiver: self.inbox_url})
        if self.receivers[0] != self.receiver or len(set(self.receivers)) != len(self.receivers):
            raise InputError("receivers must start with receiver and name each country once", code=Code.INPUT_INVALID)
        for other in self.receivers:
            if not other or len(other) > _FIELD_LIMITS["receiver"]:
                raise InputError(f"receiver {other!r} is empty or too long", code=Code.INPUT_INVALID)
        if self.received_at.tzinfo is None:
            raise ValueError("received_at must be timezone-aware")
        for name, limit in _FIELD_LIMITS.items():
            value = getattr(self, name)
            if name in ("message_id", "sender", "receiver", "document_type") and not value:
                raise InputError(f"{name} is empty", code=Code.INPUT_INVALID)
            if value is not None and len(value) > limit:
                raise InputError(f"{name} is longer than {limit} characters", code=Code.INPUT_INVALID)


# Column sizes of the identifying fields (the same on every backend).
_FIELD_LIMITS = {"message_id": 255, "sender": 255, "receiver": 255, "document_type": 128, "conversation_id": 255}


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One receiver's delivery of a message: its own status, attempts, lease and last error."""

    receiver: str
    status: MessageStatus
    inbox_url: str
    updated_at: datetime
    attempts: int
    next_attempt_at: datetime | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    last_error_code: str | None
    last_error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "receiver": self.receiver,
            "status": self.status.value,
            "updated_at": _iso(self.updated_at),
            "attempts": self.attempts,
            "next_attempt_at": _iso(self.next_attempt_at),
            "last_error_code": self.last_error_code,
            "last_error": self.last_error,
        }


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """A stored message without its bytes and report (what lists show).

    ``status`` is the message's: its deliveries' combined (:func:`~gateway._status.overall_status`); each
    receiver's own is in ``deliveries`` (empty for a rejected message). The delivery fields (``attempts``,
    ``next_attempt_at``, ``last_error``, ...) are the only delivery's, or for several: attempts summed, the
    soonest next attempt, the lease and last error of the first receiver that has one.
    """

    message_id: str
    sender: str
    receiver: str
    document_type: str
    conversation_id: str | None
    digest: str
    size: int
    verdict: Verdict
    status: MessageStatus
    inbox_url: str | None
    received_at: datetime
    updated_at: datetime
    attempts: int
    next_attempt_at: datetime | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    last_error_code: str | None
    last_error: str | None
    deliveries: tuple[DeliveryRecord, ...] = ()

    @property
    def receivers(self) -> tuple[str, ...]:
        """Every receiver, in the envelope's order (the route's)."""
        return tuple(delivery.receiver for delivery in self.deliveries) or (self.receiver,)

    def delivery(self, receiver: str) -> DeliveryRecord | None:
        return next((delivery for delivery in self.deliveries if delivery.receiver == receiver), None)

    def to_dict(self) -> dict[str, Any]:
        acknowledged = sum(1 for d in self.deliveries if d.status is MessageStatus.ACKNOWLEDGED)
        return {
            "message_id": self.message_id,
            "sender": self.sender,
            "receiver": self.receiver,
            "document_type": self.document_type,
            "conversation_id": self.conversation_id,
            "digest": self.digest,
            "size": self.size,
            "verdict": self.verdict.value,
            "status": self.status.value,
            "received_at": _iso(self.received_at),
            "updated_at": _iso(self.updated_at),
            "attempts": self.attempts,
            "next_attempt_at": _iso(self.next_attempt_at),
            "last_error_code": self.last_error_code,
            "last_error": self.last_error,
            "receivers": list(self.receivers),
            "deliveries": [delivery.to_dict() for delivery in self.deliveries],
            "acknowledged": f"{acknowledged}/{len(self.deliveries)}" if self.deliveries else None,
        }


@dataclass(frozen=True, slots=True)
class StatusChange:
    status: MessageStatus
    at: datetime
    detail: str
    #: whose delivery changed; None for the message's own steps (RECEIVED, ACCEPTED, REJECTED)
    receiver: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status.value, "at": _iso(self.at), "detail": self.detail, "receiver": self.receiver}


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    number: int
    worker: str
    started_at: datetime
    finished_at: datetime
    outcome: AttemptOutcome
    http_status: int | None
    code: str | None
    message: str
    duration_ms: float | None
    receiver_code: str | None = None
    receiver: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "receiver": self.receiver,
            "number": self.number,
            "worker": self.worker,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "outcome": self.outcome.value,
            "http_status": self.http_status,
            "code": self.code,
            "receiver_code": self.receiver_code,
            "message": self.message,
            "duration_ms": self.duration_ms,
        }


@dataclass(frozen=True, slots=True)
class StoredReceipt:
    received_at: datetime
    body: bytes
    verified: bool
    verdict: ReceiptVerdict | None
    code: str | None
    reason: str
    receiver: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "receiver": self.receiver,
            "received_at": _iso(self.received_at),
            "size": len(self.body),
            "verified": self.verified,
            "verdict": None if self.verdict is None else self.verdict.value,
            "code": self.code,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class MessageDetail:
    """Everything stored about one message, read in one transaction."""

    record: MessageRecord
    envelope: bytes
    report: Mapping[str, Any]
    history: tuple[StatusChange, ...]
    attempts: tuple[DeliveryAttempt, ...]
    receipts: tuple[StoredReceipt, ...]

    @property
    def receipt(self) -> StoredReceipt | None:
        """The latest verified receipt, if any (of any receiver: see :meth:`receipt_of`)."""
        return next((receipt for receipt in reversed(self.receipts) if receipt.verified), None)

    def receipt_of(self, receiver: str) -> StoredReceipt | None:
        """The latest verified receipt of ``receiver``, if any."""
        return next((receipt for receipt in reversed(self.receipts)
                     if receipt.verified and receipt.receiver == receiver), None)


@dataclass(frozen=True, slots=True)
class Recorded:
    """Answer of :meth:`Store.record_message`: the stored record, and whether this call created it."""

    record: MessageRecord
    created: bool


class DuplicateKind(StrEnum):
    NEW = "new"
    IDENTICAL = "identical"
    CONFLICT = "conflict"


@dataclass(frozen=True, slots=True)
class DuplicateCheck:
    """Answer of :meth:`Store.lookup_duplicate`: new id, identical resend (``earlier`` set) or conflict."""

    kind: DuplicateKind
    earlier: MessageRecord | None = None


@dataclass(frozen=True, slots=True)
class ClaimedMessage:
    """A message a worker holds under a lease: what a delivery hook gets."""

    message_id: str
    sender: str
    receiver: str
    document_type: str
    conversation_id: str | None
    digest: str
    envelope: bytes
    inbox_url: str
    received_at: datetime
    cycle_started_at: datetime
    attempt: int
    owner: str
    lease_expires_at: datetime


@dataclass(frozen=True, slots=True)
class ReceiptRecorded:
    """Answer of :meth:`Store.record_receipt`: the record after it, and whether the receipt moved the status."""

    record: MessageRecord
    applied: bool


@dataclass(frozen=True, slots=True)
class MessagePage:
    """One page of :meth:`Store.list_messages` (newest first); pass ``next_cursor`` back for the next page."""

    items: tuple[MessageRecord, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """Deliveries the gateway still owes (one per receiver of a message), by status; ``due`` may be claimed now."""

    by_status: Mapping[MessageStatus, int] = field(default_factory=dict)
    due: int = 0
    oldest_received_at: datetime | None = None

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _delivery(row: Row[Any]) -> DeliveryRecord:
    return DeliveryRecord(
        receiver=row.receiver,
        status=MessageStatus(row.status),
        inbox_url=row.inbox_url,
        updated_at=row.updated_at,
        attempts=int(row.attempts),
        next_attempt_at=row.next_attempt_at,
        lease_owner=row.lease_owner,
        lease_expires_at=row.lease_expires_at,
        last_error_code=row.last_error_code,
        last_error=row.last_error,
    )


def _record(row: Row[Any], legs: Iterable[Row[Any]] = ()) -> MessageRecord:
    owed = tuple(_delivery(leg) for leg in legs)
    soonest = [d.next_attempt_at for d in owed if d.next_attempt_at is not None]
    leased = next((d for d in owed if d.lease_owner is not None), None)
    erred = next((d for d in owed if d.last_error_code is not None), None)
    return MessageRecord(
        message_id=row.message_id,
        sender=row.sender,
        receiver=row.receiver,
        document_type=row.document_type,
        conversation_id=row.conversation_id,
        digest=row.digest,
        size=int(row.size),
        verdict=Verdict(row.verdict),
        status=MessageStatus(row.status),
        inbox_url=owed[0].inbox_url if owed else None,
        received_at=row.received_at,
        updated_at=row.updated_at,
        attempts=sum(d.attempts for d in owed),
        next_attempt_at=min(soonest) if soonest else None,
        lease_owner=leased.lease_owner if leased else None,
        lease_expires_at=leased.lease_expires_at if leased else None,
        last_error_code=erred.last_error_code if erred else None,
        last_error=erred.last_error if erred else None,
        deliveries=owed,
    )


def _legs_of(conn: Connection, pks: Iterable[int]) -> dict[int, list[Row[Any]]]:
    """The deliveries of the messages ``pks``, each message's in route order."""
    wanted = list(pks)
    found: dict[int, list[Row[Any]]] = {pk: [] for pk in wanted}
    if wanted:
        rows = (conn.execute(_LEGS_OF_ONE, {"pk": wanted[0]}) if len(wanted) == 1  # an IN list is rendered per call
                else conn.execute(_LEGS_OF, {"pks": wanted}))
        for leg in rows:
            found[int(leg.message_pk)].append(leg)
    return found


def _as_read(values: Mapping[str, Any]) -> dict[str, Any]:
    """Inserted ``values`` as a row read back gives them: times in UTC (:class:`UTCDateTime`)."""
    return {key: value.astimezone(UTC) if isinstance(value, datetime) else value for key, value in values.items()}


def _records(conn: Connection, rows: Iterable[Row[Any]]) -> list[MessageRecord]:
    listed = list(rows)
    legs = _legs_of(conn, (int(row.id) for row in listed))
    return [_record(row, legs[int(row.id)]) for row in listed]


# --- database errors ------------------------------------------------------------------------------------------

_SQLITE_CODES = {5: Code.STORE_LOCKED, 6: Code.STORE_LOCKED, 13: Code.STORE_FULL, 11: Code.STORE_CORRUPT,
                 26: Code.STORE_CORRUPT}
_SQLITE_TEXT = (
    ("locked", Code.STORE_LOCKED),
    ("database or disk is full", Code.STORE_FULL),
    ("not a database", Code.STORE_CORRUPT),
    ("malformed", Code.STORE_CORRUPT),
)
# PostgreSQL SQLSTATEs: 55P03 lock_not_available, 40P01 deadlock, 40001 serialization failure, class 53
# insufficient resources (53100 disk_full), XX001/XX002 data/index corrupted.
_PG_STATES = {"55P03": Code.STORE_LOCKED, "40P01": Code.STORE_LOCKED, "40001": Code.STORE_LOCKED,
              "XX001": Code.STORE_CORRUPT, "XX002": Code.STORE_CORRUPT}


def classify_database_error(exc: BaseException) -> Code:
    """The store code for a database failure (SQLite result codes, PostgreSQL SQLSTATEs, then the text)."""
    orig = getattr(exc, "orig", None) or exc
    sqlite_code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(sqlite_code, int) and (sqlite_code & 0xFF) in _SQLITE_CODES:
        return _SQLITE_CODES[sqlite_code & 0xFF]
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if isinstance(state, str):
        if state in _PG_STATES:
            return _PG_STATES[state]
        if state.startswith("53"):
            return Code.STORE_FULL
        return Code.STORE_UNAVAILABLE
    text = str(orig).lower()
    return next((code for needle, code in _SQLITE_TEXT if needle in text), Code.STORE_UNAVAILABLE)


@contextmanager
def _translated(action: str) -> Iterator[None]:
    try:
        yield
    except (sa_exc.SQLAlchemyError, sqlite3.Error) as exc:  # sqlite3's own: the driver used directly (digest_of)
        code = classify_database_error(exc)
        detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise StoreError(f"store could not {action}: {detail}", code=code) from exc


def create_store_engine(url: str, *, busy_timeout: float = 5.0, echo: bool = False) -> Engine:
    """The engine the store runs on, configured for its backend (see the module docstring).

    SQLite: WAL, foreign keys, busy timeout, full sync, ``BEGIN IMMEDIATE`` for writers; an in-memory database
    is refused. PostgreSQL (psycopg 3): ``lock_timeout`` plays the busy timeout's part, connections are checked
    before use. Raises ``ConfigurationError`` for another backend, ``StoreError`` if the URL is unusable.
    """
    with _translated("open the database"):
        if url.startswith("sqlite"):
            if ":memory:" in url or url.rstrip("/") in ("sqlite:", "sqlite+pysqlite:"):
                raise ConfigurationError("an in-memory SQLite store would lose accepted messages: name a file")
            engine = create_engine(url, echo=echo, connect_args={"timeout": busy_timeout, "check_same_thread": False})
            _configure_sqlite(engine, busy_timeout)
            return engine
        if url.startswith("postgresql"):
            # lock_timeout plays the busy timeout's part: a writer stuck behind a lock fails STORE-LOCKED.
            options = f"-c lock_timeout={int(busy_timeout * 1000)}"
            return create_engine(url, echo=echo, pool_pre_ping=True, connect_args={"options": options})
    raise ConfigurationError(f"unsupported store URL {redact_url(url)!r} (sqlite or postgresql)")


def _message_id_taken(exc: sa_exc.IntegrityError) -> bool:
    """The insert lost the race for a message id: PostgreSQL's unique violation (23505) on that constraint, or
    SQLite's "UNIQUE constraint failed: messages.message_id"."""
    orig = exc.orig
    state = getattr(orig, "sqlstate", None)
    if state is not None:
        constraint = getattr(getattr(orig, "diag", None), "constraint_name", None)
        return bool(state == "23505" and constraint == "uq_messages_message_id")
    return "messages.message_id" in str(orig)


class _InsertRace(Exception):
    """Another transaction inserted the same message id first (internal; never leaves the store)."""


#: At most this many writes (recorded messages, claims, finished attempts) in one group commit (SQLite).
GROUP_LIMIT = 32
_OUTCOME_UNKNOWN = ("recording the message did not finish (interrupted, or waiting past every bound), so whether "
                    "it was stored is not known: send it again with the same message id (a stored one is answered "
                    "as a duplicate)")
_WRITE_UNKNOWN = ("the write did not finish (interrupted, or waiting past every bound), so whether it was stored is "
                  "not known")


class RecordingCounts(NamedTuple):
    """:attr:`Store.recorded`: commits of recorded messages, and the messages they held."""

    commits: int
    messages: int


class _Declined(Exception):
    """A grouped write refused before it wrote anything (a lost lease, an unknown message): that write's own
    answer, so the rest of its group goes on in the same transaction (internal; never leaves the store)."""

    def __init__(self, error: ExchangeError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(eq=False, slots=True)
class _Write:
    """One write waiting for its group's commit (SQLite): a :meth:`Store.record_message`,
    :meth:`Store.claim_due` or :meth:`Store.finish_attempt` call. ``apply`` runs it inside the group's transaction; it raises
    :class:`_Declined` only before writing anything."""

    apply: Callable[[Connection], Any]
    #: what it does, for errors ("record a message"); a group of records only says "record N messages"
    action: str
    records: bool = False
    done: threading.Event = field(default_factory=threading.Event)
    finished: bool = False
    outcome: Any = None
    error: BaseException | None = None
    #: this caller leads the next group (set, then ``done``, by the previous leader)
    leads: bool = False


# --- the store --------------------------------------------------------------------------------------------------


class Store:
    """The gateway's durable store. Thread-safe: share one per process. Open with :meth:`open`."""

    def __init__(self, engine: Engine, *, now: Clock = utc_now, busy_timeout: float = 5.0) -> None:
        self._engine = engine
        self._now = now
        self._postgres = engine.dialect.name == "postgresql"
        # SQLite: read-only transactions get connections of their own, so the writers, who take turns (below), reuse
        # one connection of ``engine`` whose page cache stays valid: every commit is its own. A connection another
        # has committed behind drops its whole cache and reads each page again; with readers and writers sharing one
        # pool, the gateway read ~120 pages (480 KiB) per delivered message, 30 (115 KiB) apart (bench/gateway.py).
        self._readers = (
            engine if self._postgres
            else create_store_engine(engine.url.render_as_string(hide_password=False), busy_timeout=busy_timeout,
                                     echo=bool(engine.echo))
        )
        self._busy_timeout = busy_timeout
        # SQLite admits one writer per file: this process's writers take turns here, in arrival order, instead of
        # polling the file lock with SQLite's back-off (unfair under load: one could starve past the timeout).
        self._writer_turn = threading.Lock() if engine.dialect.name == "sqlite" else None
        # SQLite group commit (record_message, claim_due, finish_attempt): the writes whose threads arrived while another's
        # transaction ran are made together, in one transaction and one fsync, by the first of them (the leader).
        self._group_lock = threading.Lock()
        self._group: list[_Write] = []
        self._group_leading = False
        self._recorded = RecordingCounts(0, 0)

    @classmethod
    def open(
        cls,
        url: str,
        *,
        now: Clock = utc_now,
        busy_timeout: float = 5.0,
        create: bool = True,
        echo: bool = False,
    ) -> Store:
        """Open the store at a SQLAlchemy ``url`` (``sqlite:///FILE`` or ``postgresql+psycopg://...``).

        ``busy_timeout`` is how long a writer waits for another before ``STORE-LOCKED`` (SQLite busy timeout,
        PostgreSQL ``lock_timeout``). With ``create`` the schema is migrated to the newest revision (created on
        an empty database), safely when several processes open one PostgreSQL database at once (see
        :mod:`gateway._migrate`); without it the schema must already be at that revision (``STORE-SCHEMA``).
        """
        store = cls(create_store_engine(url, busy_timeout=busy_timeout, echo=echo), now=now, busy_timeout=busy_timeout)
        try:
            if create:
                store.create_schema()
            else:
                store.check_schema()
        except BaseException:
            store.close()
            raise
        return store

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for health checks and migrations; not for ad-hoc writes)."""
        return self._engine

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read-only transaction for reads outside the store's methods (the dashboard's, the hub mailbox's): on
        the readers' connections (see ``__init__``), begun as a reader (no write lock on SQLite). Database errors
        pass through as SQLAlchemy's, for the caller to word."""
        with self._readers.connect() as conn:
            conn.execution_options(ptx_read_only=True)
            with conn.begin():
                yield conn

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    def now(self) -> datetime:
        """The store's clock (injected; aware UTC)."""
        return self._now()

    def close(self) -> None:
        self._engine.dispose()
        self._readers.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def create_schema(self) -> SchemaRevision:
        """Migrate the schema to head (creating it in an empty database) and add the audit head row. Idempotent.

        One transaction; on PostgreSQL under the migration lock, so concurrent openers wait for one another.
        """
        with self._transaction("migrate the schema", write=True) as conn:
            revision = migrate(conn)
            ensure_head(conn)
        if revision.changed:
            log.info("store schema migrated from %s to %s", revision.before or "nothing", revision.after)
        return revision

    def check_schema(self) -> str:
        """Raise ``STORE-SCHEMA`` unless the schema is at the newest revision this code knows; returns it."""
        with self._transaction("read the schema revision", write=False) as conn:
            return check_schema(conn)

    def ping(self) -> None:
        """Raise ``StoreError`` unless the database answers (for a readiness probe)."""
        with self._transaction("answer a ping", write=False) as conn:
            conn.execute(select(1))

    # --- transactions -----------------------------------------------------------------------------------------

    @contextmanager
    def _transaction(self, action: str, *, write: bool, snapshot: bool = False) -> Iterator[Connection]:
        engine = self._engine if write else self._readers
        with self._turn(action, write), _translated(action), engine.connect() as conn:
            conn.execution_options(ptx_read_only=not write)
            if self._postgres and (snapshot or not write):
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    @contextmanager
    def _turn(self, action: str, write: bool) -> Iterator[None]:
        """A SQLite writer's turn among this process's writers (other processes queue on the file lock)."""
        turn = self._writer_turn if write else None
        if turn is None:
            yield
            return
        if not turn.acquire(timeout=self._busy_timeout):
            raise StoreError(
                f"store could not {action}: other writers of this process held it past the busy timeout "
                f"({self._busy_timeout:g} s)", code=Code.STORE_LOCKED,
            )
        try:
            yield
        finally:
            turn.release()

    def _lock_legs(self, conn: Connection, message_id: str, receiver: str | None) -> list[Row[Any]]:
        """The deliveries of ``message_id`` (only ``receiver``'s if named), locked, in route order. Lock order:
        deliveries, then their message row (:meth:`_sync`), then the audit head."""
        if receiver is None:
            legs = list(conn.execute(_LOCK_LEGS, {"message_id": message_id}).all())
        else:
            legs = list(conn.execute(_LOCK_LEG, {"message_id": message_id, "receiver": receiver}).all())
        if not legs:
            if conn.execute(_DIGEST_BY_ID, {"message_id": message_id}).first() is None:
                raise InputError(f"no message with id {message_id!r}", code=Code.GW_MESSAGE_UNKNOWN)
            whom = f" for receiver {receiver!r}" if receiver is not None else ""
            raise InputError(f"message {message_id!r} has no delivery{whom}", code=Code.GW_MESSAGE_UNKNOWN)
        return legs

    def _set_status(
        self,
        conn: Connection,
        leg: Row[Any],
        new: MessageStatus,
        at: datetime,
        detail: str,
        *,
        current: MessageStatus | None = None,
        via: tuple[MessageStatus, str] | None = None,
        **values: Any,
    ) -> MessageStatus:
        """Move one delivery along an allowed edge, with its history entry; then the message's own status.
        ``via``: a status passed on the way, with its detail (DELIVERED before the receipt's outcome), each edge
        checked and each in the history, the delivery and the message written once."""
        steps = [via, (new, detail)] if via is not None else [(new, detail)]
        old = current or MessageStatus(leg.status)
        for step, _ in steps:
            check_transition(old, step)
            old = step
        conn.execute(_UPDATE_LEG, {"leg_pk": leg.id, "status": new.value, "updated_at": at, **values})
        conn.execute(insert(status_history), [dict(message_pk=leg.message_pk, delivery_pk=leg.id, status=step.value,
                                                   at=at, detail=text) for step, text in steps])
        self._sync(conn, int(leg.message_pk), at)
        return new

    def _sync(self, conn: Connection, pk: int, at: datetime) -> None:
        """The message's status from its deliveries' (:func:`overall_status`). The message row is locked before
        the deliveries are read, so two workers finishing two receivers at once cannot both read the other's old
        status: the second waits, then reads the first's committed change."""
        # FOR NO KEY UPDATE: the rows this transaction inserted before (history, attempts) hold KEY SHARE locks on the
        # message through their foreign keys, as another finisher's do; FOR UPDATE would wait for those and deadlock.
        current = conn.execute(_LOCK_MESSAGE_STATUS, {"pk": pk}).scalar_one()
        statuses = conn.execute(_LEG_STATUSES, {"pk": pk}).scalars().all()
        combined = overall_status(MessageStatus(status) for status in statuses)
        if combined.value != current:
            conn.execute(_UPDATE_MESSAGE, {"message_pk_": pk, "status": combined.value, "updated_at": at})

    def _read_record(self, conn: Connection, pk: int) -> MessageRecord:
        return _records(conn, [conn.execute(_SUMMARY_BY_PK, {"pk": pk}).one()])[0]

    # --- recording checked messages -----------------------------------------------------------------------------

    def record_message(self, incoming: IncomingMessage, *, actor: str = "gateway") -> Recorded:
        """Store a checked message with its status history and audit entry, in one transaction.

        Returns ``created=True`` for a new message. An identical resend (same id, same digest) stores nothing new
        and returns the earlier record with ``created=False``. The same id with other bytes raises
        ``InputError`` ``GW-DUPLICATE-CONFLICT``. Both are audited. An ACCEPTED message is stored once and has one
        delivery per receiver, each due at once.
        """
        if Verdict(incoming.verdict) is Verdict.ACCEPTED:
            missing = [r for r in incoming.receivers if not incoming.inbox_urls.get(r)]
            if missing:
                raise ConfigurationError(
                    f"receiver {missing[0]!r} has no inbox URL: an accepted message could never be delivered"
                )
        digest = envelope_digest(incoming.envelope)
        for _ in range(3):
            write = _Write(lambda conn: self._record_in(conn, incoming, digest, actor), "record a message",
                           records=True)
            try:
                recorded, conflict = self._write(write)
            except _InsertRace:
                continue
            if conflict:
                raise InputError(
                    f"message id {incoming.message_id!r} was already used for other bytes "
                    f"(received {_iso(recorded.record.received_at)}, digest {recorded.record.digest}): "
                    "send a new message with a new id",
                    code=Code.GW_DUPLICATE_CONFLICT,
                )
            return recorded
        raise StoreError(f"message {incoming.message_id!r} kept racing with itself", code=Code.STORE_LOCKED)

    def _write(self, write: _Write) -> Any:
        """One write in a transaction: alone (PostgreSQL, whose writers run side by side) or in a group."""
        if self._writer_turn is None:
            return self._write_alone(write)
        return self._write_grouped(write)

    def _write_alone(self, write: _Write) -> Any:
        try:
            with self._transaction(write.action, write=True) as conn:
                outcome = write.apply(conn)
        except _Declined as declined:  # nothing written: rolled back all the same
            raise declined.error from None
        if write.records:
            self._count_recorded(1)
        return outcome

    def _write_grouped(self, recording: _Write) -> Any:
        """Group commit (SQLite, whose writers run one at a time anyway): the call joins the waiting group. A
        caller that finds no leader leads: it makes the waiting writes (recorded messages, claims, finished
        delivery attempts), its own first, in one transaction (up to :data:`GROUP_LIMIT`), then hands the lead to the first
        write still waiting, whose caller makes the next group; so writes that arrive while a transaction runs
        share the next one, and no caller leads more than one group. Each caller returns only after the
        transaction holding its write committed (fsync included): a 202 still means durable.

        Failures: a write still waiting for a group after the busy timeout leaves the queue with ``STORE-LOCKED``
        (nothing of it stored). A write refused before it wrote anything (:class:`_Declined`: a lost lease) gets
        its own error and the group goes on. A group whose transaction fails with a store error (locked, full,
        unavailable) gives every member that error; any other failure (one message's: a constraint or a value the
        database refuses, a report that is not JSON) has the group made again one write a transaction, so that
        failure is its own."""
        try:
            with self._group_lock:
                self._group.append(recording)
                if not self._group_leading:
                    self._group_leading = recording.leads = True
            if not recording.leads and not recording.done.wait(self._busy_timeout):
                with self._group_lock:
                    waiting = recording in self._group and not recording.leads
                    if waiting:
                        self._group.remove(recording)
                if waiting:
                    raise StoreError(
                        f"store could not {recording.action}: it waited past the busy timeout "
                        f"({self._busy_timeout:g} s) for the writes ahead of it", code=Code.STORE_LOCKED,
                    )
                # its group is being recorded (at worst each member alone, each within the busy timeout)
                if not recording.leads and not recording.done.wait(self._busy_timeout * (GROUP_LIMIT + 1)):
                    raise StoreError(_OUTCOME_UNKNOWN, code=Code.STORE_UNAVAILABLE)
            if recording.leads:
                self._lead_group()
        finally:
            with self._group_lock:
                if recording in self._group:  # interrupted before it was recorded: it must not be led or waited for
                    self._group.remove(recording)
            if recording.leads:
                self._pass_lead()
        if recording.error is not None:
            raise recording.error
        assert recording.finished
        return recording.outcome

    def _pass_lead(self) -> None:
        """The lead goes to the first message still waiting, if any (its caller is told to lead)."""
        with self._group_lock:
            following = self._group[0] if self._group else None
            self._group_leading = following is not None
            if following is not None:
                following.leads = True
                following.done.set()

    def _lead_group(self) -> None:
        """Make the first :data:`GROUP_LIMIT` waiting writes; never raises for them: every member gets its
        outcome or error, and is told."""
        group: list[_Write] = []
        try:
            with self._group_lock:
                group, self._group[:GROUP_LIMIT] = self._group[:GROUP_LIMIT], []
            self._commit_group(group)
        finally:
            for recording in group:
                if not recording.finished and recording.error is None:  # the leader was interrupted
                    recording.error = StoreError(_OUTCOME_UNKNOWN if recording.records else _WRITE_UNKNOWN,
                                                 code=Code.STORE_UNAVAILABLE)
                recording.done.set()

    def _commit_group(self, group: list[_Write]) -> None:
        if len(group) > 1:
            records = sum(write.records for write in group)
            action = (f"record {len(group)} messages" if records == len(group)
                      else f"make a group of {len(group)} writes")
            answers: list[tuple[Any, ExchangeError | None]] = []
            try:
                with self._transaction(action, write=True) as conn:
                    for write in group:
                        try:
                            answers.append((write.apply(conn), None))
                        except _Declined as declined:  # nothing of it written: its own answer
                            answers.append((None, declined.error))
            except Exception as exc:  # noqa: BLE001 - nothing committed
                if isinstance(exc, StoreError) and not isinstance(exc.__cause__,
                                                                  sa_exc.IntegrityError | sa_exc.DataError):
                    for recording in group:  # the store's, not one write's: every member is told at once
                        recording.error = copy.copy(exc)  # each raised in its own thread, with its own traceback
                        recording.error.__cause__ = exc.__cause__
                    return
                log.warning("a group of %d messages failed to record together; recording each alone" if records == len(group)
                            else "a group of %d writes failed together; making each alone", len(group), exc_info=True)
            else:
                if records:
                    self._count_recorded(records)
                for recording, (outcome, error) in zip(group, answers, strict=True):
                    recording.outcome, recording.error, recording.finished = outcome, error, error is None
                return
        for recording in group:
            try:
                recording.outcome = self._write_alone(recording)
                recording.finished = True
            except Exception as exc:  # noqa: BLE001 - raised in the member's own thread
                recording.error = exc

    def _count_recorded(self, messages: int) -> None:
        with self._group_lock:
            self._recorded = RecordingCounts(self._recorded.commits + 1, self._recorded.messages + messages)

    @property
    def recorded(self) -> RecordingCounts:
        """Write transactions that recorded submitted messages since the store opened, and how many messages they
        held (duplicates answered included): with group commit (SQLite) more messages than commits."""
        return self._recorded

    def _record_in(self, conn: Connection, incoming: IncomingMessage, digest: str, actor: str
                   ) -> tuple[Recorded, bool]:
        """Record one message inside the caller's write transaction."""
        now = self._now()
        existing = conn.execute(_SUMMARY_BY_ID, {"message_id": incoming.message_id}).first()
        if existing is not None:
            identical = existing.digest == digest
            append_entry(
                conn,
                at=now,
                actor=actor,
                action="message.duplicate" if identical else "message.conflict",
                message_id=incoming.message_id,
                detail={"digest": digest, "earlier_digest": existing.digest, "earlier_status": existing.status},
            )
            return Recorded(_records(conn, [existing])[0], created=False), not identical
        verdict = Verdict(incoming.verdict)  # also takes an equal-valued enum of the pipeline's
        accepted = verdict is Verdict.ACCEPTED
        status = MessageStatus.ACCEPTED if accepted else MessageStatus.REJECTED
        message = dict(
            message_id=incoming.message_id,
            sender=incoming.sender,
            receiver=incoming.receiver,
            document_type=incoming.document_type,
            conversation_id=incoming.conversation_id,
            size=len(incoming.envelope),
            digest=digest,
            verdict=verdict.value,
            status=status.value,
            received_at=incoming.received_at,
            updated_at=now,
        )
        try:
            result = conn.execute(insert(messages), message)
        except sa_exc.IntegrityError as exc:
            if _message_id_taken(exc):
                raise _InsertRace from exc
            raise
        inserted = result.inserted_primary_key
        assert inserted is not None
        pk = int(inserted[0])
        conn.execute(insert(message_bodies), dict(
            message_pk=pk, envelope=incoming.envelope,
            report=json.dumps(dict(incoming.report), ensure_ascii=False, sort_keys=True),
        ))
        legs = [
            {"message_pk": pk, "receiver": receiver, "position": position, "status": status.value,
             "inbox_url": incoming.inbox_urls[receiver], "updated_at": now,
             "cycle_started_at": incoming.received_at, "next_attempt_at": now, "attempts": 0}
            for position, receiver in enumerate(incoming.receivers)
        ] if accepted else []
        if legs:
            # rows as parameters (executemany), not a multi-row VALUES: that statement's shape changes with the
            # number of rows, so SQLAlchemy compiled it anew for every message (no cache key)
            conn.execute(insert(deliveries), legs)
        codes = sorted(set(incoming.codes))
        conn.execute(insert(status_history), [
            {"message_pk": pk, "status": MessageStatus.RECEIVED.value, "at": incoming.received_at,
             "detail": f"{len(incoming.envelope)} bytes, sha256 {digest}"},
            {"message_pk": pk, "status": status.value, "at": now,
             "detail": "all checks passed" if accepted else "rejected: " + ", ".join(codes)},
        ])
        detail: dict[str, Any] = {
            "digest": digest,
            "sender": incoming.sender,
            "receiver": incoming.receiver,
            "document_type": incoming.document_type,
            "size": len(incoming.envelope),
            "codes": codes,
        }
        if len(incoming.receivers) > 1:
            detail["receivers"] = list(incoming.receivers)
        append_entry(
            conn,
            at=now,
            actor=actor,
            action="message.accepted" if accepted else "message.rejected",
            message_id=incoming.message_id,
            detail=detail,
        )
        # the record from what was just inserted, as reading it back would give it (aware UTC times, no lease,
        # no error yet): two statements fewer for every message
        stored = SimpleNamespace(id=pk, **_as_read(message))
        owed = [SimpleNamespace(lease_owner=None, lease_expires_at=None, last_error_code=None, last_error=None,
                                **_as_read(leg)) for leg in legs]
        return Recorded(_record(stored, owed), created=True), False  # type: ignore[arg-type]

    def lookup_duplicate(self, message_id: str, digest: str) -> DuplicateCheck:
        """Read-only duplicate check for the pipeline (the constraint in :meth:`record_message` decides races)."""
        earlier = self.find(message_id)
        if earlier is None:
            return DuplicateCheck(DuplicateKind.NEW)
        kind = DuplicateKind.IDENTICAL if earlier.digest == digest else DuplicateKind.CONFLICT
        return DuplicateCheck(kind, earlier)

    # --- reading ------------------------------------------------------------------------------------------------

    def digest_of(self, message_id: str) -> str | None:
        """The envelope digest of the message ``message_id``, or ``None`` if there is none (the pipeline's duplicate
        lookup: one indexed read, nothing else)."""
        if self._postgres:
            # the statement alone in autocommit (one statement reads one snapshot): no BEGIN ... COMMIT, two
            # round trips fewer per submitted message
            with _translated("read a message"), self._readers.connect() as conn:
                conn.execution_options(ptx_read_only=True, isolation_level="AUTOCOMMIT")
                digest = conn.execute(_DIGEST_BY_ID, {"message_id": message_id}).scalar()
        else:
            # SQLite: the statement alone, in the driver's autocommit mode, on a readers' connection from the pool
            # (one statement reads one snapshot: it needs no BEGIN ... COMMIT). Between the checks, the
            # SQLAlchemy transaction around it took ~0.3 ms of this lookup; the statement alone ~0.05 ms.
            with _translated("read a message"):
                connection = self._readers.raw_connection()
                try:
                    # fetchall: stepped to the end, the statement holds no read snapshot once it returns
                    driver = connection.driver_connection
                    assert driver is not None  # a checked-out connection holds its driver's
                    rows = driver.execute(_SQLITE_DIGEST_BY_ID, (message_id,)).fetchall()
                finally:
                    connection.close()
            digest = rows[0][0] if rows else None
        return None if digest is None else str(digest)

    def find(self, message_id: str) -> MessageRecord | None:
        with self._transaction("read a message", write=False) as conn:
            row = conn.execute(_SUMMARY_BY_ID, {"message_id": message_id}).first()
            return None if row is None else _records(conn, [row])[0]

    def get(self, message_id: str) -> MessageDetail:
        """Everything about one message; ``InputError`` ``GW-MESSAGE-UNKNOWN`` if there is none."""
        with self._transaction("read a message", write=False) as conn:
            row = conn.execute(
                select(messages, message_bodies.c.envelope, message_bodies.c.report)
                .join(message_bodies, message_bodies.c.message_pk == messages.c.id)
                .where(messages.c.message_id == message_id)
            ).first()
            if row is None:
                raise InputError(f"no message with id {message_id!r}", code=Code.GW_MESSAGE_UNKNOWN)
            legs = _legs_of(conn, [int(row.id)])[int(row.id)]
            whose = {int(leg.id): leg.receiver for leg in legs}
            history = conn.execute(
                select(status_history).where(status_history.c.message_pk == row.id).order_by(status_history.c.id)
            ).all()
            attempts = conn.execute(
                select(delivery_attempts)
                .where(delivery_attempts.c.message_pk == row.id)
                .order_by(delivery_attempts.c.id)
            ).all()
            stored_receipts = conn.execute(
                select(receipts).where(receipts.c.message_pk == row.id).order_by(receipts.c.id)
            ).all()
        return MessageDetail(
            record=_record(row, legs),
            envelope=bytes(row.envelope),
            report=MappingProxyType(json.loads(row.report)),
            history=tuple(StatusChange(MessageStatus(h.status), h.at, h.detail, whose.get(h.delivery_pk))
                          for h in history),
            attempts=tuple(
                DeliveryAttempt(
                    number=a.number,
                    worker=a.worker,
                    started_at=a.started_at,
                    finished_at=a.finished_at,
                    outcome=AttemptOutcome(a.outcome),
                    http_status=a.http_status,
                    code=a.code,
                    message=a.message,
                    duration_ms=a.duration_ms,
                    receiver_code=a.receiver_code,
                    receiver=whose.get(a.delivery_pk),
                )
                for a in attempts
            ),
            receipts=tuple(
                StoredReceipt(
                    received_at=r.received_at,
                    body=bytes(r.body),
                    verified=bool(r.verified),
                    verdict=None if r.verdict is None else ReceiptVerdict(r.verdict),
                    code=r.code,
                    reason=r.reason,
                    receiver=whose.get(r.delivery_pk),
                )
                for r in stored_receipts
            ),
        )

    def list_messages(
        self,
        *,
        status: MessageStatus | Iterable[MessageStatus] | None = None,
        sender: str | None = None,
        receiver: str | None = None,
        document_type: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> MessagePage:
        """Messages newest first, filtered; keyset paging with the opaque ``cursor`` of the previous page.
        ``receiver`` matches any receiver of a message (every country on a transit route)."""
        limit = max(1, min(limit, 500))
        query = select(*_SUMMARY_COLUMNS)
        if status is not None:
            wanted = [status] if isinstance(status, MessageStatus) else list(status)
            query = query.where(messages.c.status.in_([s.value for s in wanted]))
        if sender is not None:
            query = query.where(messages.c.sender == sender)
        if receiver is not None:
            query = query.where(or_(
                messages.c.receiver == receiver,
                messages.c.id.in_(select(deliveries.c.message_pk).where(deliveries.c.receiver == receiver)),
            ))
        if document_type is not None:
            query = query.where(messages.c.document_type == document_type)
        if since is not None:
            query = query.where(messages.c.received_at >= since)
        if cursor is not None:
            query = query.where(messages.c.id < _decode_cursor(cursor))
        with self._transaction("list messages", write=False) as conn:
            rows = conn.execute(query.order_by(messages.c.id.desc()).limit(limit + 1)).all()
            more = len(rows) > limit
            rows = rows[:limit]
            items = tuple(_records(conn, rows))
        return MessagePage(items=items, next_cursor=_encode_cursor(int(rows[-1].id)) if more else None)

    def queue_depth(self) -> QueueDepth:
        """Pending deliveries by status, how many are due now, and the oldest pending one's message's arrival."""
        pending = [s.value for s in PENDING]
        with self._transaction("measure the queue", write=False) as conn:
            counts = conn.execute(
                select(deliveries.c.status, func.count())
                .where(deliveries.c.status.in_(pending))
                .group_by(deliveries.c.status)
            ).all()
            due = conn.execute(
                select(func.count()).where(
                    deliveries.c.status.in_([s.value for s in CLAIMABLE]), deliveries.c.next_attempt_at <= self._now()
                )
            ).scalar_one()
            oldest = conn.execute(
                select(func.min(messages.c.received_at))
                .where(messages.c.id.in_(select(deliveries.c.message_pk).where(deliveries.c.status.in_(pending))))
            ).scalar_one()
        by_status = {status: 0 for status in PENDING} | {MessageStatus(s): int(n) for s, n in counts}
        return QueueDepth(MappingProxyType(by_status), int(due), oldest)  # min() keeps the column's UTC type

    # --- delivery -------------------------------------------------------------------------------------------------

    def claim_due(
        self, owner: str, *, limit: int, lease: timedelta, max_attempts: int | None = None
    ) -> tuple[ClaimedMessage, ...]:
        """Claim up to ``limit`` due deliveries for ``owner`` under a lease, oldest due first, in one transaction.

        A delivery is one receiver's: a message with several receivers is claimed, delivered and retried for each
        on its own. Due: ACCEPTED or WAITING_FOR_RETRY whose time has come, or DELIVERING whose lease expired (its
        holder stopped or crashed; the lost attempt is recorded as abandoned and audited). A reclaimed delivery that
        has used ``max_attempts`` goes to FAILED instead, so a message that crashes its worker cannot loop forever.
        On SQLite the claim is written in a group commit with the other writes waiting then (:meth:`_write_grouped`).
        """
        if limit < 1:
            return ()
        claimed: tuple[ClaimedMessage, ...] = self._write(_Write(
            lambda conn: self._claim_in(conn, owner, limit, lease, max_attempts), "claim deliveries"
        ))
        return claimed

    def _claim_in(
        self, conn: Connection, owner: str, limit: int, lease: timedelta, max_attempts: int | None
    ) -> tuple[ClaimedMessage, ...]:
        """:meth:`claim_due` inside the caller's write transaction."""
        now = self._now()
        due = conn.execute(_DUE_LEGS, {"now": now, "limit": limit}).scalars().all()
        legs = conn.execute(_CLAIMED_LEGS, {"ids": list(due)}).all() if due else []
        claimed: list[ClaimedMessage] = []
        for leg in legs:
            status = MessageStatus(leg.status)
            if status is MessageStatus.DELIVERING:
                self._abandon(conn, leg, now)
                if max_attempts is not None and leg.attempts >= max_attempts:
                    self._dead_letter(
                        conn, leg, now, Code.GW_DELIVERY_ATTEMPTS_EXHAUSTED,
                        f"{leg.attempts} attempts used; the last one never finished", actor=owner,
                    )
                    continue
            attempt = int(leg.attempts) + 1
            expires = now + lease
            self._set_status(
                conn, leg, MessageStatus.DELIVERING, now, f"attempt {attempt} by {owner}",
                attempts=attempt, lease_owner=owner, lease_expires_at=expires, next_attempt_at=expires,
            )
            claimed.append(
                ClaimedMessage(
                    message_id=leg.message_id,
                    sender=leg.sender,
                    receiver=leg.receiver,
                    document_type=leg.document_type,
                    conversation_id=leg.conversation_id,
                    digest=leg.digest,
                    envelope=bytes(leg.envelope),
                    inbox_url=leg.inbox_url,
                    received_at=leg.received_at,
                    cycle_started_at=leg.cycle_started_at,
                    attempt=attempt,
                    owner=owner,
                    lease_expires_at=expires,
                )
            )
        return tuple(claimed)

    def expire_leases(self, *, actor: str) -> int:
        """End every running lease now, so the deliveries are reclaimed at once; returns how many.

        For the start of a gateway that is the only process using this store (the SQLite default): whatever is
        DELIVERING was left by a previous run that died, and need not wait out its lease. Never call it while
        another process delivers from the same database (PostgreSQL with several gateways): leases just expire.
        """
        with self._transaction("expire leases", write=True) as conn:
            now = self._now()
            expired = conn.execute(
                update(deliveries)
                .where(deliveries.c.status == MessageStatus.DELIVERING.value, deliveries.c.lease_expires_at > now)
                .values(lease_expires_at=now, next_attempt_at=now)
            ).rowcount
            if expired:
                append_entry(conn, at=now, actor=actor, action="delivery.leases_expired", detail={"count": expired})
            return int(expired)

    def _abandon(self, conn: Connection, leg: Row[Any], now: datetime) -> None:
        message = f"lease of {leg.lease_owner} expired at {_iso(leg.lease_expires_at)} before the attempt finished"
        conn.execute(
            insert(delivery_attempts), dict(
                message_pk=leg.message_pk,
                delivery_pk=leg.id,
                number=leg.attempts,
                worker=leg.lease_owner or "",
                started_at=leg.updated_at,
                finished_at=now,
                outcome=AttemptOutcome.ABANDONED.value,
                code=Code.GW_LEASE_LOST.value,
                message=message,
            )
        )
        append_entry(
            conn,
            at=now,
            actor="store",
            action="delivery.reclaimed",
            message_id=leg.message_id,
            detail={"receiver": leg.receiver, "attempt": int(leg.attempts), "previous_owner": leg.lease_owner,
                    "lease_expired_at": _iso(leg.lease_expires_at)},
        )

    def _dead_letter(
        self, conn: Connection, leg: Row[Any], now: datetime, code: Code, why: str, *, actor: str,
        current: MessageStatus | None = None, receiver_code: str | None = None,
    ) -> None:
        self._set_status(
            conn, leg, MessageStatus.FAILED, now, f"{code.value}: {why}", current=current,
            next_attempt_at=None, lease_owner=None, lease_expires_at=None,
            last_error_code=code.value, last_error=why,
        )
        detail: dict[str, Any] = {"receiver": leg.receiver, "code": code.value, "reason": why,
                                  "attempts": int(leg.attempts)}
        if receiver_code is not None:
            detail["receiver_code"] = receiver_code
        append_entry(conn, at=now, actor=actor, action="delivery.failed", message_id=leg.message_id, detail=detail)

    def finish_attempt(
        self,
        claim: ClaimedMessage,
        outcome: DeliveryOutcome,
        *,
        started_at: datetime,
        duration: timedelta | None = None,
        retry_at: datetime | None = None,
        dead_letter: Code | None = None,
    ) -> MessageRecord:
        """Record one attempt and apply its outcome to the claimed receiver's delivery in one transaction; the
        caller must still hold the lease.

        - delivered / acknowledged / receiver_rejected: DELIVERED (then the receipt's outcome), receipt stored;
        - retryable with ``retry_at``: WAITING_FOR_RETRY until then;
        - retryable with ``dead_letter`` (the bound that was hit), or permanent: FAILED.

        Raises ``StoreError`` ``GW-LEASE-LOST`` if the lease was taken over (nothing is written then). On SQLite
        the attempt is written in a group commit with the other writes waiting then (:meth:`_write_grouped`).
        """
        failed = outcome.result in (AttemptOutcome.RETRYABLE, AttemptOutcome.PERMANENT)
        if outcome.result is AttemptOutcome.RETRYABLE and (retry_at is None) == (dead_letter is None):
            raise ValueError("a retryable failure needs exactly one of retry_at and dead_letter")
        if not failed and (retry_at is not None or dead_letter is not None):
            raise ValueError("a delivered message is neither retried nor dead-lettered")
        record: MessageRecord = self._write(_Write(
            lambda conn: self._finish_in(conn, claim, outcome, started_at, duration, retry_at, dead_letter),
            "record a delivery attempt",
        ))
        return record

    def _finish_in(
        self,
        conn: Connection,
        claim: ClaimedMessage,
        outcome: DeliveryOutcome,
        started_at: datetime,
        duration: timedelta | None,
        retry_at: datetime | None,
        dead_letter: Code | None,
    ) -> MessageRecord:
        """:meth:`finish_attempt` inside the caller's write transaction; refuses (:class:`_Declined`) before it
        writes anything."""
        now = self._now()
        try:
            leg = self._lock_legs(conn, claim.message_id, claim.receiver)[0]
        except InputError as exc:
            raise _Declined(exc) from None
        if (
            leg.status != MessageStatus.DELIVERING.value
            or leg.lease_owner != claim.owner
            or leg.attempts != claim.attempt
        ):
            raise _Declined(StoreError(
                f"attempt {claim.attempt} of {claim.message_id!r} to {claim.receiver} by {claim.owner} lost its "
                f"lease (now {leg.status}, held by {leg.lease_owner}, attempt {leg.attempts})",
                code=Code.GW_LEASE_LOST,
            ))
        code = outcome.code.value if outcome.code is not None else None
        conn.execute(
            insert(delivery_attempts), dict(
                message_pk=leg.message_pk,
                delivery_pk=leg.id,
                number=claim.attempt,
                worker=claim.owner,
                started_at=started_at,
                finished_at=now,
                outcome=outcome.result.value,
                http_status=outcome.http_status,
                code=code,
                message=outcome.message,
                duration_ms=None if duration is None else duration.total_seconds() * 1000.0,
                receiver_code=outcome.receiver_code,
            )
        )
        if outcome.receipt is not None:
            self._insert_receipt(conn, leg, outcome.receipt, now)
        actor = f"deliverer:{claim.owner}"
        clear = {"lease_owner": None, "lease_expires_at": None, "next_attempt_at": None}
        if outcome.delivered:
            answered = f"attempt {claim.attempt}: receiver answered {outcome.http_status}"
            if outcome.result is not AttemptOutcome.DELIVERED:  # with the receipt's outcome: one move via DELIVERED
                assert outcome.receipt is not None  # guaranteed by DeliveryOutcome
                self._apply_receipt(conn, leg, outcome.receipt, now, actor, current=MessageStatus(leg.status),
                                    via=(MessageStatus.DELIVERED, answered), last_error_code=None, last_error=None)
            else:
                self._set_status(conn, leg, MessageStatus.DELIVERED, now, answered, last_error_code=None,
                                 last_error=None, **clear)
                if outcome.receipt is not None:  # refused: kept, audited, no status moved
                    self._audit_receipt(conn, leg, outcome.receipt, now, actor, "receipt.refused")
                append_entry(
                    conn, at=now, actor=actor, action="delivery.delivered", message_id=leg.message_id,
                    detail={"receiver": leg.receiver, "attempt": claim.attempt,
                            "http_status": outcome.http_status},
                )
        elif retry_at is not None:
            why = f"attempt {claim.attempt} failed: {code}: {outcome.message}"
            self._set_status(
                conn, leg, MessageStatus.WAITING_FOR_RETRY, now, f"{why}; next attempt at {_iso(retry_at)}",
                lease_owner=None, lease_expires_at=None, next_attempt_at=retry_at,
                last_error_code=code, last_error=outcome.message,
            )
            append_entry(
                conn, at=now, actor=actor, action="delivery.retry_scheduled", message_id=leg.message_id,
                detail={"receiver": leg.receiver, "attempt": claim.attempt, "code": code,
                        "http_status": outcome.http_status, "retry_at": _iso(retry_at),
                        **({"receiver_code": outcome.receiver_code} if outcome.receiver_code else {})},
            )
        else:
            give_up = dead_letter or outcome.code or Code.GW_DELIVERY_REFUSED
            why = f"attempt {claim.attempt}: {code}: {outcome.message}"
            self._dead_letter(conn, leg, now, give_up, why, actor=actor, receiver_code=outcome.receiver_code)
        return self._read_record(conn, int(leg.message_pk))

    def _insert_receipt(self, conn: Connection, leg: Row[Any], receipt: ReceiptEvidence, now: datetime) -> None:
        conn.execute(
            insert(receipts), dict(
                message_pk=leg.message_pk,
                delivery_pk=leg.id,
                received_at=now,
                body=receipt.body,
                verified=receipt.verified,
                verdict=None if receipt.verdict is None else receipt.verdict.value,
                code=None if receipt.code is None else receipt.code.value,
                reason=receipt.reason,
            )
        )

    def _audit_receipt(
        self, conn: Connection, leg: Row[Any], receipt: ReceiptEvidence, now: datetime, actor: str, action: str
    ) -> None:
        append_entry(
            conn, at=now, actor=actor, action=action, message_id=leg.message_id,
            detail={
                "receiver": leg.receiver,
                "receipt_sha256": hashlib.sha256(receipt.body).hexdigest(),
                "verified": receipt.verified,
                "verdict": None if receipt.verdict is None else receipt.verdict.value,
                "code": None if receipt.code is None else receipt.code.value,
                "reason": receipt.reason,
            },
        )

    def _apply_receipt(
        self, conn: Connection, leg: Row[Any], receipt: ReceiptEvidence, now: datetime, actor: str,
        *, current: MessageStatus, via: tuple[MessageStatus, str] | None = None, **values: Any,
    ) -> MessageStatus:
        positive = receipt.verdict is ReceiptVerdict.RECEIVED
        target = MessageStatus.ACKNOWLEDGED if positive else MessageStatus.RECEIVER_REJECTED
        detail = "verified receipt" if positive else f"verified rejection: {receipt.reason}"
        self._set_status(
            conn, leg, target, now, detail, current=current, via=via,
            lease_owner=None, lease_expires_at=None, next_attempt_at=None, **values,
        )
        self._audit_receipt(
            conn, leg, receipt, now, actor, "receipt.acknowledged" if positive else "receipt.receiver_rejected"
        )
        return target

    def record_receipt(
        self, message_id: str, receipt: ReceiptEvidence, *, receiver: str | None = None, actor: str = "gateway"
    ) -> ReceiptRecorded:
        """Keep a receipt of ``receiver`` (needed when the message has several) that arrived on its own; a verified
        one moves that receiver's delivery to its outcome.

        Every receipt is stored and audited. A verified receipt applies while the delivery is DELIVERING,
        WAITING_FOR_RETRY, DELIVERED or FAILED (it proves delivery: no further attempts); otherwise it is kept
        without changing the status (``applied=False``). ``GW-MESSAGE-UNKNOWN`` for an unknown id or receiver.
        """
        with self._transaction("record a receipt", write=True) as conn:
            now = self._now()
            row = conn.execute(select(messages.c.id, messages.c.verdict, messages.c.status)
                               .where(messages.c.message_id == message_id)).first()  # not locked: legs come first
            if row is None:
                raise InputError(f"no message with id {message_id!r}", code=Code.GW_MESSAGE_UNKNOWN)
            if row.verdict != Verdict.ACCEPTED.value:  # never delivered: the receipt is kept as evidence, no more
                conn.execute(insert(receipts), dict(
                    message_pk=row.id, delivery_pk=None, received_at=now, body=receipt.body, verified=receipt.verified,
                    verdict=None if receipt.verdict is None else receipt.verdict.value,
                    code=None if receipt.code is None else receipt.code.value, reason=receipt.reason,
                ))
                append_entry(conn, at=now, actor=actor, action="receipt.ignored" if receipt.verified
                             else "receipt.refused", message_id=message_id,
                             detail={"receipt_sha256": hashlib.sha256(receipt.body).hexdigest(),
                                     "verified": receipt.verified, "reason": f"the message is {row.status}"})
                return ReceiptRecorded(self._read_record(conn, int(row.id)), False)
            legs = self._lock_legs(conn, message_id, receiver)
            if len(legs) > 1:
                raise InputError(f"message {message_id!r} has {len(legs)} receivers: say whose receipt this is",
                                 code=Code.INPUT_INVALID)
            leg = legs[0]
            self._insert_receipt(conn, leg, receipt, now)
            status = MessageStatus(leg.status)
            applied = receipt.verified and status in RECEIPT_ACCEPTING
            if applied:
                self._apply_receipt(conn, leg, receipt, now, actor, current=status)
            else:
                action = "receipt.ignored" if receipt.verified else "receipt.refused"
                self._audit_receipt(conn, leg, receipt, now, actor, action)
            return ReceiptRecorded(self._read_record(conn, int(leg.message_pk)), applied)

    def retry(self, message_id: str, *, actor: str, receiver: str | None = None) -> MessageRecord:
        """Manual retry of a dead letter: each FAILED delivery (only ``receiver``'s if named) -> WAITING_FOR_RETRY,
        due now, attempts and age window reset.

        ``GW-RETRY-NOT-ALLOWED`` when none of them is FAILED, ``GW-MESSAGE-UNKNOWN`` for an unknown id.
        """
        with self._transaction("retry a message", write=True) as conn:
            now = self._now()
            known = conn.execute(select(messages.c.status).where(messages.c.message_id == message_id)).first()
            if known is None:
                raise InputError(f"no message with id {message_id!r}", code=Code.GW_MESSAGE_UNKNOWN)
            legs = self._lock_legs(conn, message_id, receiver) if known.status != MessageStatus.REJECTED.value else []
            failed = [leg for leg in legs if leg.status == MessageStatus.FAILED.value]
            if not failed:
                state = (legs[0].status if len(legs) == 1 else ", ".join(f"{leg.receiver} {leg.status}" for leg in legs)
                         ) if legs else known.status
                raise InputError(
                    f"message {message_id!r} is {state}: only a FAILED delivery can be retried",
                    code=Code.GW_RETRY_NOT_ALLOWED,
                )
            for leg in failed:
                self._set_status(
                    conn, leg, MessageStatus.WAITING_FOR_RETRY, now, f"manual retry by {actor}",
                    attempts=0, next_attempt_at=now, cycle_started_at=now,
                )
                append_entry(
                    conn, at=now, actor=actor, action="message.retry", message_id=message_id,
                    detail={"receiver": leg.receiver, "previous_attempts": int(leg.attempts),
                            "last_error_code": leg.last_error_code},
                )
            return self._read_record(conn, int(failed[0].message_pk))

    # --- audit ----------------------------------------------------------------------------------------------------

    def append_audit(
        self, action: str, *, actor: str, message_id: str | None = None, detail: Mapping[str, Any] | None = None
    ) -> AuditEntry:
        """Audit a decision that changes no stored message (e.g. a refusal before a message id was known)."""
        with self._transaction("append to the audit log", write=True) as conn:
            return append_entry(conn, at=self._now(), actor=actor, action=action, message_id=message_id, detail=detail)

    def audit_entries(
        self, *, after_seq: int = 0, limit: int = 100, message_id: str | None = None
    ) -> tuple[AuditEntry, ...]:
        with self._transaction("read the audit log", write=False) as conn:
            return read_entries(conn, after_seq=after_seq, limit=max(1, min(limit, 1000)), message_id=message_id)

    def verify_audit(self, *, anchor: ChainAnchor | None = None) -> ChainVerification:
        """Verify the whole hash chain on one consistent snapshot."""
        with self._transaction("verify the audit log", write=False, snapshot=True) as conn:
            return verify_chain(conn, anchor=anchor)


def _encode_cursor(pk: int) -> str:
    return f"m{pk}"


def _decode_cursor(cursor: str) -> int:
    if not (cursor.startswith("m") and cursor[1:].isdigit()):
        raise InputError(f"invalid page cursor {cursor!r}", code=Code.INPUT_INVALID)
    return int(cursor[1:])


def _use_wal(cursor: Any, busy_timeout: float) -> None:
    """Switch the file to WAL (it stays so). Only the first open of a new file switches; that takes an exclusive
    lock and SQLite answers "locked" at once, without its busy handler, while another process opens the same new
    file: wait and retry within the busy timeout like any other writer."""
    if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def _configure_sqlite(engine: Engine, busy_timeout: float) -> None:
    """WAL, foreign keys, busy timeout, full sync; our own BEGIN (IMMEDIATE for writers)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver must not BEGIN on its own: we do, below
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            _use_wal(cursor, busy_timeout)
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA synchronous = FULL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        read_only = conn.get_execution_options().get("ptx_read_only", False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


__all__ = [
    "AttemptOutcome",
    "ClaimedMessage",
    "DeliveryAttempt",
    "DeliveryOutcome",
    "DuplicateCheck",
    "DuplicateKind",
    "IncomingMessage",
    "MessageDetail",
    "MessagePage",
    "MessageRecord",
    "RECEIVER_CODE",
    "RECEIVER_CODE_MAX",
    "QueueDepth",
    "ReceiptEvidence",
    "ReceiptRecorded",
    "ReceiptVerdict",
    "Recorded",
    "RecordingCounts",
    "StatusChange",
    "Store",
    "StoredReceipt",
    "classify_database_error",
    "create_store_engine",
    "envelope_digest",
    "hub_envelopes",
    "metadata",
    "utc_now",
]
