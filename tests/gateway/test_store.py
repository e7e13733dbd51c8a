"""The durable store on both backends (a SQLite file, a PostgreSQL database): recording, duplicates, leases,
outcomes, receipts, paging, concurrent writers with their own engines (as processes have), and faults."""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from exchange._errors import Code, ConfigurationError, InputError, StoreError
from gateway._status import MessageStatus, Verdict
from gateway._store import (
    AttemptOutcome,
    DeliveryOutcome,
    DuplicateKind,
    IncomingMessage,
    ReceiptEvidence,
    ReceiptVerdict,
    Store,
    classify_database_error,
    envelope_digest,
)
from tests.gateway.store_support import INBOX, START, FakeClock, count_rows, db_url, incoming, open_store

S = MessageStatus
LEASE = timedelta(seconds=60)
SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"])
POSTGRESQL_ONLY = pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgresql)])



def count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def actions(store: Store) -> list[str]:
    return [entry.action for entry in store.audit_entries(limit=1000)]


# --- the database itself --------------------------------------------------------------------------------------


@SQLITE_ONLY
def test_sqlite_runs_in_wal_mode_with_foreign_keys(store: Store, tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "gateway.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL: a commit survives power loss
    with sqlite3.connect(tmp_path / "gateway.db") as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables >= {"messages", "status_history", "delivery_attempts", "receipts", "audit_log", "audit_head"}


@POSTGRESQL_ONLY
def test_postgresql_sessions_have_the_lock_timeout_and_read_committed_writers(store: Store) -> None:
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SHOW lock_timeout").scalar() == "5s"
        assert conn.exec_driver_sql("SHOW transaction_isolation").scalar() == "read committed"
    assert store.engine.dialect.driver == "psycopg"


def test_schema_creation_is_idempotent_and_data_survives_a_reopen(database_url: str, clock: FakeClock) -> None:
    with open_store(database_url, clock) as first:
        first.record_message(incoming("msg-kept"))
    with open_store(database_url, clock) as again:
        again.create_schema()
        detail = again.get("msg-kept")
        assert detail.record.status is S.ACCEPTED
        assert detail.envelope == incoming("msg-kept").envelope
        assert again.verify_audit().ok


def test_in_memory_sqlite_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        Store.open("sqlite:///:memory:")


# --- recording ------------------------------------------------------------------------------------------------


def test_accepted_message_is_stored_with_history_and_audit(store: Store, clock: FakeClock) -> None:
    clock.advance(seconds=2)  # the checks took two seconds
    recorded = store.record_message(incoming("msg-1", envelope=b"<Envelope>one</Envelope>"))
    assert recorded.created
    record = recorded.record
    assert (record.status, record.verdict, record.attempts) == (S.ACCEPTED, Verdict.ACCEPTED, 0)
    assert record.digest == envelope_digest(b"<Envelope>one</Envelope>") and record.size == 24
    assert record.received_at == START and record.next_attempt_at == clock()  # due at once

    detail = store.get("msg-1")
    assert [(h.status, h.at) for h in detail.history] == [(S.RECEIVED, START), (S.ACCEPTED, clock())]
    assert detail.report["verdict"] == "ACCEPTED" and detail.record.inbox_url == INBOX
    [entry] = store.audit_entries()
    assert entry.action == "message.accepted" and entry.message_id == "msg-1"
    assert entry.detail["digest"] == record.digest and entry.detail["receiver"] == "BB"
    assert store.queue_depth().due == 1


def test_rejected_message_is_stored_but_never_queued(store: Store) -> None:
    codes = ("SIG-DIGEST-MISMATCH", "SCHEMA-INVALID", "SIG-DIGEST-MISMATCH")
    record = store.record_message(incoming("msg-bad", verdict=Verdict.REJECTED, codes=codes, inbox_url=None)).record
    assert record.status is S.REJECTED and record.next_attempt_at is None
    assert store.claim_due("w", limit=10, lease=LEASE) == ()
    assert store.queue_depth().total == 0
    [entry] = store.audit_entries()
    assert entry.action == "message.rejected" and entry.detail["codes"] == ["SCHEMA-INVALID", "SIG-DIGEST-MISMATCH"]
    assert store.get("msg-bad").history[-1].detail == "rejected: SCHEMA-INVALID, SIG-DIGEST-MISMATCH"


def test_an_equal_valued_verdict_enum_is_understood(store: Store) -> None:
    """The pipeline may hand over its own ACCEPTED/REJECTED enum; values, not identity, count."""

    class PipelineVerdict(StrEnum):
        ACCEPTED = "ACCEPTED"
        REJECTED = "REJECTED"

    message = replace(incoming("msg-1"), verdict=PipelineVerdict.ACCEPTED)  # type: ignore[arg-type]
    assert store.record_message(message).record.status is S.ACCEPTED


def test_incoming_message_invariants() -> None:
    with pytest.raises(ValueError):
        incoming("msg-1", received_at=START.replace(tzinfo=None))
    with pytest.raises(InputError):
        incoming("m" * 256)
    with pytest.raises(InputError):
        incoming("")


def test_accepted_message_needs_an_inbox(store: Store) -> None:
    with pytest.raises(ConfigurationError):
        store.record_message(incoming("msg-nowhere", inbox_url=None))
    assert count_rows(store, "messages") == 0


def test_identical_resend_returns_the_earlier_record(store: Store, clock: FakeClock) -> None:
    first = store.record_message(incoming("msg-1")).record
    clock.advance(minutes=5)
    again = store.record_message(incoming("msg-1", received_at=clock()))
    assert not again.created and again.record == first
    assert count_rows(store, "messages") == 1
    assert actions(store) == ["message.accepted", "message.duplicate"]


def test_same_id_other_bytes_is_a_conflict(store: Store) -> None:
    store.record_message(incoming("msg-1", envelope=b"<Envelope>original</Envelope>"))
    with pytest.raises(InputError) as caught:
        store.record_message(incoming("msg-1", envelope=b"<Envelope>changed</Envelope>"))
    assert caught.value.code is Code.GW_DUPLICATE_CONFLICT
    assert store.get("msg-1").envelope == b"<Envelope>original</Envelope>"
    conflict = store.audit_entries()[-1]
    assert conflict.action == "message.conflict"
    assert conflict.detail["digest"] == envelope_digest(b"<Envelope>changed</Envelope>")


def test_lookup_duplicate(store: Store) -> None:
    store.record_message(incoming("msg-1", envelope=b"<a/>"))
    assert store.lookup_duplicate("msg-2", envelope_digest(b"<a/>")).kind is DuplicateKind.NEW
    same = store.lookup_duplicate("msg-1", envelope_digest(b"<a/>"))
    assert same.kind is DuplicateKind.IDENTICAL and same.earlier is not None and same.earlier.message_id == "msg-1"
    assert store.lookup_duplicate("msg-1", envelope_digest(b"<b/>")).kind is DuplicateKind.CONFLICT


def test_digest_of_is_the_recorded_envelopes_digest(store: Store) -> None:
    """The pipeline's duplicate lookup (on SQLite one statement in the driver's autocommit mode)."""
    assert store.digest_of("msg-1") is None
    store.record_message(incoming("msg-1", envelope=b"<a/>"))
    assert store.digest_of("msg-1") == envelope_digest(b"<a/>")
    assert store.digest_of("msg-2") is None


def test_sqlite_digest_of_holds_no_snapshot_and_words_its_errors(tmp_path: Path, clock: FakeClock) -> None:
    """The lookup leaves no read open (a full checkpoint is not held back by it) and a database error is a
    StoreError with a store code, as through SQLAlchemy."""
    store = open_store(tmp_path, clock)
    try:
        store.record_message(incoming("msg-1", envelope=b"<a/>"))
        assert store.digest_of("msg-1") == envelope_digest(b"<a/>")
        with sqlite3.connect(tmp_path / "gateway.db", isolation_level=None) as other:
            busy, _, _ = other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            assert busy == 0
            other.execute("ALTER TABLE messages RENAME TO messages_elsewhere")
            with pytest.raises(StoreError) as caught:
                store.digest_of("msg-1")
            assert caught.value.code is Code.STORE_UNAVAILABLE
            assert "no such table: messages" in caught.value.message
            other.execute("ALTER TABLE messages_elsewhere RENAME TO messages")
        assert store.digest_of("msg-1") == envelope_digest(b"<a/>")
    finally:
        store.close()


@pytest.mark.parametrize("same_bytes", [True, False])
def test_concurrent_submissions_of_one_id_store_it_once(database_url: str, clock: FakeClock, same_bytes: bool) -> None:
    """Eight writers, each with its own engine (like processes), race on one message id: the constraint decides."""
    open_store(database_url, clock).close()
    stores = [open_store(database_url, clock) for _ in range(8)]
    barrier = threading.Barrier(len(stores))
    results: list[str] = []
    lock = threading.Lock()

    def submit(index: int) -> None:
        body = b"<Envelope>same</Envelope>" if same_bytes else f"<Envelope>{index}</Envelope>".encode()
        barrier.wait()
        try:
            outcome = "created" if stores[index].record_message(incoming("msg-race", envelope=body)).created else "dup"
        except InputError as exc:
            outcome = exc.code.value
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for opened in stores:
        opened.close()
    other = "dup" if same_bytes else "GW-DUPLICATE-CONFLICT"
    assert sorted(results) == sorted(["created"] + [other] * 7)
    with open_store(database_url, clock) as check:
        assert count_rows(check, "messages") == 1
        assert check.verify_audit().ok and check.verify_audit().checked == 8


@pytest.fixture
def patient(tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    """A SQLite store with a long busy timeout: the group tests hold the writers' turn while their threads line up."""
    opened = open_store(tmp_path, clock, busy_timeout=30.0)
    yield opened
    opened.close()


def _until(condition: Callable[[], bool], what: str, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.001)


def _record_together(store: Store, messages: list[IncomingMessage], *, answers: dict[str, object] | None = None,
                     line_up: bool = True) -> dict[str, object]:
    """``messages`` recorded by one thread each (named by the key below) while the test holds the writers' turn,
    so that they wait together: the first to arrive leads (it takes its own group and waits for the turn), the
    others queue behind it. Each thread's answer, or the exception it raised, by message id (``"<id>#<n>"`` for
    the n-th message when an id comes again), filled in ``answers`` as they come. ``line_up=False``: start them all
    without waiting for each to queue, and keep the turn until every one has answered (a store whose busy timeout
    is shorter than a loaded machine may take to start the threads)."""
    calls = []
    for index, message in enumerate(messages):
        seen = {m.message_id for m in messages[:index]}
        key = f"{message.message_id}#{index}" if message.message_id in seen else message.message_id
        calls.append((key, lambda message=message: store.record_message(message)))  # type: ignore[misc]
    return _together(store, calls, answers=answers, line_up=line_up)


def _together(store: Store, calls: list[tuple[str, Callable[[], object]]], *, answers: dict[str, object] | None = None,
              line_up: bool = True) -> dict[str, object]:
    """:func:`_record_together` for any writes: each call in a thread of its own (named by its key), queued in
    order while the turn is held; the answers (or errors) by key."""
    answers = {} if answers is None else answers
    lock = threading.Lock()
    turn = store._writer_turn
    assert turn is not None

    def call(key: str, write: Callable[[], object]) -> None:
        try:
            answer: object = write()
        except Exception as exc:  # noqa: BLE001 - the test reads it
            answer = exc
        with lock:
            answers[key] = answer

    threads = []
    turn.acquire()
    try:
        for index, (key, write) in enumerate(calls):
            threads.append(threading.Thread(target=call, args=(key, write), name=key))
            threads[-1].start()
            if line_up:
                _until(lambda index=index: store._group_leading and len(store._group) == index,  # type: ignore[misc]
                       f"write {index} queued")
        if not line_up:
            _until(lambda: len(answers) == len(calls), "every caller answered while the turn was held")
    finally:
        turn.release()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive(), f"{thread.name} never answered"
    return answers


def test_messages_that_wait_together_are_committed_together(patient: Store) -> None:
    """SQLite group commit: eight messages arriving while another transaction runs are recorded in two write
    transactions, not eight: the first caller's own, then the seven that queued behind it, recorded by the first of
    them (the first caller hands the lead on, so its answer does not wait for others' groups). No caller has its
    answer before the commit of its message, and each message has its history and audit entry."""
    answered: list[tuple[str, set[str]]] = []
    answers: dict[str, object] = {}

    @event.listens_for(patient.engine, "commit")
    def committed(_conn: Any) -> None:  # just before the COMMIT: who has answered by then
        answered.append((threading.current_thread().name, set(answers)))

    _record_together(patient, [incoming(f"msg-{index}") for index in range(8)], answers=answers)
    event.remove(patient.engine, "commit", committed)
    assert all(answer.created for answer in answers.values()), answers  # type: ignore[attr-defined]
    assert [who for who, _ in answered] == ["msg-0", "msg-1"] and patient.recorded == (2, 8)
    groups = [{"msg-0"}, {f"msg-{index}" for index in range(1, 8)}]
    assert all(not before & group for (_, before), group in zip(answered, groups, strict=True))  # none too early
    assert count_rows(patient, "messages") == 8 and count_rows(patient, "message_bodies") == 8
    assert patient.verify_audit().ok and patient.verify_audit().checked == 8
    assert [change.status for change in patient.get("msg-5").history] == [S.RECEIVED, S.ACCEPTED]


def test_within_a_group_a_second_copy_is_a_duplicate_and_other_bytes_a_conflict(patient: Store) -> None:
    """The first message leads alone; the next four share one transaction, in which the copy and the conflicting
    bytes meet the id's first insert before it is committed."""
    same, other = b"<Envelope>same</Envelope>", b"<Envelope>other</Envelope>"
    answers = _record_together(patient, [incoming("msg-0"), incoming("msg-a", envelope=same),
                                         incoming("msg-a", envelope=same), incoming("msg-a", envelope=other),
                                         incoming("msg-b")])
    assert answers["msg-a"].created and answers["msg-b"].created  # type: ignore[attr-defined]
    assert answers["msg-a#2"].created is False  # type: ignore[attr-defined]
    conflict = answers["msg-a#3"]
    assert isinstance(conflict, InputError) and conflict.code is Code.GW_DUPLICATE_CONFLICT
    assert count_rows(patient, "messages") == 3 and patient.get("msg-a").envelope == same
    assert {"message.duplicate", "message.conflict"} <= set(actions(patient))


def test_a_message_that_fails_in_a_group_fails_alone(patient: Store, caplog: pytest.LogCaptureFixture) -> None:
    """A message of a group cannot be recorded (a report that is not JSON): the group's transaction rolls back, the
    others are recorded one a transaction, and only the failing caller gets the error (nothing of it is stored)."""
    bad = replace(incoming("msg-bad"), report={"not JSON": {1, 2}})
    with caplog.at_level("WARNING", logger="gateway.store"):
        answers = _record_together(patient, [incoming("msg-0"), incoming("msg-1"), bad, incoming("msg-3")])
    failed = answers.pop("msg-bad")
    assert isinstance(failed, TypeError)
    assert all(answer.created for answer in answers.values()), answers  # type: ignore[attr-defined]
    assert "a group of 3 messages failed to record together" in caplog.text
    assert patient.find("msg-bad") is None and count_rows(patient, "messages") == 3
    assert patient.verify_audit().ok and patient.verify_audit().checked == 3


def test_a_constraint_one_message_breaks_is_its_own(patient: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store error caused by a constraint (an IntegrityError the database raised for one message's rows) is that
    message's: the others are recorded alone, it alone gets the error, with the database's error as its cause."""
    record_in = Store._record_in

    def refused(self: Store, conn: Any, message: IncomingMessage, *rest: Any) -> Any:
        answer = record_in(self, conn, message, *rest)
        if message.message_id == "msg-bad":
            conn.exec_driver_sql("INSERT INTO message_bodies (message_pk, envelope, report) VALUES (1, x'00', '')")
        return answer

    monkeypatch.setattr(Store, "_record_in", refused)
    answers = _record_together(patient, [incoming("msg-0"), incoming("msg-1"), incoming("msg-bad"), incoming("msg-3")])
    failed = answers.pop("msg-bad")
    assert isinstance(failed, StoreError) and "UNIQUE" in str(failed.__cause__)
    assert all(answer.created for answer in answers.values()), answers  # type: ignore[attr-defined]
    assert patient.find("msg-bad") is None and count_rows(patient, "messages") == 3


def test_a_store_error_fails_the_whole_group_at_once(patient: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store error in a group's transaction (here a full disk) is the store's, not one message's: every member
    gets it at once, none is tried again alone, nothing of the group is stored."""
    record_in = Store._record_in
    tries: list[str] = []

    def full(self: Store, conn: Any, message: IncomingMessage, *rest: Any) -> Any:
        tries.append(message.message_id)
        if message.message_id == "msg-2":
            raise StoreError("database or disk is full", code=Code.STORE_FULL)
        return record_in(self, conn, message, *rest)

    monkeypatch.setattr(Store, "_record_in", full)
    answers = _record_together(patient, [incoming(f"msg-{index}") for index in range(4)])
    assert answers["msg-0"].created  # type: ignore[attr-defined]
    assert all(isinstance(answers[f"msg-{index}"], StoreError) and answers[f"msg-{index}"].code is Code.STORE_FULL
               for index in (1, 2, 3)), answers
    assert tries == ["msg-0", "msg-1", "msg-2"] and count_rows(patient, "messages") == 1


def test_deliveries_claimed_and_finished_while_messages_wait_share_their_commit(patient: Store,
                                                                              clock: FakeClock) -> None:
    """Group commit is for every write of the delivery cycle, not only recording: a claim, two finished attempts
    (one delivered, one to retry) and a new message arriving while another transaction runs are written in one
    transaction after the first caller's, each with the answer it would have alone, history and audit included."""
    for name in ("msg-a", "msg-b", "msg-c"):
        patient.record_message(incoming(name))
    first, second = patient.claim_due("w", limit=2, lease=LEASE)
    commits: list[str] = []
    event.listen(patient.engine, "commit", lambda _conn: commits.append(threading.current_thread().name))
    answers = _together(patient, [
        ("lead", lambda: patient.record_message(incoming("msg-0"))),
        ("delivered", lambda: patient.finish_attempt(first, DeliveryOutcome.transport_ok(202), started_at=START)),
        ("retried", lambda: patient.finish_attempt(
            second, DeliveryOutcome.retryable(Code.GW_DELIVERY_TIMEOUT, "slow"), started_at=START,
            retry_at=clock() + LEASE)),
        ("claim", lambda: patient.claim_due("w", limit=5, lease=LEASE)),
        ("new", lambda: patient.record_message(incoming("msg-d"))),
    ])
    assert commits == ["lead", "delivered"], commits  # the lead's own, then one for the four that queued
    assert answers["delivered"].status is S.DELIVERED  # type: ignore[attr-defined]
    assert answers["retried"].status is S.WAITING_FOR_RETRY  # type: ignore[attr-defined]
    claimed = answers["claim"]  # msg-c and msg-0 were due; msg-d queued after the claim
    assert sorted(c.message_id for c in claimed) == ["msg-0", "msg-c"], claimed  # type: ignore[attr-defined]
    assert answers["new"].created and patient.recorded.messages == 5  # type: ignore[attr-defined]
    assert [h.status for h in patient.get(first.message_id).history][-2:] == [S.DELIVERING, S.DELIVERED]
    assert patient.get(second.message_id).attempts[0].code == "GW-DELIVERY-TIMEOUT"
    assert patient.find("msg-d").status is S.ACCEPTED  # type: ignore[union-attr]
    assert patient.verify_audit().ok


def test_a_lost_lease_in_a_group_is_that_attempts_answer_alone(patient: Store, clock: FakeClock) -> None:
    """An attempt whose lease was taken over is refused before it writes anything, so it is refused on its own: the
    writes grouped with it commit in the same transaction, and nothing of the late attempt is stored."""
    patient.record_message(incoming("msg-lost"))
    patient.record_message(incoming("msg-kept"))
    [late] = patient.claim_due("crashed", limit=1, lease=LEASE)
    clock.advance(seconds=61)
    claims = {claim.message_id: claim for claim in patient.claim_due("w", limit=2, lease=LEASE)}
    kept = claims["msg-kept"]
    assert claims["msg-lost"].attempt == 2  # taken over from the crashed worker
    commits: list[str] = []
    event.listen(patient.engine, "commit", lambda _conn: commits.append(threading.current_thread().name))
    answers = _together(patient, [
        ("lead", lambda: patient.record_message(incoming("msg-0"))),
        ("late", lambda: patient.finish_attempt(late, DeliveryOutcome.transport_ok(202), started_at=START)),
        ("kept", lambda: patient.finish_attempt(kept, DeliveryOutcome.transport_ok(202), started_at=START)),
        ("unknown", lambda: patient.finish_attempt(replace(kept, message_id="msg-none"),
                                                   DeliveryOutcome.transport_ok(202), started_at=START)),
    ])
    assert commits == ["lead", "late"], commits
    lost, unknown = answers["late"], answers["unknown"]
    assert isinstance(lost, StoreError) and lost.code is Code.GW_LEASE_LOST, lost
    assert isinstance(unknown, InputError) and unknown.code is Code.GW_MESSAGE_UNKNOWN, unknown
    assert answers["kept"].status is S.DELIVERED  # type: ignore[attr-defined]
    detail = patient.get("msg-lost")
    assert detail.record.status is S.DELIVERING and detail.record.lease_owner == "w"
    assert [a.outcome for a in detail.attempts] == [AttemptOutcome.ABANDONED]  # the late attempt left no row
    assert patient.verify_audit().ok


def test_a_message_waiting_past_the_busy_timeout_leaves_the_queue(tmp_path: Path, clock: FakeClock) -> None:
    """The writers' turn is held until every caller has answered: the leader's transaction and the messages queued
    behind it all fail STORE-LOCKED, each within about the busy timeout (none waits for the turn's release, none is
    stored), and the store records again once the turn is free."""
    with open_store(tmp_path, clock, busy_timeout=0.5) as hurried:
        started = time.monotonic()
        answers = _record_together(hurried, [incoming(f"msg-{index}") for index in range(3)], line_up=False)
        assert all(isinstance(answer, StoreError) and answer.code is Code.STORE_LOCKED
                   for answer in answers.values()), answers
        assert time.monotonic() - started < 10 and count_rows(hurried, "messages") == 0
        assert not hurried._group and not hurried._group_leading
        assert hurried.record_message(incoming("msg-after")).created


# --- leases and outcomes ----------------------------------------------------------------------------------------


def test_claim_takes_a_lease_that_keeps_others_out(store: Store, clock: FakeClock) -> None:
    store.record_message(incoming("msg-1"))
    [claim] = store.claim_due("worker-a", limit=5, lease=LEASE)
    assert (claim.attempt, claim.owner, claim.inbox_url) == (1, "worker-a", INBOX)
    assert claim.envelope == incoming("msg-1").envelope and claim.lease_expires_at == clock() + LEASE
    record = store.find("msg-1")
    assert record is not None and record.status is S.DELIVERING and record.lease_owner == "worker-a"
    clock.advance(seconds=59)
    assert store.claim_due("worker-b", limit=5, lease=LEASE) == ()


def test_an_expired_lease_is_reclaimed_and_the_lost_attempt_recorded(store: Store, clock: FakeClock) -> None:
    store.record_message(incoming("msg-1"))
    [lost] = store.claim_due("crashed-worker", limit=1, lease=LEASE)
    clock.advance(seconds=61)
    [claim] = store.claim_due("worker-b", limit=1, lease=LEASE)
    assert claim.attempt == 2 and claim.owner == "worker-b"
    detail = store.get("msg-1")
    [abandoned] = detail.attempts
    assert (abandoned.number, abandoned.worker, abandoned.outcome) == (1, "crashed-worker", AttemptOutcome.ABANDONED)
    assert abandoned.code == "GW-LEASE-LOST"
    assert [h.status for h in detail.history][-2:] == [S.DELIVERING, S.DELIVERING]
    assert actions(store)[-1] == "delivery.reclaimed"

    # The crashed worker coming back late cannot overwrite the new holder's attempt.
    with pytest.raises(StoreError) as caught:
        store.finish_attempt(lost, DeliveryOutcome.transport_ok(200), started_at=START)
    assert caught.value.code is Code.GW_LEASE_LOST
    assert len(store.get("msg-1").attempts) == 1
    store.finish_attempt(claim, DeliveryOutcome.transport_ok(202), started_at=clock())
    assert store.get("msg-1").record.status is S.DELIVERED


def test_a_restarted_single_gateway_ends_its_dead_leases_at_once(store: Store, clock: FakeClock) -> None:
    store.record_message(incoming("msg-1"))
    store.record_message(incoming("msg-2"))
    store.claim_due("previous-run", limit=2, lease=LEASE)
    assert store.claim_due("this-run", limit=2, lease=LEASE) == ()
    assert store.expire_leases(actor="gateway-start") == 2
    claims = store.claim_due("this-run", limit=2, lease=LEASE)
    assert sorted(c.message_id for c in claims) == ["msg-1", "msg-2"] and {c.attempt for c in claims} == {2}
    assert store.get("msg-1").attempts[0].outcome is AttemptOutcome.ABANDONED
    assert store.expire_leases(actor="gateway-start") == 2  # this run's leases too: only for a lone process
    assert "delivery.leases_expired" in actions(store)


def test_a_message_that_keeps_killing_its_worker_is_dead_lettered(store: Store, clock: FakeClock) -> None:
    store.record_message(incoming("msg-poison"))
    for _ in range(3):
        assert store.claim_due("w", limit=1, lease=LEASE, max_attempts=3)
        clock.advance(seconds=61)
    assert store.claim_due("w", limit=1, lease=LEASE, max_attempts=3) == ()
    record = store.get("msg-poison").record
    assert record.status is S.FAILED and record.last_error_code == "GW-DELIVERY-ATTEMPTS-EXHAUSTED"


def test_a_claim_takes_the_oldest_due_first_and_reads_only_the_index_to_choose(
    store: Store, clock: FakeClock, tmp_path: Path, database_url: str
) -> None:
    """A backlog: the claim takes the oldest due deliveries (then by id), no more than its limit, with their
    envelopes; the statement that chooses them reads the (status, next_attempt_at) index alone, so a claim does
    not read every waiting message's envelope to sort them (as a joined, ordered, limited select made SQLite do)."""
    for index in range(30):
        store.record_message(incoming(f"msg-{index:02d}", envelope=f"<E n='{index}'>{'x' * 5000}</E>".encode()))
        clock.advance(seconds=1)
    executed: list[tuple[str, Any]] = []

    @event.listens_for(store.engine, "before_cursor_execute")
    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        executed.append((statement, parameters))

    claims = store.claim_due("w", limit=4, lease=LEASE)
    event.remove(store.engine, "before_cursor_execute", seen)
    assert [c.message_id for c in claims] == ["msg-00", "msg-01", "msg-02", "msg-03"]
    assert claims[2].envelope == f"<E n='2'>{'x' * 5000}</E>".encode()
    if database_url.startswith("sqlite"):
        choose, parameters = next(found for found in executed if "next_attempt_at <=" in found[0])
        with sqlite3.connect(tmp_path / "gateway.db") as conn:
            plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + choose, parameters)]
        assert plan and all("COVERING INDEX ix_deliveries_status_next_attempt_at" in step or "ORDER BY" in step
                            for step in plan), plan


@SQLITE_ONLY
def test_the_writers_of_a_sqlite_store_reuse_one_connection_while_readers_run(store: Store) -> None:
    """Readers have connections of their own: every write of the process runs on one connection, whose page cache
    stays valid because every commit is its own (a connection another has committed behind reads its pages again)."""
    store.record_message(incoming("msg-0"))
    writers: set[int] = set()

    @event.listens_for(store.engine, "checkout")
    def checked_out(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        writers.add(id(dbapi_connection))

    stop = threading.Event()
    reads: list[int] = []
    failures: list[BaseException] = []

    def read() -> None:
        try:
            while not stop.is_set():
                assert store.find("msg-0") is not None
                store.queue_depth()
                reads.append(1)
        except BaseException as exc:  # noqa: BLE001 - reported by the test's thread below
            failures.append(exc)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for reader in readers:
        reader.start()
    try:
        for index in range(1, 40):
            store.record_message(incoming(f"msg-{index}"))
            for claim in store.claim_due("w", limit=2, lease=LEASE):
                store.finish_attempt(claim, DeliveryOutcome.transport_ok(202), started_at=store.now())
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    assert not failures and len(reads) >= 3
    assert len(writers) == 1
    assert store.find("msg-39") is not None and store.get("msg-1").record.status is S.DELIVERED


@SQLITE_ONLY
def test_a_status_change_does_not_rewrite_the_envelope(store: Store, tmp_path: Path) -> None:
    """The envelope is written once, with the message: claiming and finishing its delivery (three status changes)
    add fewer pages to the write-ahead log than the envelope fills. With the bytes in the row whose status
    changes, SQLite rewrote them at every change (a row is rewritten whole when its size changes)."""
    envelope = b"<E>" + b"x" * 1_000_000 + b"</E>"
    wal = tmp_path / "gateway.db-wal"
    before = wal.stat().st_size
    store.record_message(incoming("msg-big", envelope=envelope))
    recorded = wal.stat().st_size - before
    (claim,) = store.claim_due("w", limit=1, lease=LEASE)
    store.finish_attempt(claim, DeliveryOutcome.transport_ok(202), started_at=store.now())
    changed = wal.stat().st_size - before - recorded
    assert store.get("msg-big").record.status is S.DELIVERED and claim.envelope == envelope
    assert recorded > len(envelope)  # the log grows (no checkpoint resets it within these few pages)
    assert changed < len(envelope) // 4, (recorded, changed)


def test_claimers_with_their_own_engines_never_share_a_message(database_url: str, clock: FakeClock) -> None:
    """Four claimers, each with its own engine (as gateway processes have), drain 120 due messages at once:
    every message is claimed by exactly one of them, once (SKIP LOCKED on PostgreSQL, one writer on SQLite)."""
    total = 120
    with open_store(database_url, clock) as setup:
        for index in range(total):
            setup.record_message(incoming(f"msg-{index:03d}"))
    stores = [open_store(database_url, clock) for _ in range(4)]
    claimed: list[tuple[str, int]] = []
    lock, barrier = threading.Lock(), threading.Barrier(len(stores))

    def drain(worker: int) -> None:
        own = stores[worker]
        barrier.wait()
        while batch := own.claim_due(f"worker-{worker}", limit=7, lease=LEASE):
            with lock:
                claimed.extend((claim.message_id, claim.attempt) for claim in batch)
            for claim in batch:
                own.finish_attempt(claim, DeliveryOutcome.transport_ok(202), started_at=clock())

    threads = [threading.Thread(target=drain, args=(worker,)) for worker in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for opened in stores:
        opened.close()
    assert sorted(claimed) == [(f"msg-{index:03d}", 1) for index in range(total)]
    with open_store(database_url, clock) as check:
        records = check.list_messages(limit=500).items
        assert len(records) == total and {r.status for r in records} == {S.DELIVERED}
        assert count_rows(check, "delivery_attempts") == total
        assert check.verify_audit().ok


def test_delivered(store: Store, clock: FakeClock) -> None:
    store.record_message(incoming("msg-1"))
    [claim] = store.claim_due("w", limit=1, lease=LEASE)
    clock.advance(seconds=1)
    record = store.finish_attempt(
        claim, DeliveryOutcome.transport_ok(202), started_at=START, duration=timedelta(milliseconds=12)
    )
    assert record.status is S.DELIVERED and record.lease_owner is None and record.next_attempt_at is None
    [attempt] = store.get("msg-1").attempts
    assert (attempt.outcome, attempt.http_status, attempt.duration_ms) == (AttemptOutcome.DELIVERED, 202, 12.0)
    assert store.claim_due("w", limit=1, lease=LEASE) == ()


def test_receipt_in_the_answer_acknowledges(store: Store) -> None:
    store.record_message(incoming("msg-1"))
    [claim] = store.claim_due("w", limit=1, lease=LEASE)
    receipt = ReceiptEvidence.accepted(b"<Receipt>ok</Receipt>", ReceiptVerdict.RECEIVED)
    record = store.finish_attempt(claim, DeliveryOutcome.transport_ok(200, receipt), started_at=START)
    assert record.status is S.ACKNOWLEDGED
    detail = store.get("msg-1")
    assert [h.status for h in detail.history][-2:] == [S.DELIVERED, S.ACKNOWLEDGED]
    assert detail.receipt is not None and detail.receipt.body == b"<Receipt>ok</Receipt>"
    assert actions(store)[-1] == "receipt.acknowledged"


def test_signed_rejection_in_the_answer(store: Store) -> None:
    store.record_message(incoming("msg-1"))
    [claim] = store.claim_due("w", limit=1, lease=LEASE)
    rejection = ReceiptEvidence.accepted(b"<Receipt>no</Receipt>", ReceiptVerdict.REJECTED, "TRUST-CERT-REVOKED")
    record = store.finish_attempt(claim, DeliveryOutcome.transport_ok(200, rejection), started_at=START)
    assert record.status is S.RECEIVER_REJECTED
    assert store.get("msg-1").history[-1].detail == "verified rejection: TRUST-CERT-REVOKED"


def test_a_refused_receipt_is_kept_but_moves_nothing(store: Store) -> None:
    store.record_message(incoming("msg-1"))
    [claim] = store.claim_due("w", limit=1, lease=LEASE)
    bad = ReceiptEvidence.refused(b"<Receipt>forged</Receipt>", "digest does not match what was delivered")
    record = store.finish_attempt(claim, DeliveryOutcome.transport_ok(200, bad), started_at=START)
    assert record.status is S.DELIVERED
    detail = store.get("msg-1")
    assert detail.receipt is None
    [kept] = detail.receipts
    assert not kept.verified and kept.code == "GW-RECEIPT-INVALID"
    assert "receipt.refused" in actions(store)


def test_retry_scheduled_then_due_at_its_time(store: Store, clock: FakeClock) -> None:
    store.record_message(incoming("msg-1"))
    [claim] = store.claim_due("w", limit=1, lease=LEASE)
    retry_at = clock() + timedelta(seconds=30)
    outcome = DeliveryOutcome.retryable(Code.GW_DELIVERY_RECEIVER_ERROR, "receiver answered HTTP 503", 503)
    record = store.finish_attempt(claim, outcome, started_at=clock(), retry_at=retry_at)
    assert (record.status, record.next_attempt_at, record.last_error_code) == (
        S.WAITING_FOR_RETRY, retry_at, "GW-DELIVERY-RECEIVER-ERROR"
    )
    clock.advance(seconds=29)
    assert store.claim_due("w", limit=1, lease=LEASE) == ()
    clock.advance(seconds=1)
    [again] = store.claim_due("w", limit=1, lease=LEASE)
    assert again.attempt == 2
    assert actions(store)[-1] == "delivery.retry_scheduled"


def test_dead_letter_and_manual_retry(store: Store, clock: FakeClock) -> None:
    store.record_message(incoming("msg-1"))
    [claim] = store.claim_due("w", limit=1, lease=LEASE)
    outcome = DeliveryOutcome.retryable(Code.GW_DELIVERY_UNREACHABLE, "connection refused")
    record = store.finish_attempt(claim, outcome, started_at=clock(), dead_letter=Code.GW_DELIVERY_EXPIRED)
    assert record.status is S.FAILED and record.last_error_code == "GW-DELIVERY-EXPIRED"
    assert store.claim_due("w", limit=1, lease=LEASE) == ()

    clock.advance(hours=30)
    retried = store.retry("msg-1", actor="operator:alice")
    assert (retried.status, retried.attempts, retried.next_attempt_at) == (S.WAITING_FOR_RETRY, 0, clock())
    [claim] = store.claim_due("w", limit=1, lease=LEASE)
    assert claim.attempt == 1 and claim.cycle_started_at == clock()  # a fresh age window
    assert actions(store)[-1] == "message.retry"


def test_permanent_refusal_fails_at_once(store: Store) -> None:
    store.record_message(incoming("msg-1"))
    [claim] = store.claim_due("w", limit=1, lease=LEASE)
    outcome = DeliveryOutcome.permanent(Code.GW_DELIVERY_REFUSED, "receiver answered HTTP 404", 404)
    record = store.finish_attempt(claim, outcome, started_at=START)
    assert record.status is S.FAILED and record.last_error_code == "GW-DELIVERY-REFUSED"


@pytest.mark.parametrize("status_setup", ["accepted", "delivered", "rejected"])
def test_retry_is_only_for_failed_messages(store: Store, status_setup: str) -> None:
    verdict = Verdict.REJECTED if status_setup == "rejected" else Verdict.ACCEPTED
    store.record_message(incoming("msg-1", verdict=verdict))
    if status_setup == "delivered":
        [claim] = store.claim_due("w", limit=1, lease=LEASE)
        store.finish_attempt(claim, DeliveryOutcome.transport_ok(200), started_at=START)
    with pytest.raises(InputError) as caught:
        store.retry("msg-1", actor="operator")
    assert caught.value.code is Code.GW_RETRY_NOT_ALLOWED


def test_unknown_message(store: Store) -> None:
    for call in (
        lambda: store.get("nope"),
        lambda: store.retry("nope", actor="operator"),
        lambda: store.record_receipt("nope", ReceiptEvidence.accepted(b"<r/>", ReceiptVerdict.RECEIVED)),
    ):
        with pytest.raises(InputError) as caught:
            call()
        assert caught.value.code is Code.GW_MESSAGE_UNKNOWN
    assert store.find("nope") is None


def test_finish_attempt_argument_rules(store: Store) -> None:
    store.record_message(incoming("msg-1"))
    [claim] = store.claim_due("w", limit=1, lease=LEASE)
    retryable = DeliveryOutcome.retryable(Code.GW_DELIVERY_TIMEOUT, "slow")
    with pytest.raises(ValueError):
        store.finish_attempt(claim, retryable, started_at=START)
    with pytest.raises(ValueError):
        store.finish_attempt(claim, DeliveryOutcome.transport_ok(200), started_at=START, retry_at=START)
    with pytest.raises(ValueError):
        DeliveryOutcome(AttemptOutcome.ACKNOWLEDGED)  # needs a verified receipt
    with pytest.raises(ValueError):
        DeliveryOutcome(AttemptOutcome.ABANDONED)


# --- receipts arriving on their own -------------------------------------------------------------------------------


def test_late_receipt_stops_further_attempts(store: Store, clock: FakeClock) -> None:
    """The receiver got it but its answer timed out: its signed receipt, posted later, ends the retries."""
    store.record_message(incoming("msg-1"))
    [claim] = store.claim_due("w", limit=1, lease=LEASE)
    timeout = DeliveryOutcome.retryable(Code.GW_DELIVERY_TIMEOUT, "no answer")
    store.finish_attempt(claim, timeout, started_at=clock(), retry_at=clock() + timedelta(seconds=10))
    result = store.record_receipt("msg-1", ReceiptEvidence.accepted(b"<r/>", ReceiptVerdict.RECEIVED), actor="BB")
    assert result.applied and result.record.status is S.ACKNOWLEDGED and result.record.next_attempt_at is None
    clock.advance(seconds=10)
    assert store.claim_due("w", limit=1, lease=LEASE) == ()


def test_receipt_for_a_delivered_message(store: Store) -> None:
    store.record_message(incoming("msg-1"))
    [claim] = store.claim_due("w", limit=1, lease=LEASE)
    store.finish_attempt(claim, DeliveryOutcome.transport_ok(202), started_at=START)
    refused = store.record_receipt("msg-1", ReceiptEvidence.refused(b"<r>bad</r>", "not signed by BB's node"))
    assert not refused.applied and refused.record.status is S.DELIVERED
    good = store.record_receipt("msg-1", ReceiptEvidence.accepted(b"<r>ok</r>", ReceiptVerdict.RECEIVED))
    assert good.applied and good.record.status is S.ACKNOWLEDGED
    again = store.record_receipt("msg-1", ReceiptEvidence.accepted(b"<r>ok</r>", ReceiptVerdict.RECEIVED))
    assert not again.applied and again.record.status is S.ACKNOWLEDGED
    assert len(store.get("msg-1").receipts) == 3
    assert actions(store)[-3:] == ["receipt.refused", "receipt.acknowledged", "receipt.ignored"]


def test_receipt_for_a_rejected_message_changes_nothing(store: Store) -> None:
    store.record_message(incoming("msg-1", verdict=Verdict.REJECTED, inbox_url=None))
    result = store.record_receipt("msg-1", ReceiptEvidence.accepted(b"<r/>", ReceiptVerdict.RECEIVED))
    assert not result.applied and result.record.status is S.REJECTED


# --- queries --------------------------------------------------------------------------------------------------


def test_list_filters_and_keyset_paging(store: Store, clock: FakeClock) -> None:
    for index in range(7):
        clock.set(START + timedelta(minutes=index))
        store.record_message(
            incoming(
                f"msg-{index}",
                sender="AA" if index % 2 == 0 else "CC",
                document_type="phytosanitary-certificate" if index == 3 else "certificate-of-origin",
                received_at=clock(),
                verdict=Verdict.REJECTED if index == 5 else Verdict.ACCEPTED,
            )
        )
    seen: list[str] = []
    cursor = None
    while True:
        page = store.list_messages(limit=3, cursor=cursor)
        seen.extend(record.message_id for record in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [f"msg-{index}" for index in reversed(range(7))]  # newest first, each once

    def ids(**filters: Any) -> list[str]:
        return [record.message_id for record in store.list_messages(**filters).items]

    assert ids(sender="CC") == ["msg-5", "msg-3", "msg-1"]
    assert ids(status=S.REJECTED) == ["msg-5"]
    assert ids(status=[S.REJECTED, S.ACCEPTED], sender="CC") == ["msg-5", "msg-3", "msg-1"]
    assert ids(document_type="phytosanitary-certificate") == ["msg-3"]
    assert ids(receiver="ZZ") == []
    assert ids(since=START + timedelta(minutes=5)) == ["msg-6", "msg-5"]
    with pytest.raises(InputError):
        store.list_messages(cursor="not-a-cursor")


def test_queue_depth(store: Store, clock: FakeClock) -> None:
    for index in range(4):
        store.record_message(incoming(f"msg-{index}"))
    store.record_message(incoming("msg-rejected", verdict=Verdict.REJECTED, inbox_url=None))
    [claim] = store.claim_due("w", limit=1, lease=LEASE)
    outcome = DeliveryOutcome.retryable(Code.GW_DELIVERY_TIMEOUT, "slow")
    store.finish_attempt(claim, outcome, started_at=clock(), retry_at=clock() + timedelta(minutes=1))
    store.claim_due("w", limit=1, lease=LEASE)
    depth = store.queue_depth()
    assert dict(depth.by_status) == {S.ACCEPTED: 2, S.DELIVERING: 1, S.WAITING_FOR_RETRY: 1}
    assert depth.total == 4 and depth.due == 2 and depth.oldest_received_at == START


# --- faults: stable codes, no partial state -------------------------------------------------------------------------


def test_locked_database_is_store_locked_and_writes_nothing(database_url: str, clock: FakeClock) -> None:
    """Another writer holds the lock past the busy timeout: SQLite's whole file, or (PostgreSQL) the audit head
    row, as another gateway process mid-append does."""
    with open_store(database_url, clock, busy_timeout=0.05) as store:
        blocker = store.engine.connect() if database_url.startswith("postgresql") else None
        sqlite_blocker = None
        if blocker is not None:
            blocker.exec_driver_sql("SELECT seq FROM audit_head FOR UPDATE")
        else:
            sqlite_blocker = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
            sqlite_blocker.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(StoreError) as caught:
                store.record_message(incoming("msg-1"))
            assert caught.value.code is Code.STORE_LOCKED
        finally:
            if blocker is not None:
                blocker.rollback()
                blocker.close()
            if sqlite_blocker is not None:
                sqlite_blocker.execute("ROLLBACK")
                sqlite_blocker.close()
        assert store.find("msg-1") is None
        store.record_message(incoming("msg-1"))  # the store works again once the lock is gone
        assert store.verify_audit().checked == 1


@SQLITE_ONLY
def test_a_sqlite_writer_kept_waiting_by_this_process_is_store_locked(database_url: str, clock: FakeClock) -> None:
    """One process's SQLite writers take turns; one kept waiting past the busy timeout fails STORE-LOCKED."""
    with open_store(database_url, clock, busy_timeout=0.05) as store:
        errors: list[StoreError] = []

        def write() -> None:
            try:
                store.record_message(incoming("msg-1"))
            except StoreError as exc:
                errors.append(exc)

        with store._turn("hold the turn", write=True):  # another writer of this process, mid-transaction
            writer = threading.Thread(target=write)
            writer.start()
            writer.join()
        [error] = errors
        assert error.code is Code.STORE_LOCKED and "busy timeout" in error.message
        assert store.find("msg-1") is None
        store.record_message(incoming("msg-1"))


def test_full_disk_is_store_full_and_rolls_back(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "gateway.db"
    with open_store(tmp_path, clock) as store:
        store.record_message(incoming("msg-small"))
        store.engine.dispose()
        pages = count_pages(path)

        @event.listens_for(store.engine, "connect")
        def cap(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute(f"PRAGMA max_page_count = {pages + 2}")

        with pytest.raises(StoreError) as caught:
            store.record_message(incoming("msg-big", envelope=b"<E>" + b"x" * 200_000 + b"</E>"))
        assert caught.value.code is Code.STORE_FULL
        assert store.find("msg-big") is None
    assert count(path, "messages") == 1 and count(path, "status_history") == 2 and count(path, "audit_log") == 1
    with open_store(tmp_path, clock) as check:
        assert check.verify_audit().ok


def count_pages(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("PRAGMA page_count").fetchone()[0])


def test_not_a_database_is_store_corrupt(tmp_path: Path, clock: FakeClock) -> None:
    (tmp_path / "gateway.db").write_bytes(b"this is not a database file, just bytes " * 200)
    with pytest.raises(StoreError) as caught:
        open_store(tmp_path, clock)
    assert caught.value.code is Code.STORE_CORRUPT


def test_missing_folder_is_store_unavailable(tmp_path: Path, clock: FakeClock) -> None:
    with pytest.raises(StoreError) as caught:
        Store.open(db_url(tmp_path / "no" / "such" / "folder"), now=clock)
    assert caught.value.code is Code.STORE_UNAVAILABLE


def test_unreachable_postgresql_is_store_unavailable(clock: FakeClock) -> None:
    with socket.socket() as sock:  # a loopback port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        with pytest.raises(StoreError) as caught:
            Store.open(f"postgresql+psycopg://ptx@127.0.0.1:{port}/gateway?connect_timeout=2", now=clock)
    assert caught.value.code is Code.STORE_UNAVAILABLE


def test_other_backends_are_refused() -> None:
    with pytest.raises(ConfigurationError):
        Store.open("mysql://gateway@127.0.0.1/gateway")


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"server said {sqlstate}")
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("sqlstate", "code"),
    [
        ("55P03", Code.STORE_LOCKED),
        ("40P01", Code.STORE_LOCKED),
        ("40001", Code.STORE_LOCKED),
        ("53100", Code.STORE_FULL),
        ("53200", Code.STORE_FULL),
        ("XX001", Code.STORE_CORRUPT),
        ("08006", Code.STORE_UNAVAILABLE),
    ],
)
def test_postgresql_errors_are_classified_by_sqlstate(sqlstate: str, code: Code) -> None:
    """psycopg 3 puts the SQLSTATE on ``.sqlstate``; SQLAlchemy wraps it as ``.orig``."""

    class Wrapped(Exception):
        orig = _PgError(sqlstate)

    assert classify_database_error(Wrapped()) is code
