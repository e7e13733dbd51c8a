"""Mutual TLS at the gateway with real processes: ``ptx serve gateway --tls`` and ``ptx serve node --tls`` on free
loopback ports, clients presenting real certificates.

One set of services for the module: the gateway demanding client certificates, BB's node demanding the gateway's,
and AA's node (client certificates optional, so the test can use its outbox) submitting with AA's certificate.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from exchange._operator import operator_headers
from exchange._pki import build_country_pki, demo_country
from exchange._workspace import Workspace, init_workspace
from exchange.testing.processes import PTX, free_port
from tests.support.tls import HANDSHAKE_REFUSED, context, country_client, envelope, gateway_ca, root, serving

pytestmark = pytest.mark.slow
XML = {"Content-Type": "application/xml"}
REPO = Path(__file__).resolve().parents[2]
INPUT = REPO / "schemas" / "certificate-of-origin" / "input.yaml"
FAST = {"PTX_DELIVERY__BASE_DELAY": "0.05", "PTX_DELIVERY__MAX_DELAY": "0.3", "PTX_DELIVERY__POLL_INTERVAL": "0.05"}


@dataclass(frozen=True)
class Services:
    workspace: Workspace
    gateway: str
    aa: str
    logs: Path

    def client(self, code: str) -> httpx.Client:
        """Country ``code``'s single window talking to the gateway."""
        return httpx.Client(base_url=self.gateway, verify=country_client(self.workspace, code, gateway_ca(self.workspace)),
                            timeout=10)


def gateway_command(workspace: Workspace, port: int, nodes: dict[str, str], *extra: str) -> list[str]:
    return [PTX, "serve", "gateway", "--tls", "--workspace", str(workspace.path), "--port", str(port),
            *[arg for code, url in nodes.items() for arg in ("--node", f"{code}={url}")],
            "--database-url", f"sqlite:///{workspace.path / f'gateway-{port}.db'}", "--log-level", "warning", *extra]


def node_command(workspace: Workspace, code: str, port: int, gateway: str, *extra: str) -> list[str]:
    return [PTX, "serve", "node", "--tls", "--country", code, "--workspace", str(workspace.path), "--port", str(port),
            "--gateway", gateway, "--log-level", "warning", *extra]


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    folder = tmp_path_factory.mktemp("tls-gateway")
    init_workspace(folder / "workspace", moment=datetime.now(UTC) - timedelta(minutes=5))
    workspace = Workspace.open(folder / "workspace")
    gateway_port, aa_port, bb_port = free_port(), free_port(), free_port()
    gateway, aa, bb = (f"https://127.0.0.1:{port}" for port in (gateway_port, aa_port, bb_port))
    gateway_record = workspace.index.gateway
    as_gateway = context(root(workspace, "BB"), cert=workspace.file(gateway_record.tls_client),
                         key=workspace.file(gateway_record.tls_client_key))
    with serving(node_command(workspace, "BB", bb_port, gateway), ready_url=f"{bb}/readyz", verify=as_gateway,
                 log=folder / "bb.log"), \
         serving(gateway_command(workspace, gateway_port, {"BB": bb}), ready_url=f"{gateway}/readyz",
                 verify=country_client(workspace, "AA", gateway_ca(workspace)), log=folder / "gateway.log", env=FAST), \
         serving(node_command(workspace, "AA", aa_port, gateway, "--optional-client-cert"), ready_url=f"{aa}/readyz",
                 verify=context(root(workspace, "AA")), log=folder / "aa.log"):
        yield Services(workspace, gateway, aa, folder)


def wait_status(client: httpx.Client, message_id: str, wanted: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        record: dict[str, Any] = client.get(f"/v1/messages/{message_id}").json()
        if record.get("status") == wanted or time.monotonic() > deadline:
            assert record.get("status") == wanted, record
            return record
        time.sleep(0.1)


def failed(answer: dict[str, Any]) -> dict[str, list[str]]:
    return {c["name"]: [f["code"] for f in c["findings"]] for c in answer["checks"] if c["status"] == "failed"}


def test_the_senders_own_certificate_is_accepted_and_delivered_over_mutual_tls(services: Services) -> None:
    # Several submissions on one keep-alive connection: each request carries the connection's identity.
    with services.client("AA") as aa:
        ids = [f"msg-tls-accept-{index:04d}" for index in range(3)]
        for message_id in ids:
            response = aa.post("/v1/messages", content=envelope(services.workspace, message_id), headers=XML)
            assert response.status_code == 202, response.text
        for message_id in ids:
            # The gateway delivered over TLS with its client certificate; BB's node (which demands exactly that
            # certificate) answered with a signed receipt the gateway verified.
            record = wait_status(aa, message_id, "ACKNOWLEDGED")
            assert [attempt["outcome"] for attempt in record["attempts"]] == ["acknowledged"]


def test_aas_node_submits_with_aas_certificate(services: Services) -> None:
    verify = context(root(services.workspace, "AA"))
    data = yaml.safe_load(INPUT.read_text())
    answer = httpx.post(f"{services.aa}/v1/outbox", json={"to": "BB", "type": "certificate-of-origin", "data": data},
                        verify=verify, timeout=30).json()
    assert answer["gateway"]["answer"]["verdict"] == "ACCEPTED", answer
    deadline = time.monotonic() + 30
    while (status := httpx.get(f"{services.aa}/v1/outbox/{answer['message_id']}", verify=verify).json()["status"]) \
            != "ACKNOWLEDGED" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert status == "ACKNOWLEDGED"


def test_another_countrys_certificate_cannot_submit_for_aa(services: Services) -> None:
    with services.client("BB") as bb:
        response = bb.post("/v1/messages", content=envelope(services.workspace, "msg-tls-spoof-0001"), headers=XML)
        assert response.status_code == 403
        assert failed(response.json()) == {"sender-authentication": ["GW-TRANSPORT-IDENTITY"]}
        # BB's certificate still speaks for BB.
        own = bb.post("/v1/messages", content=envelope(services.workspace, "msg-tls-bb-0001", sender="BB",
                                                      receiver="AA"), headers=XML)
        assert own.status_code == 202, own.text


def test_no_client_certificate_fails_the_handshake(services: Services) -> None:
    with pytest.raises(HANDSHAKE_REFUSED):
        httpx.get(f"{services.gateway}/readyz", verify=context(gateway_ca(services.workspace)), timeout=10)


def test_a_certificate_from_an_unknown_ca_fails_the_handshake(services: Services, tmp_path: Path) -> None:
    foreign = build_country_pki(demo_country("CC"), moment=datetime.now(UTC) - timedelta(minutes=5)).tls_client
    foreign.write(tmp_path / "cc.key", tmp_path / "cc.pem")
    verify = context(gateway_ca(services.workspace), cert=tmp_path / "cc.pem", key=tmp_path / "cc.key")
    with pytest.raises(HANDSHAKE_REFUSED):
        httpx.post(f"{services.gateway}/v1/messages", content=envelope(services.workspace, "msg-tls-cc-0001"),
                   headers=XML, verify=verify, timeout=10)


def test_a_trusted_but_unregistered_certificate_speaks_for_nobody(services: Services) -> None:
    # AA's chamber of commerce chains to AA's root and says C=AA, but it is not AA's single window.
    workspace = services.workspace
    record = workspace.country("AA").authorities["chamber-of-commerce"]
    verify = context(gateway_ca(workspace), cert=workspace.file(record.certificate), key=workspace.file(record.key))
    response = httpx.post(f"{services.gateway}/v1/messages", content=envelope(workspace, "msg-tls-coc-0001"),
                          headers=XML, verify=verify, timeout=10)
    assert response.status_code == 403
    assert failed(response.json()) == {"sender-authentication": ["GW-TRANSPORT-IDENTITY"]}
    # nor read: the certificate names no party, and the request carries no node signature
    read = httpx.get(f"{services.gateway}/v1/messages/msg-tls-coc-0001", verify=verify)
    assert read.status_code == 401 and read.json()["code"] == "GW-READ-NOT-AUTHENTICATED"


@pytest.fixture(scope="module")
def optional_gateway(services: Services) -> Iterator[str]:
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    # BB's URL is misconfigured to point at AA's node: its server certificate does not chain to BB's root.
    with serving(gateway_command(services.workspace, port, {"BB": services.aa}, "--optional-client-cert"),
                 ready_url=f"{url}/readyz", verify=context(gateway_ca(services.workspace)), env=FAST,
                 log=services.logs / "gateway-optional.log"):
        yield url


def test_optional_client_certificates_let_the_operator_in_but_not_submitters(services: Services,
                                                                         optional_gateway: str) -> None:
    anonymous = httpx.Client(base_url=optional_gateway, verify=context(gateway_ca(services.workspace)), timeout=10)
    with anonymous:
        assert anonymous.get("/readyz").status_code == 200
        refused = anonymous.post("/v1/messages", content=envelope(services.workspace, "msg-tls-anon-0001"),
                                 headers=XML)
        assert refused.status_code == 401
        assert failed(refused.json()) == {"sender-authentication": ["GW-TRANSPORT-CERT-MISSING"]}
        refused_read = anonymous.get("/v1/messages/msg-tls-anon-0001")
        assert refused_read.status_code == 401 and refused_read.json()["code"] == "GW-READ-NOT-AUTHENTICATED"
        assert anonymous.get("/v1/audit").json()["code"] == "GW-OPERATOR-REQUIRED"
        audit = anonymous.get("/v1/audit", headers=operator_headers(services.workspace.path)).json()["entries"]
        assert any(entry["action"] == "message.refused" and entry["detail"]["codes"] == ["GW-TRANSPORT-CERT-MISSING"]
                   for entry in audit)
    aa = httpx.Client(base_url=optional_gateway, verify=country_client(services.workspace, "AA",
                                                                         gateway_ca(services.workspace)), timeout=10)
    with aa:
        accepted = aa.post("/v1/messages", content=envelope(services.workspace, "msg-tls-anon-0002"), headers=XML)
        assert accepted.status_code == 202, accepted.text


def test_each_receivers_server_must_chain_to_that_receivers_root(services: Services, optional_gateway: str) -> None:
    with httpx.Client(base_url=optional_gateway, verify=country_client(services.workspace, "AA",
                                                                         gateway_ca(services.workspace))) as aa:
        assert aa.post("/v1/messages", content=envelope(services.workspace, "msg-tls-wrongnode-0001"),
                       headers=XML).status_code == 202
        deadline = time.monotonic() + 30
        while not (attempts := aa.get("/v1/messages/msg-tls-wrongnode-0001").json()["attempts"]):
            assert time.monotonic() < deadline, "no delivery attempt"
            time.sleep(0.1)
    assert (attempts[0]["outcome"], attempts[0]["code"]) == ("retryable", "GW-DELIVERY-UNREACHABLE")
    assert "CERTIFICATE_VERIFY_FAILED" in attempts[0]["message"]
