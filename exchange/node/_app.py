"""The node's FastAPI app factory, its shared services, and the one error handler.

``create_app(settings)`` wires everything once per process: the workspace (this country's node key, the
partners' node certificates, the agreements, the gateway's delivery certificate), the store, the checks, and an
``httpx.AsyncClient`` for the gateway (injected in tests: ``httpx.MockTransport`` or ``ASGITransport``). Time
comes from an injected clock. Resources are built eagerly, so an in-process ASGI client (which sends no lifespan
events) sees a ready app; the lifespan only closes them.

Errors: every :class:`~exchange.ExchangeError` becomes JSON ``{code, message}`` (plus ``path`` and ``findings``
when there are any) with the HTTP status of its code (:func:`http_status`); request bodies that do not fit
the API models become ``INPUT-INVALID`` in the same shape.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from exchange import (
    Catalogue,
    Category,
    Code,
    ConfigurationError,
    ExchangeError,
    RequestLog,
    TransportPolicy,
    Workspace,
    XmlLimits,
    __version__,
    default_catalogue,
    load_certificate_file,
    node_tls,
    node_transport_policy,
)
from exchange.node._checks import InboxChecks
from exchange.node._gateway import GatewayClient, ReadSigner
from exchange.node._inbox import Inbox
from exchange.node._metrics import NodeMetrics
from exchange.node._outbox import DocumentRefused, Outbox
from exchange.node._settings import NodeSettings, get_settings
from exchange.node._store import Clock, NodeStore, utc_now
from exchange.services._webui import LanguageMiddleware

log = logging.getLogger("exchange.node")

_STATUS_BY_CODE: dict[Code, int] = {
    Code.GW_DELIVERY_NOT_AUTHENTICATED: 401,
    Code.NODE_TRANSPORT_IDENTITY: 401,
    Code.NODE_ISSUER_FOREIGN: 403,
    Code.NODE_DEMO_ONLY: 403,
    Code.NODE_MESSAGE_UNKNOWN: 404,
    Code.NODE_DOCUMENT_REJECTED: 404,
    Code.NODE_DUPLICATE_CONFLICT: 409,
    Code.XML_TOO_LARGE: 413,
    Code.GW_MEDIA_TYPE: 415,
    Code.DOCTYPE_UNKNOWN: 422,
    Code.NODE_GATEWAY_ERROR: 502,
    Code.NODE_GATEWAY_UNREACHABLE: 502,
}
# An error *raised* (not a finding) in the trust or signature area means the node's own material is unusable
# (a trust list whose signature fails, a key that does not fit its certificate): a server fault, never the
# sender's, so the gateway retries instead of dead-lettering the message.
_STATUS_BY_CATEGORY: dict[Category, int] = {
    Category.CONFIG: 500,
    Category.CATALOGUE: 500,
    Category.TRUST: 500,
    Category.SIGNATURE: 500,
    Category.STORE: 503,
}


def http_status(code: Code) -> int:
    """The HTTP status for an error code: specific codes first, then the category (input-like: 422)."""
    return _STATUS_BY_CODE.get(code) or _STATUS_BY_CATEGORY.get(code.category, 422)


@dataclass(frozen=True)
class NodeServices:
    """What the routers need, built once per app."""

    settings: NodeSettings
    workspace: Workspace
    store: NodeStore
    inbox: Inbox
    outbox: Outbox
    clock: Clock
    metrics: NodeMetrics
    #: With mutual TLS, whom the inbox takes deliveries from (the gateway's TLS client certificate); else None.
    transport: TransportPolicy | None = None


def get_services(request: Request) -> NodeServices:
    services: NodeServices = request.app.state.node
    return services


Services = Annotated[NodeServices, Depends(get_services)]


async def _exchange_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ExchangeError)
    status = http_status(exc.code)
    body: dict[str, Any] = {"code": exc.code.value, "message": exc.message}
    if exc.path:
        body["path"] = exc.path
    if isinstance(exc, DocumentRefused):
        body["findings"] = [finding.to_dict() for finding in exc.findings]
    if status >= 500:
        log.warning("%s %s -> %d %s", request.method, request.url.path, status, exc)
    return JSONResponse(body, status_code=status)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"location": ".".join(str(part) for part in error.get("loc", ())), "message": str(error.get("msg", ""))}
        for error in exc.errors()
    ]
    summary = "; ".join(f"{error['location']}: {error['message']}" for error in errors[:5])
    return JSONResponse(
        {"code": Code.INPUT_INVALID.value, "message": f"the request does not fit the API: {summary}", "errors": errors},
        status_code=422,
    )


def create_app(
    settings: NodeSettings | None = None,
    *,
    client: httpx.AsyncClient | None = None,
    clock: Clock | None = None,
    catalogue: Catalogue | None = None,
) -> FastAPI:
    """The node's ASGI app for ``settings`` (default: :func:`get_settings`).

    ``client`` is the HTTP client for calls to the gateway (the app makes and closes its own when None);
    ``clock`` gives the current time (aware UTC); ``catalogue`` defaults to the default catalogue.
    Configuration problems raise :class:`ConfigurationError` here, before anything listens.
    """
    from exchange.node import _api_documents, _api_health, _api_inbox, _api_outbox, _ui

    settings = settings or get_settings()
    clock = clock or utc_now
    country = settings.country
    workspace = Workspace.open(settings.workspace)
    if country not in workspace.countries:
        raise ConfigurationError(
            f"the workspace at {settings.workspace} has no country {country} (it has {', '.join(workspace.countries)})",
            code=Code.CONFIG_INVALID,
        )
    catalogue = catalogue or default_catalogue()
    limits = XmlLimits(max_bytes=settings.max_message_bytes)
    node = workspace.node(country)
    gateway_certificate = load_certificate_file(workspace.file(workspace.gateway_record.signer))[0]
    country_name = workspace.country(country).name
    checks = InboxChecks(country=country, workspace=workspace, catalogue=catalogue, limits=limits)
    metrics = NodeMetrics()
    store = NodeStore.open(settings.store_url, now=clock)
    owns_client = client is None
    tls = node_tls(settings.tls, workspace, country)
    http = client if client is not None else httpx.AsyncClient(trust_env=False, **tls.httpx_options())
    gateway = GatewayClient(http, settings.gateway_url, timeout=settings.gateway_timeout,
                            signer=ReadSigner(country, node.key, clock))  # reads signed with the node key
    services = NodeServices(
        settings=settings,
        workspace=workspace,
        store=store,
        inbox=Inbox(
            country=country, country_name=country_name, node=node, gateway_certificate=gateway_certificate,
            checks=checks, store=store, clock=clock, skew=timedelta(seconds=settings.delivery_skew),
            metrics=metrics,
        ),
        outbox=Outbox(
            country=country, country_name=country_name, workspace=workspace, catalogue=catalogue, node=node,
            parties=checks.parties, store=store, gateway=gateway, clock=clock, limits=limits,
            gateway_certificate=gateway_certificate, demo=settings.demo, metrics=metrics,
        ),
        clock=clock,
        metrics=metrics,
        transport=node_transport_policy(workspace) if tls.verifies_clients else None,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            # the first snapshot of the partners (agreements verified, trust built) before the first delivery, so
            # that delivery costs what every other one does; a fault is answered per delivery, as later
            await run_in_threadpool(checks.parties.view, moment=clock())
        except ExchangeError as exc:
            log.warning("the partners' material could not be read at start: %s", exc,
                        extra={"code": exc.code.value})
        try:
            yield
        finally:
            if owns_client:
                await http.aclose()
            store.close()

    app = FastAPI(
        title=f"PTX single window {country}",
        version=__version__,
        description=f"The simulated national single window of {country_name}: outbox, inbox and received documents.",
        lifespan=lifespan,
        docs_url=None,  # Swagger UI and ReDoc load from a CDN; offline only /openapi.json (local) is served
        redoc_url=None,
    )
    app.state.node = services
    app.add_exception_handler(ExchangeError, _exchange_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    for module in (_api_health, _api_inbox, _api_outbox, _api_documents, _ui):
        app.include_router(module.router)
    app.add_middleware(LanguageMiddleware)  # the page language: ?lang=, the ptx_lang cookie, Accept-Language
    app.add_middleware(RequestLog, logger="exchange.node.access")  # one structured access line per request
    return app


__all__ = ["NodeServices", "Services", "create_app", "get_services", "http_status"]
