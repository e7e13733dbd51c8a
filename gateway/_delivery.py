"""Delivery workers: push accepted messages to the receiver's inbox, retry with backoff, dead-letter at a bound.

A :class:`Deliverer` claims due messages from the :class:`~gateway._store.Store` under a lease, hands each to a
*delivery hook* (``async (ClaimedMessage) -> DeliveryOutcome``), and records the outcome. The default hook,
:func:`post_envelope`, POSTs the envelope as ``application/xml`` to the message's inbox URL and classifies the
answer; the gateway app supplies a hook that also verifies the receiver's signed receipt (build it from
:func:`send_envelope` and :func:`classify_answer`).

Classification of the receiver's answer:

===========================================  ===========================  ============================
answer                                       outcome                      code
===========================================  ===========================  ============================
2xx                                          delivered                    —
5xx, 408, 425, 429                           retryable                    ``GW-DELIVERY-RECEIVER-ERROR``
other 4xx (409 too), 3xx (not followed)      permanent (dead letter now)  ``GW-DELIVERY-REFUSED``
timeout (also of the whole hook)             retryable                    ``GW-DELIVERY-TIMEOUT``
connection failed, protocol error            retryable                    ``GW-DELIVERY-UNREACHABLE``
inbox URL not http(s) or malformed           permanent                    ``GW-DELIVERY-REFUSED``
the hook raised                              retryable                    its code / ``GW-DELIVERY-INTERNAL``
===========================================  ===========================  ============================

Transient versus permanent: an answer is retried only when waiting can change it. 5xx says the receiver failed
(its store is unavailable, its own material is unusable: the node answers 500/503 for those), and 408, 425 and
429 say "not now" by definition. Every other 4xx is a verdict on *this* delivery that the same bytes will get
again: 409 ``NODE-DUPLICATE-CONFLICT`` (the message id is taken by other bytes), 401 (the delivery signature or
TLS identity is refused), 413, 415, 422. Retrying those only delays the dead letter by ``max_attempts`` backoffs
and hammers the receiver, so they are dead-lettered at once; an operator who fixed the cause retries by hand.
RFC 9110 agrees for 409: the conflict is for the user to resolve, then resubmit.

The receiver's own code (the ``code`` of a JSON ``{code, message}`` answer, as the nodes send) is kept as the
attempt's ``receiver_code``, next to the gateway's code: ``GW-DELIVERY-REFUSED`` says the gateway gave up,
``NODE-DUPLICATE-CONFLICT`` says why the receiver refused. Only a well-formed code is kept (upper-case letters,
digits and dashes, 64 characters at most); a receiver's free text never becomes a code.

Backoff (:class:`RetryPolicy`) is exponential with *full jitter*: after failed attempt ``n`` the wait is uniform
in ``[0, min(max_delay, base_delay * 2**(n-1))]``, which spreads retries of many messages to a receiver that
just came back. It is a small pure function of the attempt number rather than tenacity's wait objects: our
retries outlive the process (the schedule is ``next_attempt_at`` in the database), so all we need is "attempt
n failed at time t: when next?", and a pure function with an injected random source is trivially testable.
Two bounds end the retries (whichever comes first): ``max_attempts``, and ``max_age`` after the message was
received (or manually retried): no retry is scheduled past that deadline, the last one lands on it. Then the
message is FAILED (dead letter) until someone retries it by hand.

Crash safety: a claimed message carries a lease (``lease`` setting, at least twice ``request_timeout``, and the
hook is cut off at ``request_timeout``). If the process dies mid-attempt, the lease expires and any worker
reclaims the message: delivery is at-least-once, and receivers deduplicate by message id. Two workers never hold
the same message at once, so they never deliver it concurrently.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import secrets
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import httpx

from exchange import Code, ExchangeError, StoreError, message_scope, redact_url
from gateway._metrics import GatewayMetrics
from gateway._settings import DeliverySettings
from gateway._status import MessageStatus
from gateway._store import RECEIVER_CODE, RECEIVER_CODE_MAX, AttemptOutcome, ClaimedMessage, DeliveryOutcome, Store

log = logging.getLogger("gateway.delivery")

DeliverHook = Callable[[ClaimedMessage], Awaitable[DeliveryOutcome]]

#: 4xx answers that say "not now" rather than "never" (see the module docstring; 409 is not one of them).
RETRYABLE_4XX = frozenset({408, 425, 429})

#: The most of a receiver's answer read into memory (receipts are a few kilobytes).
MAX_ANSWER_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """After a retryable failure: when to try again, or which bound ended the retries."""

    retry_at: datetime | None
    give_up: Code | None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter, bounded by attempts and age. Pure: time and chance are inputs."""

    max_attempts: int
    base_delay: timedelta
    max_delay: timedelta
    max_age: timedelta
    jitter: bool = True

    @classmethod
    def from_settings(cls, settings: DeliverySettings) -> RetryPolicy:
        return cls(
            max_attempts=settings.max_attempts,
            base_delay=settings.base_delay,
            max_delay=settings.max_delay,
            max_age=settings.max_age,
            jitter=settings.jitter,
        )

    def ceiling(self, attempt: int) -> timedelta:
        """The longest wait after failed attempt ``attempt`` (1-based): ``min(max_delay, base * 2**(n-1))``."""
        exponent = min(max(attempt - 1, 0), 62)
        seconds = min(self.max_delay.total_seconds(), self.base_delay.total_seconds() * 2.0**exponent)
        return timedelta(seconds=seconds)

    def backoff(self, attempt: int, chance: float) -> timedelta:
        """The wait after failed attempt ``attempt``; ``chance`` in [0, 1] picks it in the jitter range."""
        ceiling = self.ceiling(attempt)
        return ceiling * min(max(chance, 0.0), 1.0) if self.jitter else ceiling

    def after_failure(self, attempt: int, cycle_started_at: datetime, now: datetime, chance: float) -> RetryDecision:
        """Decide what follows failed attempt ``attempt`` of a delivery cycle that started at ``cycle_started_at``."""
        if attempt >= self.max_attempts:
            return RetryDecision(None, Code.GW_DELIVERY_ATTEMPTS_EXHAUSTED)
        deadline = cycle_started_at + self.max_age
        if now >= deadline:
            return RetryDecision(None, Code.GW_DELIVERY_EXPIRED)
        return RetryDecision(min(now + self.backoff(attempt, chance), deadline), None)


@dataclass(frozen=True, slots=True)
class ReceiverAnswer:
    """The receiver's HTTP answer to a delivery (body cut at ``MAX_ANSWER_BYTES``, then ``truncated``)."""

    http_status: int
    body: bytes
    content_type: str | None
    truncated: bool = False


def _snippet(body: bytes, limit: int = 200) -> str:
    text = body[:limit].decode("utf-8", errors="replace").strip()
    return " ".join(text.split())


def receiver_code(answer: ReceiverAnswer) -> str | None:
    """The ``code`` of a JSON ``{code, message}`` answer when it is a well-formed code, else None."""
    if answer.truncated or not (answer.content_type or "").split(";")[0].strip().lower().endswith("json"):
        return None
    try:
        body = json.loads(answer.body)
    except ValueError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    if isinstance(code, str) and len(code) <= RECEIVER_CODE_MAX and RECEIVER_CODE.fullmatch(code):
        return code
    return None


def classify_answer(answer: ReceiverAnswer) -> DeliveryOutcome:
    """2xx delivered; 5xx and 408/425/429 retryable; other 4xx (409 too) and 3xx permanent."""
    status = answer.http_status
    if 200 <= status < 300:
        return DeliveryOutcome.transport_ok(http_status=status)
    said = f"receiver answered HTTP {status}" + (f": {_snippet(answer.body)}" if answer.body else "")
    code = receiver_code(answer)
    if status >= 500 or status in RETRYABLE_4XX:
        return DeliveryOutcome.retryable(Code.GW_DELIVERY_RECEIVER_ERROR, said, http_status=status, receiver_code=code)
    return DeliveryOutcome.permanent(Code.GW_DELIVERY_REFUSED, said, http_status=status, receiver_code=code)


def _usable_url(url: str) -> bool:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError):
        return False
    return parsed.scheme in ("http", "https") and bool(parsed.host)


async def send_envelope(
    client: httpx.AsyncClient,
    message: ClaimedMessage,
    *,
    timeout: float,
    headers: Mapping[str, str] | None = None,
) -> ReceiverAnswer | DeliveryOutcome:
    """POST the envelope to the inbox; the answer, or the outcome when no answer came (httpx errors translated).

    ``headers`` are added to the request (e.g. the gateway's ``PTX-Delivery`` signature, made per attempt).
    """
    url = message.inbox_url
    shown = redact_url(url)  # what the attempt records and logs say: never the URL's password
    if not _usable_url(url):
        return DeliveryOutcome.permanent(Code.GW_DELIVERY_REFUSED, f"inbox URL {shown!r} is not an http(s) URL")
    try:
        async with client.stream(
            "POST",
            url,
            content=message.envelope,
            headers={**(headers or {}), "Content-Type": "application/xml"},
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
        ) as response:
            body = bytearray()
            truncated = False
            async for chunk in response.aiter_bytes():
                body.extend(chunk)
                if len(body) > MAX_ANSWER_BYTES:
                    truncated = True
                    del body[MAX_ANSWER_BYTES:]
                    break
            return ReceiverAnswer(response.status_code, bytes(body), response.headers.get("content-type"), truncated)
    except httpx.TimeoutException as exc:
        return DeliveryOutcome.retryable(
            Code.GW_DELIVERY_TIMEOUT, f"no answer from {shown} within {timeout:g} s ({type(exc).__name__})"
        )
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        return DeliveryOutcome.permanent(Code.GW_DELIVERY_REFUSED, f"inbox URL {shown!r} is unusable: {exc}")
    except httpx.TransportError as exc:
        return DeliveryOutcome.retryable(
            Code.GW_DELIVERY_UNREACHABLE, f"could not reach {shown}: {type(exc).__name__}: {exc}"
        )


async def post_envelope(
    client: httpx.AsyncClient, message: ClaimedMessage, *, timeout: float, headers: Mapping[str, str] | None = None
) -> DeliveryOutcome:
    """The default delivery hook: POST and classify the answer (no receipt handling)."""
    answer = await send_envelope(client, message, timeout=timeout, headers=headers)
    if isinstance(answer, DeliveryOutcome):
        return answer
    return classify_answer(answer)


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What happened to one claimed message in this worker.

    ``status`` is the message's status afterwards, or ``None`` when the outcome could not be recorded
    (``error`` says why: lease lost, store unavailable); the lease then expires and the message is retried.
    """

    message_id: str
    attempt: int
    outcome: DeliveryOutcome
    status: MessageStatus | None
    retry_at: datetime | None = None
    error: str | None = None


def default_owner() -> str:
    """A lease owner name unique to this worker: host, process and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class Deliverer:
    """Delivers accepted messages from a store. One per process is typical; several may share a database.

    ``client`` is the injected ``httpx.AsyncClient`` (tests pass one with ``httpx.MockTransport``); ``deliver``
    replaces the default hook; ``now`` defaults to the store's clock; ``chance`` draws the jitter (``random``).
    """

    def __init__(
        self,
        store: Store,
        settings: DeliverySettings,
        client: httpx.AsyncClient,
        *,
        deliver: DeliverHook | None = None,
        metrics: GatewayMetrics | None = None,
        now: Callable[[], datetime] | None = None,
        chance: Callable[[], float] = random.random,
        owner: str | None = None,
    ) -> None:
        self._store = store
        self._settings = settings
        self._client = client
        self._timeout = settings.request_timeout.total_seconds()
        self._deliver: DeliverHook = deliver or partial(post_envelope, client, timeout=self._timeout)
        self._metrics = metrics
        self._now = now or store.now
        self._chance = chance
        self.owner = owner or default_owner()
        self.policy = RetryPolicy.from_settings(settings)
        self._stopping = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._signal: asyncio.Event | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        return self._client

    # --- one pass -------------------------------------------------------------------------------------------------

    async def run_once(self) -> tuple[DeliveryReport, ...]:
        """Claim up to ``workers`` due messages, deliver them concurrently, record the outcomes."""
        claims = await self._claim(self._settings.workers)
        reports = await asyncio.gather(*(self._process(claim) for claim in claims))
        await self._refresh_queue_metrics()
        return tuple(reports)

    async def _claim(self, limit: int) -> tuple[ClaimedMessage, ...]:
        return await asyncio.to_thread(
            self._store.claim_due,
            self.owner,
            limit=limit,
            lease=self._settings.lease,
            max_attempts=self._settings.max_attempts,
        )

    async def _attempt(self, claim: ClaimedMessage) -> DeliveryOutcome:
        try:
            async with asyncio.timeout(self._timeout):
                return await self._deliver(claim)
        except TimeoutError:
            return DeliveryOutcome.retryable(
                Code.GW_DELIVERY_TIMEOUT, f"delivery did not finish within {self._timeout:g} s"
            )
        except ExchangeError as exc:
            return DeliveryOutcome.retryable(exc.code, f"delivery hook failed: {exc}")
        except Exception as exc:  # a bug in a hook must not stop the worker; the attempt is retried
            log.exception("delivery hook raised", extra={"message_id": claim.message_id})
            return DeliveryOutcome.retryable(Code.GW_DELIVERY_INTERNAL, f"{type(exc).__name__}: {exc}")

    async def _process(self, claim: ClaimedMessage) -> DeliveryReport:
        with message_scope(claim.message_id, claim.conversation_id):  # every line of this attempt names the message
            return await self._process_claim(claim)

    async def _process_claim(self, claim: ClaimedMessage) -> DeliveryReport:
        started_at = self._now()
        started = time.perf_counter()
        outcome = await self._attempt(claim)
        elapsed = time.perf_counter() - started
        retry_at: datetime | None = None
        dead_letter: Code | None = None
        if outcome.result is AttemptOutcome.RETRYABLE:
            decision = self.policy.after_failure(claim.attempt, claim.cycle_started_at, self._now(), self._chance())
            retry_at, dead_letter = decision.retry_at, decision.give_up
        if self._metrics is not None:
            self._metrics.observe_attempt(outcome.result, elapsed)
        try:
            record = await asyncio.to_thread(
                self._store.finish_attempt,
                claim,
                outcome,
                started_at=started_at,
                duration=timedelta(seconds=elapsed),
                retry_at=retry_at,
                dead_letter=dead_letter,
            )
        except StoreError as exc:
            log.warning(
                "attempt %d of %s not recorded: %s", claim.attempt, claim.message_id, exc,
                extra={"message_id": claim.message_id, "code": exc.code.value},
            )
            return DeliveryReport(claim.message_id, claim.attempt, outcome, None, error=str(exc))
        log.info(
            "attempt %d of %s: %s -> %s", claim.attempt, claim.message_id, outcome.result.value, record.status.value,
            extra={
                "message_id": claim.message_id,
                "attempt": claim.attempt,
                "outcome": outcome.result.value,
                "status": record.status.value,
                "code": None if outcome.code is None else outcome.code.value,
            },
        )
        return DeliveryReport(claim.message_id, claim.attempt, outcome, record.status, retry_at=retry_at)

    async def _refresh_queue_metrics(self) -> None:
        if self._metrics is None:
            return
        try:
            depth = await asyncio.to_thread(self._store.queue_depth)
        except StoreError as exc:
            log.warning("queue depth not measured: %s", exc)
            return
        self._metrics.set_queue_depth(depth)

    # --- the loop -------------------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Deliver until :meth:`stop`: keep up to ``workers`` attempts in flight, claim as slots free up.

        Idle, it looks at the queue every ``poll_interval`` or when :meth:`wake` is called. A slot freed by a
        finished attempt is filled at once while the last look found work for every free slot; once a look found
        less (the queue drained), the next one waits for a wake or the poll: a finished attempt makes nothing
        due, and with several gateways on one database each empty look is a write transaction for nothing. On
        :meth:`stop` it claims nothing more and returns once the attempts in flight are recorded. If the task is
        cancelled instead, attempts in flight are cancelled and their leases expire (then another worker retries
        them).
        """
        self._loop = asyncio.get_running_loop()
        self._signal = asyncio.Event()
        poll = self._settings.poll_interval.total_seconds()
        inflight: set[asyncio.Task[DeliveryReport]] = set()
        drained = False  # the last look found fewer due deliveries than it had free slots (or failed)
        try:
            while not self._stopping.is_set():
                self._signal.clear()
                free = self._settings.workers - len(inflight)
                if free > 0 and not drained:
                    try:
                        claims = await self._claim(free)
                    except StoreError as exc:
                        log.error("could not claim deliveries: %s", exc, extra={"code": exc.code.value})
                        claims = ()
                    drained = len(claims) < free
                    for claim in claims:
                        inflight.add(asyncio.create_task(self._process(claim), name=f"deliver {claim.message_id}"))
                if self._stopping.is_set():
                    break
                signalled = asyncio.create_task(self._signal.wait())
                done, _ = await asyncio.wait({*inflight, signalled}, timeout=poll, return_when=asyncio.FIRST_COMPLETED)
                signalled.cancel()
                if not done or self._signal.is_set():  # the poll came round, or work was announced: look again
                    drained = False
                for task in [task for task in inflight if task.done()]:
                    inflight.discard(task)
                    if not task.cancelled() and task.exception() is not None:  # _process catches all; be sure
                        log.error("delivery task failed", exc_info=task.exception())
                if not done:
                    await self._refresh_queue_metrics()
        except asyncio.CancelledError:
            for task in inflight:
                task.cancel()
            await asyncio.gather(*inflight, return_exceptions=True)
            inflight = set()
            raise
        finally:
            if inflight:
                await asyncio.gather(*inflight, return_exceptions=True)
            self._signal = None
            self._loop = None

    def stop(self) -> None:
        """Ask :meth:`run` to finish (callable from any thread; before ``run`` it makes ``run`` return at once)."""
        self._stopping.set()
        self._poke()

    def wake(self) -> None:
        """Look at the queue now, e.g. right after a message was accepted (callable from any thread)."""
        self._poke()

    def _poke(self) -> None:
        loop, signal = self._loop, self._signal
        if loop is None or signal is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            signal.set()
        else:
            try:
                loop.call_soon_threadsafe(signal.set)
            except RuntimeError:  # the loop has closed meanwhile
                pass


__all__ = [
    "MAX_ANSWER_BYTES",
    "RETRYABLE_4XX",
    "DeliverHook",
    "Deliverer",
    "DeliveryReport",
    "ReceiverAnswer",
    "RetryDecision",
    "RetryPolicy",
    "classify_answer",
    "default_owner",
    "post_envelope",
    "receiver_code",
    "send_envelope",
]
