"""The gateway killed (SIGKILL) in the middle of a 1,000-message stream, then restarted on the same store.

A sending node streams 1,000 messages with four connections while the receiver is up and deliveries run. The
gateway is killed outright once 400 have been answered 202. The sender then does what a node does: it resends
every message it has no answer for (same bytes, same id) to the restarted gateway, which answers 202 or, for a
message it had stored before the kill but could not answer, 200 with the earlier answer.

Then: 0 accepted messages lost (every 202 before the kill is in the store after it), all 1,000 delivered and
acknowledged, the receiver's application handed each message id exactly once with the bytes that were sent,
redeliveries bounded by the attempts in flight at the kill, and the audit chain intact (API and ``ptx audit
verify``).
"""

from __future__ import annotations

import queue
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from exchange.testing.processes import PTX, OperatorAuth, running, stop
from tests.faults.cluster import PATIENT, XML, Cluster, Messages, digest, make_workspace

pytestmark = pytest.mark.slow
COUNT = 1000
KILL_AFTER = 400
SENDERS = 4
WORKERS = 4  # the gateway's delivery workers (default): at most this many attempts are in flight at the kill


def _send(base: str, work: queue.Queue[tuple[str, bytes]], answers: dict[str, int], lock: threading.Lock) -> None:
    with httpx.Client(timeout=30) as http:
        while True:
            try:
                message_id, body = work.get_nowait()
            except queue.Empty:
                return
            try:
                status = http.post(f"{base}/v1/messages", content=body, headers=XML).status_code
            except httpx.TransportError:
                continue  # no answer: the gateway is gone; resent after the restart
            with lock:
                answers[message_id] = status


def _stream(base: str, bodies: dict[str, bytes], answers: dict[str, int]) -> list[threading.Thread]:
    work: queue.Queue[tuple[str, bytes]] = queue.Queue()
    for item in bodies.items():
        work.put(item)
    lock = threading.Lock()
    threads = [threading.Thread(target=_send, args=(base, work, answers, lock), daemon=True) for _ in range(SENDERS)]
    for thread in threads:
        thread.start()
    return threads


def test_sigkill_during_a_1000_message_stream_loses_nothing(tmp_path: Path) -> None:
    cluster = Cluster(make_workspace(tmp_path / "workspace"), tmp_path)
    messages = Messages(cluster.workspace)
    bodies = {f"msg-stream-{index:05d}": messages(f"msg-stream-{index:05d}") for index in range(COUNT)}
    answers: dict[str, int] = {}

    with running(cluster.receiver_command(), health_url=f"{cluster.receiver_url}/healthz",
                 log=tmp_path / "receiver.log"), httpx.Client(auth=OperatorAuth(cluster.workspace.path)) as http:
        # 1. stream, and kill the gateway outright in the middle of it
        with running(cluster.gateway_command(), health_url=f"{cluster.base}/readyz", env=PATIENT,
                     log=tmp_path / "gateway-1.log") as gateway:
            threads = _stream(cluster.base, bodies, answers)
            deadline = time.monotonic() + 120
            while len(answers) < KILL_AFTER and time.monotonic() < deadline:
                time.sleep(0.01)
            stop(gateway, kill=True)
            for thread in threads:
                thread.join(timeout=60)
            accepted_before_kill = {m for m, status in answers.items() if status == 202}  # every answer came before
        assert len(accepted_before_kill) >= KILL_AFTER and set(answers.values()) == {202}
        unanswered = [m for m in bodies if m not in answers]
        assert unanswered, "the kill came after the stream had ended"

        # 2. restart on the same store; resend what got no answer, as a node does
        with running(cluster.gateway_command(), health_url=f"{cluster.base}/readyz", env=PATIENT,
                     log=tmp_path / "gateway-2.log"):
            stored_after_restart = set(cluster.statuses(http))
            lost = accepted_before_kill - stored_after_restart
            assert not lost, f"{len(lost)} accepted messages lost: {sorted(lost)[:5]}"
            resent = {m: http.post(f"{cluster.base}/v1/messages", content=bodies[m], headers=XML,
                                   timeout=30).status_code for m in unanswered}
            assert set(resent.values()) <= {200, 202}, resent  # 200: stored before the kill, answer lost with it

            statuses = cluster.wait_all(http, set(bodies), "ACKNOWLEDGED", timeout=180)
            assert len(statuses) == COUNT
            handed = cluster.handed()
            assert handed == {m: digest(body) for m, body in bodies.items()}  # each id once, the bytes sent
            deliveries = cluster.deliveries()
            redelivered = sum(deliveries.values()) - COUNT
            assert 0 <= redelivered <= WORKERS, deliveries.most_common(5)
            assert cluster.audit_ok(http)
            print(f"\n{len(accepted_before_kill)} accepted before the kill, {len(unanswered)} unanswered and resent "
                  f"({sum(s == 200 for s in resent.values())} already stored), 0 lost, {COUNT} delivered, "
                  f"{redelivered} redelivered and absorbed by the receiver, audit chain intact")

    result = subprocess.run(
        [PTX, "audit", "verify", "--workspace", str(cluster.workspace.path),
         "--database-url", f"sqlite:///{tmp_path / 'gateway.db'}"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0 and "audit chain verifies" in result.stdout, result.stdout + result.stderr
