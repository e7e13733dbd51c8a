"""The gateway's dashboard at ``/ui``: what trainers project while a document crosses the border.

Read-only pages over the store (nothing here changes a message)::

    GET /ui                      live message list: filters by status, type and party; running counters
    GET /ui/messages/{id}        header, sequence diagram (sender node -> gateway -> receiver node -> receipt),
                                 timeline (received, every check with its codes, status changes, delivery
                                 attempts, receipts), envelope and document XML with the signatures marked,
                                 signer chains with validity, the receipt
    GET /ui/audit                whether the audit hash chain verifies, and the latest entries
    GET /ui/events               server-sent events: a snapshot of the list (rows and counters as escaped HTML)
                                 whenever the store changes; ``?message=ID`` follows one message instead
    GET /ui/messages/{id}/envelope, /receipt   the raw XML the message page links to
    GET /ui/static/{name}        the stylesheet, the script and the icon, served from the package
    GET, POST /ui/login          the operator's login form (a gateway not bound to loopback); POST /ui/logout

Who may look (:mod:`gateway._access`): anyone when the gateway is bound to a loopback address, the trainer's
case; bound to any other interface, only the operator: ``Authorization: Bearer <token>``, or the cookie the login
form sets after it was posted the token (HttpOnly, SameSite=Strict, ``Path=/ui``, Secure on HTTPS; its value is an
HMAC of the token, never the token). Without it a page answers 401 with the login form. The form refuses
cross-origin posts and goes back only to a page of the dashboard. The static files are open (nothing in them is
the store's).

The live list polls a cheap change token (the newest status change, delivery attempt and receipt: three
primary-key maxima) every :data:`POLL_INTERVAL` seconds on the server and sends a snapshot only when it changed; any number of gateway
processes sharing one store see each other's messages, and nothing needs wiring into the submit route. Each
stream ends after ``seconds`` (at most :data:`~exchange.services._webui.STREAM_SECONDS`); the browser's ``EventSource``
reconnects by itself and gets a fresh snapshot.

The app factory mounts this router with ``app.include_router(ui_router)``; the pages read
``request.app.state.gateway`` (:class:`gateway._app.Gateway`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from exchange import (
    N_,
    Code,
    ExchangeError,
    Receipt,
    StoreError,
    gettext,
    parse_xml,
    read_envelope,
    read_receipt,
    status_label,
    token_matches,
)
from exchange.services._webui import (
    STREAM_SECONDS,
    SignatureView,
    XmlView,
    event_response,
    event_stream,
    make_templates,
    pick,
    render_page,
    same_origin,
    signature_view,
    static_response,
    xml_view,
)
from gateway._access import DASHBOARD_COOKIE
from gateway._pipeline import CHECK_ORDER, ENVELOPE_POLICY, ENVELOPE_TYPE
from gateway._status import MessageStatus
from gateway._store import (
    MessageDetail,
    MessageRecord,
    Store,
    StoredReceipt,
    classify_database_error,
    delivery_attempts,
    message_bodies,
    messages,
    receipts,
    status_history,
)

if TYPE_CHECKING:
    from gateway._app import Gateway

#: How often the server looks for changes while a live page is open (seconds).
POLL_INTERVAL = 0.5
#: How many of the newest messages the live list shows.
LIST_LIMIT = 100
#: Document types that are part of the exchange itself, never sent as a payload.
_INTERNAL_TYPES = frozenset({ENVELOPE_TYPE, "receipt", "trust-list"})

TEMPLATES = make_templates(Path(__file__).parent / "ui" / "templates")
UI = "/ui"
NAV = ((f"{UI}", N_("Messages")), (f"{UI}/audit", N_("Audit")))  # labels translated where shown



class DashboardLogin(Exception):  # noqa: N818 - a signal to the handler, not an error of the project's tree
    """Raised by the guard when the dashboard needs the operator's token; answered with the login form (401)."""


def _guard(request: Request) -> None:
    access = _gateway(request).access
    if access is None or not access.dashboard_allowed(request.headers, request.cookies):
        raise DashboardLogin


public = APIRouter(prefix=UI, include_in_schema=False)  # open: static files, login and logout
pages = APIRouter(prefix=UI, include_in_schema=False, dependencies=[Depends(_guard)])  # the store's pages: guarded

_GOOD = frozenset({MessageStatus.ACCEPTED, MessageStatus.DELIVERED, MessageStatus.ACKNOWLEDGED})
_BAD = frozenset({MessageStatus.REJECTED, MessageStatus.RECEIVER_REJECTED, MessageStatus.FAILED})


def _gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


def _page(name: str, context: Mapping[str, Any], *, status_code: int = 200, active: str = "") -> Response:
    base = {"ui": UI, "app_name": gettext("ptx gateway"), "app_kind": "gateway", "nav": NAV, "active": active}
    return render_page(TEMPLATES, name, {**base, **context}, status_code=status_code)


def _error_page(exc: ExchangeError, *, status_code: int) -> Response:
    return _page("error.html", {"code": exc.code.value, "message": exc.message}, status_code=status_code)


def status_state(status: MessageStatus | str) -> str:
    """``ok``, ``fail`` or ``pending``: the colour a status is drawn in."""
    status = MessageStatus(status)
    return "ok" if status in _GOOD else "fail" if status in _BAD else "pending"


# --- the list: filters, counters, change token --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Filters:
    """The list's filters, from the query string; values that are not options are dropped."""

    status: str | None = None
    type: str | None = None
    party: str | None = None

    def query(self) -> str:
        from urllib.parse import urlencode

        return urlencode({key: value for key, value in
                          (("status", self.status), ("type", self.type), ("party", self.party)) if value})

    @property
    def active(self) -> bool:
        return bool(self.status or self.type or self.party)


@dataclass(frozen=True, slots=True)
class Overview:
    """Counts per status over the whole store, and the parties and types seen."""

    counts: Mapping[str, int]
    total: int
    parties: tuple[str, ...]
    types: tuple[str, ...]


def _read(store: Store, statement: Any) -> list[Any]:
    """One read-only statement in its own transaction; database failures become ``StoreError``."""
    try:
        with store.reading() as conn:
            return list(conn.execute(statement).all())
    except sa_exc.SQLAlchemyError as exc:
        raise StoreError(f"cannot read the dashboard overview: {exc.__class__.__name__}",
                         code=classify_database_error(exc)) from exc


def read_token(store: Store) -> str:
    """A token that changes whenever a message arrives or moves: the newest status change, delivery attempt and
    receipt. Three primary-key maxima: cheap enough to ask twice a second whatever the size of the store."""
    (row,) = _read(store, select(
        select(func.max(status_history.c.id)).scalar_subquery(),
        select(func.max(delivery_attempts.c.id)).scalar_subquery(),
        select(func.max(receipts.c.id)).scalar_subquery(),
    ))
    return "-".join(str(int(value or 0)) for value in row)


def read_overview(store: Store) -> Overview:
    """The counters per status, and the parties and document types seen (for the filters)."""
    rows = _read(store, select(messages.c.status, func.count()).group_by(messages.c.status))
    counts = {status.value: 0 for status in MessageStatus}
    counts.update({str(status): int(count) for status, count in rows})
    senders = _read(store, select(messages.c.sender).distinct())
    receivers = _read(store, select(messages.c.receiver).distinct())
    types = _read(store, select(messages.c.document_type).distinct())
    return Overview(
        counts=counts,
        total=sum(counts.values()),
        parties=tuple(sorted({str(row[0]) for row in senders} | {str(row[0]) for row in receivers})),
        types=tuple(sorted(str(row[0]) for row in types)),
    )


def list_newest(store: Store, filters: Filters, *, limit: int = LIST_LIMIT) -> tuple[MessageRecord, ...]:
    """The newest messages that pass the filters; ``party`` matches the sender or the receiver."""
    status = MessageStatus(filters.status) if filters.status else None
    if filters.party is None:
        return store.list_messages(status=status, document_type=filters.type, limit=limit).items
    both: dict[str, MessageRecord] = {}
    for side in ("sender", "receiver"):
        page = store.list_messages(status=status, document_type=filters.type, limit=limit,
                                   **{side: filters.party})  # type: ignore[arg-type]
        both.update((record.message_id, record) for record in page.items)
    ordered = sorted(both.values(), key=lambda record: (record.received_at, record.message_id), reverse=True)
    return tuple(ordered[:limit])


def _filters(gateway: Gateway, overview: Overview, status: str | None, type_: str | None,
             party: str | None) -> Filters:
    return Filters(
        status=pick([s.value for s in MessageStatus], status),
        type=pick(_type_options(gateway, overview), type_),
        party=pick(_party_options(gateway, overview), party),
    )


def _type_options(gateway: Gateway, overview: Overview) -> list[str]:
    known = {doc_type.id for doc_type in gateway.catalogue if doc_type.id not in _INTERNAL_TYPES}
    return sorted(known | set(overview.types))


def _party_options(gateway: Gateway, overview: Overview) -> list[str]:
    return sorted(set(gateway.settings.node_urls) | set(overview.parties))


def rejection_codes(store: Store, items: tuple[MessageRecord, ...]) -> dict[str, list[str]]:
    """The error codes that rejected each REJECTED message among ``items`` (from the stored reports)."""
    ids = [record.message_id for record in items if record.status is MessageStatus.REJECTED]
    if not ids:
        return {}
    rows = _read(store, select(messages.c.message_id, message_bodies.c.report)
                 .join(message_bodies, message_bodies.c.message_pk == messages.c.id)
                 .where(messages.c.message_id.in_(ids)))
    codes: dict[str, list[str]] = {}
    for message_id, report in rows:
        try:
            parsed = json.loads(report)
        except ValueError:
            continue
        codes[str(message_id)] = list(dict.fromkeys(code for check in _checks(parsed) for code in _error_codes(check)))
    return codes


def _list_context(gateway: Gateway, overview: Overview, filters: Filters) -> dict[str, Any]:
    items = list_newest(gateway.store, filters)
    return {
        "items": items,
        "codes": rejection_codes(gateway.store, items),
        "overview": overview,
        "filters": filters,
        "limit": LIST_LIMIT,
        "state": status_state,
    }


@pages.get("")
async def message_list(
    request: Request,
    status: str | None = None,
    type: str | None = None,  # noqa: A002 - the API's name for the document type
    party: str | None = None,
) -> Response:
    gateway = _gateway(request)

    def build() -> dict[str, Any]:
        overview = read_overview(gateway.store)
        filters = _filters(gateway, overview, status, type, party)
        return {
            **_list_context(gateway, overview, filters),
            "statuses": [s.value for s in MessageStatus],
            "types": _type_options(gateway, overview),
            "parties": _party_options(gateway, overview),
            "events_url": f"{UI}/events" + (f"?{filters.query()}" if filters.active else ""),
        }

    return _page("messages.html", await run_in_threadpool(build), active="Messages")


@pages.get("/")
async def slash() -> Response:
    return RedirectResponse(UI, status_code=308)


# --- events ---------------------------------------------------------------------------------------------------


def _message_token(detail: MessageDetail) -> str:
    record = detail.record
    return f"{record.status.value}|{record.updated_at.isoformat()}|{len(detail.attempts)}|{len(detail.receipts)}"


@pages.get("/events")
async def events(
    request: Request,
    status: str | None = None,
    type: str | None = None,  # noqa: A002
    party: str | None = None,
    message: str | None = None,
    seconds: Annotated[float, Query(ge=0, le=STREAM_SECONDS)] = STREAM_SECONDS,
) -> Response:
    """Server-sent events: ``snapshot`` with ``rows`` and ``counters`` (escaped HTML) and a ``token``; with
    ``message`` the token of that one message (the page reloads itself when it changes)."""
    gateway = _gateway(request)

    if message is not None:
        async def message_token() -> str:
            try:
                return _message_token(await run_in_threadpool(gateway.store.get, message))
            except ExchangeError as exc:
                return exc.code.value

        async def message_snapshot() -> dict[str, Any]:
            return {}

        return event_response(event_stream(request, token=message_token, snapshot=message_snapshot,
                                           interval=POLL_INTERVAL, seconds=seconds))

    async def token() -> str:
        return await run_in_threadpool(read_token, gateway.store)

    async def snapshot() -> dict[str, Any]:
        def build() -> dict[str, Any]:
            overview = read_overview(gateway.store)
            filters = _filters(gateway, overview, status, type, party)
            context = {"ui": UI, **_list_context(gateway, overview, filters)}
            return {
                "html": {
                    "rows": TEMPLATES.get_template("_rows.html").render(**context),
                    "counters": TEMPLATES.get_template("_counters.html").render(**context),
                },
                "shown": len(context["items"]),
                "total": overview.total,
            }

        return await run_in_threadpool(build)

    return event_response(event_stream(request, token=token, snapshot=snapshot, interval=POLL_INTERVAL,
                                       seconds=seconds))


# --- one message ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimelineItem:
    """One step of a message's life: ``kind`` is check, status, attempt or receipt; ``state`` ok/fail/pending/skip."""

    at: datetime | None
    kind: str
    title: str
    state: str
    detail: str = ""
    findings: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class Step:
    """One arrow of the sequence diagram: from one lifeline to another (or to itself), drawn at ``y``."""

    source: int
    target: int
    label: str
    note: str
    state: str
    dashed: bool
    y: int


@dataclass(frozen=True, slots=True)
class Diagram:
    lanes: tuple[tuple[int, str, str], ...]  # (x, title, subtitle)
    steps: tuple[Step, ...]
    width: int
    height: int


def _checks(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    checks = [check for check in report.get("checks") or () if isinstance(check, Mapping)]
    order = {name: index for index, name in enumerate(CHECK_ORDER)}
    return sorted(checks, key=lambda check: order.get(str(check.get("name")), len(order)))


def _error_codes(check: Mapping[str, Any]) -> list[str]:
    return [str(f.get("code")) for f in check.get("findings") or () if f.get("severity") == "error"]


def timeline(detail: MessageDetail) -> list[TimelineItem]:
    """Received, every check in pipeline order, then status changes, attempts and receipts in time order."""
    record = detail.record
    items = [TimelineItem(record.received_at, "received", gettext("Received by the gateway"), "ok",
                          gettext("{size} bytes, SHA-256 {digest}").format(size=f"{record.size:,}",
                                                                            digest=record.digest))]
    for check in _checks(detail.report):
        status = str(check.get("status"))
        state = {"passed": "ok", "failed": "fail"}.get(status, "skip")
        findings = tuple(f for f in check.get("findings") or () if isinstance(f, Mapping))
        codes = _error_codes(check)
        items.append(TimelineItem(record.received_at, "check", str(check.get("name")), state,
                                  status + (": " + ", ".join(codes) if codes else ""), findings))
    later: list[tuple[datetime, int, TimelineItem]] = []
    for attempt in detail.attempts:
        state = "ok" if attempt.outcome.value in ("delivered", "acknowledged") else (
            "fail" if attempt.outcome.value in ("permanent", "receiver_rejected") else "pending")
        parts = [f"HTTP {attempt.http_status}" if attempt.http_status else gettext("no answer")]
        if attempt.code:
            parts.append(attempt.code)
        if attempt.message:
            parts.append(attempt.message)
        if attempt.duration_ms is not None:
            parts.append(f"{attempt.duration_ms:.0f} ms")
        later.append((attempt.finished_at, 0, TimelineItem(
            attempt.finished_at, "attempt",
            gettext("Delivery attempt {number}: {outcome}").format(number=attempt.number,
                                                                    outcome=status_label(attempt.outcome)), state,
            " · ".join(parts))))
    for receipt in detail.receipts:
        if receipt.verified:
            verdict = receipt.verdict.value if receipt.verdict else "?"
            title = gettext("Signed receipt from {country}: {verdict} (verified)").format(
                country=receipt.receiver or record.receiver, verdict=status_label(verdict.upper()))
            state = "ok" if verdict == "received" else "fail"
        else:
            title, state = gettext("Receipt refused: {code}").format(code=receipt.code), "fail"
        later.append((receipt.received_at, 1, TimelineItem(receipt.received_at, "receipt", title, state,
                                                            receipt.reason)))
    for change in detail.history:
        later.append((change.at, 2, TimelineItem(change.at, "status",
                                                 gettext("Status {status}").format(status=change.status.value),
                                                 status_state(change.status), change.detail)))
    items.extend(item for _, _, item in sorted(later, key=lambda entry: (entry[0], entry[1])))
    return items


def _latest_receipt(detail: MessageDetail) -> StoredReceipt | None:
    return detail.receipt or (detail.receipts[-1] if detail.receipts else None)


def _receivers(detail: MessageDetail) -> tuple[str, ...]:
    """Every receiver of the message, the envelope's order: its deliveries, or a rejected one's report."""
    named = detail.report.get("receivers") if isinstance(detail.report.get("receivers"), list | tuple) else None
    if detail.record.deliveries or not named:
        return detail.record.receivers
    return tuple(str(receiver) for receiver in named)


def sequence_diagram(detail: MessageDetail) -> Diagram:
    """The journey as arrows between lifelines: the sender's node, the gateway, and one lane per receiving
    country (a transit declaration has one for every country on its route), each with its own deliveries and
    receipt."""
    record = detail.record
    receivers = _receivers(detail)
    sender, gateway = 110, 380
    lane_of = {receiver: 650 + index * 270 for index, receiver in enumerate(receivers)}
    steps: list[tuple[int, int, str, str, str, bool]] = []
    rejected = record.status is MessageStatus.REJECTED
    failed_codes = [code for check in _checks(detail.report) for code in _error_codes(check)]
    steps.append((sender, gateway, "POST /v1/messages",
                  gettext("envelope signed by {country}'s node").format(country=record.sender), "ok", False))
    if rejected:
        steps.append((gateway, gateway, gettext("checks: REJECTED"), ", ".join(dict.fromkeys(failed_codes)) or "",
                      "fail", False))
        steps.append((gateway, sender, gettext("answer: REJECTED"), gettext("with every finding"), "fail", True))
        for x in lane_of.values():
            steps.append((gateway, x, gettext("never delivered"), gettext("a rejected message is not forwarded"),
                          "skip", True))
    else:
        passed = sum(1 for check in _checks(detail.report) if check.get("status") == "passed")
        steps.append((gateway, gateway, gettext("checks: ACCEPTED"),
                      gettext("{count} checks passed, stored durably").format(count=passed), "ok", False))
        steps.append((gateway, sender, gettext("answer: 202 ACCEPTED"), gettext("message id and report"), "ok",
                      True))
        for receiver, x in lane_of.items():
            steps += _lane_steps(detail, receiver, sender, gateway, x, single=len(receivers) == 1)
    top = 86
    placed = tuple(Step(source, target, label, note, state, dashed, top + index * 58)
                   for index, (source, target, label, note, state, dashed) in enumerate(steps))
    several = len(receivers) > 1
    lanes = (
        (sender, gettext("{country} single window").format(country=record.sender), gettext("sending node")),
        (gateway, gettext("Gateway"), gettext("checks, stores, forwards")),
        *((x, gettext("{country} single window").format(country=receiver),
           gettext("receiver {number} of {count} on the route").format(number=index + 1, count=len(receivers))
           if several else gettext("receiving node"))
          for index, (receiver, x) in enumerate(lane_of.items())),
    )
    width = 760 + 270 * (len(receivers) - 1)
    return Diagram(lanes=lanes, steps=placed, width=width, height=top + len(placed) * 58 + 10)


def _lane_steps(detail: MessageDetail, receiver: str, sender: int, gateway: int, x: int,
                *, single: bool) -> list[tuple[int, int, str, str, str, bool]]:
    """One receiver's deliveries and receipt (every attempt and receipt is of one receiver)."""
    steps: list[tuple[int, int, str, str, str, bool]] = []
    attempts = [a for a in detail.attempts if single or a.receiver == receiver]
    if not attempts:
        steps.append((gateway, x, gettext("delivery queued"), gettext("POST /v1/inbox (signed by the gateway)"),
                      "pending", False))
    for attempt in attempts[-4:]:
        outcome = attempt.outcome.value
        state = "ok" if outcome in ("delivered", "acknowledged") else (
            "fail" if outcome in ("permanent", "receiver_rejected") else "pending")
        note = f"HTTP {attempt.http_status}" if attempt.http_status else (attempt.code or gettext("no answer"))
        steps.append((gateway, x, gettext("delivery #{number}: {outcome}").format(
            number=attempt.number, outcome=status_label(outcome)), note, state, False))
    receipts = [r for r in detail.receipts if single or r.receiver == receiver]
    receipt = next((r for r in reversed(receipts) if r.verified), receipts[-1] if receipts else None)
    if receipt is None:
        steps.append((x, gateway, gettext("signed receipt"), gettext("not yet"), "pending", True))
        steps.append((gateway, sender, gettext("receipt to the sender"), gettext("not yet"), "pending", True))
    elif receipt.verified:
        verdict = (receipt.verdict.value if receipt.verdict else "?").upper()
        state = "ok" if verdict == "RECEIVED" else "fail"
        steps.append((x, gateway, gettext("signed receipt: {verdict}").format(verdict=status_label(verdict)),
                      gettext("verified: signer, id, digest"), state, True))
        where = "GET /v1/messages/{id}/receipt" + ("" if single else f"?receiver={receiver}")
        steps.append((gateway, sender, gettext("receipt available"), where, state, True))
    else:
        steps.append((x, gateway, gettext("receipt refused"), receipt.code or "", "fail", True))
        steps.append((gateway, sender, gettext("receipt to the sender"), gettext("none verified"), "pending", True))
    return steps


@dataclass(frozen=True, slots=True)
class Part:
    """An XML part of the message page: the view, its signature, and a note."""

    title: str
    view: XmlView
    signature: SignatureView | None
    note: str = ""
    raw_url: str | None = None


def _payload(envelope: bytes, outer: SignatureView) -> tuple[bytes | None, str]:
    """The issuer-signed document inside the envelope: from the signed content when the node's signature holds."""
    if outer.valid and outer.signed_content is not None:
        source, note = outer.signed_content, gettext("read from what the node's signature covers")
    else:
        source, note = envelope, gettext("read from the received bytes: the node's signature does not hold")
    try:
        return read_envelope(parse_xml(source)).payload, note
    except ExchangeError as exc:
        return None, gettext("the payload cannot be read: {code}: {message}").format(code=exc.code.value,
                                                                                      message=exc.message)


def _receipt_fields(signature: SignatureView) -> Receipt | None:
    if not signature.valid or signature.signed_content is None:
        return None
    try:
        return read_receipt(parse_xml(signature.signed_content))
    except ExchangeError:
        return None


def message_context(gateway: Gateway, message_id: str) -> dict[str, Any]:
    """Everything the message page shows (blocking: signatures are verified again to show their chains)."""
    detail = gateway.store.get(message_id)
    record = detail.record
    api = f"/v1/messages/{message_id}"
    base = f"{UI}/messages/{message_id}"
    outer = signature_view(detail.envelope, label=gettext("Envelope signature ({country}'s node)").format(
                               country=record.sender), moment=record.received_at, policy=ENVELOPE_POLICY)
    parts = [Part(gettext("Envelope"), xml_view(detail.envelope), outer,
                  gettext("The sending node's signature covers the whole envelope, the base64 payload included."),
                  f"{base}/envelope")]
    payload, payload_note = _payload(detail.envelope, outer)
    if payload is not None:
        inner = signature_view(payload, label=gettext("Document signature (issuing authority)"),
                               moment=record.received_at, policy=gateway.pipeline.document_policy)
        parts.append(Part(gettext("Document ({type})").format(type=record.document_type), xml_view(payload), inner,
                          gettext("The payload, decoded from base64 ({how}). The issuing authority's signature "
                                  "covers the whole document.").format(how=payload_note)))
    else:
        parts.append(Part(gettext("Document"), XmlView(lines=(), error=payload_note), None))
    receipt = _latest_receipt(detail)
    receipt_fields = None
    if receipt is not None:
        receipt_signature = signature_view(receipt.body, label=gettext("Receipt signature ({country}'s node)").format(
                                               country=receipt.receiver or record.receiver),
                                           moment=receipt.received_at)
        receipt_fields = _receipt_fields(receipt_signature)
        parts.append(Part(gettext("Receipt"), xml_view(receipt.body), receipt_signature,
                          gettext("The receiving node's signed answer: the message id and the SHA-256 of the envelope "
                                  "it received."), f"{base}/receipt" if receipt.verified else None))
    trust = next((check for check in _checks(detail.report) if check.get("name") == "issuer-trust"), None)
    return {
        "detail": detail,
        "record": record,
        "timeline": timeline(detail),
        "diagram": sequence_diagram(detail),
        "parts": parts,
        "receipt": receipt,
        "receipt_fields": receipt_fields,
        "receivers": _receivers(detail),
        "trust": trust,
        "token": _message_token(detail),
        "state": status_state,
        "api_url": api,
    }


@pages.get("/messages/{message_id}")
async def message_page(request: Request, message_id: str) -> Response:
    gateway = _gateway(request)
    try:
        context = await run_in_threadpool(message_context, gateway, message_id)
    except ExchangeError as exc:
        if exc.code is Code.GW_MESSAGE_UNKNOWN:
            return _error_page(exc, status_code=404)
        raise
    context["events_url"] = f"{UI}/events?message={message_id}"
    return _page("message.html", context, active="Messages")


# --- audit ------------------------------------------------------------------------------------------------------


@pages.get("/audit")
async def audit_page(request: Request, before: Annotated[int | None, Query(ge=1)] = None) -> Response:
    gateway = _gateway(request)
    page = 50

    def build() -> dict[str, Any]:
        verification = gateway.store.verify_audit()
        head = verification.head.seq if verification.head is not None else 0
        last = min(before - 1, head) if before is not None else head
        after = max(0, last - page)
        entries = [entry for entry in gateway.store.audit_entries(after_seq=after, limit=page + 20)
                   if before is None or entry.seq < before]
        return {"verification": verification, "entries": [entry.to_dict() for entry in reversed(entries)],
                "older": after if after else None}

    return _page("audit.html", await run_in_threadpool(build), active="Audit")


@pages.get("/messages/{message_id}/envelope")
async def raw_envelope(request: Request, message_id: str) -> Response:
    """The envelope exactly as received (the API's ``/v1/messages/{id}/envelope`` is the nodes' and operator's)."""
    detail = await _detail_or_404(request, message_id)
    if isinstance(detail, Response):
        return detail
    return Response(detail.envelope, media_type="application/xml", headers={"X-Content-Type-Options": "nosniff"})


@pages.get("/messages/{message_id}/receipt")
async def raw_receipt(request: Request, message_id: str) -> Response:
    """The verified receipt as the receiver signed it."""
    detail = await _detail_or_404(request, message_id)
    if isinstance(detail, Response):
        return detail
    if detail.receipt is None:
        return _page("error.html", {"code": Code.GW_RECEIPT_MISSING.value, "message": "no verified receipt yet"},
                     status_code=404)
    return Response(detail.receipt.body, media_type="application/xml", headers={"X-Content-Type-Options": "nosniff"})


async def _detail_or_404(request: Request, message_id: str) -> MessageDetail | Response:
    try:
        detail: MessageDetail = await run_in_threadpool(_gateway(request).store.get, message_id)
    except ExchangeError as exc:
        if exc.code is Code.GW_MESSAGE_UNKNOWN:
            return _error_page(exc, status_code=404)
        raise
    return detail


@public.get("/static/{name}")
async def static(name: str) -> Response:
    return static_response(name)


# --- the operator's login (a dashboard not bound to loopback) -----------------------------------------------


def _next_page(value: str | None) -> str:
    """Where to go after logging in: a page of the dashboard only (never another site, never ``//host``)."""
    if value and value.startswith(UI) and "//" not in value and "\\" not in value:
        return value
    return UI


def login_page(request: Request, *, next_page: str | None = None, error: str = "", status_code: int = 401) -> Response:
    """The login form; ``error`` says what was wrong with the last try."""
    target = _next_page(next_page if next_page is not None else request.url.path
                        + (f"?{request.url.query}" if request.url.query else ""))
    return _page("login.html", {"next": target, "error": error, "code": Code.GW_OPERATOR_REQUIRED.value},
                 status_code=status_code)


async def dashboard_login(request: Request, exc: Exception) -> Response:
    """The app's handler for :class:`DashboardLogin`: the login form, 401."""
    return login_page(request)


@public.get("/login")
async def login_form(request: Request, next: str | None = None) -> Response:  # noqa: A002 - the form's name
    access = _gateway(request).access
    if access is not None and access.dashboard_allowed(request.headers, request.cookies):
        return RedirectResponse(_next_page(next), status_code=303)
    return login_page(request, next_page=next or UI, status_code=200)


@public.post("/login")
async def login(request: Request) -> Response:
    """Check the posted token; right: the session cookie and back to the page; wrong: the form again, 401."""
    if not same_origin(request):
        return Response("cross-origin form posts are refused", status_code=403, media_type="text/plain")
    body = await request.body()
    if len(body) > 4096:
        return Response("the form is too large", status_code=413, media_type="text/plain")
    fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True, max_num_fields=5)
    token, next_page = (fields.get("token") or [""])[0], (fields.get("next") or [UI])[0]
    access = _gateway(request).access
    if access is None or not token_matches(token.strip(), access.token):
        return login_page(request, next_page=next_page, error=gettext("that is not this gateway's operator token"))
    response = RedirectResponse(_next_page(next_page), status_code=303)
    response.set_cookie(DASHBOARD_COOKIE, access.cookie_value, path=UI, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
    return response


@public.post("/logout")
async def logout(request: Request) -> Response:
    if not same_origin(request):
        return Response("cross-origin form posts are refused", status_code=403, media_type="text/plain")
    response = RedirectResponse(f"{UI}/login", status_code=303)
    response.delete_cookie(DASHBOARD_COOKIE, path=UI, httponly=True, samesite="strict",
                           secure=request.url.scheme == "https")
    return response


#: what the app mounts: the open routes and the guarded pages
router = APIRouter()
router.include_router(public)
router.include_router(pages)


__all__ = ["DashboardLogin", "Filters", "Overview", "dashboard_login", "list_newest", "login_page", "message_context", "read_overview", "read_token", "router", "sequence_diagram",
           "timeline"]
