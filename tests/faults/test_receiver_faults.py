"""A receiving node that is down, answers 500 or answers too late: the gateway retries, and every accepted message
arrives, once per message id in the application.

The receiver is down for ``PTX_FAULT_DOWN_SECONDS`` (8 s in CI; ``PTX_FAULT_DOWN_SECONDS=60`` is the honest
minute of the issue, run by hand or in a nightly job).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

from exchange.testing.processes import OperatorAuth, running
from tests.faults.cluster import PATIENT, XML, Cluster, Messages, digest, make_workspace

pytestmark = pytest.mark.slow
DOWN_SECONDS = float(os.environ.get("PTX_FAULT_DOWN_SECONDS", "8"))


def test_receiver_down_then_back_gets_everything(tmp_path: Path) -> None:
    cluster = Cluster(make_workspace(tmp_path / "workspace"), tmp_path)
    messages = Messages(cluster.workspace)
    sent = {f"msg-down-{index:04d}": messages(f"msg-down-{index:04d}") for index in range(40)}
    with running(cluster.gateway_command(), health_url=f"{cluster.base}/readyz", env=PATIENT,
                 log=tmp_path / "gateway.log"), httpx.Client(auth=OperatorAuth(cluster.workspace.path)) as http:
        down_since = time.monotonic()
        for body in sent.values():
            assert http.post(f"{cluster.base}/v1/messages", content=body, headers=XML, timeout=30).status_code == 202
        time.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - down_since)))
        waiting = cluster.statuses(http)
        assert set(waiting) == set(sent) and "ACKNOWLEDGED" not in waiting.values(), waiting
        detail = http.get(f"{cluster.base}/v1/messages/msg-down-0000", timeout=10).json()
        assert detail["attempts"] and {a["code"] for a in detail["attempts"]} == {"GW-DELIVERY-UNREACHABLE"}

        with running(cluster.receiver_command(), health_url=f"{cluster.receiver_url}/healthz",
                     log=tmp_path / "receiver.log"):
            cluster.wait_all(http, set(sent), "ACKNOWLEDGED", timeout=60)
            assert cluster.handed() == {message_id: digest(body) for message_id, body in sent.items()}
            assert max(cluster.deliveries().values()) == 1  # acknowledged once each, never redelivered
            assert cluster.audit_ok(http)
        attempts = [len(http.get(f"{cluster.base}/v1/messages/{m}", timeout=10).json()["attempts"]) for m in sent]
        assert min(attempts) >= 2  # every message was tried while the receiver was down, then delivered


@pytest.mark.parametrize(
    ("mode", "code"), [("500", "GW-DELIVERY-RECEIVER-ERROR"), ("timeout", "GW-DELIVERY-TIMEOUT")]
)
def test_receiver_errors_and_timeouts_are_retried(tmp_path: Path, mode: str, code: str) -> None:
    cluster = Cluster(make_workspace(tmp_path / "workspace"), tmp_path)
    messages = Messages(cluster.workspace)
    sent = {f"msg-{mode}-{index:04d}": messages(f"msg-{mode}-{index:04d}") for index in range(3)}
    faults = 6
    # timeout: the receiver answers after 3 s, the gateway waits 1 s (its lease must be twice that)
    env = {**PATIENT, "PTX_DELIVERY__REQUEST_TIMEOUT": "1", "PTX_DELIVERY__LEASE": "2"}
    with running(cluster.receiver_command(fail_first=faults, fail_mode=mode, slow_seconds=3),
                 health_url=f"{cluster.receiver_url}/healthz", log=tmp_path / "receiver.log"), \
         running(cluster.gateway_command(), health_url=f"{cluster.base}/readyz", env=env,
                 log=tmp_path / "gateway.log"), httpx.Client(auth=OperatorAuth(cluster.workspace.path)) as http:
        for body in sent.values():
            assert http.post(f"{cluster.base}/v1/messages", content=body, headers=XML, timeout=30).status_code == 202
        cluster.wait_all(http, set(sent), "ACKNOWLEDGED", timeout=90)
        outcomes = [a for m in sent for a in http.get(f"{cluster.base}/v1/messages/{m}", timeout=10).json()["attempts"]]
        failed = [a for a in outcomes if a["outcome"] != "acknowledged"]
        assert len(failed) == faults and {a["code"] for a in failed} == {code}
        assert sum(a["outcome"] == "acknowledged" for a in outcomes) == len(sent)
        assert cluster.faults() == faults
        assert cluster.handed() == {message_id: digest(body) for message_id, body in sent.items()}
        # a late attempt the receiver still finished (if the server did not cancel it when the gateway hung up)
        # was redelivered all the same: the application got each message id once whatever happened
        assert sum(cluster.deliveries().values()) >= len(sent)
        assert cluster.audit_ok(http)
