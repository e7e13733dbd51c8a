"""The node's durable store: one SQLite file per single window, holding its inbox and its outbox.

SQLAlchemy 2.0 Core on a synchronous engine (the HTTP app calls it from worker threads), in the style of the
gateway's store: WAL mode, foreign keys on, full sync, a busy timeout, ``BEGIN IMMEDIATE`` for writers so that
they queue instead of failing, plain ``BEGIN`` snapshots for readers. Every public method is one transaction.
Database failures become :class:`~exchange.StoreError` with a stable code (``STORE-LOCKED``, ``STORE-FULL``,
``STORE-CORRUPT``, ``STORE-UNAVAILABLE``); the inbox answers them with HTTP 503 so the gateway tries again.

Tables::

    inbox            one row per message id received (unique): the envelope bytes exactly as delivered, the
                     issuer-signed document bytes exactly as signed (only when the node's own checks passed),
                     digest, verdict, the checks with their findings (JSON), the signed receipt answered
    outbox           one row per message id sent: the request's digest (an idempotent resend must repeat the
                     same request), the signed document, the signed envelope, the gateway's answer (JSON) and
                     tracking history, the status, the receiver's receipt and whether this node verified it
    outbox_history   every status this node saw for an outbox message, with time and detail

Duplicates are decided by the unique constraint on ``message_id``: a concurrent insert of the same id loses the
race, rolls back, and is answered from the winner's row. Times come from the injected clock (aware UTC).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    Engine,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Row,
    String,
    Table,
    Text,
    bindparam,
    create_engine,
    event,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy import exc as sa_exc

from exchange import Code, ConfigurationError, InputError, ReceiptStatus, StoreError, redact_url
from exchange.services._sqltypes import UTCDateTime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class OutboxStatus(StrEnum):
    """Where a sent message is, as this node last saw it.

    ``NEW`` and ``SUBMIT_FAILED`` are the node's own (stored, not yet answered by the gateway; a resend with the
    same message id tries again). The others are the gateway's statuses, mirrored from its answers.
    """

    NEW = "NEW"
    SUBMIT_FAILED = "SUBMIT_FAILED"
    RECEIVED = "RECEIVED"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    DELIVERING = "DELIVERING"
    WAITING_FOR_RETRY = "WAITING_FOR_RETRY"
    DELIVERED = "DELIVERED"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    RECEIVER_REJECTED = "RECEIVER_REJECTED"
    FAILED = "FAILED"


#: Statuses at which the gateway holds a receipt for the message.
RECEIPTED = frozenset({OutboxStatus.ACKNOWLEDGED, OutboxStatus.RECEIVER_REJECTED})
#: Statuses that the gateway has not seen (nothing to track there).
UNSUBMITTED = frozenset({OutboxStatus.NEW, OutboxStatus.SUBMIT_FAILED})


def _values(enum: type[StrEnum]) -> str:
    return ", ".join(f"'{member.value}'" for member in enum)




metadata = MetaData()

inbox = Table(
    "inbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(255), nullable=False, unique=True),
    Column("sender", String(255), nullable=True),
    Column("receiver", String(255), nullable=True),
    Column("document_type", String(128), nullable=True),
    Column("conversation_id", String(255), nullable=True),
    Column("envelope", LargeBinary, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("document", LargeBinary, nullable=True),
    Column("issuer", Text, nullable=True),
    Column("verdict", String(16), nullable=False),
    Column("checks", Text, nullable=False),
    Column("receipt", LargeBinary, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    CheckConstraint(f"verdict IN ({_values(ReceiptStatus)})", name="inbox_verdict"),
    CheckConstraint("verdict = 'REJECTED' OR document IS NOT NULL", name="inbox_received_has_document"),
    Index(None, "received_at"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(255), nullable=False, unique=True),
    Column("receiver", String(255), nullable=False),
    Column("document_type", String(128), nullable=False),
    Column("issuer", String(255), nullable=True),
    Column("request_digest", String(64), nullable=False),
    Column("tampered", Boolean, nullable=False),
    Column("document", LargeBinary, nullable=False),
    Column("envelope", LargeBinary, nullable=False),
    Column("envelope_digest", String(64), nullable=False),
    Column("status", String(32), nullable=False),
    Column("gateway_http_status", Integer, nullable=True),
    Column("gateway_answer", Text, nullable=True),
    Column("gateway_history", Text, nullable=True),
    Column("last_error_code", String(64), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("receipt", LargeBinary, nullable=True),
    Column("receipt_verified", Boolean, nullable=False),
    Column("receipt_status", String(16), nullable=True),
    Column("receipt_findings", Text, nullable=True),
    #: the gateway's signed rejection report of a refused submission, and this node's verdict on it
    Column("rejection", LargeBinary, nullable=True),
    Column("rejection_verified", Boolean, nullable=True),
    Column("rejection_findings", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint(f"status IN ({_values(OutboxStatus)})", name="outbox_status"),
    Index(None, "created_at"),
)

outbox_history = Table(
    "outbox_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("outbox_pk", Integer, ForeignKey("outbox.id"), nullable=False, index=True),
    Column("status", String(32), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("detail", Text, nullable=False),
)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


# --- values in and out --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewInboxMessage:
    """A checked delivery, as the inbox records it. ``document`` only when the node's checks passed."""

    message_id: str
    envelope: bytes
    digest: str
    verdict: ReceiptStatus
    checks: list[dict[str, Any]]
    receipt: bytes
    received_at: datetime
    sender: str | None = None
    receiver: str | None = None
    document_type: str | None = None
    conversation_id: str | None = None
    document: bytes | None = None
    issuer: str | None = None

    def __post_init__(self) -> None:
        if self.verdict is ReceiptStatus.RECEIVED and self.document is None:
            raise ValueError("a received message must keep its document")


@dataclass(frozen=True, slots=True)
class InboxEntry:
    """One received message without its bytes (what lists show); the receipt is kept for redeliveries."""

    message_id: str
    sender: str | None
    receiver: str | None
    document_type: str | None
    conversation_id: str | None
    digest: str
    verdict: ReceiptStatus
    issuer: str | None
    checks: list[dict[str, Any]]
    receipt: bytes
    received_at: datetime
    envelope_size: int
    document_size: int | None

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(
            finding["code"] for check in self.checks for finding in check.get("findings", ())
            if finding.get("severity") == "error"
        )

    def to_dict(self, *, detail: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "message_id": self.message_id,
            "sender": self.sender,
            "receiver": self.receiver,
            "document_type": self.document_type,
            "conversation_id": self.conversation_id,
            "verdict": self.verdict.value,
            "issuer": self.issuer,
            "digest": self.digest,
            "received_at": _iso(self.received_at),
            "envelope_size": self.envelope_size,
            "document_size": self.document_size,
            "codes": list(self.codes),
        }
        if detail:
            body["checks"] = self.checks
            body["receipt"] = self.receipt.decode("utf-8")
        return body


@dataclass(frozen=True, slots=True)
class NewOutboxMessage:
    """A message the node is about to submit: the signed document inside the node-signed envelope."""

    message_id: str
    receiver: str
    document_type: str
    issuer: str | None
    request_digest: str
    tampered: bool
    document: bytes
    envelope: bytes
    envelope_digest: str


@dataclass(frozen=True, slots=True)
class StatusChange:
    status: OutboxStatus
    at: datetime
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status.value, "at": _iso(self.at), "detail": self.detail}


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One sent message with everything the node knows about it."""

    message_id: str
    receiver: str
    document_type: str
    issuer: str | None
    request_digest: str
    tampered: bool
    document: bytes
    envelope: bytes
    envelope_digest: str
    status: OutboxStatus
    gateway_http_status: int | None
    gateway_answer: Any
    gateway_history: Any
    last_error_code: str | None
    last_error: str | None
    receipt: bytes | None
    receipt_verified: bool
    receipt_status: ReceiptStatus | None
    receipt_findings: list[dict[str, Any]] | None
    created_at: datetime
    updated_at: datetime
    history: tuple[StatusChange, ...] = ()
    rejection: bytes | None = None
    rejection_verified: bool = False
    rejection_findings: list[dict[str, Any]] | None = None

    def to_dict(self, *, detail: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "message_id": self.message_id,
            "receiver": self.receiver,
            "document_type": self.document_type,
            "issuer": self.issuer,
            "tampered": self.tampered,
            "status": self.status.value,
            "envelope_digest": self.envelope_digest,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "error": (
                {"code": self.last_error_code, "message": self.last_error} if self.last_error_code else None
            ),
            "receipt": None,
        }
        if self.receipt is not None:
            receipt: dict[str, Any] = {
                "verified": self.receipt_verified,
                "status": None if self.receipt_status is None else self.receipt_status.value,
                "findings": self.receipt_findings or [],
            }
            if detail:
                receipt["xml"] = self.receipt.decode("utf-8", errors="replace")
            body["receipt"] = receipt
        body["rejection"] = None
        if self.rejection is not None:  # the gateway's signed answer to a refused submission
            rejection: dict[str, Any] = {"verified": self.rejection_verified,
                                         "findings": self.rejection_findings or []}
            if detail:
                rejection["xml"] = self.rejection.decode("utf-8", errors="replace")
            body["rejection"] = rejection
        if detail:
            body["gateway"] = {
                "http_status": self.gateway_http_status,
                "answer": self.gateway_answer,
                "history": self.gateway_history,
            }
            body["history"] = [change.to_dict() for change in self.history]
        return body


def _inbox_entry(row: Row[Any]) -> InboxEntry:
    return InboxEntry(
        message_id=row.message_id,
        sender=row.sender,
        receiver=row.receiver,
        document_type=row.document_type,
        conversation_id=row.conversation_id,
        digest=row.digest,
        verdict=ReceiptStatus(row.verdict),
        issuer=row.issuer,
        checks=json.loads(row.checks),
        receipt=bytes(row.receipt),
        received_at=row.received_at,
        envelope_size=int(row.envelope_size),
        document_size=None if row.document_size is None else int(row.document_size),
    )


_INBOX_COLUMNS = (
    *(column for column in inbox.c if column.name not in ("envelope", "document")),
    func.length(inbox.c.envelope).label("envelope_size"),
    func.length(inbox.c.document).label("document_size"),
)
# Built once with bound parameters (see gateway/_store.py): a statement built per call with its values in it costs
# SQLAlchemy more to construct and key than SQLite takes to run it.
_INBOX_BY_ID = select(*_INBOX_COLUMNS).where(inbox.c.message_id == bindparam("message_id"))
_OUTBOX_BY_ID = select(outbox).where(outbox.c.message_id == bindparam("message_id"))
_OUTBOX_PK = select(outbox.c.id).where(outbox.c.message_id == bindparam("message_id"))
_OUTBOX_HISTORY = select(outbox_history).where(outbox_history.c.outbox_pk == bindparam("pk")).order_by(outbox_history.c.id)
_UPDATE_OUTBOX = update(outbox).where(outbox.c.id == bindparam("outbox_pk"))


def _add_missing_columns(conn: Connection) -> None:
    """Add the nullable columns a newer version defines to a node database an older one made (SQLite or any
    database with ``ALTER TABLE ... ADD COLUMN``); the node's store has no migrations of its own otherwise."""
    for table in metadata.sorted_tables:
        present = {column["name"] for column in inspect(conn).get_columns(table.name)}
        for column in table.columns:
            if column.name not in present and column.nullable:
                kind = column.type.compile(dialect=conn.dialect)
                conn.execute(text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'))


def _outbox_entry(row: Row[Any], history: tuple[StatusChange, ...] = ()) -> OutboxEntry:
    return OutboxEntry(
        message_id=row.message_id,
        receiver=row.receiver,
        document_type=row.document_type,
        issuer=row.issuer,
        request_digest=row.request_digest,
        tampered=bool(row.tampered),
        document=bytes(row.document),
        envelope=bytes(row.envelope),
        envelope_digest=row.envelope_digest,
        status=OutboxStatus(row.status),
        gateway_http_status=row.gateway_http_status,
        gateway_answer=_json(row.gateway_answer),
        gateway_history=_json(row.gateway_history),
        last_error_code=row.last_error_code,
        last_error=row.last_error,
        receipt=None if row.receipt is None else bytes(row.receipt),
        receipt_verified=bool(row.receipt_verified),
        receipt_status=None if row.receipt_status is None else ReceiptStatus(row.receipt_status),
        receipt_findings=_json(row.receipt_findings),
        created_at=row.created_at,
        updated_at=row.updated_at,
        history=history,
        rejection=None if row.rejection is None else bytes(row.rejection),
        rejection_verified=bool(row.rejection_verified),
        rejection_findings=_json(row.rejection_findings),
    )


# --- database errors ----------------------------------------------------------------------------------------

# SQLite primary result codes: 5 BUSY, 6 LOCKED, 11 CORRUPT, 13 FULL, 26 NOTADB.
_SQLITE_CODES = {5: Code.STORE_LOCKED, 6: Code.STORE_LOCKED, 11: Code.STORE_CORRUPT, 13: Code.STORE_FULL,
                 26: Code.STORE_CORRUPT}
_SQLITE_TEXT = (
    ("locked", Code.STORE_LOCKED),
    ("database or disk is full", Code.STORE_FULL),
    ("not a database", Code.STORE_CORRUPT),
    ("malformed", Code.STORE_CORRUPT),
)


def classify_database_error(exc: BaseException) -> Code:
    """The store code for a SQLite failure (result code first, then the text)."""
    orig = getattr(exc, "orig", None) or exc
    sqlite_code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(sqlite_code, int) and (sqlite_code & 0xFF) in _SQLITE_CODES:
        return _SQLITE_CODES[sqlite_code & 0xFF]
    text = str(orig).lower()
    return next((code for needle, code in _SQLITE_TEXT if needle in text), Code.STORE_UNAVAILABLE)


@contextmanager
def _translated(action: str) -> Iterator[None]:
    try:
        yield
    except sa_exc.SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise StoreError(f"node store could not {action}: {detail}", code=classify_database_error(exc)) from exc


def _configure_sqlite(engine: Engine, busy_timeout: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver must not BEGIN on its own: we do, below
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA synchronous = FULL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        read_only = conn.get_execution_options().get("ptx_read_only", False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


class _InsertRace(Exception):
    """Another transaction inserted the same message id first (internal; never leaves the store)."""


def _unknown(message_id: str, where: str) -> InputError:
    return InputError(f"no message {message_id!r} in this node's {where}", code=Code.NODE_MESSAGE_UNKNOWN)


# --- the store ------------------------------------------------------------------------------------------------


class NodeStore:
    """A node's durable store. Thread-safe: share one per process. Open with :meth:`open`."""

    def __init__(self, engine: Engine, *, now: Clock = utc_now) -> None:
        self._engine = engine
        self._now = now

    @classmethod
    def open(cls, url: str, *, now: Clock = utc_now, busy_timeout: float = 5.0, create: bool = True) -> NodeStore:
        """Open (and with ``create`` set up) the SQLite file named by ``url`` (``sqlite:///FILE``)."""
        scheme, _, rest = url.partition("://")
        if scheme not in ("sqlite", "sqlite+pysqlite"):
            raise ConfigurationError(f"a node store is one SQLite file, not {redact_url(url)!r}",
                                     code=Code.CONFIG_INVALID)
        path = rest[1:] if rest.startswith("/") else rest
        if path in ("", ":memory:") or "mode=memory" in path:
            raise ConfigurationError("an in-memory node store would lose received documents: name a file")
        if create and not path.startswith("file:"):
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the folder of {path}: {exc.strerror}") from exc
        with _translated("open the database"):
            engine = create_engine(url, connect_args={"timeout": busy_timeout, "check_same_thread": False})
            _configure_sqlite(engine, busy_timeout)
        store = cls(engine, now=now)
        if create:
            store.create_schema()
        return store

    @property
    def engine(self) -> Engine:
        return self._engine

    def now(self) -> datetime:
        return self._now()

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def create_schema(self) -> None:
        with self._transaction("create the schema", write=True) as conn:
            metadata.create_all(conn)
            _add_missing_columns(conn)

    def ping(self) -> None:
        """Raise ``StoreError`` unless the database answers (readiness probe)."""
        with self._transaction("answer a ping", write=False) as conn:
            conn.execute(select(func.count()).select_from(inbox))

    @contextmanager
    def _transaction(self, action: str, *, write: bool) -> Iterator[Connection]:
        with _translated(action), self._engine.connect() as conn:
            conn.execution_options(ptx_read_only=not write)
            with conn.begin():
                yield conn

    # --- inbox ------------------------------------------------------------------------------------------------

    def inbox_lookup(self, message_id: str) -> InboxEntry | None:
        """The earlier delivery of ``message_id``, if any (the caller compares digests)."""
        with self._transaction("look up a received message", write=False) as conn:
            row = conn.execute(_INBOX_BY_ID, {"message_id": message_id}).first()
            return None if row is None else _inbox_entry(row)

    def inbox_record(self, message: NewInboxMessage) -> tuple[InboxEntry, bool]:
        """Store a checked delivery; ``(entry, True)`` when new.

        When the id is already there (a concurrent redelivery won the race) the earlier entry comes back with
        ``False``; the caller compares digests. One transaction; the unique constraint decides.
        """
        for _ in range(3):
            try:
                return self._inbox_record_once(message)
            except _InsertRace:
                continue
        raise StoreError(f"message {message.message_id!r} kept racing with itself", code=Code.STORE_LOCKED)

    def _inbox_record_once(self, message: NewInboxMessage) -> tuple[InboxEntry, bool]:
        with self._transaction("record a received message", write=True) as conn:
            existing = conn.execute(_INBOX_BY_ID, {"message_id": message.message_id}).first()
            if existing is not None:
                return _inbox_entry(existing), False
            try:
                conn.execute(
                    insert(inbox), dict(
                        message_id=message.message_id,
                        sender=message.sender,
                        receiver=message.receiver,
                        document_type=message.document_type,
                        conversation_id=message.conversation_id,
                        envelope=message.envelope,
                        digest=message.digest,
                        document=message.document,
                        issuer=message.issuer,
                        verdict=message.verdict.value,
                        checks=_dump(message.checks),
                        receipt=message.receipt,
                        received_at=message.received_at,
                    )
                )
            except sa_exc.IntegrityError as exc:
                raise _InsertRace from exc
            row = conn.execute(_INBOX_BY_ID, {"message_id": message.message_id}).one()
            return _inbox_entry(row), True

    def inbox_list(self, *, limit: int = 100, offset: int = 0) -> tuple[InboxEntry, ...]:
        """Received messages, newest first."""
        with self._transaction("list the inbox", write=False) as conn:
            rows = conn.execute(
                select(*_INBOX_COLUMNS).order_by(inbox.c.id.desc()).limit(max(1, min(limit, 1000)))
                .offset(max(0, offset))
            ).all()
            return tuple(_inbox_entry(row) for row in rows)

    def inbox_count(self) -> int:
        with self._transaction("count the inbox", write=False) as conn:
            return int(conn.execute(select(func.count()).select_from(inbox)).scalar_one())

    def inbox_get(self, message_id: str) -> InboxEntry:
        entry = self.inbox_lookup(message_id)
        if entry is None:
            raise _unknown(message_id, "inbox")
        return entry

    def inbox_document(self, message_id: str) -> bytes:
        """The issuer-signed document of a received message, byte for byte as signed."""
        with self._transaction("read a document", write=False) as conn:
            row = conn.execute(
                select(inbox.c.verdict, inbox.c.document).where(inbox.c.message_id == message_id)
            ).first()
        if row is None:
            raise _unknown(message_id, "inbox")
        if row.verdict != ReceiptStatus.RECEIVED.value or row.document is None:
            raise InputError(
                f"message {message_id!r} was rejected by this node's checks: it holds no document",
                code=Code.NODE_DOCUMENT_REJECTED,
            )
        return bytes(row.document)

    def inbox_envelope(self, message_id: str) -> bytes:
        """The envelope of a received message, byte for byte as delivered."""
        with self._transaction("read an envelope", write=False) as conn:
            row = conn.execute(select(inbox.c.envelope).where(inbox.c.message_id == message_id)).first()
        if row is None:
            raise _unknown(message_id, "inbox")
        return bytes(row.envelope)

    # --- outbox -----------------------------------------------------------------------------------------------

    def _outbox_row(self, conn: Connection, message_id: str) -> Row[Any]:
        row = conn.execute(_OUTBOX_BY_ID, {"message_id": message_id}).first()
        if row is None:
            raise _unknown(message_id, "outbox")
        return row

    def _outbox_read(self, conn: Connection, message_id: str) -> OutboxEntry:
        row = self._outbox_row(conn, message_id)
        history = conn.execute(_OUTBOX_HISTORY, {"pk": row.id}).all()
        return _outbox_entry(
            row, tuple(StatusChange(OutboxStatus(h.status), h.at, h.detail) for h in history)
        )

    def outbox_create(self, message: NewOutboxMessage) -> tuple[OutboxEntry, bool]:
        """Store a message about to be submitted (status NEW); ``(entry, True)`` when new.

        The same message id again with the same request returns the earlier entry (``False``) so that the
        caller resends exactly the stored bytes; with another request it is ``NODE-DUPLICATE-CONFLICT``.
        """
        for _ in range(3):
            try:
                entry, created = self._outbox_create_once(message)
            except _InsertRace:
                continue
            if not created and entry.request_digest != message.request_digest:
                raise InputError(
                    f"message id {message.message_id!r} was already used here for another request "
                    f"(sent to {entry.receiver}, {entry.document_type}): use a new message id",
                    code=Code.NODE_DUPLICATE_CONFLICT,
                )
            return entry, created
        raise StoreError(f"message {message.message_id!r} kept racing with itself", code=Code.STORE_LOCKED)

    def _outbox_create_once(self, message: NewOutboxMessage) -> tuple[OutboxEntry, bool]:
        with self._transaction("record a message to send", write=True) as conn:
            existing = conn.execute(_OUTBOX_PK, {"message_id": message.message_id}).first()
            if existing is not None:
                return self._outbox_read(conn, message.message_id), False
            now = self._now()
            try:
                conn.execute(
                    insert(outbox), dict(
                        message_id=message.message_id,
                        receiver=message.receiver,
                        document_type=message.document_type,
                        issuer=message.issuer,
                        request_digest=message.request_digest,
                        tampered=message.tampered,
                        document=message.document,
                        envelope=message.envelope,
                        envelope_digest=message.envelope_digest,
                        status=OutboxStatus.NEW.value,
                        receipt_verified=False,
                        created_at=now,
                        updated_at=now,
                    )
                )
            except sa_exc.IntegrityError as exc:
                raise _InsertRace from exc
            pk = conn.execute(_OUTBOX_PK, {"message_id": message.message_id}).scalar_one()
            detail = "signed and stored" + (" (document tampered after signing, for a demo)" if message.tampered else "")
            conn.execute(insert(outbox_history), dict(
                outbox_pk=pk, status=OutboxStatus.NEW.value, at=now, detail=detail,
            ))
            return self._outbox_read(conn, message.message_id), True

    def outbox_update(
        self,
        message_id: str,
        *,
        status: OutboxStatus | None = None,
        detail: str = "",
        gateway_http_status: int | None = None,
        gateway_answer: Any = None,
        gateway_history: Any = None,
        error: tuple[Code, str] | None = None,
        clear_error: bool = False,
    ) -> OutboxEntry:
        """Record what the gateway said (or that it could not be reached); a status change goes to the history."""
        with self._transaction("update a sent message", write=True) as conn:
            row = self._outbox_row(conn, message_id)
            now = self._now()
            values: dict[str, Any] = {"updated_at": now}
            if gateway_http_status is not None:
                values["gateway_http_status"] = gateway_http_status
            if gateway_answer is not None:
                values["gateway_answer"] = _dump(gateway_answer)
            if gateway_history is not None:
                values["gateway_history"] = _dump(gateway_history)
            if error is not None:
                values["last_error_code"], values["last_error"] = error[0].value, error[1]
            elif clear_error:
                values["last_error_code"] = values["last_error"] = None
            if status is not None and status.value != row.status:
                values["status"] = status.value
                conn.execute(insert(outbox_history), dict(
                    outbox_pk=row.id, status=status.value, at=now, detail=detail or f"now {status.value}",
                ))
            conn.execute(_UPDATE_OUTBOX, {"outbox_pk": row.id, **values})
            return self._outbox_read(conn, message_id)

    def outbox_receipt(
        self,
        message_id: str,
        *,
        receipt: bytes,
        verified: bool,
        receipt_status: ReceiptStatus | None,
        findings: list[dict[str, Any]],
    ) -> OutboxEntry:
        """Keep the receiver's receipt and this node's verdict on it. A verified receipt is never replaced."""
        with self._transaction("record a receipt", write=True) as conn:
            row = self._outbox_row(conn, message_id)
            if not row.receipt_verified:
                conn.execute(_UPDATE_OUTBOX, dict(
                    outbox_pk=row.id,
                    receipt=receipt,
                    receipt_verified=verified,
                    receipt_status=None if receipt_status is None else receipt_status.value,
                    receipt_findings=_dump(findings),
                    updated_at=self._now(),
                ))
            return self._outbox_read(conn, message_id)

    def outbox_rejection(
        self, message_id: str, *, rejection: bytes, verified: bool, findings: list[dict[str, Any]]
    ) -> OutboxEntry:
        """Keep the gateway's signed rejection report and this node's verdict on it."""
        with self._transaction("record a rejection report", write=True) as conn:
            row = self._outbox_row(conn, message_id)
            conn.execute(_UPDATE_OUTBOX, dict(
                outbox_pk=row.id,
                rejection=rejection, rejection_verified=verified, rejection_findings=_dump(findings),
                updated_at=self._now(),
            ))
            return self._outbox_read(conn, message_id)

    def outbox_get(self, message_id: str) -> OutboxEntry:
        with self._transaction("read a sent message", write=False) as conn:
            return self._outbox_read(conn, message_id)

    def outbox_list(self, *, limit: int = 100, offset: int = 0) -> tuple[OutboxEntry, ...]:
        """Sent messages, newest first (without history)."""
        with self._transaction("list the outbox", write=False) as conn:
            rows = conn.execute(
                select(outbox).order_by(outbox.c.id.desc()).limit(max(1, min(limit, 1000))).offset(max(0, offset))
            ).all()
            return tuple(_outbox_entry(row) for row in rows)


__all__ = [
    "RECEIPTED",
    "UNSUBMITTED",
    "InboxEntry",
    "NewInboxMessage",
    "NewOutboxMessage",
    "NodeStore",
    "OutboxEntry",
    "OutboxStatus",
    "StatusChange",
    "classify_database_error",
    "metadata",
    "utc_now",
]
