"""The gateway's store locked by another process, or out of space: a clear code and status, nothing
half-recorded, and the gateway back to normal once the fault clears.

- locked: another process holds SQLite's write lock (``BEGIN EXCLUSIVE``) longer than the busy timeout (5 s):
  the submission is refused 503 ``STORE-LOCKED``; reads (status, audit) keep working meanwhile (WAL);
- disk full, for real: the store on a 2 MB tmpfs that a filler file fills up (needs root to mount, as CI has;
  skipped otherwise), refused 507 ``STORE-FULL``;
- disk full, in process: SQLite's ``max_page_count`` caps the file (runs anywhere), refused 507 ``STORE-FULL``.

Nothing half-recorded means: the refused message is unknown to the gateway afterwards (404), the audit log has
no entry more than before and its chain verifies, and the same bytes sent again are accepted as new (202).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import event

from exchange.testing.processes import OperatorAuth, running
from tests.faults.cluster import PATIENT, XML, Cluster, Messages, make_workspace
from tests.support.inprocess import InProcessGateway, RecordingReceiver

pytestmark = pytest.mark.slow


def assert_refused_and_recovers(cluster: Cluster, http: httpx.Client, body: bytes, message_id: str,
                                status: int, code: str, clear: object) -> None:
    audit_before = cluster.audit_count(http)
    refused = http.post(f"{cluster.base}/v1/messages", content=body, headers=XML, timeout=60)
    assert (refused.status_code, refused.json()["code"]) == (status, code), refused.text
    assert http.get(f"{cluster.base}/v1/messages/{message_id}", timeout=10).status_code in (404, 503)
    clear()  # type: ignore[operator]
    assert http.get(f"{cluster.base}/v1/messages/{message_id}", timeout=10).json()["code"] == "GW-MESSAGE-UNKNOWN"
    assert cluster.audit_count(http) == audit_before and cluster.audit_ok(http)
    again = http.post(f"{cluster.base}/v1/messages", content=body, headers=XML, timeout=60)
    assert again.status_code == 202, again.text
    cluster.wait_all(http, {message_id}, "ACKNOWLEDGED", timeout=60)


def test_store_locked_by_another_process(tmp_path: Path) -> None:
    cluster = Cluster(make_workspace(tmp_path / "workspace"), tmp_path)
    messages = Messages(cluster.workspace)
    with running(cluster.receiver_command(), health_url=f"{cluster.receiver_url}/healthz",
                 log=tmp_path / "receiver.log"), \
         running(cluster.gateway_command(), health_url=f"{cluster.base}/readyz", env=PATIENT,
                 log=tmp_path / "gateway.log"), httpx.Client(auth=OperatorAuth(cluster.workspace.path)) as http:
        assert http.post(f"{cluster.base}/v1/messages", content=messages("msg-lock-0001"), headers=XML,
                         timeout=30).status_code == 202
        cluster.wait_all(http, {"msg-lock-0001"}, "ACKNOWLEDGED", timeout=60)

        holder = sqlite3.connect(tmp_path / "gateway.db", timeout=0, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")  # another process's writer that does not let go

        def release() -> None:
            holder.execute("ROLLBACK")
            holder.close()

        try:
            assert http.get(f"{cluster.base}/v1/messages/msg-lock-0001", timeout=10).status_code == 200  # reads go on
            audit_before = cluster.audit_count(http)
            refused = http.post(f"{cluster.base}/v1/messages", content=messages("msg-lock-0002"), headers=XML,
                                timeout=60)
            assert (refused.status_code, refused.json()["code"]) == (503, "STORE-LOCKED"), refused.text
            assert cluster.audit_count(http) == audit_before
        finally:
            release()
        assert http.get(f"{cluster.base}/v1/messages/msg-lock-0002", timeout=10).status_code == 404
        assert cluster.audit_count(http) == audit_before and cluster.audit_ok(http)
        assert http.post(f"{cluster.base}/v1/messages", content=messages("msg-lock-0002"), headers=XML,
                         timeout=30).status_code == 202
        cluster.wait_all(http, {"msg-lock-0001", "msg-lock-0002"}, "ACKNOWLEDGED", timeout=60)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs (root only); unmounted afterwards."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root; the in-process disk-full test covers STORE-FULL")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _fill(folder: Path) -> Path:
    """Fill the file system to the last byte."""
    filler = folder / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    os.write(descriptor, b"\0" * size)
            except OSError:
                continue
    finally:
        os.close(descriptor)
    return filler


def test_disk_full_on_a_real_filesystem(tmp_path: Path, tiny_disk: Path) -> None:
    cluster = Cluster(make_workspace(tmp_path / "workspace"), tmp_path)
    messages = Messages(cluster.workspace)
    with running(cluster.receiver_command(), health_url=f"{cluster.receiver_url}/healthz",
                 log=tmp_path / "receiver.log"), \
         running(cluster.gateway_command(f"sqlite:///{tiny_disk / 'gateway.db'}"),
                 health_url=f"{cluster.base}/readyz", env=PATIENT, log=tmp_path / "gateway.log"), \
         httpx.Client(auth=OperatorAuth(cluster.workspace.path)) as http:
        assert http.post(f"{cluster.base}/v1/messages", content=messages("msg-full-0001"), headers=XML,
                         timeout=30).status_code == 202
        cluster.wait_all(http, {"msg-full-0001"}, "ACKNOWLEDGED", timeout=60)
        filler = _fill(tiny_disk)
        assert_refused_and_recovers(cluster, http, messages("msg-full-0002"), "msg-full-0002", 507, "STORE-FULL",
                                    filler.unlink)


def test_disk_full_in_process(tmp_path: Path) -> None:
    """SQLite's ``max_page_count`` plays the full disk; the gateway in process, its HTTP API over ASGI."""
    workspace = make_workspace(tmp_path / "workspace")
    messages = Messages(workspace)
    from datetime import UTC, datetime

    moment = datetime.now(UTC)
    gateway = InProcessGateway(workspace, tmp_path / "gateway.db", moment, RecordingReceiver(workspace, moment))
    engine = gateway.app.state.gateway.store.engine
    limit = {"pages": 0}

    @event.listens_for(engine, "connect")
    def _cap(dbapi_connection: object, _record: object) -> None:
        if limit["pages"]:
            dbapi_connection.execute(f"PRAGMA max_page_count = {limit['pages']}")  # type: ignore[attr-defined]

    def set_cap(pages: int) -> None:
        limit["pages"] = pages
        engine.dispose()  # new connections get the cap

    try:
        assert gateway.post("/v1/messages", content=messages("msg-cap-0001"), headers=XML).status_code == 202
        with sqlite3.connect(tmp_path / "gateway.db") as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
        set_cap(pages)
        audit_before = len(gateway.get("/v1/audit", params={"limit": 1000}).json()["entries"])
        refused = gateway.post("/v1/messages", content=messages("msg-cap-0002"), headers=XML)
        assert (refused.status_code, refused.json()["code"]) == (507, "STORE-FULL"), refused.text
        set_cap(1_073_741_823)
        assert gateway.get("/v1/messages/msg-cap-0002").status_code == 404
        assert len(gateway.get("/v1/audit", params={"limit": 1000}).json()["entries"]) == audit_before
        assert gateway.get("/v1/audit/verify").json()["ok"] is True
        assert gateway.post("/v1/messages", content=messages("msg-cap-0002"), headers=XML).status_code == 202
        gateway.run(gateway.app.state.gateway.deliverer.run_once())
        assert gateway.get("/v1/messages/msg-cap-0002").json()["status"] == "ACKNOWLEDGED"
    finally:
        gateway.close()
