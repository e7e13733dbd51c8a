"""A single window's pages at ``/ui``: outbox and inbox, the issue form, one message with its receipt.

::

    GET  /ui                     outbox and inbox, updated live (the outbox follows its messages at the gateway)
    GET  /ui/issue?type=&to=     the issue form: a catalogue type, its input example as JSON (editable), the
                                 receiving country, the issuing authority, "change one byte before sending"
    POST /ui/issue               builds, signs and sends through this node's own outbox (the same code as
                                 ``POST /v1/outbox``), then shows the message; an invalid document comes back
                                 to the form with every finding
    GET  /ui/outbox/{id}         a sent message: the gateway's checks, its history, the document sent, and the
                                 receiver's signed receipt as this node verified it
    GET  /ui/inbox/{id}          a received message: this node's own checks, the document, the receipt answered
    GET  /ui/events              server-sent events: outbox and inbox rows (escaped HTML) when they change;
                                 ``?outbox=ID`` follows one sent message (its page reloads when it changes)
    GET  /ui/static/{name}       stylesheet, script and icon from the package

The only page that changes anything is the issue form; a POST from another origin is refused
(``Origin``/``Sec-Fetch-Site``). The app factory mounts this router next to the API routers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from exchange import (
    N_,
    Code,
    DocumentType,
    ExchangeError,
    InputError,
    Receipt,
    ReceiptStatus,
    gettext,
    load_input,
    parse_xml,
    read_receipt,
    strip_userinfo,
)
from exchange.node._app import NodeServices, http_status
from exchange.node._checks import ENVELOPE_TYPE, RECEIPT_TYPE
from exchange.node._outbox import DocumentRefused, OutboxRequest
from exchange.node._store import RECEIPTED, UNSUBMITTED, InboxEntry, OutboxEntry, OutboxStatus
from exchange.services._webui import (
    STREAM_SECONDS,
    SignatureView,
    XmlView,
    event_response,
    event_stream,
    make_templates,
    render_page,
    same_origin,
    signature_view,
    static_response,
    xml_view,
)

UI = "/ui"
#: How often live pages look for news (seconds); the outbox asks the gateway at most this often per message.
POLL_INTERVAL = 1.0
LIST_LIMIT = 50
#: Only the newest sent messages are followed at the gateway while the list is open.
FOLLOW_LIMIT = 20
_NOT_ISSUED = frozenset({ENVELOPE_TYPE, RECEIPT_TYPE, "trust-list"})

TEMPLATES = make_templates(Path(__file__).parent / "ui" / "templates")

router = APIRouter(prefix=UI, include_in_schema=False)

_GOOD = frozenset({OutboxStatus.ACCEPTED, OutboxStatus.DELIVERED, OutboxStatus.ACKNOWLEDGED})
_BAD = frozenset({OutboxStatus.REJECTED, OutboxStatus.RECEIVER_REJECTED, OutboxStatus.FAILED,
                  OutboxStatus.SUBMIT_FAILED})


def _services(request: Request) -> NodeServices:
    services: NodeServices = request.app.state.node
    return services


def outbox_state(entry: OutboxEntry) -> str:
    """``ok``, ``fail`` or ``pending``: the colour of a sent message's status."""
    if entry.status in _BAD:
        return "fail"
    return "ok" if entry.status in _GOOD else "pending"


def inbox_state(entry: InboxEntry) -> str:
    return "ok" if entry.verdict is ReceiptStatus.RECEIVED else "fail"


def _page(services: NodeServices, name: str, context: Mapping[str, Any], *, status_code: int = 200,
          active: str = "") -> Response:
    country = services.settings.country
    base = {
        "ui": UI,
        "app_name": gettext("{country} single window").format(country=country),
        "app_kind": "node",
        "nav": ((UI, N_("Outbox & inbox")), (f"{UI}/issue", N_("Issue a document"))),  # translated where shown
        "active": active,
        "country": country,
        "country_name": services.workspace.country(country).name,
        "outbox_state": outbox_state,
        "inbox_state": inbox_state,
        "demo": services.settings.demo,  # demo switches (tamper) are offered only in demo mode
    }
    return render_page(TEMPLATES, name, {**base, **context}, status_code=status_code)


def _error_page(services: NodeServices, exc: ExchangeError) -> Response:
    return _page(services, "error.html", {"code": exc.code.value, "message": exc.message},
                 status_code=http_status(exc.code))


def _gateway_page(services: NodeServices, message_id: str) -> str:
    return f"{strip_userinfo(services.settings.gateway_url).rstrip('/')}/ui/messages/{quote(message_id, safe='')}"


# --- the lists ------------------------------------------------------------------------------------------------


def _codes(answer: Any) -> list[str]:
    """Error codes in the gateway's answer (its report's findings, or an error body's code)."""
    if not isinstance(answer, Mapping):
        return []
    codes = [str(finding.get("code")) for check in answer.get("checks") or () if isinstance(check, Mapping)
             for finding in check.get("findings") or ()
             if isinstance(finding, Mapping) and finding.get("severity") == "error"]
    if not codes and isinstance(answer.get("code"), str):
        codes = [answer["code"]]
    return list(dict.fromkeys(codes))


def _lists(services: NodeServices) -> dict[str, Any]:
    outbox = services.outbox.list(limit=LIST_LIMIT, offset=0)
    inbox = services.store.inbox_list(limit=LIST_LIMIT, offset=0)
    return {"outbox": outbox, "inbox": inbox, "codes": {entry.message_id: _codes(entry.gateway_answer)
                                                         for entry in outbox}}


def _following(entry: OutboxEntry) -> bool:
    """Whether the gateway may still have news for a sent message (the outbox's own rule)."""
    if entry.status in UNSUBMITTED or entry.status is OutboxStatus.REJECTED:
        return False
    return not (entry.status in RECEIPTED and entry.receipt_verified)


async def _follow(services: NodeServices) -> None:
    """Ask the gateway about the newest sent messages that may still move (receipts are verified on the way)."""
    entries = await run_in_threadpool(services.outbox.list, limit=FOLLOW_LIMIT, offset=0)
    for entry in entries:
        if _following(entry):
            await services.outbox.get(entry.message_id, refresh=True)  # a gateway problem is returned, not raised


def _lists_token(lists: Mapping[str, Any]) -> str:
    return json.dumps([
        [[e.message_id, e.status.value, e.receipt_verified, e.updated_at.isoformat()] for e in lists["outbox"]],
        [[e.message_id, e.verdict.value] for e in lists["inbox"]],
    ])


@router.get("")
async def home(request: Request) -> Response:
    services = _services(request)
    await _follow(services)
    lists = await run_in_threadpool(_lists, services)
    return _page(services, "home.html", {**lists, "events_url": f"{UI}/events"}, active="Outbox & inbox")


@router.get("/events")
async def events(
    request: Request,
    outbox: str | None = None,
    seconds: Annotated[float, Query(ge=0, le=STREAM_SECONDS)] = STREAM_SECONDS,
) -> Response:
    """Server-sent events: a ``snapshot`` with the outbox and inbox rows whenever they change; with ``outbox``
    the token of that sent message (refreshed from the gateway)."""
    services = _services(request)

    if outbox is not None:
        message_id = outbox

        async def message_token() -> str:
            try:
                entry, _ = await services.outbox.get(message_id, refresh=True)
            except ExchangeError as exc:
                return exc.code.value
            return _outbox_token(entry)

        async def nothing() -> dict[str, Any]:
            return {}

        return event_response(event_stream(request, token=message_token, snapshot=nothing,
                                           interval=POLL_INTERVAL, seconds=seconds))

    latest: dict[str, Any] = {}
    followed = {"at": 0.0}

    async def token() -> str:
        if time.monotonic() - followed["at"] >= POLL_INTERVAL:
            await _follow(services)
            followed["at"] = time.monotonic()
        latest["lists"] = await run_in_threadpool(_lists, services)
        return _lists_token(latest["lists"])

    async def snapshot() -> dict[str, Any]:
        context = {"ui": UI, "outbox_state": outbox_state, "inbox_state": inbox_state, **latest["lists"]}
        return {"html": {
            "outbox-rows": TEMPLATES.get_template("_outbox_rows.html").render(**context),
            "inbox-rows": TEMPLATES.get_template("_inbox_rows.html").render(**context),
        }}

    return event_response(event_stream(request, token=token, snapshot=snapshot, interval=POLL_INTERVAL,
                                       seconds=seconds))


# --- the issue form -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IssueForm:
    """What the form shows: the choices, the current values, and what went wrong with the last try."""

    types: tuple[DocumentType, ...]
    receivers: tuple[str, ...]
    issuers: tuple[tuple[str, str], ...]  # (slug, name)
    type: str
    to: str
    issuer: str
    data: str
    tamper: bool = False
    error: str | None = None
    code: str | None = None
    findings: tuple[Any, ...] = ()
    message_url: str | None = None


def _issuable(services: NodeServices) -> tuple[DocumentType, ...]:
    """Catalogue types one of this country's authorities may sign and that come with an input example."""
    catalogue = services.outbox._catalogue  # the outbox's own catalogue: what it can build
    authorities = services.workspace.country(services.settings.country).authorities.values()
    signed = {doc_type for authority in authorities if authority.role == "document-signer"
              for doc_type in authority.document_types}
    return tuple(doc_type for doc_type in catalogue
                 if doc_type.id not in _NOT_ISSUED and doc_type.input_example is not None and doc_type.id in signed)


def _receivers(services: NodeServices, type_id: str) -> tuple[str, ...]:
    """Every other country; those an agreement lets this type flow to come first."""
    country = services.settings.country
    moment = services.clock()
    members = services.workspace.members
    agreed = [receiver for receiver in members if receiver != country and any(
        agreement.allows(country, receiver, type_id, moment=moment)
        for agreement in services.workspace.agreements_of(country, moment))]
    others = [receiver for receiver in members if receiver != country and receiver not in agreed]
    return tuple(agreed + others)


def example_json(doc_type: DocumentType) -> str:
    """The type's input example (JSON or YAML in the catalogue) as indented JSON for the form."""
    if doc_type.input_example is None:
        return "{}"
    return json.dumps(load_input(doc_type.input_example), indent=2, ensure_ascii=False, default=str)


def _form(services: NodeServices, type_id: str | None, to: str | None, **values: Any) -> IssueForm:
    types = _issuable(services)
    chosen = next((doc_type for doc_type in types if doc_type.id == type_id), types[0] if types else None)
    if chosen is None:
        raise InputError(f"{services.settings.country} has no authority that signs a catalogue type with an example",
                         code=Code.CONFIG_INVALID)
    receivers = _receivers(services, chosen.id)
    authorities = services.workspace.country(services.settings.country).authorities
    issuers = tuple((slug, record.name) for slug, record in authorities.items() if record.role == "document-signer")
    values.setdefault("data", example_json(chosen))
    values.setdefault("issuer", "")
    return IssueForm(types=types, receivers=receivers, issuers=issuers, type=chosen.id,
                     to=to if to in receivers else (receivers[0] if receivers else ""), **values)


@router.get("/issue")
async def issue_form(request: Request, type: str | None = None, to: str | None = None) -> Response:  # noqa: A002
    services = _services(request)
    form = await run_in_threadpool(_form, services, type, to)
    return _page(services, "issue.html", {"form": form}, active="Issue a document")


def _one(fields: Mapping[str, list[str]], name: str) -> str:
    values = fields.get(name) or [""]
    return values[0]


@router.post("/issue")
async def issue(request: Request) -> Response:
    """Build, sign and send through the outbox; then show the message (303), or the form again with the problem."""
    services = _services(request)
    if not same_origin(request):
        return Response("cross-origin form posts are refused", status_code=403, media_type="text/plain")
    limit = services.settings.max_message_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return Response("the form is too large", status_code=413, media_type="text/plain")
    body = await request.body()
    if len(body) > limit:
        return Response("the form is too large", status_code=413, media_type="text/plain")
    fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True, max_num_fields=20)
    type_id, to, issuer = _one(fields, "type"), _one(fields, "to"), _one(fields, "issuer")
    text, tamper = _one(fields, "data"), _one(fields, "tamper") == "on"

    async def again(status_code: int, **problem: Any) -> Response:
        form = await run_in_threadpool(_form, services, type_id, to, data=text, issuer=issuer, tamper=tamper,
                                       **problem)
        return _page(services, "issue.html", {"form": form}, status_code=status_code, active="Issue a document")

    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return await again(422, code=Code.INPUT_INVALID.value,
                           error=gettext("the data is not JSON: {reason} at line {line}, column {column}").format(
                               reason=exc.msg, line=exc.lineno, column=exc.colno))
    if not isinstance(data, dict):
        return await again(422, code=Code.INPUT_INVALID.value, error=gettext("the data must be a JSON object"))
    try:
        outbox_request = OutboxRequest(type=type_id or None, data=data, issuer=issuer or None, to=to, tamper=tamper)
    except ValidationError as exc:
        summary = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'request'}: {e['msg']}" for e in exc.errors())
        return await again(422, code=Code.INPUT_INVALID.value, error=summary)
    try:
        entry, _ = await services.outbox.send(outbox_request)
    except DocumentRefused as exc:
        return await again(422, code=exc.code.value, error=exc.message, findings=exc.findings)
    except ExchangeError as exc:
        url = f"{UI}/outbox/{quote(exc.path.rsplit('/', 1)[-1], safe='')}" if exc.path else None
        return await again(http_status(exc.code), code=exc.code.value, error=exc.message, message_url=url)
    return RedirectResponse(f"{UI}/outbox/{quote(entry.message_id, safe='')}", status_code=303)


# --- one message ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Part:
    title: str
    view: XmlView
    signature: SignatureView | None
    note: str = ""
    raw_url: str | None = None


def _receipt_fields(signature: SignatureView) -> Receipt | None:
    if not signature.valid or signature.signed_content is None:
        return None
    try:
        return read_receipt(parse_xml(signature.signed_content))
    except ExchangeError:
        return None


def _outbox_token(entry: OutboxEntry) -> str:
    return f"{entry.status.value}|{entry.receipt_verified}|{entry.updated_at.isoformat()}"


def outbox_context(services: NodeServices, entry: OutboxEntry) -> dict[str, Any]:
    """What the page of a sent message shows (blocking: signatures are verified again to show their chains)."""
    moment = entry.created_at
    parts = [Part(
        gettext("Document sent ({type})").format(type=entry.document_type), xml_view(entry.document),
        signature_view(entry.document, label=gettext("Issuer's signature"), moment=moment),
        gettext("Signed by the issuing authority — then one letter was changed before sending.") if entry.tampered
        else gettext("Signed by the issuing authority."),
    )]
    receipt_fields = None
    if entry.receipt is not None:
        receipt_signature = signature_view(entry.receipt, label=gettext("Receipt signature ({country}'s node)").format(
                                               country=entry.receiver), moment=entry.updated_at)
        receipt_fields = _receipt_fields(receipt_signature)
        parts.insert(0, Part(gettext("Receipt"), xml_view(entry.receipt), receipt_signature,
                             gettext("{receiver}'s signed answer, fetched from the gateway and verified here with "
                                     "{country}'s own trust.").format(receiver=entry.receiver,
                                                                      country=services.settings.country)))
    answer = entry.gateway_answer if isinstance(entry.gateway_answer, Mapping) else {}
    checks = [check for check in answer.get("checks") or () if isinstance(check, Mapping)]
    return {
        "entry": entry,
        "state": outbox_state(entry),
        "checks": checks,
        "codes": _codes(entry.gateway_answer),
        "parts": parts,
        "receipt_fields": receipt_fields,
        "gateway_history": entry.gateway_history if isinstance(entry.gateway_history, list) else [],
        "gateway_page": _gateway_page(services, entry.message_id),
        "token": _outbox_token(entry),
        "events_url": f"{UI}/events?outbox={quote(entry.message_id, safe='')}",
    }


@router.get("/outbox/{message_id}")
async def outbox_page(request: Request, message_id: str) -> Response:
    services = _services(request)
    try:
        entry, problem = await services.outbox.get(message_id, refresh=True)
    except ExchangeError as exc:
        return _error_page(services, exc)
    context = await run_in_threadpool(outbox_context, services, entry)
    context["refresh_error"] = problem
    return _page(services, "outbox.html", context, active="Outbox & inbox")


def inbox_context(services: NodeServices, entry: InboxEntry) -> dict[str, Any]:
    parts: list[Part] = []
    if entry.verdict is ReceiptStatus.RECEIVED:
        document = services.store.inbox_document(entry.message_id)
        parts.append(Part(gettext("Document received ({type})").format(type=entry.document_type), xml_view(document),
                          signature_view(document, label=gettext("Issuer's signature"), moment=entry.received_at),
                          gettext("Byte for byte as its issuer signed it."),
                          f"/v1/documents/{quote(entry.message_id, safe='')}"))
    parts.append(Part(gettext("Receipt answered"), xml_view(entry.receipt),
                      signature_view(entry.receipt, label=gettext("Receipt signature ({country}'s node)").format(
                          country=services.settings.country), moment=entry.received_at),
                      gettext("This node's signed answer: the message id, the SHA-256 of the envelope as received, "
                              "the verdict and its reasons."),
                      f"/v1/inbox/{quote(entry.message_id, safe='')}/receipt"))
    return {"entry": entry, "state": inbox_state(entry), "checks": entry.checks, "parts": parts}


@router.get("/inbox/{message_id}")
async def inbox_page(request: Request, message_id: str) -> Response:
    services = _services(request)
    try:
        entry = await run_in_threadpool(services.store.inbox_get, message_id)
        context = await run_in_threadpool(inbox_context, services, entry)
    except ExchangeError as exc:
        return _error_page(services, exc)
    return _page(services, "inbox.html", context, active="Outbox & inbox")


@router.get("/static/{name}")
async def static(name: str) -> Response:
    return static_response(name)


__all__ = ["IssueForm", "example_json", "inbox_context", "outbox_context", "router"]
