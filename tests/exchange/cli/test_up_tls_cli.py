"""`ptx up --tls`: the trainer's one command with HTTPS and mutual TLS between the nodes and the gateway, then
`ptx send --wait`, `status` and `inbox` over TLS, as real processes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from exchange._operator import operator_headers
from exchange._workspace import GATEWAY_PARTY, Workspace, party_folder
from exchange.testing.processes import PTX, free_port
from tests.support.tls import context, envelope, gateway_ca, root

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[3]
INPUT = REPO / "schemas" / "certificate-of-origin" / "input.yaml"


def ptx(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PTX, *args], capture_output=True, text=True, timeout=timeout)


def test_up_tls_send_status_inbox_down(tmp_path: Path) -> None:
    workspace = str(tmp_path / "ws")
    gateway_port, node_port = free_port(), free_port(consecutive=2)
    gateway, bb = f"https://127.0.0.1:{gateway_port}", f"https://127.0.0.1:{node_port + 1}"
    started = ptx("up", "--tls", "--detach", "--workspace", workspace, "--gateway-port", str(gateway_port),
                  "--node-port", str(node_port))
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert f"gateway  {gateway}" in started.stdout and f"BB       {bb}" in started.stdout

        sent = ptx("send", "--type", "certificate-of-origin", "--data", str(INPUT), "--from", "AA", "--to", "BB",
                   "--wait", "--workspace", workspace)
        assert sent.returncode == 0, sent.stdout + sent.stderr
        assert "ACCEPTED" in sent.stdout and "ACKNOWLEDGED  (receipt verified by this node)" in sent.stdout
        message_id = sent.stdout.split()[1].rstrip(":")
        status = ptx("status", message_id, "--workspace", workspace)
        assert status.returncode == 0 and f"{message_id}: ACKNOWLEDGED  AA -> BB" in status.stdout
        inbox = ptx("inbox", "BB", "--workspace", workspace)
        assert inbox.returncode == 0 and f"{message_id}  AA -> BB  certificate-of-origin  RECEIVED" in inbox.stdout

        # Without a client certificate the operator (its token) reads the API, but no one can submit or deliver.
        opened = Workspace.open(tmp_path / "ws")
        with httpx.Client(verify=context(gateway_ca(opened), root(opened, "BB")), timeout=10) as anonymous:
            read = anonymous.get(f"{gateway}/v1/messages/{message_id}")
            assert (read.status_code, read.json()["code"]) == (401, "GW-READ-NOT-AUTHENTICATED")
            operator = operator_headers(party_folder(tmp_path / "ws", GATEWAY_PARTY))
            assert anonymous.get(f"{gateway}/v1/messages/{message_id}",
                                 headers=operator).json()["status"] == "ACKNOWLEDGED"
            submitted = anonymous.post(f"{gateway}/v1/messages", content=envelope(opened, "msg-up-tls-anon-1"),
                                       headers={"Content-Type": "application/xml"})
            assert submitted.status_code == 401
            sender_check = next(c for c in submitted.json()["checks"] if c["name"] == "sender-authentication")
            assert [f["code"] for f in sender_check["findings"]] == ["GW-TRANSPORT-CERT-MISSING"]
            delivered = anonymous.post(f"{bb}/v1/inbox", content=envelope(opened, "msg-up-tls-anon-2"),
                                       headers={"Content-Type": "application/xml"})
            assert (delivered.status_code, delivered.json()["code"]) == (401, "NODE-TRANSPORT-IDENTITY")
        with pytest.raises(httpx.TransportError):  # plain HTTP is not spoken any more
            httpx.get(f"http://127.0.0.1:{gateway_port}/readyz", timeout=5)
    finally:
        stopped = ptx("down", "--workspace", workspace)
    assert stopped.returncode == 0 and "stopped gateway, AA, BB" in stopped.stdout

