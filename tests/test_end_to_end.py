"""End to end with real processes and ports: AA issues a certificate of origin, the gateway accepts and delivers
it, BB holds exactly one document whose bytes and signatures verify, and AA holds BB's verified receipt."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from exchange._builder import load_input
from exchange._catalogue import default_catalogue
from exchange._dsig import verify_signature
from exchange._envelope import ReceiptStatus, read_envelope, read_receipt
from exchange._operator import operator_headers
from exchange._request_signing import sign_request
from exchange._verify import verify_document
from exchange._workspace import Workspace, init_workspace
from exchange._xml import parse_xml
from exchange.node._checks import ENVELOPE_POLICY
from exchange.testing.processes import PTX, free_port, running

pytestmark = pytest.mark.slow

FAST = {"PTX_DELIVERY__POLL_INTERVAL": "0.05", "PTX_DELIVERY__BASE_DELAY": "0.05", "PTX_DELIVERY__MAX_DELAY": "0.5"}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    path = tmp_path_factory.mktemp("e2e") / "workspace"
    init_workspace(path, moment=datetime.now(UTC) - timedelta(minutes=5))
    return Workspace.open(path)


def wait_for(url: str, done: Any, timeout: float = 60.0) -> dict[str, Any]:
    """GET ``url`` until ``done(body)``; the last body."""
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = httpx.get(url, timeout=10).json()
        if done(body):
            return body
        time.sleep(0.1)
    raise AssertionError(f"{url} did not get there in {timeout} s: {body}")


def as_node(workspace: Workspace, country: str, url: str) -> dict[str, str]:
    """A read of ``url`` signed with ``country``'s node key (RFC 9421), as that node's GatewayClient signs it."""
    return sign_request("GET", url, party=country, key=workspace.node(country).key, moment=datetime.now(UTC))


def test_certificate_of_origin_from_aa_to_bb_and_back(workspace: Workspace, tmp_path: Path) -> None:
    gateway_port, aa_port, bb_port = free_port(), free_port(), free_port()
    gateway, aa, bb = (f"http://127.0.0.1:{port}" for port in (gateway_port, aa_port, bb_port))
    ws = str(workspace.path)
    gateway_command = [PTX, "serve", "gateway", "--workspace", ws, "--port", str(gateway_port),
                       "--node", f"AA={aa}", "--node", f"BB={bb}", "--log-level", "info"]

    def node_command(country: str, port: int) -> list[str]:
        return [PTX, "serve", "node", "--country", country, "--workspace", ws, "--port", str(port),
                "--gateway", gateway, "--log-level", "info"]

    with running(gateway_command, health_url=f"{gateway}/readyz", env=FAST, log=tmp_path / "gateway.log"), \
         running(node_command("AA", aa_port), health_url=f"{aa}/readyz", log=tmp_path / "aa.log"), \
         running(node_command("BB", bb_port), health_url=f"{bb}/readyz", log=tmp_path / "bb.log"):
        data = load_input(default_catalogue().get("certificate-of-origin").folder / "input.yaml")
        sent = httpx.post(f"{aa}/v1/outbox", json={"type": "certificate-of-origin", "data": data, "to": "BB"},
                          timeout=30)
        assert sent.status_code == 201, sent.text
        assert sent.json()["status"] == "ACCEPTED" and sent.json()["gateway"]["http_status"] == 202
        message_id = sent.json()["message_id"]

        outbox = wait_for(f"{aa}/v1/outbox/{message_id}",
                          lambda body: body["status"] == "ACKNOWLEDGED" and (body["receipt"] or {}).get("verified"))
        now = datetime.now(UTC)

        # the gateway holds the envelope AA signed; BB holds exactly the document inside it
        url = f"{gateway}/v1/messages/{message_id}/envelope"
        envelope = httpx.get(url, headers=as_node(workspace, "AA", url)).content  # the sender reads its own
        assert hashlib.sha256(envelope).hexdigest() == outbox["envelope_digest"]
        outer = verify_signature(envelope, policy=ENVELOPE_POLICY)
        assert outer.valid and outer.signer == workspace.node("AA").certificate and outer.signed_content
        payload = read_envelope(parse_xml(outer.signed_content)).payload

        [item] = httpx.get(f"{bb}/v1/inbox").json()["items"]
        assert item["message_id"] == message_id and item["verdict"] == "RECEIVED" and item["sender"] == "AA"
        document = httpx.get(f"{bb}/v1/documents/{message_id}").content
        assert document == payload
        verified = verify_document(document, trust=workspace.trust_context("BB", moment=now))
        assert verified.valid, verified.findings
        assert verified.signer_name == "AA Chamber of Commerce" and verified.document_type == "certificate-of-origin"

        # AA holds BB's receipt, verified by AA itself, naming this message and the digest of these bytes
        receipt_xml = outbox["receipt"]["xml"].encode()
        assert outbox["receipt"]["status"] == "RECEIVED"
        url = f"{gateway}/v1/messages/{message_id}/receipt"
        assert receipt_xml == httpx.get(url, headers=as_node(workspace, "BB", url)).content  # the receiver too
        assert receipt_xml == httpx.get(f"{bb}/v1/inbox/{message_id}/receipt").content
        check = verify_signature(receipt_xml)
        assert check.valid and check.signer == workspace.node("BB").certificate and check.signed_content
        receipt = read_receipt(parse_xml(check.signed_content))
        assert receipt.status is ReceiptStatus.RECEIVED and receipt.ref_to_message_id == message_id
        assert receipt.envelope_digest == hashlib.sha256(envelope).digest()
        assert [change["status"] for change in outbox["history"]][0] == "NEW"
        assert outbox["history"][-1]["status"] == "ACKNOWLEDGED"
        conversation = read_envelope(parse_xml(outer.signed_content)).conversation_id

        # reads are authorised per party: unsigned, a replayed signature, the operator's endpoints without its token
        unsigned = httpx.get(url)
        assert unsigned.status_code == 401 and unsigned.json()["code"] == "GW-READ-NOT-AUTHENTICATED"
        signed = as_node(workspace, "AA", url)
        assert httpx.get(url, headers=signed).status_code == 200
        replayed = httpx.get(url, headers=signed)
        assert replayed.status_code == 401 and "replayed" in replayed.json()["message"]
        listed = httpx.get(f"{gateway}/v1/messages", headers=as_node(workspace, "AA", f"{gateway}/v1/messages"))
        assert listed.status_code == 401 and listed.json()["code"] == "GW-OPERATOR-REQUIRED"
        operator = operator_headers(workspace.path)  # the gateway wrote its token into the folder it runs on
        assert message_id in [item["message_id"] for item in
                              httpx.get(f"{gateway}/v1/messages", headers=operator).json()["items"]]
        assert httpx.get(f"{gateway}/v1/audit/verify", headers=operator).json()["ok"] is True

    # every service logs JSON lines, and the lines about this message name it and its conversation, at each hop
    about: dict[str, list[dict[str, Any]]] = {}
    for name in ("gateway", "aa", "bb"):
        lines = [json.loads(line) for line in (tmp_path / f"{name}.log").read_text().splitlines()
                 if line.startswith("{")]
        assert lines and all({"time", "level", "service", "logger", "event"} <= set(line) for line in lines)
        about[name] = [line for line in lines if line.get("message_id") == message_id]
        assert about[name], f"no line of {name} names {message_id}"
        assert {line.get("conversation_id") for line in about[name]} <= {conversation, None}
    assert {line["service"] for line in about["aa"]} == {"node-AA"} and about["gateway"][0]["service"] == "gateway"
    assert any(line.get("path") == "/v1/messages" and line.get("http_status") == 202 for line in about["gateway"])
    assert any(line.get("path") == "/v1/inbox" for line in about["bb"])
    assert any(line.get("conversation_id") == conversation for name in about for line in about[name])
