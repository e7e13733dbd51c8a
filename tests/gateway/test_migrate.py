"""Schema migrations on both backends: they build exactly the schema the code describes, adopt a database made
before migrations existed, refuse a schema they do not know, and run once when several processes start at once."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from typer.testing import CliRunner

from exchange._errors import Code, StoreError
from exchange.cli import app
from gateway._audit import ensure_head
from gateway._migrate import BASELINE, MIGRATION_LOCK, _config, current_revision, head_revision, migration_sql
from gateway._status import MessageStatus
from gateway._store import Store, create_store_engine, metadata
from tests.gateway.store_support import FakeClock, count_rows, execute, incoming, open_store

TABLES = {"messages", "message_bodies", "deliveries", "status_history", "delivery_attempts", "receipts", "audit_log", "audit_head", "ephyto_envelopes",
          "alembic_version"}
POSTGRESQL_ONLY = pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgresql)])


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(empty_database_url: str, clock: FakeClock) -> Iterator[Store]:
    opened = open_store(empty_database_url, clock)
    yield opened
    opened.close()


def revision_of(store: Store) -> str | None:
    with store.engine.connect() as conn:
        return current_revision(conn)


def test_migrations_build_exactly_the_schema_the_code_describes(store: Store) -> None:
    with store.engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) == TABLES
        differences = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert differences == []
    assert revision_of(store) == head_revision() and store.check_schema() == head_revision()
    assert count_rows(store, "audit_head") == 1


def test_reopening_changes_nothing(empty_database_url: str, clock: FakeClock) -> None:
    with open_store(empty_database_url, clock) as first:
        first.record_message(incoming("msg-1"))
        assert first.create_schema().changed is False
    with open_store(empty_database_url, clock, create=False) as again:
        assert again.find("msg-1") is not None and again.verify_audit().checked == 1


def test_a_database_made_before_migrations_is_adopted_with_its_data(empty_database_url: str, clock: FakeClock) -> None:
    """Tables made by ``create_all`` (the gateway before migrations, i.e. the baseline's schema without alembic's
    version table): stamped with the baseline, upgraded, data kept. The rows are written as that version wrote
    them (delivery state, bytes and report on the message row), so revision 0004 has to move the delivery state into
    ``deliveries`` and 0005 the bytes and report into ``message_bodies``."""
    engine = create_store_engine(empty_database_url)
    at = "2026-11-01 10:00:00"
    with engine.begin() as conn:
        command.upgrade(_config(conn), BASELINE)
        conn.execute(text("DROP TABLE alembic_version"))
        ensure_head(conn)
        conn.execute(text(
            "INSERT INTO messages (id, message_id, sender, receiver, document_type, envelope, size, digest, verdict,"
            " report, status, inbox_url, received_at, updated_at, cycle_started_at, next_attempt_at, attempts,"
            " last_error_code, last_error) VALUES (1, 'msg-old', 'AA', 'BB', 'certificate-of-origin', :body, 5,"
            " :digest, 'ACCEPTED', '{}', 'WAITING_FOR_RETRY', 'http://bb.test/v1/inbox', :at, :at, :at, :at, 2,"
            " 'GW-DELIVERY-UNREACHABLE', 'connection refused')"
        ), {"body": b"<a/>\n", "digest": "0" * 64, "at": at})
        conn.execute(text("UPDATE messages SET report = :report WHERE id = 1"), {"report": '{"verdict": "ACCEPTED"}'})
        conn.execute(text(
            "INSERT INTO messages (id, message_id, sender, receiver, document_type, envelope, size, digest, verdict,"
            " report, status, received_at, updated_at, cycle_started_at, attempts) VALUES (2, 'msg-refused', 'AA',"
            " 'BB', 'certificate-of-origin', :body, 5, :digest, 'REJECTED', '{}', 'REJECTED', :at, :at, :at, 0)"
        ), {"body": b"<a/>\n", "digest": "1" * 64, "at": at})
        conn.execute(text("INSERT INTO status_history (message_pk, status, at, detail) VALUES"
                          " (1, 'ACCEPTED', :at, 'all checks passed'), (1, 'WAITING_FOR_RETRY', :at, 'retry')"),
                     {"at": at})
        conn.execute(text(
            "INSERT INTO delivery_attempts (message_pk, number, worker, started_at, finished_at, outcome, code,"
            " message) VALUES (1, 2, 'w1', :at, :at, 'retryable', 'GW-DELIVERY-UNREACHABLE', 'connection refused')"
        ), {"at": at})
    assert revision_of(Store(engine, now=clock)) == BASELINE  # read as the baseline: no alembic_version yet
    engine.dispose()
    with open_store(empty_database_url, clock) as adopted:
        with adopted.engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == head_revision()
        old = adopted.get("msg-old")
        assert old.record.status is MessageStatus.WAITING_FOR_RETRY and old.record.receivers == ("BB",)
        (delivery,) = old.record.deliveries
        assert (delivery.status, delivery.attempts, delivery.inbox_url, delivery.last_error_code) == (
            MessageStatus.WAITING_FOR_RETRY, 2, "http://bb.test/v1/inbox", "GW-DELIVERY-UNREACHABLE")
        assert [(change.status.value, change.receiver) for change in old.history] == [
            ("ACCEPTED", None), ("WAITING_FOR_RETRY", "BB")]
        assert [attempt.receiver for attempt in old.attempts] == ["BB"]
        assert (old.envelope, dict(old.report)) == (b"<a/>\n", {"verdict": "ACCEPTED"})
        assert adopted.get("msg-refused").record.deliveries == ()
        assert adopted.queue_depth().by_status[MessageStatus.WAITING_FOR_RETRY] == 1


def test_a_hub_mailbox_made_by_create_all_is_kept_and_completed(empty_database_url: str, clock: FakeClock) -> None:
    """Before revision 0003 the hub interface made its table itself (without ``forwarded_as``): the migration keeps
    its rows and adds the column."""
    engine = create_store_engine(empty_database_url)
    with engine.begin() as conn:
        command.upgrade(_config(conn), "0002")
        ensure_head(conn)
        conn.execute(text(
            "CREATE TABLE ephyto_envelopes (hub_number VARCHAR(64) PRIMARY KEY, message_id VARCHAR(255) NOT NULL "
            "UNIQUE, sender VARCHAR(16) NOT NULL, receiver VARCHAR(16) NOT NULL, certificate_type INTEGER NOT NULL, "
            "certificate_status INTEGER NOT NULL, nppo_number VARCHAR(255) NOT NULL, content BYTEA NOT NULL, "
            "digest VARCHAR(64) NOT NULL, status VARCHAR(32) NOT NULL, tracking VARCHAR(32) NOT NULL, "
            "error_message TEXT, report TEXT NOT NULL, received_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL, "
            "pulled_at TIMESTAMP)".replace("BYTEA", "BLOB" if engine.dialect.name == "sqlite" else "BYTEA")))
        conn.execute(text(
            "INSERT INTO ephyto_envelopes VALUES ('HUB-1', 'ephyto:AA:1', 'AA', 'BB', 851, 70, '1', :content, 'd', "
            "'ACCEPTED', 'PendingDelivery', NULL, '{}', '2026-12-01 10:00:00', '2026-12-01 10:00:00', NULL)"),
            {"content": b"<x/>"})
    engine.dispose()
    with open_store(empty_database_url, clock) as migrated:
        assert revision_of(migrated) == head_revision()
        with migrated.engine.connect() as conn:
            row = conn.execute(text("SELECT hub_number, forwarded_as FROM ephyto_envelopes")).one()
        assert tuple(row) == ("HUB-1", None)


def test_downgrade_to_nothing_and_up_again(store: Store, empty_database_url: str, clock: FakeClock) -> None:
    with store.engine.begin() as conn:
        command.downgrade(_config(conn), "base")
    with store.engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    store.close()
    with open_store(empty_database_url, clock) as again:
        again.record_message(incoming("msg-1"))
        assert revision_of(again) == head_revision()


def test_the_bodies_go_back_to_their_messages_and_return(store: Store, empty_database_url: str,
                                                         clock: FakeClock) -> None:
    """Revision 0005 moved envelopes and reports into ``message_bodies``: down to 0004 they are in the message rows
    again (NOT NULL, as that revision had them), up again they are back in their table, bytes unchanged."""
    envelope = b"<envelope>" + bytes(range(256)) * 80 + b"</envelope>"  # binary, past SQLite's page size
    store.record_message(incoming("msg-body", envelope=envelope))
    report = dict(store.get("msg-body").report)
    with store.engine.begin() as conn:
        command.downgrade(_config(conn), "0004")
    with store.engine.connect() as conn:
        assert "message_bodies" not in inspect(conn).get_table_names()
        columns = {column["name"]: column for column in inspect(conn).get_columns("messages")}
        assert columns["envelope"]["nullable"] is False and columns["report"]["nullable"] is False
        row = conn.execute(text("SELECT envelope, report FROM messages WHERE message_id = 'msg-body'")).one()
    assert bytes(row.envelope) == envelope and json.loads(row.report) == report
    store.close()
    with open_store(empty_database_url, clock) as again:
        detail = again.get("msg-body")
        assert (detail.envelope, dict(detail.report)) == (envelope, report)
        assert revision_of(again) == head_revision()


def test_a_schema_from_a_newer_version_is_refused(store: Store, empty_database_url: str, clock: FakeClock) -> None:
    execute(store, "UPDATE alembic_version SET version_num = '9999_from_the_future'")
    for create in (True, False):
        with pytest.raises(StoreError) as caught:
            open_store(empty_database_url, clock, create=create)
        assert caught.value.code is Code.STORE_SCHEMA
        assert "9999_from_the_future" in caught.value.message and "newer version" in caught.value.message


def test_opening_without_migrating_needs_the_schema(empty_database_url: str, clock: FakeClock) -> None:
    with pytest.raises(StoreError) as caught:
        open_store(empty_database_url, clock, create=False)
    assert caught.value.code is Code.STORE_SCHEMA and "ptx gateway migrate" in caught.value.message


def test_several_processes_starting_at_once_migrate_once(empty_database_url: str, clock: FakeClock) -> None:
    """Six openers with their own engines (as gateway processes) on one empty database, released together."""
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []
    changed: list[bool] = []
    lock = threading.Lock()

    def start() -> None:
        store = Store(create_store_engine(empty_database_url), now=clock)
        try:
            barrier.wait()
            revision = store.create_schema()
            with lock:
                changed.append(revision.changed)
        except BaseException as exc:  # collected and asserted below
            with lock:
                errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(changed) == [False] * 5 + [True]  # exactly one of them migrated
    with open_store(empty_database_url, clock) as check:
        assert count_rows(check, "alembic_version") == 1 and count_rows(check, "audit_head") == 1


@POSTGRESQL_ONLY
def test_a_start_waits_for_a_migration_in_progress(empty_database_url: str, clock: FakeClock) -> None:
    """Another process holds the migration lock (it is migrating): opening waits for it, then proceeds."""
    holder = create_store_engine(empty_database_url)
    opened: list[Store] = []
    with holder.connect() as conn:
        conn.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK})")
        conn.commit()
        waiter = threading.Thread(target=lambda: opened.append(open_store(empty_database_url, clock)))
        waiter.start()
        deadline = time.monotonic() + 30
        query = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        while conn.execute(query).scalar_one() == 0:
            assert time.monotonic() < deadline, "the opening store never waited for the migration lock"
            assert waiter.is_alive() and not opened, "the store opened while the migration lock was held"
            time.sleep(0.02)
        conn.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK})")
        conn.commit()
        waiter.join(timeout=30)
    holder.dispose()
    [store] = opened
    assert revision_of(store) == head_revision()
    store.close()


def test_the_ddl_can_be_printed_for_a_dba() -> None:
    ddl = migration_sql("postgresql+psycopg://gateway@db.invalid/gateway")
    assert "CREATE TABLE messages" in ddl and "CREATE TABLE alembic_version" in ddl
    assert "BIGSERIAL" in ddl and "TIMESTAMP WITH TIME ZONE" in ddl


def test_ptx_gateway_migrate(empty_database_url: str) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["gateway", "migrate", "--database-url", empty_database_url])
    assert first.exit_code == 0, first.output
    assert f"migrated from nothing (empty database) to {head_revision()}" in first.output
    again = runner.invoke(app, ["gateway", "migrate", "--database-url", empty_database_url])
    assert again.exit_code == 0 and "nothing to do" in again.output
    printed = runner.invoke(app, ["gateway", "migrate", "--database-url", empty_database_url, "--sql"])
    assert printed.exit_code == 0 and "CREATE TABLE messages" in printed.output
