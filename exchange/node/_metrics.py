"""Prometheus metrics of one single-window node, on its own registry (never the process-global one).

Series (prefix ``ptx_node_``), each label from a closed vocabulary (verdicts, the code catalogue, statuses), so
the number of series stays bounded:

=======================================  =========  =================================================
metric                                   type       labels
=======================================  =========  =================================================
``inbox_messages_total``                 counter    ``verdict`` (RECEIVED, REJECTED)
``inbox_codes_total``                    counter    ``verdict``, ``code`` (each distinct error code, once)
``inbox_redeliveries_total``             counter    (an identical redelivery answered from the store)
``inbox_check_seconds``                  histogram  (the node's own checks of one delivery)
``outbox_submissions_total``             counter    ``status`` (the gateway's answer: ACCEPTED, REJECTED, ...)
``receipts_total``                       counter    ``verified`` (true, false)
``rejection_reports_total``              counter    ``verified`` (true, false)
=======================================  =========  =================================================
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

CHECK_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class NodeMetrics:
    """A node's metrics on a private :class:`~prometheus_client.CollectorRegistry`."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, registry: CollectorRegistry | None = None, *, namespace: str = "ptx_node") -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        registry, options = self.registry, {"namespace": namespace}
        self.inbox = Counter("inbox_messages", "Deliveries decided by this node's checks.", ["verdict"], registry=registry, **options)
        self.inbox_codes = Counter("inbox_codes", "Deliveries by verdict and each distinct error code.",
                                   ["verdict", "code"], registry=registry, **options)
        self.redeliveries = Counter("inbox_redeliveries", "Identical redeliveries answered from the store.", registry=registry, **options)
        self.check_seconds = Histogram("inbox_check_seconds", "Time of this node's checks of one delivery.",
                                       buckets=CHECK_BUCKETS, registry=registry, **options)
        self.submissions = Counter("outbox_submissions", "Submissions to the gateway by the status it answered.",
                                   ["status"], registry=registry, **options)
        self.receipts = Counter("receipts", "Receipts this node verified (true) or refused (false).", ["verified"],
                                registry=registry, **options)
        self.rejections = Counter("rejection_reports", "The gateway's rejection reports verified or refused.",
                                  ["verified"], registry=registry, **options)

    def observe_delivery(self, verdict: str, codes: Iterable[str], seconds: float) -> None:
        self.inbox.labels(verdict=verdict).inc()
        for code in dict.fromkeys(codes):
            self.inbox_codes.labels(verdict=verdict, code=code).inc()
        self.check_seconds.observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


__all__ = ["NodeMetrics"]
