"""The node store: one row per message id, conflicts refused, database failures translated to STORE-* codes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from exchange._envelope import ReceiptStatus
from exchange._errors import Code, ConfigurationError, InputError, StoreError
from exchange.node._store import NewInboxMessage, NewOutboxMessage, NodeStore, OutboxStatus
from tests.exchange.node.conftest import MOMENT


@pytest.fixture
def store(tmp_path: Path) -> Iterator[NodeStore]:
    with NodeStore.open(f"sqlite:///{tmp_path / 'nodes' / 'BB.sqlite'}", now=lambda: MOMENT) as opened:
        yield opened


def inbox_message(message_id: str = "msg-0000000000000001", **changes: object) -> NewInboxMessage:
    values: dict[str, object] = {
        "message_id": message_id, "envelope": b"<Envelope/>", "digest": "ab" * 32,
        "verdict": ReceiptStatus.RECEIVED, "checks": [], "receipt": b"<Receipt/>", "received_at": MOMENT,
        "document": b"<Doc/>", "sender": "AA", "receiver": "BB",
    }
    values.update(changes)
    return NewInboxMessage(**values)  # type: ignore[arg-type]


def outbox_message(message_id: str = "msg-0000000000000001", **changes: object) -> NewOutboxMessage:
    values: dict[str, object] = {
        "message_id": message_id, "receiver": "BB", "document_type": "certificate-of-origin", "issuer": None,
        "request_digest": "cd" * 32, "tampered": False, "document": b"<Doc/>", "envelope": b"<Envelope/>",
        "envelope_digest": "ef" * 32,
    }
    values.update(changes)
    return NewOutboxMessage(**values)  # type: ignore[arg-type]


def test_inbox_keeps_one_row_per_message_id(store: NodeStore) -> None:
    entry, created = store.inbox_record(inbox_message())
    again, created_again = store.inbox_record(inbox_message(receipt=b"<Other/>"))
    assert created and not created_again and again.receipt == entry.receipt == b"<Receipt/>"
    assert store.inbox_count() == 1 and store.inbox_document("msg-0000000000000001") == b"<Doc/>"
    assert store.inbox_envelope("msg-0000000000000001") == b"<Envelope/>"
    assert entry.received_at == MOMENT and entry.envelope_size == len(b"<Envelope/>")


def test_a_received_message_must_keep_its_document() -> None:
    with pytest.raises(ValueError, match="document"):
        inbox_message(document=None)


def test_rejected_message_serves_no_document(store: NodeStore) -> None:
    store.inbox_record(inbox_message(verdict=ReceiptStatus.REJECTED, document=None))
    with pytest.raises(InputError) as info:
        store.inbox_document("msg-0000000000000001")
    assert info.value.code is Code.NODE_DOCUMENT_REJECTED


def test_inbox_lists_newest_first(store: NodeStore) -> None:
    for number in range(3):
        store.inbox_record(inbox_message(f"msg-000000000000000{number}"))
    assert [e.message_id for e in store.inbox_list(limit=2)] == ["msg-0000000000000002", "msg-0000000000000001"]
    assert [e.message_id for e in store.inbox_list(offset=2)] == ["msg-0000000000000000"]


def test_outbox_same_id_same_request_returns_the_stored_message(store: NodeStore) -> None:
    first, created = store.outbox_create(outbox_message())
    again, created_again = store.outbox_create(outbox_message(envelope=b"<Envelope>new signature</Envelope>"))
    assert created and not created_again and again.envelope == first.envelope == b"<Envelope/>"


def test_outbox_same_id_other_request_is_a_conflict(store: NodeStore) -> None:
    store.outbox_create(outbox_message())
    with pytest.raises(InputError) as info:
        store.outbox_create(outbox_message(request_digest="00" * 32))
    assert info.value.code is Code.NODE_DUPLICATE_CONFLICT


def test_outbox_history_records_each_status_change_once(store: NodeStore) -> None:
    store.outbox_create(outbox_message())
    store.outbox_update("msg-0000000000000001", status=OutboxStatus.ACCEPTED, detail="gateway ACCEPTED",
                        gateway_http_status=202, gateway_answer={"verdict": "ACCEPTED"})
    entry = store.outbox_update("msg-0000000000000001", status=OutboxStatus.ACCEPTED, detail="again")
    assert [(c.status, c.detail) for c in entry.history] == [
        (OutboxStatus.NEW, "signed and stored"), (OutboxStatus.ACCEPTED, "gateway ACCEPTED"),
    ]
    assert entry.gateway_answer == {"verdict": "ACCEPTED"} and entry.gateway_http_status == 202


def test_a_verified_receipt_is_never_replaced(store: NodeStore) -> None:
    store.outbox_create(outbox_message())
    store.outbox_receipt("msg-0000000000000001", receipt=b"<Good/>", verified=True,
                         receipt_status=ReceiptStatus.RECEIVED, findings=[])
    entry = store.outbox_receipt("msg-0000000000000001", receipt=b"<Forged/>", verified=False,
                                 receipt_status=None, findings=[{"code": "NODE-RECEIPT-INVALID"}])
    assert entry.receipt == b"<Good/>" and entry.receipt_verified and entry.receipt_status is ReceiptStatus.RECEIVED


def test_unknown_ids(store: NodeStore) -> None:
    for call in (store.inbox_get, store.inbox_document, store.inbox_envelope, store.outbox_get):
        with pytest.raises(InputError) as info:
            call("msg-unknown-00001")
        assert info.value.code is Code.NODE_MESSAGE_UNKNOWN


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "postgresql://db/node"])
def test_only_a_sqlite_file_will_do(url: str) -> None:
    with pytest.raises(ConfigurationError):
        NodeStore.open(url)


def test_a_file_that_is_not_a_database_is_store_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "BB.sqlite"
    path.write_bytes(b"this is not a database file" * 200)
    with pytest.raises(StoreError) as info:
        NodeStore.open(f"sqlite:///{path}")
    assert info.value.code is Code.STORE_CORRUPT


def test_a_database_of_an_older_version_gains_the_new_columns(tmp_path: Path) -> None:
    """A node folder made before rejection reports were kept: opening it adds the nullable columns, rows stay."""
    import sqlite3

    path = tmp_path / "old.sqlite"
    with NodeStore.open(f"sqlite:///{path}", now=lambda: MOMENT):
        pass
    connection = sqlite3.connect(path)
    for column in ("rejection", "rejection_verified", "rejection_findings"):
        connection.execute(f"ALTER TABLE outbox DROP COLUMN {column}")
    connection.commit()
    connection.close()
    with NodeStore.open(f"sqlite:///{path}", now=lambda: MOMENT) as reopened:
        assert reopened.outbox_list() == ()
    columns = {row[1] for row in sqlite3.connect(path).execute("PRAGMA table_info(outbox)")}
    assert {"rejection", "rejection_verified", "rejection_findings"} <= columns
