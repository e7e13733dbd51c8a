"""Prometheus metrics of one gateway instance, on its own registry (never the process-global one).

Each app builds its own :class:`GatewayMetrics`, so tests can run several apps in one process and a scrape shows
only that app's numbers. Series (prefix ``ptx_gateway_``):

=======================================  =========  =================================================
metric                                   type       labels
=======================================  =========  =================================================
``messages_total``                       counter    ``verdict`` (ACCEPTED, REJECTED)
``message_codes_total``                  counter    ``verdict``, ``code`` (each distinct code, once)
``check_duration_seconds``               histogram  ``check`` (pipeline check name)
``queue_depth``                          gauge      ``status`` (ACCEPTED, DELIVERING, WAITING_FOR_RETRY)
``queue_due``                            gauge      (messages that may be claimed now)
``delivery_attempts_total``              counter    ``outcome`` (delivered, retryable, ...)
``delivery_duration_seconds``            histogram  (one delivery attempt, hook included)
``store_record_commits_total``           counter    (write transactions that recorded submitted messages)
``store_recorded_messages_total``        counter    (the messages they held: above the commits, group commit)
=======================================  =========  =================================================

Label values come from closed vocabularies (verdicts, the code catalogue, check names, statuses, outcomes), so
the number of series stays bounded.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from gateway._status import PENDING, Verdict
from gateway._store import AttemptOutcome, QueueDepth, RecordingCounts

#: Check latencies run from tens of microseconds (size) to tens of milliseconds (XSD, signatures).
CHECK_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
#: A delivery is a network round trip plus receipt verification.
DELIVERY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class GatewayMetrics:
    """The gateway's metrics on a private :class:`~prometheus_client.CollectorRegistry`."""

    def __init__(self, registry: CollectorRegistry | None = None, *, namespace: str = "ptx_gateway") -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.messages = Counter(
            "messages", "Messages decided by the pipeline, by verdict.", ["verdict"],
            namespace=namespace, registry=self.registry,
        )
        self.message_codes = Counter(
            "message_codes", "Messages by verdict and each distinct finding code they carried.", ["verdict", "code"],
            namespace=namespace, registry=self.registry,
        )
        self.check_duration = Histogram(
            "check_duration_seconds", "Time spent in each pipeline check.", ["check"],
            buckets=CHECK_BUCKETS, namespace=namespace, registry=self.registry,
        )
        self.queue_depth = Gauge(
            "queue_depth", "Messages still to be delivered, by status.", ["status"],
            namespace=namespace, registry=self.registry,
        )
        self.queue_due = Gauge(
            "queue_due", "Messages that may be claimed for delivery now.", namespace=namespace, registry=self.registry
        )
        self.delivery_attempts = Counter(
            "delivery_attempts", "Delivery attempts by outcome.", ["outcome"],
            namespace=namespace, registry=self.registry,
        )
        self.delivery_duration = Histogram(
            "delivery_duration_seconds", "Duration of one delivery attempt.",
            buckets=DELIVERY_BUCKETS, namespace=namespace, registry=self.registry,
        )
        self.record_commits = Counter(
            "store_record_commits", "Write transactions of the store that recorded submitted messages.",
            namespace=namespace, registry=self.registry,
        )
        self.recorded_messages = Counter(
            "store_recorded_messages", "Submitted messages those transactions held (several a commit: group commit).",
            namespace=namespace, registry=self.registry,
        )
        self._recorded = RecordingCounts(0, 0)
        # Known label values start at zero, so dashboards and rate() see the series before the first event.
        for verdict in Verdict:
            self.messages.labels(verdict=verdict.value)
        for status in PENDING:
            self.queue_depth.labels(status=status.value)
        for outcome in AttemptOutcome:
            self.delivery_attempts.labels(outcome=outcome.value)

    def observe_verdict(self, verdict: Verdict, codes: Iterable[str] = ()) -> None:
        """Count one decided message and each distinct code it carried."""
        value = Verdict(verdict).value
        self.messages.labels(verdict=value).inc()
        for code in sorted(set(codes)):
            self.message_codes.labels(verdict=value, code=code).inc()

    def observe_check(self, check: str, seconds: float) -> None:
        self.check_duration.labels(check=check).observe(seconds)

    @contextmanager
    def time_check(self, check: str) -> Iterator[None]:
        """Time the body as one run of ``check`` (also when it raises)."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.observe_check(check, time.perf_counter() - started)

    def set_queue_depth(self, depth: QueueDepth) -> None:
        for status in PENDING:
            self.queue_depth.labels(status=status.value).set(depth.by_status.get(status, 0))
        self.queue_due.set(depth.due)

    def set_recorded(self, counts: RecordingCounts) -> None:
        """Bring the store's recording counters up to ``counts`` (:attr:`Store.recorded`, which only grows)."""
        self.record_commits.inc(max(0, counts.commits - self._recorded.commits))
        self.recorded_messages.inc(max(0, counts.messages - self._recorded.messages))
        self._recorded = counts

    def observe_attempt(self, outcome: AttemptOutcome, seconds: float | None = None) -> None:
        self.delivery_attempts.labels(outcome=outcome.value).inc()
        if seconds is not None:
            self.delivery_duration.observe(seconds)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type, for a ``/metrics`` response."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


__all__ = ["CHECK_BUCKETS", "DELIVERY_BUCKETS", "GatewayMetrics"]
