"""``ptx serve node``: a real uvicorn process on a free port, fed a gateway-signed delivery; clear start-up errors."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from exchange._catalogue import default_catalogue
from exchange._dsig import sign_document, verify_signature
from exchange._envelope import Party, build_envelope, read_receipt
from exchange._transport import HEADER, sign_delivery
from exchange._workspace import Workspace, init_workspace
from exchange._xml import parse_xml
from exchange.testing.processes import PTX, free_port, running, stop

pytestmark = pytest.mark.slow

MESSAGE_ID = "msg-serve-000000001"


@pytest.fixture(scope="module")
def live_workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """A workspace made now: a real process runs on the real clock."""
    path = tmp_path_factory.mktemp("serve") / "workspace"
    init_workspace(path, moment=datetime.now(UTC))
    return Workspace.open(path)


def environment() -> dict[str, str]:
    """The test's environment without PTX_* variables, so only the options given count."""
    return {key: value for key, value in os.environ.items() if not key.startswith("PTX_")}


def node_command(workspace: Workspace, port: int) -> list[str]:
    return [PTX, "serve", "node", "--country", "BB", "--workspace", str(workspace.path), "--port", str(port),
            "--gateway", f"http://127.0.0.1:{free_port()}", "--log-level", "info"]


def signed_delivery(workspace: Workspace) -> tuple[bytes, bytes, dict[str, str]]:
    now = datetime.now(UTC)
    doc_type = default_catalogue().get("certificate-of-origin")
    sample = next(s for s in doc_type.samples if s.path.name == "basic.xml").path.read_bytes()
    chamber = workspace.authority("AA", "chamber-of-commerce")
    document = sign_document(sample, chamber.key, chamber.signing_chain)
    node = workspace.node("AA")
    envelope = sign_document(
        build_envelope(document, sender=Party("AA"), receiver=Party("BB"), document_type=doc_type.id,
                       type_version=doc_type.version, standard=doc_type.namespace, message_id=MESSAGE_ID,
                       created=now),
        node.key, node.signing_chain,
    )
    header = sign_delivery(envelope, MESSAGE_ID, workspace.gateway_signer().key, moment=now)
    return document, envelope, {"Content-Type": "application/xml", HEADER: header}


def test_a_real_node_receives_a_delivery_and_keeps_it_across_a_restart(
    live_workspace: Workspace, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    document, envelope, headers = signed_delivery(live_workspace)
    log = tmp_path / "node.log"
    with running(node_command(live_workspace, port), health_url=f"{url}/healthz", log=log) as process:
        refused = httpx.post(f"{url}/v1/inbox", content=envelope, headers={"Content-Type": "application/xml"})
        assert refused.status_code == 401 and refused.json()["code"] == "GW-DELIVERY-NOT-AUTHENTICATED"

        answer = httpx.post(f"{url}/v1/inbox", content=envelope, headers=headers, timeout=30)
        assert answer.status_code == 200 and answer.headers["PTX-Receipt-Status"] == "RECEIVED", answer.text
        check = verify_signature(answer.content)
        assert check.valid and check.signer == live_workspace.node("BB").certificate and check.signed_content
        receipt = read_receipt(parse_xml(check.signed_content))
        assert receipt.ref_to_message_id == MESSAGE_ID
        assert httpx.get(f"{url}/v1/documents/{MESSAGE_ID}").content == document
        stop(process)
        assert process.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises the signal after a clean shutdown
    output = log.read_text(errors="replace")
    assert "Application shutdown complete" in output and "Traceback" not in output

    with running(node_command(live_workspace, port), health_url=f"{url}/healthz", log=log):
        [item] = httpx.get(f"{url}/v1/inbox").json()["items"]
        assert item["message_id"] == MESSAGE_ID and item["verdict"] == "RECEIVED"
        again = httpx.post(f"{url}/v1/inbox", content=envelope, headers=headers, timeout=30)
        assert again.content == answer.content, "a redelivery after a restart gets the same receipt"


def test_a_taken_port_is_a_clear_error(live_workspace: Workspace) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        result = subprocess.run(
            [PTX, "serve", "node", "--country", "AA", "--workspace", str(live_workspace.path), "--port", str(port)],
            env=environment(), capture_output=True, text=True, timeout=60,
        )
    assert result.returncode == 2
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr and "Traceback" not in result.stderr


def test_a_country_outside_the_workspace_is_a_clear_error(live_workspace: Workspace) -> None:
    result = subprocess.run(
        [PTX, "serve", "node", "--country", "CC", "--workspace", str(live_workspace.path), "--port", str(free_port())],
        env=environment(), capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2 and "CONFIG-INVALID" in result.stderr and "CC" in result.stderr
