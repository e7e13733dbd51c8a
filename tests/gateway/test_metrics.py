"""Prometheus metrics: one private registry per app instance, and the series the gateway promises."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY

from gateway._delivery import Deliverer
from gateway._metrics import GatewayMetrics
from gateway._settings import DeliverySettings
from gateway._status import Verdict
from tests.gateway.store_support import FakeClock, incoming, open_store


def value(metrics: GatewayMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_instances_do_not_share_counts_nor_touch_the_global_registry() -> None:
    first, second = GatewayMetrics(), GatewayMetrics()
    first.observe_verdict(Verdict.ACCEPTED)
    assert value(first, "ptx_gateway_messages_total", verdict="ACCEPTED") == 1
    assert value(second, "ptx_gateway_messages_total", verdict="ACCEPTED") == 0
    assert REGISTRY.get_sample_value("ptx_gateway_messages_total", {"verdict": "ACCEPTED"}) is None


def test_verdicts_count_each_distinct_code_once() -> None:
    metrics = GatewayMetrics()
    metrics.observe_verdict(Verdict.REJECTED, ["SIG-VALUE-INVALID", "SCHEMA-INVALID", "SCHEMA-INVALID"])
    metrics.observe_verdict(Verdict.REJECTED, ["SCHEMA-INVALID"])
    assert value(metrics, "ptx_gateway_messages_total", verdict="REJECTED") == 2
    assert value(metrics, "ptx_gateway_message_codes_total", verdict="REJECTED", code="SCHEMA-INVALID") == 2
    assert value(metrics, "ptx_gateway_message_codes_total", verdict="REJECTED", code="SIG-VALUE-INVALID") == 1


def test_check_timing_is_recorded_even_when_the_check_raises() -> None:
    metrics = GatewayMetrics()
    metrics.observe_check("size", 0.00002)
    with pytest.raises(RuntimeError), metrics.time_check("document-schema"):
        raise RuntimeError("programmer fault inside a check")
    assert value(metrics, "ptx_gateway_check_duration_seconds_count", check="size") == 1
    assert value(metrics, "ptx_gateway_check_duration_seconds_bucket", check="size", le="5e-05") == 1
    assert value(metrics, "ptx_gateway_check_duration_seconds_count", check="document-schema") == 1


def test_exposition_text() -> None:
    metrics = GatewayMetrics()
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain")
    text = body.decode()
    for series in ("ptx_gateway_messages_total", "ptx_gateway_queue_depth", "ptx_gateway_delivery_attempts_total"):
        assert series in text
    assert 'ptx_gateway_delivery_attempts_total{outcome="delivered"} 0.0' in text  # present before any event


def test_deliverer_feeds_attempts_and_queue_depth(tmp_path: Path) -> None:
    clock = FakeClock()
    metrics = GatewayMetrics()
    with open_store(tmp_path, clock) as store:
        for index in range(3):
            store.record_message(incoming(f"msg-{index}"))
        metrics.set_queue_depth(store.queue_depth())
        assert value(metrics, "ptx_gateway_queue_depth", status="ACCEPTED") == 3
        assert value(metrics, "ptx_gateway_queue_due") == 3
        answers = iter([202, 503, 202])

        def inbox(request: httpx.Request) -> httpx.Response:
            return httpx.Response(next(answers))

        client = httpx.AsyncClient(transport=httpx.MockTransport(inbox))
        worker = Deliverer(store, DeliverySettings(), client, metrics=metrics, chance=lambda: 1.0)
        asyncio.run(worker.run_once())
    assert value(metrics, "ptx_gateway_delivery_attempts_total", outcome="delivered") == 2
    assert value(metrics, "ptx_gateway_delivery_attempts_total", outcome="retryable") == 1
    assert value(metrics, "ptx_gateway_delivery_duration_seconds_count") == 3
    assert value(metrics, "ptx_gateway_queue_depth", status="ACCEPTED") == 0
    assert value(metrics, "ptx_gateway_queue_depth", status="WAITING_FOR_RETRY") == 1
    assert value(metrics, "ptx_gateway_queue_due") == 0


def test_the_store_s_recording_commits_and_their_messages(tmp_path: Path) -> None:
    """The counters follow :attr:`Store.recorded` (a duplicate answered from the store is a recording too), and a
    scrape after no new recording adds nothing."""
    metrics = GatewayMetrics()
    with open_store(tmp_path, FakeClock()) as store:
        metrics.set_recorded(store.recorded)
        assert value(metrics, "ptx_gateway_store_record_commits_total") == 0
        for message_id in ("msg-1", "msg-2", "msg-1"):
            store.record_message(incoming(message_id))
        assert store.recorded == (3, 3)  # one at a time: nothing waited to share a commit
        metrics.set_recorded(store.recorded)
        metrics.set_recorded(store.recorded)
    assert value(metrics, "ptx_gateway_store_record_commits_total") == 3
    assert value(metrics, "ptx_gateway_store_recorded_messages_total") == 3
