"""Mutual TLS at a node's inbox with real processes: ``ptx serve node --tls`` takes deliveries only over a
connection that presented the gateway's registered TLS client certificate, on top of the signed delivery header."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from exchange._transport import HEADER, sign_delivery
from exchange._workspace import Workspace, init_workspace
from exchange.testing.processes import PTX, free_port
from tests.support.tls import HANDSHAKE_REFUSED, context, country_client, envelope, root, serving

pytestmark = pytest.mark.slow
XML = "application/xml"


@dataclass(frozen=True)
class Nodes:
    workspace: Workspace
    strict: str  #: BB's node demanding client certificates in the handshake
    lenient: str  #: BB's node asking for them (a browser without one reaches its pages)

    def as_gateway(self) -> httpx.Client:
        return httpx.Client(verify=gateway_context(self.workspace), timeout=10)

    def delivery(self, message_id: str) -> tuple[bytes, dict[str, str]]:
        """An envelope for BB and the gateway's signed delivery header for it."""
        body = envelope(self.workspace, message_id)
        header = sign_delivery(body, message_id, self.workspace.gateway_signer().key, moment=datetime.now(UTC))
        return body, {HEADER: header, "Content-Type": XML}


def gateway_context(workspace: Workspace) -> ssl.SSLContext:
    """The gateway's TLS client certificate, BB's root for BB's server."""
    record = workspace.index.gateway
    return context(root(workspace, "BB"), cert=workspace.file(record.tls_client),
                   key=workspace.file(record.tls_client_key))


def node_command(workspace: Workspace, port: int, database: Path, *extra: str) -> list[str]:
    return [PTX, "serve", "node", "--tls", "--country", "BB", "--workspace", str(workspace.path), "--port", str(port),
            "--database-url", f"sqlite:///{database}", "--log-level", "warning", *extra]


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nodes]:
    folder = tmp_path_factory.mktemp("tls-node")
    init_workspace(folder / "workspace", moment=datetime.now(UTC) - timedelta(minutes=5))
    workspace = Workspace.open(folder / "workspace")
    strict_port, lenient_port = free_port(), free_port()
    strict, lenient = f"https://127.0.0.1:{strict_port}", f"https://127.0.0.1:{lenient_port}"
    with serving(node_command(workspace, strict_port, folder / "strict.sqlite"), ready_url=f"{strict}/readyz",
                 verify=gateway_context(workspace), log=folder / "strict.log"), \
         serving(node_command(workspace, lenient_port, folder / "lenient.sqlite", "--optional-client-cert"),
                 ready_url=f"{lenient}/readyz", verify=context(root(workspace, "BB")), log=folder / "lenient.log"):
        yield Nodes(workspace, strict, lenient)


def test_the_gateways_certificate_delivers(nodes: Nodes) -> None:
    body, headers = nodes.delivery("msg-node-tls-0001")
    with nodes.as_gateway() as gateway:  # one keep-alive connection: the delivery, then the redelivery
        first = gateway.post(f"{nodes.strict}/v1/inbox", content=body, headers=headers)
        assert first.status_code == 200, first.text
        assert first.headers["PTX-Receipt-Status"] == "RECEIVED"
        again = gateway.post(f"{nodes.strict}/v1/inbox", content=body, headers=headers)
        assert (again.status_code, again.content) == (200, first.content)


def test_another_certificate_of_the_gateways_ca_is_not_the_gateway(nodes: Nodes) -> None:
    # The gateway's signing certificate chains to the gateway's CA, so the handshake passes; but it is not the
    # registered TLS client certificate, so the delivery is refused although its signed header is valid.
    workspace = nodes.workspace
    record = workspace.index.gateway
    verify = context(root(workspace, "BB"), cert=workspace.file(record.signer), key=workspace.file(record.signer_key))
    body, headers = nodes.delivery("msg-node-tls-0002")
    response = httpx.post(f"{nodes.strict}/v1/inbox", content=body, headers=headers, verify=verify, timeout=10)
    assert response.status_code == 401
    assert response.json()["code"] == "NODE-TRANSPORT-IDENTITY"
    with nodes.as_gateway() as gateway:
        assert gateway.get(f"{nodes.strict}/v1/inbox/msg-node-tls-0002").status_code == 404


def test_a_countrys_certificate_fails_the_handshake(nodes: Nodes) -> None:
    body, headers = nodes.delivery("msg-node-tls-0003")
    verify = country_client(nodes.workspace, "AA", root(nodes.workspace, "BB"))
    with pytest.raises(HANDSHAKE_REFUSED):
        httpx.post(f"{nodes.strict}/v1/inbox", content=body, headers=headers, verify=verify, timeout=10)


def test_no_certificate_fails_the_handshake(nodes: Nodes) -> None:
    with pytest.raises(HANDSHAKE_REFUSED):
        httpx.get(f"{nodes.strict}/readyz", verify=context(root(nodes.workspace, "BB")), timeout=10)


def test_optional_certificates_open_the_pages_but_not_the_inbox(nodes: Nodes) -> None:
    with httpx.Client(verify=context(root(nodes.workspace, "BB")), timeout=10) as browser:
        assert browser.get(f"{nodes.lenient}/v1/inbox").json()["items"] == []
        body, headers = nodes.delivery("msg-node-tls-0004")
        refused = browser.post(f"{nodes.lenient}/v1/inbox", content=body, headers=headers)
        assert refused.status_code == 401
        assert refused.json()["code"] == "NODE-TRANSPORT-IDENTITY"
        assert browser.get(f"{nodes.lenient}/v1/inbox").json()["items"] == []
    with nodes.as_gateway() as gateway:
        assert gateway.post(f"{nodes.lenient}/v1/inbox", content=body, headers=headers).status_code == 200
