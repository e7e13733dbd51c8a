"""Helpers shared by the store, audit and delivery tests: a pinned clock, messages, stores on either backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from gateway._status import Verdict
from gateway._store import IncomingMessage, Store

START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
INBOX = "http://bb.test/v1/inbox"


class FakeClock:
    """A clock that moves only when told to (thread-safe enough: tests advance it between steps)."""

    def __init__(self, moment: datetime = START) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> datetime:
        self.moment += timedelta(**delta)
        return self.moment

    def set(self, moment: datetime) -> None:
        self.moment = moment


def db_url(folder: Path, name: str = "gateway.db") -> str:
    return f"sqlite:///{folder / name}"


def open_store(where: Path | str, clock: FakeClock, **kwargs: Any) -> Store:
    """A store on a SQLite file in folder ``where``, or at the database URL ``where``."""
    return Store.open(where if isinstance(where, str) else db_url(where), now=clock, **kwargs)


def execute(store: Store, statement: str, **parameters: Any) -> None:
    """Change the database behind the store's back (``:name`` parameters), on either backend, and commit."""
    with store.engine.begin() as conn:
        conn.execute(text(statement), parameters)


def count_rows(store: Store, table: str) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def incoming(
    message_id: str = "msg-1",
    *,
    envelope: bytes | None = None,
    verdict: Verdict = Verdict.ACCEPTED,
    sender: str = "AA",
    receiver: str = "BB",
    document_type: str = "certificate-of-origin",
    received_at: datetime = START,
    codes: tuple[str, ...] = (),
    inbox_url: str | None = INBOX,
) -> IncomingMessage:
    body = envelope if envelope is not None else f"<Envelope id='{message_id}'/>".encode()
    return IncomingMessage(
        message_id=message_id,
        sender=sender,
        receiver=receiver,
        document_type=document_type,
        envelope=body,
        verdict=verdict,
        report={"message_id": message_id, "verdict": verdict.value, "codes": list(codes)},
        received_at=received_at,
        conversation_id=f"conv-{message_id}",
        inbox_url=inbox_url,
        codes=codes,
    )
