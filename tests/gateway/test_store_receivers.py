"""A message with several receivers (a transit declaration: every country on its route), on both backends: stored
once, one delivery per receiver with its own status, attempts, dead letter, retry and receipt, and the message's
status derived from theirs; two workers finishing two receivers at once (with their own engines, as processes
have) leave the right overall status."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

import pytest

from exchange._errors import Code, ConfigurationError, InputError
from gateway._status import MessageStatus, overall_status
from gateway._store import (
    ClaimedMessage,
    DeliveryOutcome,
    IncomingMessage,
    ReceiptEvidence,
    ReceiptVerdict,
    Store,
)
from tests.gateway.store_support import START, FakeClock, count_rows, incoming, open_store

S = MessageStatus
LEASE = timedelta(seconds=60)
ROUTE = ("KZ", "UZ")  # from a landlocked AA: one transit country, then the destination
INBOXES = {"KZ": "http://kz.test/v1/inbox", "UZ": "http://uz.test/v1/inbox"}
RECEIVED = ReceiptEvidence.accepted(b"<receipt/>", ReceiptVerdict.RECEIVED)



def transit(message_id: str = "msg-route-1", **kwargs: object) -> IncomingMessage:
    return replace(incoming(message_id, receiver=ROUTE[0], inbox_url=None, document_type="customs-declaration",
                            **kwargs),  # type: ignore[arg-type]
                   receivers=ROUTE, inbox_urls=INBOXES)


def claims(store: Store, owner: str = "w1") -> dict[str, ClaimedMessage]:
    return {claim.receiver: claim for claim in store.claim_due(owner, limit=10, lease=LEASE)}


def test_stored_once_with_one_delivery_per_receiver(store: Store) -> None:
    record = store.record_message(transit()).record
    assert count_rows(store, "messages") == 1 and count_rows(store, "deliveries") == 2
    assert record.status is S.ACCEPTED and record.receivers == ROUTE
    assert [(d.receiver, d.status, d.inbox_url) for d in record.deliveries] == [
        ("KZ", S.ACCEPTED, INBOXES["KZ"]), ("UZ", S.ACCEPTED, INBOXES["UZ"])]
    assert store.queue_depth().by_status[S.ACCEPTED] == 2
    body = record.to_dict()
    assert body["receivers"] == ["KZ", "UZ"] and body["acknowledged"] == "0/2"
    assert [entry.detail.get("receivers") for entry in store.audit_entries()] == [["KZ", "UZ"]]


def test_the_record_returned_is_the_record_read_back(store: Store) -> None:
    """record_message builds its answer from what it inserted (no read back): it is what find() reads, for one
    receiver and several, accepted and rejected, with a received time given in another zone."""
    from datetime import timezone

    from gateway._status import Verdict

    east = START.astimezone(timezone(timedelta(hours=7)))
    for incoming_message in (transit(received_at=east), incoming("msg-one", received_at=east),
                             incoming("msg-rejected", verdict=Verdict.REJECTED, codes=("ENV-PARTY-01",))):
        record = store.record_message(incoming_message).record
        assert record == store.find(incoming_message.message_id)
        assert record.received_at.tzinfo is not None and record.received_at.utcoffset() == timedelta(0)


def test_every_receiver_needs_an_inbox(store: Store) -> None:
    with pytest.raises(ConfigurationError, match="'UZ' has no inbox"):
        store.record_message(replace(transit(), inbox_urls={"KZ": INBOXES["KZ"]}))
    with pytest.raises(InputError):  # the first receiver leads the list, and no country is on it twice
        replace(transit(), receivers=("UZ", "KZ"))
    with pytest.raises(InputError):
        replace(transit(), receivers=("KZ", "KZ"))


def test_each_receiver_is_delivered_and_acknowledged_on_its_own(store: Store, clock: FakeClock) -> None:
    store.record_message(transit())
    taken = claims(store)
    assert set(taken) == set(ROUTE) and taken["KZ"].inbox_url == INBOXES["KZ"]
    assert store.find("msg-route-1").status is S.DELIVERING  # type: ignore[union-attr]
    store.finish_attempt(taken["KZ"], DeliveryOutcome.transport_ok(200, RECEIVED), started_at=clock())
    record = store.finish_attempt(
        taken["UZ"], DeliveryOutcome.retryable(Code.GW_DELIVERY_UNREACHABLE, "connection refused"),
        started_at=clock(), retry_at=clock() + timedelta(seconds=5))
    assert (record.delivery("KZ").status, record.delivery("UZ").status) == (  # type: ignore[union-attr]
        S.ACKNOWLEDGED, S.WAITING_FOR_RETRY)
    assert record.status is S.WAITING_FOR_RETRY and record.to_dict()["acknowledged"] == "1/2"
    assert claims(store) == {}  # the acknowledged receiver is never sent again; the other waits for its time
    clock.advance(seconds=5)
    again = claims(store)
    assert set(again) == {"UZ"} and again["UZ"].attempt == 2
    record = store.finish_attempt(again["UZ"], DeliveryOutcome.transport_ok(200, RECEIVED), started_at=clock())
    assert record.status is S.ACKNOWLEDGED and record.to_dict()["acknowledged"] == "2/2"
    detail = store.get("msg-route-1")
    assert [(a.receiver, a.outcome.value) for a in detail.attempts] == [
        ("KZ", "acknowledged"), ("UZ", "retryable"), ("UZ", "acknowledged")]
    assert [r.receiver for r in detail.receipts] == ["KZ", "UZ"]
    assert detail.receipt_of("UZ") is not None and detail.receipt_of("TJ") is None
    assert [(c.status.value, c.receiver) for c in detail.history][:2] == [("RECEIVED", None), ("ACCEPTED", None)]
    assert {c.receiver for c in detail.history[2:]} == {"KZ", "UZ"}


def test_one_receiver_failing_leaves_the_other_acknowledged(store: Store, clock: FakeClock) -> None:
    store.record_message(transit())
    taken = claims(store)
    store.finish_attempt(taken["UZ"], DeliveryOutcome.transport_ok(200, RECEIVED), started_at=clock())
    record = store.finish_attempt(
        taken["KZ"], DeliveryOutcome.permanent(Code.GW_DELIVERY_REFUSED, "not found", http_status=404),
        started_at=clock())
    assert record.status is S.FAILED and record.last_error_code == Code.GW_DELIVERY_REFUSED.value
    assert record.delivery("UZ").status is S.ACKNOWLEDGED  # type: ignore[union-attr]
    with pytest.raises(InputError) as refused:
        store.retry("msg-route-1", actor="test", receiver="UZ")
    assert refused.value.code is Code.GW_RETRY_NOT_ALLOWED
    retried = store.retry("msg-route-1", actor="test")  # every failed receiver: here KZ only
    assert retried.delivery("KZ").status is S.WAITING_FOR_RETRY and retried.status is S.WAITING_FOR_RETRY  # type: ignore[union-attr]
    assert set(claims(store)) == {"KZ"}


def test_a_receipt_on_its_own_names_its_receiver(store: Store, clock: FakeClock) -> None:
    store.record_message(transit())
    claims(store)
    with pytest.raises(InputError, match="2 receivers"):
        store.record_receipt("msg-route-1", RECEIVED)
    result = store.record_receipt("msg-route-1", RECEIVED, receiver="UZ")
    assert result.applied and result.record.delivery("UZ").status is S.ACKNOWLEDGED  # type: ignore[union-attr]
    assert result.record.status is S.DELIVERING


def test_listing_by_receiver_finds_every_country_on_the_route(store: Store, clock: FakeClock) -> None:
    store.record_message(transit())
    store.record_message(incoming("msg-bilateral"))
    assert [m.message_id for m in store.list_messages(receiver="UZ").items] == ["msg-route-1"]
    assert [m.message_id for m in store.list_messages(receiver="KZ").items] == ["msg-route-1"]
    assert [m.message_id for m in store.list_messages(receiver="BB").items] == ["msg-bilateral"]


def test_the_overall_status_is_the_busiest_while_any_is_owed_then_the_worst() -> None:
    assert overall_status([S.ACKNOWLEDGED]) is S.ACKNOWLEDGED
    assert overall_status([S.ACCEPTED, S.ACCEPTED]) is S.ACCEPTED
    assert overall_status([S.ACKNOWLEDGED, S.ACCEPTED]) is S.DELIVERING
    assert overall_status([S.WAITING_FOR_RETRY, S.DELIVERING]) is S.DELIVERING
    assert overall_status([S.WAITING_FOR_RETRY, S.FAILED]) is S.WAITING_FOR_RETRY
    assert overall_status([S.ACKNOWLEDGED, S.RECEIVER_REJECTED, S.FAILED]) is S.FAILED
    assert overall_status([S.ACKNOWLEDGED, S.RECEIVER_REJECTED]) is S.RECEIVER_REJECTED
    assert overall_status([S.ACKNOWLEDGED, S.DELIVERED]) is S.DELIVERED
    assert overall_status([S.ACKNOWLEDGED, S.ACKNOWLEDGED]) is S.ACKNOWLEDGED
    with pytest.raises(ValueError):
        overall_status([])


def test_two_workers_finishing_two_receivers_at_once(database_url: str, clock: FakeClock) -> None:
    """Each finisher locks its own delivery, then the message row before it reads the others': the second to
    commit sees the first's change, so the message ends ACKNOWLEDGED, not stuck on a status read too early."""
    for round_ in range(5):
        with open_store(database_url, clock) as setup:
            message_id = f"msg-race-{round_}"
            setup.record_message(transit(message_id))
            taken = {c.receiver: c for c in setup.claim_due("w", limit=10, lease=LEASE)}
        stores = [open_store(database_url, clock, create=False) for _ in ROUTE]
        barrier = threading.Barrier(len(ROUTE))
        errors: list[BaseException] = []

        def finish(own: Store, claim: ClaimedMessage, barrier: threading.Barrier = barrier,
                   errors: list[BaseException] = errors) -> None:
            try:
                barrier.wait()
                own.finish_attempt(claim, DeliveryOutcome.transport_ok(200, RECEIVED), started_at=START)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=finish, args=(own, taken[receiver]))
                   for own, receiver in zip(stores, ROUTE, strict=True)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        for own in stores:
            own.close()
        assert errors == []
        with open_store(database_url, clock, create=False) as check:
            assert check.find(message_id).status is S.ACKNOWLEDGED  # type: ignore[union-attr]
