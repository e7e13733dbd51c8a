"""`ptx up --detach`, `send --wait`, `status`, `inbox`, `down`: the commands a trainer types, as real processes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from exchange.testing.processes import PTX, bindable, free_port

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[3]
INPUT = REPO / "schemas" / "certificate-of-origin" / "input.yaml"


def ptx(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PTX, *args], capture_output=True, text=True, timeout=timeout)


def test_up_send_status_inbox_down(tmp_path: Path) -> None:
    workspace = str(tmp_path / "ws")
    gateway_port, node_port = free_port(), free_port(consecutive=2)
    ports = ["--gateway-port", str(gateway_port), "--node-port", str(node_port)]
    started = ptx("up", "--detach", "--workspace", workspace, *ports)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert f"gateway  http://127.0.0.1:{gateway_port}" in started.stdout
        assert (tmp_path / "ws" / "workspace.yaml").is_file(), "up creates the workspace when it is missing"

        again = ptx("up", "--detach", "--workspace", workspace, *ports)
        assert again.returncode == 2 and "port already in use" in again.stderr

        sent = ptx("send", "--type", "certificate-of-origin", "--data", str(INPUT), "--from", "AA", "--to", "BB",
                   "--wait", "--workspace", workspace)
        assert sent.returncode == 0, sent.stdout + sent.stderr
        assert "ACCEPTED" in sent.stdout and "ACKNOWLEDGED  (receipt verified by this node)" in sent.stdout
        message_id = sent.stdout.split()[1].rstrip(":")

        status = ptx("status", message_id, "--workspace", workspace)
        assert status.returncode == 0 and f"{message_id}: ACKNOWLEDGED  AA -> BB" in status.stdout
        assert "verified receipt" in status.stdout

        retry = ptx("retry", message_id, "--workspace", workspace)
        assert retry.returncode == 1 and "GW-RETRY-NOT-ALLOWED" in retry.stderr, "only a dead letter is retried"

        inbox = ptx("inbox", "BB", "--workspace", workspace)
        assert inbox.returncode == 0 and f"{message_id}  AA -> BB  certificate-of-origin  RECEIVED" in inbox.stdout

        tampered = ptx("send", "--type", "certificate-of-origin", "--data", str(INPUT), "--from", "AA", "--to", "BB",
                       "--tamper", "--wait", "--workspace", workspace)
        assert tampered.returncode == 1
        assert "SIG-DIGEST-MISMATCH" in tampered.stdout and "REJECTED" in tampered.stdout
        assert ptx("inbox", "BB", "--workspace", workspace).stdout.count("RECEIVED") == 1
    finally:
        stopped = ptx("down", "--workspace", workspace)
    assert stopped.returncode == 0 and "stopped gateway, AA, BB" in stopped.stdout
    assert bindable(gateway_port) and bindable(node_port)

