"""Delivery workers against MockTransport receivers: retries, bounds, dead letters, leases, concurrency, stop.

The store under the workers is each backend in turn (a SQLite file, a PostgreSQL database)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from exchange._errors import Code, ExchangeError
from gateway._delivery import (
    MAX_ANSWER_BYTES,
    Deliverer,
    DeliveryReport,
    ReceiverAnswer,
    RetryPolicy,
    classify_answer,
    send_envelope,
)
from gateway._settings import DeliverySettings
from gateway._status import MessageStatus, Verdict
from gateway._store import (
    AttemptOutcome,
    ClaimedMessage,
    DeliveryOutcome,
    ReceiptEvidence,
    ReceiptVerdict,
    Store,
)
from tests.gateway.store_support import INBOX, START, FakeClock, incoming, open_store

S = MessageStatus

SETTINGS = DeliverySettings(
    max_attempts=5,
    base_delay=timedelta(seconds=1),
    max_delay=timedelta(seconds=60),
    max_age=timedelta(hours=1),
    workers=4,
    request_timeout=timedelta(seconds=5),
    lease=timedelta(seconds=30),
    poll_interval=timedelta(milliseconds=10),
)



class Receiver:
    """A receiver's inbox: answers from a script (status codes or exceptions to raise), then ``then``."""

    def __init__(self, script: list[int | type[Exception]] | None = None, then: int = 202) -> None:
        self.script = list(script or [])
        self.then = then
        self.requests: list[httpx.Request] = []
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests.append(request)
            step = self.script.pop(0) if self.script else self.then
        if isinstance(step, int):
            return httpx.Response(step, text=f"answer {step}")
        raise step("simulated", request=request)  # type: ignore[call-arg]

    @property
    def hits(self) -> int:
        return len(self.requests)


def deliverer(store: Store, receiver: Callable[[httpx.Request], Any], **kwargs: Any) -> Deliverer:
    client = httpx.AsyncClient(transport=httpx.MockTransport(receiver))
    kwargs.setdefault("chance", lambda: 1.0)  # jitter drawn at its ceiling: retry times are exact
    settings = kwargs.pop("settings", SETTINGS)
    return Deliverer(store, settings, client, **kwargs)


async def settle(worker: Deliverer, store: Store, clock: FakeClock, rounds: int = 50) -> list[DeliveryReport]:
    """Run passes, moving the clock to each next retry, until nothing is pending."""
    reports: list[DeliveryReport] = []
    for _ in range(rounds):
        reports.extend(await worker.run_once())
        waiting = store.list_messages(status=S.WAITING_FOR_RETRY).items
        if not waiting:
            return reports
        clock.set(min(record.next_attempt_at for record in waiting if record.next_attempt_at is not None))
    raise AssertionError("did not settle")


# --- the policy, pure ------------------------------------------------------------------------------------------


POLICY = RetryPolicy(
    max_attempts=10,
    base_delay=timedelta(seconds=2),
    max_delay=timedelta(seconds=60),
    max_age=timedelta(minutes=10),
)


def test_backoff_ceiling_doubles_then_caps() -> None:
    assert [POLICY.ceiling(n).total_seconds() for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]
    assert POLICY.ceiling(10_000) == timedelta(seconds=60)  # no overflow for absurd attempt numbers


def test_full_jitter_spans_zero_to_the_ceiling() -> None:
    assert POLICY.backoff(3, 0.0) == timedelta(0)
    assert POLICY.backoff(3, 0.25) == timedelta(seconds=2)
    assert POLICY.backoff(3, 1.0) == timedelta(seconds=8)
    fixed = RetryPolicy(10, timedelta(seconds=2), timedelta(seconds=60), timedelta(minutes=10), jitter=False)
    assert fixed.backoff(3, 0.0) == timedelta(seconds=8)


def test_bounds_end_the_retries() -> None:
    decision = POLICY.after_failure(10, START, START, 0.5)
    assert decision == type(decision)(None, Code.GW_DELIVERY_ATTEMPTS_EXHAUSTED)
    late = START + timedelta(minutes=10)
    assert POLICY.after_failure(2, START, late, 0.5).give_up is Code.GW_DELIVERY_EXPIRED
    near = START + timedelta(minutes=9, seconds=50)  # 60 s of backoff would pass the deadline: land on it
    assert POLICY.after_failure(7, START, near, 1.0).retry_at == START + timedelta(minutes=10)
    assert POLICY.after_failure(1, START, START, 1.0).retry_at == START + timedelta(seconds=2)


@pytest.mark.parametrize(
    ("status", "result", "code"),
    [
        (200, AttemptOutcome.DELIVERED, None),
        (202, AttemptOutcome.DELIVERED, None),
        (500, AttemptOutcome.RETRYABLE, Code.GW_DELIVERY_RECEIVER_ERROR),
        (503, AttemptOutcome.RETRYABLE, Code.GW_DELIVERY_RECEIVER_ERROR),
        (408, AttemptOutcome.RETRYABLE, Code.GW_DELIVERY_RECEIVER_ERROR),
        (425, AttemptOutcome.RETRYABLE, Code.GW_DELIVERY_RECEIVER_ERROR),
        (429, AttemptOutcome.RETRYABLE, Code.GW_DELIVERY_RECEIVER_ERROR),
        (409, AttemptOutcome.PERMANENT, Code.GW_DELIVERY_REFUSED),
        (400, AttemptOutcome.PERMANENT, Code.GW_DELIVERY_REFUSED),
        (404, AttemptOutcome.PERMANENT, Code.GW_DELIVERY_REFUSED),
        (413, AttemptOutcome.PERMANENT, Code.GW_DELIVERY_REFUSED),
        (422, AttemptOutcome.PERMANENT, Code.GW_DELIVERY_REFUSED),
        (302, AttemptOutcome.PERMANENT, Code.GW_DELIVERY_REFUSED),
    ],
)
def test_answers_are_classified(status: int, result: AttemptOutcome, code: Code | None) -> None:
    outcome = classify_answer(ReceiverAnswer(status, b"<Error>why</Error>", "application/xml"))
    assert (outcome.result, outcome.code, outcome.http_status) == (result, code, status)
    if code is not None:
        assert "<Error>why</Error>" in outcome.message


@pytest.mark.parametrize(
    ("status", "body", "receiver_code"),
    [
        (409, {"code": "NODE-DUPLICATE-CONFLICT", "message": "other bytes"}, "NODE-DUPLICATE-CONFLICT"),
        (401, {"code": "GW-DELIVERY-NOT-AUTHENTICATED", "message": "no"}, "GW-DELIVERY-NOT-AUTHENTICATED"),
        (503, {"code": "STORE-UNAVAILABLE", "message": "later"}, "STORE-UNAVAILABLE"),
        (409, {"code": "not a code", "message": "?"}, None),
        (409, {"code": "X-" + "A" * 80}, None),
        (409, {"code": 409}, None),
        (409, ["NODE-DUPLICATE-CONFLICT"], None),
    ],
)
def test_the_receivers_code_is_kept(status: int, body: Any, receiver_code: str | None) -> None:
    answer = ReceiverAnswer(status, json.dumps(body).encode(), "application/json")
    assert classify_answer(answer).receiver_code == receiver_code
    assert classify_answer(ReceiverAnswer(status, b"<Error>NODE-X</Error>", "application/xml")).receiver_code is None


def _refusing(status: int, code: str) -> Receiver:
    class Refusing(Receiver):
        def __call__(self, request: httpx.Request) -> httpx.Response:
            super().__call__(request)
            return httpx.Response(status, json={"code": code, "message": "message id already used for other bytes"})

    return Refusing()


def test_a_conflicting_duplicate_at_the_receiver_is_dead_lettered_at_once(store: Store, clock: FakeClock) -> None:
    """409 NODE-DUPLICATE-CONFLICT never heals by waiting: one attempt, FAILED, the receiver's code recorded."""
    store.record_message(incoming("msg-1"))
    receiver = _refusing(409, "NODE-DUPLICATE-CONFLICT")
    asyncio.run(settle(deliverer(store, receiver), store, clock))
    detail = store.get("msg-1")
    assert (detail.record.status, receiver.hits) == (S.FAILED, 1)
    assert detail.record.last_error_code == "GW-DELIVERY-REFUSED"
    [attempt] = detail.attempts
    assert attempt.outcome is AttemptOutcome.PERMANENT and attempt.http_status == 409
    assert attempt.receiver_code == "NODE-DUPLICATE-CONFLICT"
    assert attempt.to_dict()["receiver_code"] == "NODE-DUPLICATE-CONFLICT"
    [failed] = [e for e in store.audit_entries(message_id="msg-1") if e.action == "delivery.failed"]
    assert failed.detail["code"] == "GW-DELIVERY-REFUSED"
    assert failed.detail["receiver_code"] == "NODE-DUPLICATE-CONFLICT"


def test_a_transient_answer_keeps_the_receivers_code_on_each_attempt(store: Store, clock: FakeClock) -> None:
    store.record_message(incoming("msg-1"))
    receiver = _refusing(503, "STORE-UNAVAILABLE")
    asyncio.run(settle(deliverer(store, receiver), store, clock))
    detail = store.get("msg-1")
    assert (detail.record.status, receiver.hits) == (S.FAILED, SETTINGS.max_attempts)
    assert detail.record.last_error_code == "GW-DELIVERY-ATTEMPTS-EXHAUSTED"
    assert {a.receiver_code for a in detail.attempts} == {"STORE-UNAVAILABLE"}


# --- one worker ---------------------------------------------------------------------------------------------------


def test_delivers_the_envelope_as_xml(store: Store) -> None:
    store.record_message(incoming("msg-1", envelope=b"<Envelope>payload</Envelope>"))
    receiver = Receiver()
    [report] = asyncio.run(deliverer(store, receiver).run_once())
    assert report.status is S.DELIVERED and report.outcome.http_status == 202
    [request] = receiver.requests
    assert request.method == "POST" and str(request.url) == INBOX
    assert request.content == b"<Envelope>payload</Envelope>"
    assert request.headers["content-type"] == "application/xml"
    [attempt] = store.get("msg-1").attempts
    assert attempt.outcome is AttemptOutcome.DELIVERED and attempt.duration_ms is not None


def test_rejected_messages_are_never_delivered(store: Store) -> None:
    store.record_message(incoming("msg-bad", verdict=Verdict.REJECTED, inbox_url=None))
    receiver = Receiver()
    assert asyncio.run(deliverer(store, receiver).run_once()) == ()
    assert receiver.hits == 0


def test_receiver_failing_three_times_then_succeeding(store: Store, clock: FakeClock) -> None:
    store.record_message(incoming("msg-1"))
    receiver = Receiver([503, httpx.ConnectError, httpx.ReadTimeout], then=202)
    reports = asyncio.run(settle(deliverer(store, receiver), store, clock))
    assert [r.outcome.code for r in reports] == [
        Code.GW_DELIVERY_RECEIVER_ERROR, Code.GW_DELIVERY_UNREACHABLE, Code.GW_DELIVERY_TIMEOUT, None
    ]
    # Full jitter at its ceiling: 1 s, 2 s, 4 s after each failure.
    assert [r.retry_at for r in reports[:3]] == [
        START + timedelta(seconds=1), START + timedelta(seconds=3), START + timedelta(seconds=7)
    ]
    detail = store.get("msg-1")
    assert detail.record.status is S.DELIVERED and receiver.hits == 4
    assert [a.outcome for a in detail.attempts] == [AttemptOutcome.RETRYABLE] * 3 + [AttemptOutcome.DELIVERED]
    assert [a.number for a in detail.attempts] == [1, 2, 3, 4]
    assert [h.status for h in detail.history].count(S.WAITING_FOR_RETRY) == 3


def test_permanently_rejecting_receiver_is_dead_lettered_at_once(store: Store, clock: FakeClock) -> None:
    store.record_message(incoming("msg-1"))
    receiver = Receiver(then=400)
    asyncio.run(settle(deliverer(store, receiver), store, clock))
    record = store.get("msg-1").record
    assert record.status is S.FAILED and record.last_error_code == "GW-DELIVERY-REFUSED" and receiver.hits == 1
    assert "HTTP 400" in (record.last_error or "")


def test_attempt_bound(store: Store, clock: FakeClock) -> None:
    store.record_message(incoming("msg-1"))
    receiver = Receiver(then=503)
    asyncio.run(settle(deliverer(store, receiver), store, clock))
    record = store.get("msg-1").record
    assert (record.status, record.attempts, receiver.hits) == (S.FAILED, 5, 5)
    assert record.last_error_code == "GW-DELIVERY-ATTEMPTS-EXHAUSTED"


def test_age_bound_lands_the_last_retry_on_the_deadline(store: Store, clock: FakeClock) -> None:
    settings = SETTINGS.model_copy(
        update={"max_attempts": 100, "base_delay": timedelta(seconds=40), "max_age": timedelta(seconds=60)}
    )
    store.record_message(incoming("msg-1"))
    receiver = Receiver(then=503)
    reports = asyncio.run(settle(deliverer(store, receiver, settings=settings), store, clock))
    assert [r.retry_at for r in reports] == [START + timedelta(seconds=40), START + timedelta(seconds=60), None]
    record = store.get("msg-1").record
    assert (record.status, record.last_error_code, receiver.hits) == (S.FAILED, "GW-DELIVERY-EXPIRED", 3)


def test_manual_retry_of_a_dead_letter(store: Store, clock: FakeClock) -> None:
    store.record_message(incoming("msg-1"))
    receiver = Receiver(script=[503] * 5, then=202)
    worker = deliverer(store, receiver)
    asyncio.run(settle(worker, store, clock))
    assert store.get("msg-1").record.status is S.FAILED
    store.retry("msg-1", actor="operator")
    [report] = asyncio.run(worker.run_once())
    assert report.status is S.DELIVERED and report.attempt == 1 and receiver.hits == 6


def test_a_hook_that_never_answers_is_cut_off(store: Store) -> None:
    settings = SETTINGS.model_copy(
        update={"request_timeout": timedelta(milliseconds=50), "lease": timedelta(seconds=1)}
    )

    async def silent(message: ClaimedMessage) -> DeliveryOutcome:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    store.record_message(incoming("msg-1"))
    [report] = asyncio.run(deliverer(store, Receiver(), settings=settings, deliver=silent).run_once())
    assert report.outcome.code is Code.GW_DELIVERY_TIMEOUT and report.status is S.WAITING_FOR_RETRY


@pytest.mark.parametrize(
    ("error", "code"),
    [(RuntimeError("bug in the hook"), Code.GW_DELIVERY_INTERNAL),
     (ExchangeError("receipt unreadable", code=Code.XML_MALFORMED), Code.XML_MALFORMED)],
)
def test_a_failing_hook_is_a_retryable_attempt(store: Store, error: Exception, code: Code) -> None:
    async def broken(message: ClaimedMessage) -> DeliveryOutcome:
        raise error

    store.record_message(incoming("msg-1"))
    [report] = asyncio.run(deliverer(store, Receiver(), deliver=broken).run_once())
    assert report.outcome.code is code and report.status is S.WAITING_FOR_RETRY


@pytest.mark.parametrize("url", ["ftp://bb.test/inbox", "not a url", "http://"])
def test_unusable_inbox_url_is_permanent(store: Store, url: str) -> None:
    store.record_message(incoming("msg-1", inbox_url=url))
    receiver = Receiver()
    [report] = asyncio.run(deliverer(store, receiver).run_once())
    assert report.status is S.FAILED and report.outcome.code is Code.GW_DELIVERY_REFUSED and receiver.hits == 0


def test_redirects_are_not_followed(store: Store) -> None:
    def redirecting(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "http://elsewhere.test/inbox"})

    calls: list[httpx.Request] = []

    def counting(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return redirecting(request)

    store.record_message(incoming("msg-1"))
    [report] = asyncio.run(deliverer(store, counting).run_once())
    assert report.status is S.FAILED and len(calls) == 1


def test_a_huge_answer_is_cut(store: Store) -> None:
    store.record_message(incoming("msg-1"))
    [claim] = store.claim_due("w", limit=1, lease=timedelta(seconds=30))

    async def go() -> ReceiverAnswer | DeliveryOutcome:
        huge = httpx.MockTransport(lambda request: httpx.Response(200, content=b"x" * (MAX_ANSWER_BYTES + 4096)))
        async with httpx.AsyncClient(transport=huge) as client:
            return await send_envelope(client, claim, timeout=5)

    answer = asyncio.run(go())
    assert isinstance(answer, ReceiverAnswer)
    assert answer.truncated and len(answer.body) == MAX_ANSWER_BYTES


def test_a_receipt_verifying_hook(store: Store) -> None:
    """The shape of the app's hook: send, then turn the receiver's signed answer into evidence."""

    def inbox(request: httpx.Request) -> httpx.Response:
        assert request.headers["ptx-delivery"].startswith("t=...; m=msg-")
        assert request.headers["content-type"] == "application/xml"
        verdict = "rejected" if b"bad" in request.content else "received"
        return httpx.Response(200, content=f"<Receipt verdict='{verdict}'/>".encode())

    async def verify_receipt(message: ClaimedMessage) -> DeliveryOutcome:
        signed = {"PTX-Delivery": f"t=...; m={message.message_id}; sig=..."}
        answer = await send_envelope(worker.client, message, timeout=5, headers=signed)
        if isinstance(answer, DeliveryOutcome) or not 200 <= answer.http_status < 300:
            return answer if isinstance(answer, DeliveryOutcome) else classify_answer(answer)
        verdict = ReceiptVerdict.REJECTED if b"rejected" in answer.body else ReceiptVerdict.RECEIVED
        return DeliveryOutcome.transport_ok(answer.http_status, ReceiptEvidence.accepted(answer.body, verdict))

    store.record_message(incoming("msg-good"))
    store.record_message(incoming("msg-bad", envelope=b"<Envelope>bad</Envelope>"))
    worker = deliverer(store, inbox, deliver=verify_receipt)
    reports = {r.message_id: r for r in asyncio.run(worker.run_once())}
    assert reports["msg-good"].status is S.ACKNOWLEDGED and reports["msg-bad"].status is S.RECEIVER_REJECTED
    receipt = store.get("msg-good").receipt
    assert receipt is not None and receipt.body == b"<Receipt verdict='received'/>"


# --- crash safety, concurrency and the loop ----------------------------------------------------------------------


def test_an_expired_lease_is_reclaimed_by_another_worker(store: Store, clock: FakeClock) -> None:
    store.record_message(incoming("msg-1"))
    store.claim_due("crashed-worker", limit=1, lease=SETTINGS.lease)  # claimed, then the process died
    receiver = Receiver()
    worker = deliverer(store, receiver, owner="survivor")
    assert asyncio.run(worker.run_once()) == ()
    clock.advance(seconds=31)
    [report] = asyncio.run(worker.run_once())
    assert report.status is S.DELIVERED and receiver.hits == 1
    attempts = store.get("msg-1").attempts
    assert [(a.worker, a.outcome) for a in attempts] == [
        ("crashed-worker", AttemptOutcome.ABANDONED), ("survivor", AttemptOutcome.DELIVERED)
    ]


def test_two_deliverers_on_one_database_deliver_each_message_once(database_url: str, clock: FakeClock) -> None:
    count = 40
    with open_store(database_url, clock) as setup:
        for index in range(count):
            setup.record_message(incoming(f"msg-{index:02d}"))
    delivered: Counter[bytes] = Counter()
    lock = threading.Lock()

    async def inbox(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.001)  # let the other worker interleave
        with lock:
            delivered[request.content] += 1
        return httpx.Response(202)

    def work(name: str) -> None:
        store = open_store(database_url, clock)  # its own engine, as another process would have

        async def drain() -> None:
            worker = deliverer(store, inbox, owner=name, settings=SETTINGS.model_copy(update={"workers": 2}))
            while await worker.run_once():
                pass

        try:
            asyncio.run(drain())
        finally:
            store.close()

    threads = [threading.Thread(target=work, args=(name,)) for name in ("worker-a", "worker-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(delivered) == count and set(delivered.values()) == {1}
    with open_store(database_url, clock) as check:
        records = check.list_messages(limit=100).items
        assert {r.status for r in records} == {S.DELIVERED} and {r.attempts for r in records} == {1}
        assert check.verify_audit().ok


def test_run_loops_in_threads_and_stops_from_outside(database_url: str, clock: FakeClock) -> None:
    count = 20
    with open_store(database_url, clock) as setup:
        for index in range(count):
            setup.record_message(incoming(f"msg-{index:02d}"))
    delivered: Counter[bytes] = Counter()
    all_in = threading.Event()
    lock = threading.Lock()

    def inbox(request: httpx.Request) -> httpx.Response:
        with lock:
            delivered[request.content] += 1
            if sum(delivered.values()) >= count:
                all_in.set()
        return httpx.Response(202)

    workers: list[Deliverer] = []
    stores = [open_store(database_url, clock) for _ in range(2)]
    for index, own_store in enumerate(stores):
        workers.append(deliverer(own_store, inbox, owner=f"loop-{index}"))
    threads = [threading.Thread(target=asyncio.run, args=(worker.run(),)) for worker in workers]
    for thread in threads:
        thread.start()
    assert all_in.wait(timeout=60)
    for worker in workers:
        worker.stop()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive()
    assert len(delivered) == count and set(delivered.values()) == {1}
    for own_store in stores:
        own_store.close()


def test_stop_lets_the_attempt_in_flight_finish(store: Store) -> None:
    store.record_message(incoming("msg-1"))
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow(message: ClaimedMessage) -> DeliveryOutcome:
        entered.set()
        await release.wait()
        return DeliveryOutcome.transport_ok(202)

    async def scenario() -> None:
        worker = deliverer(store, Receiver(), deliver=slow)
        running = asyncio.create_task(worker.run())
        await entered.wait()
        worker.stop()
        for _ in range(5):
            await asyncio.sleep(0)
        assert not running.done()  # still waiting for the attempt in flight
        release.set()
        await running

    asyncio.run(scenario())
    assert store.get("msg-1").record.status is S.DELIVERED


def test_stop_before_run_returns_at_once(store: Store) -> None:
    store.record_message(incoming("msg-1"))
    receiver = Receiver()
    worker = deliverer(store, receiver)
    worker.stop()
    asyncio.run(worker.run())
    assert receiver.hits == 0 and store.get("msg-1").record.status is S.ACCEPTED


def test_a_killed_worker_leaves_a_lease_that_expires(store: Store, clock: FakeClock) -> None:
    """Cancelling the loop mid-attempt is the in-process picture of SIGKILL: nothing is recorded, the lease holds."""
    store.record_message(incoming("msg-1"))
    entered = asyncio.Event()

    async def hanging(message: ClaimedMessage) -> DeliveryOutcome:
        entered.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def scenario() -> None:
        worker = deliverer(store, Receiver(), deliver=hanging, owner="doomed")
        running = asyncio.create_task(worker.run())
        await entered.wait()
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running

    asyncio.run(scenario())
    record = store.get("msg-1").record
    assert record.status is S.DELIVERING and record.lease_owner == "doomed"
    receiver = Receiver()
    clock.advance(seconds=31)
    [report] = asyncio.run(deliverer(store, receiver, owner="next").run_once())
    assert report.status is S.DELIVERED and report.attempt == 2 and receiver.hits == 1


def test_wake_is_safe_from_any_thread_and_before_run(store: Store) -> None:
    worker = deliverer(store, Receiver())
    worker.wake()  # not running yet: nothing to wake, no error
    store.record_message(incoming("msg-1"))
    done = threading.Event()

    def inbox(request: httpx.Request) -> httpx.Response:
        done.set()
        return httpx.Response(202)

    slow_poll = SETTINGS.model_copy(update={"poll_interval": timedelta(hours=1)})
    worker = deliverer(store, inbox, settings=slow_poll)

    async def scenario() -> None:
        running = asyncio.create_task(worker.run())
        await asyncio.to_thread(done.wait, 60)  # first pass delivers msg-1 at start
        store.record_message(incoming("msg-2"))
        done.clear()
        await asyncio.to_thread(worker.wake)  # from another thread: without it the next look is an hour away
        assert await asyncio.to_thread(done.wait, 60)
        worker.stop()
        await running

    asyncio.run(scenario())
    assert store.get("msg-2").record.status is S.DELIVERED


def test_a_drained_queue_is_looked_at_again_on_a_wake_or_the_poll_not_after_each_attempt(store: Store) -> None:
    """With several gateways on one database, each look at an empty queue is a write transaction for nothing."""
    looks: list[int] = []
    claim_due = store.claim_due

    def counted(*args: Any, **kwargs: Any) -> tuple[ClaimedMessage, ...]:
        claimed = claim_due(*args, **kwargs)
        looks.append(len(claimed))
        return claimed

    store.claim_due = counted  # type: ignore[method-assign]
    hour_poll = SETTINGS.model_copy(update={"poll_interval": timedelta(hours=1), "workers": 2})
    worker = deliverer(store, Receiver(), settings=hour_poll)

    def delivered(*ids: str) -> bool:
        return all(store.get(message_id).record.status is S.DELIVERED for message_id in ids)

    async def until(condition: Callable[[], bool]) -> None:
        for _ in range(6000):
            if await asyncio.to_thread(condition):
                return
            await asyncio.sleep(0.01)
        raise AssertionError("not reached within 60 s")

    busy = [f"msg-{index}" for index in range(5)]
    for message_id in busy:
        store.record_message(incoming(message_id))

    async def scenario() -> None:
        running = asyncio.create_task(worker.run())
        # more due than slots: each finished attempt's slot is filled at once, no wake needed
        await until(lambda: delivered(*busy))
        await asyncio.sleep(0.3)  # the loop settles
        assert sum(looks) == 5 and looks.count(0) == 1  # one look found the queue empty; none after it
        settled = len(looks)
        await asyncio.sleep(0.3)
        assert len(looks) == settled, "a drained queue is not looked at again after each attempt"
        store.record_message(incoming("msg-late"))
        await asyncio.to_thread(worker.wake)  # announced work: looked at at once
        await until(lambda: delivered("msg-late"))
        assert looks[settled] == 1
        worker.stop()
        await running

    asyncio.run(scenario())


def test_an_inbox_url_password_is_never_recorded(store: Store, clock: FakeClock) -> None:
    store.record_message(incoming("msg-1", inbox_url="http://bb:s3cret@bb.test/v1/inbox"))
    receiver = Receiver([httpx.ConnectError], then=202)
    asyncio.run(settle(deliverer(store, receiver), store, clock))
    detail = store.get("msg-1")
    assert detail.record.status is S.DELIVERED
    assert "could not reach http://bb:***@bb.test/v1/inbox" in detail.attempts[0].message
    recorded = [detail.attempts[0].message, *(h.detail for h in detail.history),
                *(str(e.detail) for e in store.audit_entries(message_id="msg-1"))]
    assert not [text for text in recorded if "s3cret" in text]
