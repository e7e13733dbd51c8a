"""Services in process for tests: a synchronous ASGI client that runs the app's lifespan, a recording stand-in for
node BB's inbox, and builders for a gateway and a node on a given workspace (no sockets, pinned clocks)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from exchange._dsig import sign_document
from exchange._envelope import Party, ReceiptStatus, build_receipt, read_envelope
from exchange._transport import HEADER, verify_delivery
from exchange._workspace import Workspace
from exchange._xml import parse_xml


class SyncClient:
    """``httpx.AsyncClient`` over ``ASGITransport``, driven from synchronous tests on one private event loop.

    The app's lifespan runs for the client's whole life (the gateway opens its store there).
    """

    def __init__(self, app: FastAPI, base_url: str) -> None:
        self.app = app
        self._runner = asyncio.Runner()
        self._lifespan = app.router.lifespan_context(app)
        self._runner.run(self._lifespan.__aenter__())
        self._client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url, timeout=60)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self._runner.run(self._client.request(method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def run(self, awaitable: Any) -> Any:
        return self._runner.run(awaitable)

    def close(self) -> None:
        self._runner.run(self._client.aclose())
        self._runner.run(self._lifespan.__aexit__(None, None, None))
        self._runner.close()


class RecordingReceiver:
    """Node BB as the gateway's delivery target: checks the gateway's signature, records every body it gets and
    answers with a receipt signed by BB's node."""

    def __init__(self, workspace: Workspace, moment: datetime) -> None:
        self.workspace = workspace
        self.moment = moment
        self.digests: set[str] = set()
        self.refused = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        header = read_envelope(parse_xml(body))
        gateway = self.workspace.gateway_signer().certificate
        if verify_delivery(request.headers.get(HEADER), body, header.message_id, gateway, moment=self.moment):
            self.refused += 1
            return httpx.Response(401, json={"code": "GW-DELIVERY-NOT-AUTHENTICATED"})
        self.digests.add(hashlib.sha256(body).hexdigest())
        receipt = build_receipt(ref_to_message_id=header.message_id, envelope=body, issuer=Party("BB"),
                                status=ReceiptStatus.RECEIVED, issued=self.moment)
        node = self.workspace.node("BB")
        return httpx.Response(200, content=sign_document(receipt, node.key, node.signing_chain),
                              headers={"Content-Type": "application/xml"})


class InProcessGateway(SyncClient):
    """The gateway app on ``workspace`` with its store at ``database``, deliveries going to ``deliver``, the clock
    pinned at ``moment`` and no background worker (``run(app.state.gateway.deliverer.run_once())`` delivers).
    ``deliver`` is a MockTransport handler or a node's ASGI app; ``node_urls`` the countries that run a node.
    The client reads as the gateway's operator (its token) unless ``operator=False``."""

    def __init__(self, workspace: Workspace, database: Path, moment: datetime,
                 deliver: Callable[[httpx.Request], httpx.Response] | FastAPI,
                 node_urls: dict[str, str] | None = None, *, operator: bool = True) -> None:
        from gateway._app import create_app
        from gateway._settings import load_settings

        settings = load_settings(
            workspace=workspace.path, database_url=f"sqlite:///{database}",
            node_urls={"BB": "http://bb.test", "AA": "http://aa.test"} if node_urls is None else node_urls,
            delivery={"base_delay": 0.01, "max_delay": 0.02, "request_timeout": 5, "lease": 10},
        )
        self._delivery = httpx.AsyncClient(transport=(
            httpx.ASGITransport(app=deliver) if isinstance(deliver, FastAPI) else httpx.MockTransport(deliver)))
        super().__init__(create_app(settings, http_client=self._delivery, now=lambda: moment, run_worker=False),
                         "http://gateway.test")
        if operator:
            self._client.headers["Authorization"] = f"Bearer {self.app.state.gateway.access.token}"

    def close(self) -> None:
        self.run(self._delivery.aclose())
        super().close()


def gateway_unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("no gateway in this test", request=request)


class InProcessNode(SyncClient):
    """Node ``country``'s app on ``workspace`` with its store at ``database``, its calls to the gateway going to
    ``gateway`` (an ASGI app or a MockTransport handler) and its clock pinned at ``moment``."""

    def __init__(self, workspace: Workspace, country: str, database: Path, moment: datetime,
                 gateway: Callable[[httpx.Request], httpx.Response] | FastAPI = gateway_unreachable) -> None:
        from exchange.node import create_app, load_settings

        settings = load_settings(country=country, workspace=workspace.path, gateway_url="http://gateway.test",
                                 database_url=f"sqlite:///{database}")
        transport: httpx.AsyncBaseTransport = (
            httpx.ASGITransport(app=gateway) if isinstance(gateway, FastAPI) else httpx.MockTransport(gateway)
        )
        self._to_gateway = httpx.AsyncClient(transport=transport, base_url="http://gateway.test")
        super().__init__(create_app(settings, client=self._to_gateway, clock=lambda: moment), "http://node.test")

    def close(self) -> None:
        self.run(self._to_gateway.aclose())
        super().close()


__all__ = ["InProcessGateway", "InProcessNode", "RecordingReceiver", "SyncClient", "gateway_unreachable"]
