"""The hash-chained audit log: its hash is what the docs say, and editing the database is caught and located.

Runs on both backends: the tampering goes straight to the database with SQL, behind the store's back."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from exchange._errors import Code, StoreError
from gateway._audit import GENESIS_HASH, ChainAnchor, ChainFault, entry_hash
from gateway._status import Verdict
from gateway._store import Store
from tests.gateway.store_support import FakeClock, execute, incoming, open_store


@pytest.fixture
def store(database_url: str, clock: FakeClock) -> Iterator[Store]:
    """A store whose log holds six entries from real operations."""
    opened = open_store(database_url, clock)
    opened.record_message(incoming("msg-1"))
    clock.advance(seconds=1)
    opened.record_message(incoming("msg-2", verdict=Verdict.REJECTED, codes=("SIG-VALUE-INVALID",), inbox_url=None))
    clock.advance(seconds=1)
    opened.record_message(incoming("msg-1"))  # identical resend
    for index in range(3):
        clock.advance(seconds=1)
        opened.append_audit("operator.note", actor="operator", detail={"n": index, "text": "größer ≥ 1"})
    yield opened
    opened.close()


def sql(store: Store, *statements: str, **parameters: Any) -> None:
    """Run statements behind the store's back, each committed."""
    for statement in statements:
        execute(store, statement, **parameters)


def at_literal(store: Store, utc: str) -> str:
    """A UTC time as SQL text for the ``at`` column: SQLite keeps naive UTC text, PostgreSQL needs the zone."""
    return utc + ("+00:00" if store.dialect == "postgresql" else "")


def row(store: Store, seq: int) -> dict[str, Any]:
    with store.engine.connect() as conn:
        return dict(conn.execute(text("SELECT * FROM audit_log WHERE seq = :seq"), {"seq": seq}).mappings().one())


def _aware(value: object) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def rehash(store: Store, seq: int) -> str:
    """What someone who knows the algorithm computes for the row as it now stands."""
    found = row(store, seq)
    return entry_hash(
        seq=int(found["seq"]),
        at=_aware(found["at"]),
        actor=str(found["actor"]),
        action=str(found["action"]),
        message_id=found["message_id"],
        detail=json.loads(str(found["detail"])),
        prev_hash=str(found["prev_hash"]),
    )


def test_the_hash_is_sha256_of_the_documented_canonical_json() -> None:
    at = datetime(2026, 3, 2, 9, 30, 0, 5, tzinfo=UTC)
    expected = (
        '{"action":"message.accepted","actor":"gateway","at":"2026-03-02T09:30:00.000005Z",'
        '"detail":{"a":"ü","b":[1,2]},"message_id":"msg-1","prev_hash":"' + "0" * 64 + '","seq":1}'
    )
    computed = entry_hash(
        seq=1, at=at, actor="gateway", action="message.accepted", message_id="msg-1",
        detail={"b": [1, 2], "a": "ü"}, prev_hash=GENESIS_HASH,
    )
    assert computed == hashlib.sha256(expected.encode("utf-8")).hexdigest()


def test_an_untouched_log_verifies(store: Store) -> None:
    entries = store.audit_entries()
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5, 6]
    assert [e.action for e in entries[:3]] == ["message.accepted", "message.rejected", "message.duplicate"]
    assert entries[0].prev_hash == GENESIS_HASH
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(entries, entries[1:], strict=False))
    result = store.verify_audit()
    assert result.ok and result.checked == 6 and result.code is None
    assert result.head == ChainAnchor(6, entries[-1].hash)
    assert store.verify_audit(anchor=ChainAnchor(3, entries[2].hash)).ok


def test_an_empty_log_verifies(database_url: str, clock: FakeClock) -> None:
    with open_store(database_url, clock) as empty:
        result = empty.verify_audit()
    assert result.ok and result.checked == 0 and result.head is None


def test_changed_detail(store: Store) -> None:
    sql(store, "UPDATE audit_log SET detail = :detail WHERE seq = 2", detail='{"codes":[],"digest":"forged"}')
    result = store.verify_audit()
    assert (result.ok, result.broken_seq, result.fault) == (False, 2, ChainFault.CHANGED)
    assert result.checked == 1 and result.head is not None and result.head.seq == 1
    assert result.code is not None and result.code.value == "AUDIT-CHAIN-BROKEN"


@pytest.mark.parametrize(
    ("column", "value"),
    [("actor", "someone-else"), ("action", "message.accepted"), ("message_id", "msg-9"),
     ("at", "2026-03-02 09:30:00.000000")],
)
def test_changed_field(store: Store, column: str, value: str) -> None:
    if column == "at" and store.dialect == "postgresql":
        sql(store, "UPDATE audit_log SET at = CAST(:value AS TIMESTAMP WITH TIME ZONE) WHERE seq = 4",
            value=at_literal(store, value))
    else:
        sql(store, f"UPDATE audit_log SET {column} = :value WHERE seq = 4", value=value)
    result = store.verify_audit()
    assert (result.broken_seq, result.fault) == (4, ChainFault.CHANGED)


@pytest.mark.parametrize("backend", ["sqlite"])  # PostgreSQL's timestamptz cannot hold such text
def test_mangled_time_is_a_finding_not_a_crash(store: Store) -> None:
    sql(store, "UPDATE audit_log SET at = 'yesterday-ish' WHERE seq = 5")
    result = store.verify_audit()
    assert (result.broken_seq, result.fault) == (5, ChainFault.CHANGED)


def test_rewritten_entry_with_a_recomputed_hash(store: Store) -> None:
    """Someone who knows the algorithm rewrites entry 3: the next link breaks; an anchor pins entry 3 itself."""
    original = store.audit_entries()[2]
    sql(store, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 3")
    sql(store, "UPDATE audit_log SET hash = :hash WHERE seq = 3", hash=rehash(store, 3))
    result = store.verify_audit()
    assert (result.broken_seq, result.fault) == (4, ChainFault.DELETED)
    assert "entry 3 was rewritten" in result.reason
    anchored = store.verify_audit(anchor=ChainAnchor(3, original.hash))
    assert (anchored.broken_seq, anchored.fault) == (3, ChainFault.CHANGED)


INSERT_ENTRY = (
    "INSERT INTO audit_log (seq, at, actor, action, message_id, detail, prev_hash, hash) "
    "VALUES (:seq, '{at}', 'gateway', 'message.accepted', 'msg-x', :detail, :prev_hash, :hash)"
)


def test_row_inserted_at_the_end(store: Store) -> None:
    head = store.audit_entries()[-1]
    sql(store, INSERT_ENTRY.format(at=at_literal(store, "2026-03-02 09:40:00.000000")), seq=7, detail="{}", prev_hash=head.hash, hash="ab" * 32)
    result = store.verify_audit()
    assert (result.broken_seq, result.fault) == (7, ChainFault.INSERTED)


def test_row_inserted_at_the_end_with_a_correct_hash(store: Store) -> None:
    """Even a correctly chained forgery is caught: the head row records where the gateway's log ends."""
    head = store.audit_entries()[-1]
    at = datetime(2026, 3, 2, 9, 40, tzinfo=UTC)
    forged = entry_hash(seq=7, at=at, actor="gateway", action="message.accepted", message_id="msg-x", detail={},
                        prev_hash=head.hash)
    sql(store, INSERT_ENTRY.format(at=at_literal(store, "2026-03-02 09:40:00.000000")), seq=7, detail="{}", prev_hash=head.hash, hash=forged)
    result = store.verify_audit()
    assert (result.broken_seq, result.fault) == (7, ChainFault.INSERTED)


def test_row_inserted_in_the_middle(store: Store) -> None:
    """Shift entries 3.. up by one and slip a correctly hashed entry in as 3: reported as inserted at 3."""
    entries = store.audit_entries()
    sql(store, "UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 3", "UPDATE audit_log SET seq = seq - 999 WHERE seq >= 1000")
    at = datetime(2026, 3, 2, 9, 30, 1, 500000, tzinfo=UTC)
    forged = entry_hash(seq=3, at=at, actor="gateway", action="message.accepted", message_id="msg-x",
                        detail={"digest": "feed"}, prev_hash=entries[1].hash)
    sql(store, INSERT_ENTRY.format(at=at_literal(store, "2026-03-02 09:30:01.500000")), seq=3, detail='{"digest":"feed"}',
        prev_hash=entries[1].hash, hash=forged)
    result = store.verify_audit()
    assert (result.broken_seq, result.fault) == (3, ChainFault.INSERTED)
    assert result.checked == 3


def test_row_deleted_in_the_middle(store: Store) -> None:
    sql(store, "DELETE FROM audit_log WHERE seq = 3")
    result = store.verify_audit()
    assert (result.broken_seq, result.fault, result.checked) == (3, ChainFault.DELETED, 2)
    assert "entry 3 missing" in result.reason


def test_rows_deleted_and_renumbered(store: Store) -> None:
    sql(
        store,
        "DELETE FROM audit_log WHERE seq = 3",
        "UPDATE audit_log SET seq = seq + 1000 WHERE seq > 3",  # two steps: unique keys are checked per row
        "UPDATE audit_log SET seq = seq - 1001 WHERE seq > 1000",
    )
    result = store.verify_audit()
    assert (result.broken_seq, result.fault) == (3, ChainFault.DELETED)


def test_last_row_deleted(store: Store) -> None:
    sql(store, "DELETE FROM audit_log WHERE seq = 6")
    result = store.verify_audit()
    assert (result.broken_seq, result.fault) == (6, ChainFault.DELETED)


def test_last_row_deleted_and_head_moved_back_needs_an_anchor(store: Store) -> None:
    entries = store.audit_entries()
    sql(store, "DELETE FROM audit_log WHERE seq = 6")
    sql(store, "UPDATE audit_head SET seq = 5, hash = :hash", hash=entries[4].hash)
    assert store.verify_audit().ok  # a chain cannot see its own truncation without an outside anchor ...
    result = store.verify_audit(anchor=ChainAnchor(6, entries[5].hash))
    assert (result.broken_seq, result.fault) == (6, ChainFault.DELETED)  # ... which is why anchors exist


def test_head_row_deleted(store: Store) -> None:
    sql(store, "DELETE FROM audit_head")
    result = store.verify_audit()
    assert result.fault is ChainFault.DELETED and "head" in result.reason
    # Fail closed: no decision is taken without its audit entry, so nothing more is recorded.
    with pytest.raises(StoreError) as caught:
        store.record_message(incoming("msg-after-tampering"))
    assert caught.value.code is Code.AUDIT_CHAIN_BROKEN
    assert store.find("msg-after-tampering") is None


def test_an_edited_detail_still_lists(store: Store) -> None:
    sql(store, "UPDATE audit_log SET detail = 'not json' WHERE seq = 4")
    assert store.audit_entries()[3].detail == {"unreadable": "not json"}


def test_concurrent_writers_keep_one_chain(database_url: str, clock: FakeClock) -> None:
    """Four threads on two engines (like two processes) append 100 entries: one gapless chain."""
    open_store(database_url, clock).close()
    stores = [open_store(database_url, clock) for _ in range(2)]
    barrier = threading.Barrier(4)

    def append(worker: int) -> None:
        barrier.wait()
        for index in range(25):
            stores[worker % 2].append_audit("test.append", actor=f"worker-{worker}", detail={"i": index})

    threads = [threading.Thread(target=append, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result = stores[0].verify_audit()
    assert result.ok and result.checked == 100
    entries = stores[1].audit_entries(limit=1000)
    assert [e.seq for e in entries] == list(range(1, 101))
    assert {e.actor for e in entries} == {f"worker-{w}" for w in range(4)}
    for opened in stores:
        opened.close()


def test_entries_page_and_filter(store: Store) -> None:
    first = store.audit_entries(limit=2)
    rest = store.audit_entries(after_seq=first[-1].seq, limit=100)
    assert [e.seq for e in first + rest] == [1, 2, 3, 4, 5, 6]
    about_one = store.audit_entries(message_id="msg-1")
    assert [e.action for e in about_one] == ["message.accepted", "message.duplicate"]
    assert store.audit_entries()[3].to_dict()["detail"] == {"n": 0, "text": "größer ≥ 1"}
