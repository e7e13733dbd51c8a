"""The gateway's HTTP API: submit, track, receipts, retry, audit, health and metrics.

``create_app(settings)`` builds the FastAPI app (FastAPI's settings-guide wiring); ``ptx serve gateway`` runs it
with uvicorn. Routes (one router per resource):

- ``POST /v1/messages`` (``application/xml``): the pipeline of named checks (:mod:`gateway._pipeline`); the
  answer is ``{message_id, verdict, status, checks, received_at, ...}`` with 202 accepted, 422 rejected, 200 for
  an identical resend (the earlier answer), 409 same id other bytes, 413, 415, 401/403. An accepted message is
  committed to the store before the 202 leaves; then a delivery worker forwards it. With mutual TLS the TLS
  client certificate must name the sender (:mod:`gateway._mtls`).
- ``GET /v1/messages`` (filters ``status, sender, receiver, type, since``; keyset paging ``limit, cursor``),
  ``GET /v1/messages/{id}`` (status, history, attempts, report, receipts), ``GET /v1/messages/{id}/receipt``
  (the receiver's signed receipt), ``GET /v1/messages/{id}/envelope``, ``POST /v1/messages/{id}/retry``.
- ``GET /v1/audit`` and ``GET /v1/audit/verify``: the hash-chained audit log.
- ``GET /healthz``, ``GET /readyz``, ``GET /metrics`` (Prometheus).

Who may read what (:mod:`gateway._access`): a message's status, receipt, rejection and envelope only its sender's
and its receiver's node, identified by the registered TLS client certificate under mutual TLS or by a request
signed with the node key (RFC 9421 HTTP Message Signatures, :mod:`exchange._request_signing`: the key that already
speaks for the node, whose certificate the gateway holds and trusts, and which works over plain HTTP), 401
``GW-READ-NOT-AUTHENTICATED`` otherwise, 403 ``GW-READ-FORBIDDEN`` for another pair's message and, alike, for an id
that does not exist; the message list of all parties, retry and the audit log only the operator, with the token of
the gateway's folder (``gateway/operator.token``) as ``Authorization: Bearer``, 401 ``GW-OPERATOR-REQUIRED``
otherwise. The operator reads every message, and is told 404 ``GW-MESSAGE-UNKNOWN`` for an unknown id.

Every project error becomes ``{"code", "message"}`` with an HTTP status chosen by its code; nothing parses text.
A trust or configuration error raised while judging a submission (a bad trust list on the gateway's disk) is the
gateway's own fault, never the sender's: 503 ``GW-CONFIG-FAULT`` with ``cause`` (the raised code), logged with
the detail; the message is neither judged nor recorded, and may be sent again.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from exchange import (
    DELIVERY_HEADER,
    Catalogue,
    Code,
    ConfigurationError,
    Credential,
    ExchangeError,
    InputError,
    ReceiptStatus,
    RequestLog,
    Severity,
    TransportIdentity,
    TransportPolicy,
    TrustError,
    Validator,
    about_message,
    country_roots,
    default_catalogue,
    ensure_operator_token,
    gateway_tls,
    gateway_transport_policy,
    peer_certificate,
    sign_delivery,
    sign_rejection_answer,
    tls_connection,
    verify_receipt,
)
from exchange.services._webui import LanguageMiddleware
from gateway._access import CHALLENGES, Access, Reader, forbidden, is_loopback, request_facts
from gateway._delivery import Deliverer, classify_answer, send_envelope
from gateway._ephyto import router as ephyto_router
from gateway._metrics import GatewayMetrics
from gateway._mtls import transport_refusal
from gateway._pipeline import RECEIPT_TYPE, Members, Outcome, Pipeline, Previous, WorkspaceMembers
from gateway._settings import GatewaySettings, get_settings
from gateway._status import MessageStatus, Verdict
from gateway._store import (
    ClaimedMessage,
    DeliveryOutcome,
    IncomingMessage,
    MessageDetail,
    ReceiptEvidence,
    ReceiptVerdict,
    Store,
)
from gateway._ui import DashboardLogin, dashboard_login
from gateway._ui import router as ui_router

#: how the gateway names itself as the issuer of its rejection reports
GATEWAY_NAME = "ptx gateway"
log = logging.getLogger("ptx.gateway")

XML_MEDIA_TYPES = ("application/xml", "text/xml")

_STATUS_BY_CODE: dict[Code, int] = {
    Code.GW_MESSAGE_UNKNOWN: 404,
    Code.GW_READ_NOT_AUTHENTICATED: 401,
    Code.GW_READ_FORBIDDEN: 403,
    Code.GW_OPERATOR_REQUIRED: 401,
    Code.GW_RETRY_NOT_ALLOWED: 409,
    Code.GW_REJECTION_MISSING: 404,
    Code.GW_DUPLICATE_CONFLICT: 409,
    Code.GW_MEDIA_TYPE: 415,
    Code.GW_CONFIG_FAULT: 503,
    Code.STORE_UNAVAILABLE: 503,
    Code.STORE_LOCKED: 503,
    Code.STORE_FULL: 507,
    Code.STORE_CORRUPT: 503,
    Code.CONFIG_INVALID: 500,
}


def _now() -> datetime:
    return datetime.now(UTC)


class Gateway:
    """What the routes share: immutable configuration plus the store, pipeline, metrics and deliverer."""

    def __init__(
        self,
        settings: GatewaySettings,
        *,
        store: Store,
        members: Members,
        catalogue: Catalogue,
        metrics: GatewayMetrics,
        signer: Credential,
        now: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self.store = store
        self.members = members
        self.catalogue = catalogue
        self.metrics = metrics
        self.now = now
        #: the gateway's signing credential: delivery headers and rejection reports
        self.signer = signer
        self.gateway_key = signer.key
        self.pipeline = Pipeline(catalogue=catalogue, members=members, max_bytes=settings.max_message_bytes)
        self.receipt_validator = Validator(catalogue)
        self.deliverer: Deliverer | None = None
        #: With mutual TLS, the registered TLS client certificates by party; None when submissions carry none.
        self.transport: TransportPolicy | None = None
        #: the SSL contexts of the TLS listeners (``ptx serve`` hands them over): new members' roots are added
        self.tls_contexts: list[Any] = []
        self._transport_snapshot: object | None = None
        self._loaded_roots: set[tuple[str, str]] = set()
        #: who may read what (set when the app starts: it needs the operator token and the transport policy)
        self.access: Access | None = None

    def refresh_transport(self) -> None:
        """Follow the directory: when the members' snapshot changed (a country admitted or withdrawn, a newer
        package), rebuild the registered TLS client certificates and add new countries' roots to the TLS listeners'
        client CA store (an SSL context's store only grows; a withdrawn country's certificate is refused by the
        registry). Called by the refresher task and before each identification."""
        if self.transport is None:
            return
        snapshot = self.members.view(moment=self.now()).snapshot  # type: ignore[attr-defined]
        if snapshot is self._transport_snapshot or snapshot.workspace is None:
            return
        self.transport = gateway_transport_policy(snapshot.workspace)
        roots = country_roots(snapshot.workspace)
        for context in self.tls_contexts:
            for code, bundle in roots.items():
                if (code, bundle) not in self._loaded_roots:
                    context.load_verify_locations(cadata=bundle)
        self._loaded_roots |= set(roots.items())
        self._transport_snapshot = snapshot

    def current_transport(self) -> TransportPolicy | None:
        """The registered TLS client certificates of the directory's current version (None: no TLS identities)."""
        if self.transport is None:
            return None
        try:
            self.refresh_transport()
        except (ExchangeError, AttributeError) as exc:  # the snapshot's own faults answer on their own paths
            log.warning("the TLS registry was not refreshed: %s", exc)
        return self.transport

    def transport_for(self, scope: Mapping[str, Any]) -> TransportPolicy | None:
        """The transport policy for a request: the registered TLS client certificates when it came over a mutually
        authenticated listener; None over the plain main listener of a gateway that also serves the hub interface
        on its own TLS listener (``hub_listener``), where envelopes authenticate by their signatures alone."""
        if self.settings.hub_listener and not tls_connection(scope):
            return None
        return self.current_transport()

    def inbox_url(self, receiver: str) -> str | None:
        """Where ``receiver``'s inbox is: the configured URL (``PTX_NODE_URLS``), else the endpoint of its
        public package in the gateway's directory (a party admitted while the gateway runs)."""
        base = self.settings.node_urls.get(receiver)
        if not base:
            view = self.members.view(moment=self.now())
            base = view.endpoint(receiver) if hasattr(view, "endpoint") else None
        return f"{base.rstrip('/')}/v1/inbox" if base else None

    # --- delivery hook: POST signed by the gateway, then verify the receiver's signed receipt --------------

    async def deliver(self, client: httpx.AsyncClient, claim: ClaimedMessage) -> DeliveryOutcome:
        header = sign_delivery(claim.envelope, claim.message_id, self.gateway_key, moment=self.now())
        answer = await send_envelope(
            client, claim, timeout=self.settings.delivery.request_timeout.total_seconds(),
            headers={DELIVERY_HEADER: header},
        )
        if isinstance(answer, DeliveryOutcome):
            return answer
        if not 200 <= answer.http_status < 300:
            return classify_answer(answer)
        evidence = await asyncio.to_thread(self.check_receipt, claim, answer.body)
        return DeliveryOutcome.transport_ok(answer.http_status, evidence)

    def check_receipt(self, claim: ClaimedMessage, body: bytes) -> ReceiptEvidence:
        """The one receipt verifier (:func:`exchange._receipts.verify_receipt`), with the gateway's parties: signed by
        the receiver's registered node, that node trusted for receipts, a valid receipt of exactly what was
        delivered (message id, digest) issued by the receiver."""
        if not body.strip():
            return ReceiptEvidence.refused(body, "the receiver answered 2xx without a receipt")
        view = self.members.view(moment=self.now())
        registered = view.node_certificate(claim.receiver)
        if registered is None:
            return ReceiptEvidence.refused(body, f"no node is registered for the receiver {claim.receiver!r}")
        check = verify_receipt(
            body, envelope=claim.envelope, message_id=claim.message_id, receiver=claim.receiver,
            receiver_node=registered, trust=view.node_trust(claim.receiver), validator=self.receipt_validator,
            receipt_type=self.catalogue.get(RECEIPT_TYPE), limits=self.pipeline.limits,
            invalid=Code.GW_RECEIPT_INVALID,
        )
        if not check.verified or check.receipt is None:
            return ReceiptEvidence.refused(body, "; ".join(f"{f.code}: {f.message}" for f in check.findings))
        receipt = check.receipt
        if receipt.status is ReceiptStatus.RECEIVED:
            return ReceiptEvidence.accepted(body, ReceiptVerdict.RECEIVED)
        reasons = "; ".join(f"{r.code}: {r.message}" for r in receipt.reasons if r.severity is Severity.ERROR)
        return ReceiptEvidence.accepted(body, ReceiptVerdict.REJECTED, reasons)

    # --- submission ------------------------------------------------------------------------------------------

    def earlier(self, message_id: str) -> Previous | None:
        """The pipeline's duplicate lookup: the digest of an earlier message with this id, and its answer."""
        digest = self.store.digest_of(message_id)
        if digest is None:
            return None
        detail = self.store.get(message_id)
        return Previous(digest=digest, answer=_plain(detail.report))

    def submit(
        self, body: bytes, moment: datetime, transport_party: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        """Run the checks and record the decision; returns (HTTP status, JSON body). Runs in a worker thread.
        ``transport_party``: the party the TLS client certificate names (mutual TLS), checked against the sender."""
        try:
            outcome = self.pipeline.run(body, moment=moment, duplicates=self.earlier, transport_party=transport_party,
                                        timings=self.metrics.observe_check)
        except (TrustError, ConfigurationError) as exc:  # the checks raise only for the gateway's own material
            raise configuration_fault(exc) from exc
        named = outcome.header or outcome.claimed
        about_message(outcome.message_id, named.conversation_id if named is not None else None)
        return self._record(body, outcome)

    def rejection_report(self, submitted: bytes, answer: Mapping[str, Any], http_status: int) -> bytes:
        """The signed rejection report (``schemas/rejection``) of a refused submission, from its JSON answer."""
        return sign_rejection_answer(signer=self.signer, issuer=GATEWAY_NAME, submitted=submitted, answer=answer,
                                     http_status=http_status, issued=self.now())

    def refuse_transport(self, identity: TransportIdentity, moment: datetime) -> tuple[int, dict[str, Any]]:
        """Record and answer a submission refused on its TLS client certificate (:mod:`gateway._mtls`)."""
        return self._record(b"", transport_refusal(identity, moment=moment))

    def _record(self, body: bytes, outcome: Outcome) -> tuple[int, dict[str, Any]]:
        answer = outcome.to_dict()
        codes = tuple(dict.fromkeys(f.code for f in outcome.findings if f.is_error))
        if outcome.previous is not None:  # identical resend: audited as when the store's constraint catches it
            self.store.append_audit(
                "message.duplicate", actor="gateway", message_id=outcome.message_id,
                detail={"digest": outcome.digest, "earlier_digest": outcome.previous.digest},
            )
            log.info("message_id=%s resend: earlier answer returned", outcome.message_id)
            return 200, outcome.previous.answer
        header = outcome.header
        if outcome.authenticated and header is not None and outcome.http_status in (202, 403, 422):
            accepted = outcome.http_status == 202
            inbox_urls: dict[str, str] = {}
            for receiver in header.receiver_ids if accepted else ():
                found = self.inbox_url(receiver)
                if found is None:
                    # Accepted all the same: delivery fails visibly (dead letter) until a URL is configured and
                    # the message is retried.
                    log.warning("message_id=%s accepted but no inbox URL is configured for %s",
                                header.message_id, receiver)
                    found = f"urn:ptx:no-inbox-configured:{receiver}"
                inbox_urls[receiver] = found
            incoming = IncomingMessage(
                message_id=header.message_id,
                sender=header.sender.identifier,
                receiver=header.receiver.identifier,
                document_type=header.document_type,
                envelope=body,
                verdict=Verdict.ACCEPTED if accepted else Verdict.REJECTED,
                report=answer,
                received_at=outcome.received_at,
                conversation_id=header.conversation_id,
                codes=codes,
                receivers=header.receiver_ids,
                inbox_urls=inbox_urls,
            )
            try:
                recorded = self.store.record_message(incoming)
            except InputError as exc:
                if exc.code is Code.GW_DUPLICATE_CONFLICT:  # lost a race with another submission
                    return 409, {**answer, "verdict": "REJECTED", "status": "REJECTED", "error": exc.to_dict()}
                raise
            if not recorded.created:  # an identical resend that raced the first
                return 200, _plain(self.store.get(header.message_id).report)
        else:
            self.store.append_audit(
                "message.refused", actor="gateway", message_id=outcome.message_id,
                detail={"digest": outcome.digest, "http_status": outcome.http_status, "codes": list(codes)},
            )
        self.metrics.observe_verdict(outcome.verdict, codes)
        log.info("message_id=%s verdict=%s status=%s codes=%s", outcome.message_id, outcome.verdict.value,
                 outcome.http_status, ",".join(codes) or "-")
        return outcome.http_status, answer


def _plain(value: Any) -> Any:
    """JSON-ready copy of stored (read-only) mappings and tuples."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def get_gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


GatewayDep = Annotated[Gateway, Depends(get_gateway)]


def _access(gateway: Gateway) -> Access:
    if gateway.access is None:  # pragma: no cover - set by the lifespan before any request
        raise ConfigurationError("the gateway has not started", code=Code.CONFIG_INVALID)
    return gateway.access


async def get_reader(request: Request, gateway: GatewayDep) -> Reader:
    """The node (or the operator) that sends this request; 401 ``GW-READ-NOT-AUTHENTICATED`` when none holds."""
    return await run_in_threadpool(_access(gateway).reader, request_facts(request))


async def require_operator(request: Request, gateway: GatewayDep) -> None:
    """401 ``GW-OPERATOR-REQUIRED`` unless the request carries the operator's token."""
    _access(gateway).require_operator(request.headers.get("authorization"))


ReaderDep = Annotated[Reader, Depends(get_reader)]
OPERATOR = [Depends(require_operator)]

messages = APIRouter(prefix="/v1/messages", tags=["messages"])
audit = APIRouter(prefix="/v1/audit", tags=["audit"], dependencies=OPERATOR)
operations = APIRouter(tags=["operations"])


@messages.post("", summary="Submit a signed envelope", status_code=202)
async def submit_message(request: Request, gateway: GatewayDep) -> Response:
    transport_party = None
    transport = gateway.transport_for(request.scope)
    if transport is not None:  # mutual TLS: who is on the other end, before any byte is read
        identity = transport.identify(peer_certificate(request.scope))
        if not identity.identified:
            status, answer = await run_in_threadpool(gateway.refuse_transport, identity, gateway.now())
            return JSONResponse(answer, status_code=status)
        transport_party = identity.party
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in XML_MEDIA_TYPES:
        raise InputError(f"the body must be application/xml, not {media_type or 'unspecified'!r}",
                         code=Code.GW_MEDIA_TYPE)
    limit = gateway.settings.max_message_bytes
    moment = gateway.now()
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            outcome = gateway.pipeline.too_large(len(body), moment=moment)
            await run_in_threadpool(gateway.store.append_audit, "message.refused", actor="gateway",
                                    detail={"http_status": 413, "codes": [Code.XML_TOO_LARGE.value]})
            return JSONResponse(outcome.to_dict(), status_code=413)
    status, answer = await run_in_threadpool(gateway.submit, bytes(body), moment, transport_party)
    if status == 202 and gateway.deliverer is not None:
        gateway.deliverer.wake()
    if status >= 400:  # a refusal comes with the gateway's signed rejection report: evidence the sender can keep
        report = await run_in_threadpool(gateway.rejection_report, bytes(body), answer, status)
        if _wants_xml(request):
            return Response(report, status_code=status, media_type="application/xml")
        answer = {**answer, "rejection_report": base64.b64encode(report).decode("ascii")}
    return JSONResponse(answer, status_code=status)


def _wants_xml(request: Request) -> bool:
    """Whether the client asked for XML before JSON (``Accept: application/xml``)."""
    accept = [part.split(";")[0].strip().lower() for part in request.headers.get("accept", "").split(",")]
    xml = next((index for index, media in enumerate(accept) if media in XML_MEDIA_TYPES), None)
    json = next((index for index, media in enumerate(accept) if media == "application/json"), None)
    return xml is not None and (json is None or xml < json)


@messages.get("", summary="List messages of every party, newest first (the operator's)", dependencies=OPERATOR)
async def list_messages(
    gateway: GatewayDep,
    status: Annotated[list[MessageStatus] | None, Query()] = None,
    sender: str | None = None,
    receiver: str | None = None,
    type: str | None = None,  # noqa: A002 - the API's name for the document type
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    if since is not None and since.tzinfo is None:
        raise InputError(f"since {since.isoformat()!r} needs a time zone (e.g. ...Z)", code=Code.INPUT_FIELD_INVALID)
    page = await run_in_threadpool(
        gateway.store.list_messages, status=status, sender=sender, receiver=receiver, document_type=type,
        since=since, limit=limit, cursor=cursor,
    )
    return {"items": [item.to_dict() for item in page.items], "next_cursor": page.next_cursor}


async def _readable(gateway: Gateway, reader: Reader, message_id: str) -> MessageDetail:
    """The message, if ``reader`` may read it: the operator any, a node one it sent or received. To a node, an id
    that does not exist is answered as one of another pair (``GW-READ-FORBIDDEN``): it learns nothing of others."""
    try:
        detail: MessageDetail = await run_in_threadpool(gateway.store.get, message_id)
    except InputError as exc:
        if exc.code is Code.GW_MESSAGE_UNKNOWN and not reader.operator:
            raise forbidden(message_id) from None
        raise
    named = detail.report.get("receivers") or ()  # a rejected message has no deliveries: its envelope's receivers
    if not reader.may_read(detail.record.sender, *detail.record.receivers, *(str(r) for r in named)):
        raise forbidden(message_id)
    return detail


@messages.get("/{message_id}", summary="Status, history, attempts, report and receipts of one message")
async def get_message(message_id: str, gateway: GatewayDep, reader: ReaderDep) -> dict[str, Any]:
    detail = await _readable(gateway, reader, message_id)
    return _detail_dict(detail)


def _detail_dict(detail: Any) -> dict[str, Any]:
    record = detail.record.to_dict()
    return {
        **record,
        "history": [change.to_dict() for change in detail.history],
        "attempts": [attempt.to_dict() for attempt in detail.attempts],
        "receipts": [receipt.to_dict() for receipt in detail.receipts],
        "report": _plain(detail.report),
    }


@messages.get("/{message_id}/receipt", summary="The receiver's signed receipt (XML)")
async def get_receipt(
    message_id: str, gateway: GatewayDep, reader: ReaderDep, receiver: str | None = None
) -> Response:
    """The latest verified receipt; of ``receiver`` (one of a transit declaration's countries) if named."""
    detail = await _readable(gateway, reader, message_id)
    receipt = detail.receipt if receiver is None else detail.receipt_of(receiver)
    if receipt is None:
        return JSONResponse({"code": Code.GW_RECEIPT_MISSING.value, "message": "no verified receipt yet"},
                            status_code=404)
    return Response(receipt.body, media_type="application/xml")


@messages.get("/{message_id}/rejection", summary="The gateway's signed rejection report of a refused message (XML)")
async def get_rejection(message_id: str, gateway: GatewayDep, reader: ReaderDep) -> Response:
    detail = await _readable(gateway, reader, message_id)
    if detail.record.status is not MessageStatus.REJECTED:
        raise InputError(f"message {message_id!r} was not rejected at submission (it is {detail.record.status.value})",
                         code=Code.GW_REJECTION_MISSING)
    answer = _plain(detail.report)
    report = await run_in_threadpool(gateway.rejection_report, detail.envelope, answer,
                                     int(answer.get("http_status") or 422))
    return Response(report, media_type="application/xml")


@messages.get("/{message_id}/envelope", summary="The envelope exactly as received (XML)")
async def get_envelope(message_id: str, gateway: GatewayDep, reader: ReaderDep) -> Response:
    detail = await _readable(gateway, reader, message_id)
    return Response(detail.envelope, media_type="application/xml")


@messages.post("/{message_id}/retry", summary="Retry a dead-lettered (FAILED) message (the operator's)",
               dependencies=OPERATOR)
async def retry_message(message_id: str, gateway: GatewayDep, receiver: str | None = None) -> dict[str, Any]:
    """Every FAILED delivery of the message, or only ``receiver``'s."""
    record = await run_in_threadpool(gateway.store.retry, message_id, actor="api", receiver=receiver)
    if gateway.deliverer is not None:
        gateway.deliverer.wake()
    return record.to_dict()


@audit.get("", summary="Audit log entries")
async def audit_entries(
    gateway: GatewayDep,
    after: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    message_id: str | None = None,
) -> dict[str, Any]:
    entries = await run_in_threadpool(gateway.store.audit_entries, after_seq=after, limit=limit, message_id=message_id)
    return {"entries": [entry.to_dict() for entry in entries]}


@audit.get("/verify", summary="Verify the audit hash chain")
async def audit_verify(gateway: GatewayDep) -> dict[str, Any]:
    result = await run_in_threadpool(gateway.store.verify_audit)
    return result.to_dict()


@operations.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@operations.get("/readyz", summary="The store answers and the workspace is loaded")
async def readyz(gateway: GatewayDep) -> Response:
    try:
        await run_in_threadpool(gateway.store.ping)
    except ExchangeError as exc:
        return JSONResponse({"status": "unavailable", "code": exc.code.value, "message": exc.message},
                            status_code=503)
    return JSONResponse({"status": "ready"})


@operations.get("/metrics", summary="Prometheus metrics")
async def metrics(gateway: GatewayDep) -> Response:
    depth = await run_in_threadpool(gateway.store.queue_depth)
    gateway.metrics.set_queue_depth(depth)
    gateway.metrics.set_recorded(gateway.store.recorded)
    body, content_type = gateway.metrics.render()
    return Response(body, media_type=content_type)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """Query or path values that do not fit the API: ``INPUT-INVALID`` in the same shape as every other error."""
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for RequestValidationError only
    errors = [{"location": ".".join(str(part) for part in error.get("loc", ())), "message": str(error.get("msg", ""))}
              for error in exc.errors()]
    summary = "; ".join(f"{error['location']}: {error['message']}" for error in errors[:5])
    return JSONResponse({"code": Code.INPUT_INVALID.value, "message": f"the request does not fit the API: {summary}",
                         "errors": errors}, status_code=422)


class ConfigurationFault(ConfigurationError):
    """The gateway could not judge a message because its own material is unusable (``GW-CONFIG-FAULT``, 503).

    ``cause`` is the code of what was raised (``TRUST-LIST-SIGNATURE``, ``TRUST-LIST-INVALID``, ...); the answer
    names it, the log has the detail (file, reason), the sender is not blamed and may send the message again.
    """

    def __init__(self, message: str, *, cause: Code) -> None:
        super().__init__(message, code=Code.GW_CONFIG_FAULT)
        self.cause = cause


def configuration_fault(exc: ExchangeError) -> ConfigurationFault:
    """Log a trust or configuration error raised while judging a submission and turn it into the gateway's own."""
    log.error("a submission could not be judged: the gateway's own trust material or configuration is unusable: "
              "%s%s", exc, f" ({exc.path})" if exc.path else "",
              extra={"code": Code.GW_CONFIG_FAULT.value, "cause": exc.code.value})
    return ConfigurationFault(
        f"the gateway cannot judge messages now: its own trust material or configuration is unusable "
        f"({exc.code.value}); this is no fault of the message, send it again later",
        cause=exc.code,
    )


async def _exchange_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ExchangeError)  # noqa: S101 - registered for ExchangeError only
    status = _STATUS_BY_CODE.get(exc.code)
    if status is None:
        status = 503 if exc.code.category.value == "store" else 400
    body = {"code": exc.code.value, "message": exc.message}
    if isinstance(exc, ConfigurationFault):
        body["cause"] = exc.cause.value  # logged where it was raised
    elif status >= 500:
        log.error("%s: %s", exc.code.value, exc.message)
    return JSONResponse(body, status_code=status, headers=dict(CHALLENGES.get(exc.code, {})))


def create_app(
    settings: GatewaySettings | None = None,
    *,
    members: Members | None = None,
    catalogue: Catalogue | None = None,
    http_client: httpx.AsyncClient | None = None,
    now: Callable[[], datetime] = _now,
    run_worker: bool = True,
) -> FastAPI:
    """The gateway app. ``members`` defaults to the settings' workspace; ``http_client`` carries deliveries
    (tests inject one with a MockTransport or ASGITransport); ``run_worker=False`` leaves delivery to the caller
    (``app.state.gateway.deliverer.run_once()``)."""
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from exchange import Workspace

        workspace = Workspace.open(settings.workspace)
        store = await run_in_threadpool(Store.open, settings.store_url, now=now)
        gateway = Gateway(
            settings,
            store=store,
            members=members or WorkspaceMembers(workspace),
            catalogue=catalogue or default_catalogue(),
            metrics=GatewayMetrics(),
            signer=workspace.gateway_signer(),
            now=now,
        )
        tls = gateway_tls(settings.tls, workspace)
        if tls.verifies_clients or settings.hub_listener:
            gateway.transport = gateway_transport_policy(workspace)
            gateway.tls_contexts = list(getattr(app.state, "tls_contexts", ()))
        gateway.access = Access(
            token=await run_in_threadpool(ensure_operator_token, settings.workspace), members=gateway.members,
            transport=gateway.current_transport, now=now, dashboard_open=is_loopback(settings.listen_host),
        )
        if store.dialect == "sqlite":
            await run_in_threadpool(store.expire_leases, actor="gateway-start")
        client = http_client or httpx.AsyncClient(**tls.httpx_options(settings.node_urls))
        deliverer = Deliverer(
            store, settings.delivery, client,
            deliver=lambda claim: gateway.deliver(client, claim), metrics=gateway.metrics, now=now,
        )
        gateway.deliverer = deliverer
        app.state.gateway = gateway
        await run_in_threadpool(_warm, gateway.members, now)
        task = asyncio.create_task(deliverer.run()) if run_worker else None
        refresher = asyncio.create_task(_refresh_transport(gateway)) if gateway.tls_contexts else None
        try:
            yield
        finally:
            if refresher is not None:
                refresher.cancel()
            deliverer.stop()
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if http_client is None:
                await client.aclose()
            store.close()

    app = FastAPI(
        title="ptx gateway",
        version="0.1.0",
        summary="Checks, stores and forwards signed trade documents between single windows.",
        lifespan=lifespan,
        docs_url=None,  # Swagger UI and ReDoc load from a CDN: offline they would not work; /openapi.json is local
        redoc_url=None,
    )
    app.add_exception_handler(ExchangeError, _exchange_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(DashboardLogin, dashboard_login)  # the dashboard's login form, 401
    app.include_router(messages)
    app.include_router(audit)
    app.include_router(operations)
    app.include_router(ui_router)
    app.include_router(ephyto_router)  # the ePhyto hub interface (SOAP 1.1)
    app.add_middleware(LanguageMiddleware)  # the page language: ?lang=, the ptx_lang cookie, Accept-Language
    app.add_middleware(RequestLog, logger="gateway.access")  # one structured access line per request
    return app


def _warm(members: Members, now: Callable[[], datetime]) -> None:
    """Build the first snapshot of the parties (agreements verified, trust contexts built) before the first message,
    so that message costs what every other one does; a fault in the material is answered per message, as later."""
    try:
        members.view(moment=now())
    except ExchangeError as exc:
        log.warning("the parties' material could not be read at start: %s", exc, extra={"code": exc.code.value})


async def _refresh_transport(gateway: Gateway, interval: float = 1.0) -> None:
    """Keep the TLS listeners' client CAs and the TLS registry on the directory's current version, so a country
    admitted while the gateway runs can complete its TLS handshake within about ``interval`` seconds (a handshake
    comes before any request, so it cannot wait for one)."""
    while True:
        try:
            await run_in_threadpool(gateway.refresh_transport)
        except (ExchangeError, AttributeError) as exc:
            log.warning("the TLS registry was not refreshed: %s", exc)
        await asyncio.sleep(interval)


__all__ = ["ConfigurationFault", "Gateway", "configuration_fault", "create_app"]
