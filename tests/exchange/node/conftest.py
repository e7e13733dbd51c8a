"""Node fixtures: a real demo workspace at a pinned moment, signed envelopes, gateway-signed deliveries, apps."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from exchange._catalogue import default_catalogue
from exchange._dsig import sign_document
from exchange._envelope import Party, build_envelope
from exchange._transport import HEADER, sign_delivery
from exchange._workspace import Workspace, init_workspace
from exchange.node import create_app, load_settings
from exchange.node._app import NodeServices

CREATED = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
MOMENT = CREATED + timedelta(days=3)
GATEWAY_URL = "http://gateway.test"

ISSUER_OF = {
    "certificate-of-origin": "chamber-of-commerce",
    "commercial-invoice": "chamber-of-commerce",
    "phytosanitary-certificate": "nppo",
    "customs-declaration": "customs",
}


def sample(type_id: str, name: str = "basic.xml") -> bytes:
    doc_type = default_catalogue().get(type_id)
    return next(s for s in doc_type.samples if s.path.name == name).path.read_bytes()


@pytest.fixture(scope="session")
def workspace_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("node-ws-template") / "workspace"
    init_workspace(path, moment=CREATED)
    return path


@pytest.fixture
def workspace(workspace_template: Path, tmp_path: Path) -> Workspace:
    """A private copy (tests revoke issuers and write node stores into it)."""
    path = tmp_path / "workspace"
    shutil.copytree(workspace_template, path)
    return Workspace.open(path)


EnvelopeFactory = Callable[..., bytes]


@pytest.fixture
def make_envelope(workspace: Workspace) -> EnvelopeFactory:
    """A node-signed envelope around an issuer-signed document, with knobs to break each part."""

    def make(
        type_id: str = "certificate-of-origin",
        *,
        document: bytes | None = None,
        issuer: str | None = None,
        sender: str = "AA",
        receiver: str = "BB",
        signed_by_node: str | None = None,
        message_id: str = "msg-0000000000000001",
        sign_envelope: bool = True,
        tamper_document: Callable[[bytes], bytes] | None = None,
    ) -> bytes:
        doc_type = default_catalogue().get(type_id) if type_id in default_catalogue() else None
        data = document if document is not None else sample(type_id)
        if document is None:
            authority = workspace.authority(sender, issuer or ISSUER_OF[type_id])
            data = sign_document(data, authority.key, authority.signing_chain)
        if tamper_document is not None:
            data = tamper_document(data)
        envelope = build_envelope(
            data,
            sender=Party(sender),
            receiver=Party(receiver),
            document_type=type_id,
            type_version=doc_type.version if doc_type else "1.0",
            standard=doc_type.namespace if doc_type else "urn:example:unknown",
            message_id=message_id,
            created=MOMENT,
        )
        if not sign_envelope:
            return envelope
        node = workspace.node(signed_by_node or sender)
        return sign_document(envelope, node.key, node.signing_chain)

    return make


def delivery_header(
    workspace: Workspace, body: bytes, message_id: str = "msg-0000000000000001", *, moment: datetime = MOMENT
) -> dict[str, str]:
    """The headers the gateway sends with a delivery, signed by the gateway's signer."""
    key = workspace.gateway_signer().key
    return {
        "Content-Type": "application/xml",
        HEADER: sign_delivery(body, message_id, key, moment=moment),
    }


GatewayHandler = Callable[[httpx.Request], httpx.Response]


def unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


class AppClient:
    """A synchronous face on ``httpx.AsyncClient(transport=ASGITransport(app))``: one event loop per client.

    Resources are built by ``create_app`` itself (ASGI transports send no lifespan events); :meth:`close`
    closes the injected gateway client and the store.
    """

    def __init__(self, app: FastAPI, gateway_client: httpx.AsyncClient) -> None:
        self.app = app
        self._runner = asyncio.Runner()
        self._client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://node.test")
        self._gateway_client = gateway_client

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self._runner.run(self._client.request(method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def close(self) -> None:
        self._runner.run(self._client.aclose())
        self._runner.run(self._gateway_client.aclose())
        self._runner.close()
        services(self).store.close()


class NodeFactory:
    """Builds in-process node apps on the shared workspace, each with its own store and injected gateway."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self._clients: list[AppClient] = []

    def __call__(
        self, country: str, *, gateway: GatewayHandler = unreachable, clock: Callable[[], datetime] = lambda: MOMENT,
        **settings: Any,
    ) -> AppClient:
        gateway_client = httpx.AsyncClient(transport=httpx.MockTransport(gateway))
        app = create_app(
            load_settings(country=country, workspace=self.workspace.path, gateway_url=GATEWAY_URL, **settings),
            client=gateway_client,
            clock=clock,
        )
        client = AppClient(app, gateway_client)
        self._clients.append(client)
        return client

    def close(self) -> None:
        for client in self._clients:
            client.close()


@pytest.fixture
def node_app(workspace: Workspace) -> Iterator[NodeFactory]:
    factory = NodeFactory(workspace)
    yield factory
    factory.close()


def services(client: AppClient) -> NodeServices:
    result: NodeServices = client.app.state.node
    return result
