"""The outbox: issue (or take) a signed document, wrap it, sign the envelope, submit it, track it, check the receipt.

::

    {type, data, issuer}  -> build (exchange._builder) and validate -> sign as the issuing authority of THIS country
    {type?, document}     -> an already signed document, sent exactly as given
    tamper: true          -> change one letter of the signed document after signing (a demo of SIG-DIGEST-MISMATCH)
    envelope (sender: this country, receiver: ``to``, message id: given or a new UUID) -> signed by this node
    stored (NEW) -> POST /v1/messages -> gateway answer stored (ACCEPTED / REJECTED ...) or SUBMIT_FAILED

Retries are idempotent: a message id is stored with the digest of the request that made it, and POSTing the
same request with the same ``message_id`` again resends exactly the stored envelope bytes (the gateway answers
an identical resend with its earlier answer) instead of signing a new envelope; another request under a used
id is ``NODE-DUPLICATE-CONFLICT``. Reading a message refreshes its status from the gateway and, once the
gateway holds a receipt, fetches it and verifies it with this node's own material (:mod:`exchange._receipts`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import logging
import re
import uuid
from typing import Any, Self

from cryptography import x509
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from exchange import (
    CHECK_RECEIPT,
    CHECK_REJECTION,
    Catalogue,
    Code,
    Credential,
    ExchangeError,
    Finding,
    InputError,
    Parties,
    Party,
    ReceiptCheck,
    RejectionCheck,
    Validator,
    Workspace,
    XmlLimits,
    about_message,
    build_document,
    build_envelope,
    parse_xml,
    read_envelope,
    route_of,
    route_receivers,
    sign_document,
    verify_receipt,
    verify_rejection,
)
from exchange.node._checks import ENVELOPE_TYPE, RECEIPT_TYPE
from exchange.node._gateway import GATEWAY_CODES, GatewayClient
from exchange.node._metrics import NodeMetrics
from exchange.node._store import (
    RECEIPTED,
    UNSUBMITTED,
    Clock,
    NewOutboxMessage,
    NodeStore,
    OutboxEntry,
    OutboxStatus,
)

REJECTION_TYPE = "rejection"
log = logging.getLogger("exchange.node")
_MESSAGE_ID = r"^[A-Za-z0-9][A-Za-z0-9._:@\-]{7,127}$"
_TYPE_ID = r"^[a-z0-9][a-z0-9-]{1,62}$"


class OutboxRequest(BaseModel):
    """``POST /v1/outbox``: what to send, to whom. Unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    to: str = Field(pattern=r"^[A-Z]{2}$", description="receiving country (ISO 3166-1 alpha-2)")
    type: str | None = Field(default=None, pattern=_TYPE_ID, description="catalogue document type id")
    data: dict[str, Any] | None = Field(default=None, description="structured input to build the document from")
    issuer: str | None = Field(
        default=None, min_length=1, max_length=200,
        description="issuing authority of this country (slug, CC/slug or name); default: the one for the type",
    )
    document: str | None = Field(default=None, min_length=1, description="an already signed XML document")
    message_id: str | None = Field(default=None, pattern=_MESSAGE_ID, description="default: a new UUID")
    conversation_id: str | None = Field(default=None, pattern=_MESSAGE_ID)
    tamper: bool = Field(
        default=False,
        description="demo only: change one letter of the document after signing (NODE-DEMO-ONLY unless the node "
                    "runs in demo mode)",
    )

    @field_validator("to", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.data is None) == (self.document is None):
            raise ValueError("give either data (with type and optionally issuer) or document, not both")
        if self.data is not None and self.type is None:
            raise ValueError("data needs the document type it is for")
        if self.document is not None and self.issuer is not None:
            raise ValueError("issuer applies to data only: a given document is already signed")
        return self

    def digest(self) -> str:
        """SHA-256 of the request without its message id: what makes a resend 'the same request'."""
        body = self.model_dump(exclude={"message_id"}, mode="json")
        return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class DocumentRefused(InputError):
    """The document built from the request's data is invalid: nothing was signed or sent."""

    def __init__(self, message: str, findings: tuple[Finding, ...]) -> None:
        super().__init__(message, code=Code.INPUT_INVALID)
        self.findings = findings


_TEXT = re.compile(rb">([^<&]*[A-Za-z][^<&]*)<")
_SIGNATURE_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?Signature[\s>]")


def tamper(document: bytes) -> bytes:
    """Change one letter of the signed content (keeping the XML well-formed): its digest no longer matches.

    The letter is the first one of the text node with the most letters before the signature, changed to the
    next letter of the alphabet in the same case (z -> a), so the document typically stays schema-valid and the
    gateway reports exactly what a trainer wants to show: SIG-DIGEST-MISMATCH.
    """
    end = _SIGNATURE_START.search(document)
    limit = end.start() if end is not None else len(document)
    best: tuple[int, int] | None = None
    for match in _TEXT.finditer(document, 0, limit):
        letters = sum(1 for byte in match.group(1) if chr(byte).isalpha())
        if best is None or letters > best[0]:
            best = (letters, match.start(1))
    if best is None:
        raise InputError("the document has no text to tamper with", code=Code.INPUT_INVALID)
    start = best[1]
    position = next(i for i in range(start, limit) if chr(document[i]).isalpha() and document[i] < 128)
    letter = document[position]
    base = ord("a") if letter >= ord("a") else ord("A")
    changed = base + (letter - base + 1) % 26
    return document[:position] + bytes([changed]) + document[position + 1:]


class Outbox:
    """Sends for one country. Holds only shared, immutable collaborators: safe across concurrent requests."""

    def __init__(
        self,
        *,
        country: str,
        country_name: str | None,
        workspace: Workspace,
        catalogue: Catalogue,
        node: Credential,
        parties: Parties,
        store: NodeStore,
        gateway: GatewayClient,
        clock: Clock,
        limits: XmlLimits,
        gateway_certificate: x509.Certificate,
        demo: bool = False,
        metrics: NodeMetrics | None = None,
    ) -> None:
        self.metrics = metrics or NodeMetrics()
        self.country = country
        self.party = Party(country, name=country_name)
        self._workspace = workspace
        self._catalogue = catalogue
        self._validator = Validator(catalogue, limits=limits)
        self._node = node
        #: the node's one reload point (partners, agreements, trust): the same the inbox checks use
        self._parties = parties
        self._store = store
        self._gateway = gateway
        self._clock = clock
        self._limits = limits
        #: the gateway's signing certificate (from this node's folder): its rejection reports must be signed by it
        self._gateway_certificate = gateway_certificate
        #: Demo mode (``PTX_NODE_DEMO``): only then is ``tamper`` accepted.
        self._demo = demo

    # --- sending ----------------------------------------------------------------------------------------

    async def send(self, request: OutboxRequest) -> tuple[OutboxEntry, bool]:
        """Prepare (or find) the message and submit it; ``(entry, created)``.

        A gateway that cannot be reached leaves the message stored as SUBMIT_FAILED and raises the
        ``NODE-GATEWAY-*`` error; POSTing the same request with the same message id tries again.
        """
        if request.tamper and not self._demo:
            raise InputError(
                "tamper (change the document after signing) is a demo switch: this node was not started in demo "
                "mode (PTX_NODE_DEMO=true, ptx serve node --demo)", code=Code.NODE_DEMO_ONLY,
            )
        digest = request.digest()
        existing: OutboxEntry | None = None
        if request.message_id is not None:
            existing = await asyncio.to_thread(self._existing, request.message_id, digest)
        if existing is None:
            message = await asyncio.to_thread(self.prepare, request, digest)
            entry, created = await asyncio.to_thread(self._store.outbox_create, message)
        else:
            entry, created = existing, False
        if entry.status in UNSUBMITTED:
            entry = await self._submit(entry)
        return entry, created

    def _existing(self, message_id: str, digest: str) -> OutboxEntry | None:
        try:
            entry = self._store.outbox_get(message_id)
        except InputError as exc:
            if exc.code is Code.NODE_MESSAGE_UNKNOWN:
                return None
            raise
        if entry.request_digest != digest:
            raise InputError(
                f"message id {message_id!r} was already used here for another request "
                f"(sent to {entry.receiver}, {entry.document_type}): use a new message id",
                code=Code.NODE_DUPLICATE_CONFLICT,
            )
        return entry

    def prepare(self, request: OutboxRequest, digest: str) -> NewOutboxMessage:
        """Build/sign the document and the node-signed envelope (blocking: run in a worker thread)."""
        type_id, issuer, document = self._document(request)
        if request.tamper:
            document = tamper(document)
        standard, version = self._type_identity(type_id, document)
        moment = self._clock()
        message_id = request.message_id or str(uuid.uuid4())
        receivers = self._receivers(request.to, type_id, document)
        envelope = build_envelope(
            document,
            sender=self.party,
            receiver=[Party(receiver) for receiver in receivers],
            document_type=type_id,
            type_version=version,
            standard=standard,
            message_id=message_id,
            conversation_id=request.conversation_id,
            # several receivers: each flow travels under its own agreement, which the gateway looks up
            agreement_ref=self._agreement(request.to, type_id, moment) if len(receivers) == 1 else None,
            created=moment,
        )
        signed = sign_document(envelope, self._node.key, self._node.signing_chain)
        return NewOutboxMessage(
            message_id=message_id,
            receiver=request.to,
            document_type=type_id,
            issuer=issuer,
            request_digest=digest,
            tampered=request.tamper,
            document=document,
            envelope=signed,
            envelope_digest=hashlib.sha256(signed).hexdigest(),
        )

    def _document(self, request: OutboxRequest) -> tuple[str, str | None, bytes]:
        if request.data is not None:
            assert request.type is not None  # the request model guarantees it
            doc_type = self._catalogue.get(request.type)
            if doc_type.id in (ENVELOPE_TYPE, RECEIPT_TYPE):
                raise InputError(f"a node does not send a bare {doc_type.id}", code=Code.INPUT_INVALID)
            code, slug = self._issuer(request.issuer, doc_type.id)
            result = build_document(doc_type, request.data)
            if result.report is None or not result.report.valid:
                findings = result.report.findings if result.report is not None else ()
                errors = [finding for finding in findings if finding.is_error]
                summary = "; ".join(f"{f.path or '(document)'}: {f.message}" for f in errors[:3])
                raise DocumentRefused(
                    f"the {doc_type.id} built from data is invalid ({len(errors)} problem(s)): {summary}",
                    tuple(findings),
                )
            credential = self._workspace.authority(code, slug)
            return doc_type.id, f"{code}/{slug}", sign_document(result.xml, credential.key, credential.signing_chain)
        assert request.document is not None
        document = request.document.encode("utf-8")
        root = parse_xml(document, limits=self._limits).getroot()
        if request.type is not None:
            return request.type, None, document
        detected = self._catalogue.detect(root.tag if isinstance(root.tag, str) else "")
        if detected is None:
            raise InputError(
                f"the document's root {root.tag} is not a catalogue type: name its type", code=Code.DOCTYPE_UNKNOWN
            )
        return detected.id, None, document

    def _issuer(self, text: str | None, type_id: str) -> tuple[str, str]:
        authorities = self._workspace.country(self.country).authorities
        if text is None:
            candidates = [
                slug for slug, authority in authorities.items()
                if type_id in authority.document_types and authority.role == "document-signer"
            ]
            if len(candidates) != 1:
                raise InputError(
                    f"name the issuer of the {type_id}: {self.country} has "
                    + (", ".join(candidates) if candidates else "no authority for it"),
                    code=Code.INPUT_FIELD_MISSING,
                )
            return self.country, candidates[0]
        if text in authorities:
            return self.country, text
        code, slug = self._workspace.resolve_issuer(text)
        if code != self.country:
            raise InputError(
                f"{text!r} is an authority of {code}; the {self.country} single window signs only as "
                f"{self.country}'s authorities ({', '.join(authorities)})",
                code=Code.NODE_ISSUER_FOREIGN,
            )
        return code, slug

    def _type_identity(self, type_id: str, document: bytes) -> tuple[str, str]:
        """The envelope's Standard and TypeVersion: from the catalogue, or the document's namespace."""
        if type_id in self._catalogue:
            doc_type = self._catalogue.get(type_id)
            return doc_type.namespace, doc_type.version
        tag = parse_xml(document, limits=self._limits).getroot().tag
        namespace = tag[1:].split("}", 1)[0] if isinstance(tag, str) and tag.startswith("{") else ""
        return namespace or "urn:unknown", "1.0"

    def _receivers(self, to: str, type_id: str, document: bytes) -> tuple[str, ...]:
        """``to``, or for a document that names its route (a transit declaration) every country on it after the
        origin, in order; ``to`` must then be one of them (the destination, usually)."""
        if type_id not in self._catalogue:
            return (to,)
        doc_type = self._catalogue.get(type_id)
        route = route_of(parse_xml(document, limits=self._limits), doc_type)
        if not route:
            return (to,)
        sender_ok, receivers = route_receivers(route, self.country, doc_type)
        rule = ("from a country on it after the origin to every other one" if doc_type.route_sender == "member"
                else "from its origin to every country after it")
        if not sender_ok or to not in receivers:
            raise InputError(
                f"the {type_id}'s route is {' -> '.join(route)}: it is sent {rule}; this single window is "
                f"{self.country}'s and {to} is {'on it' if to in receivers else 'not one of its receivers'}",
                code=Code.INPUT_FIELD_INVALID,
            )
        return receivers

    def _agreement(self, receiver: str, type_id: str, moment: Any) -> str | None:
        allowing = self._parties.view(moment=moment).agreements_for(self.country, receiver, type_id)
        return allowing[0] if allowing else None

    async def _submit(self, entry: OutboxEntry) -> OutboxEntry:
        message_id = entry.message_id
        about_message(message_id, _conversation(entry.envelope))
        try:
            answer, report = await self._gateway.submit(entry.envelope)
        except ExchangeError as exc:
            if exc.code not in GATEWAY_CODES:
                raise
            await asyncio.to_thread(
                self._store.outbox_update, message_id, status=OutboxStatus.SUBMIT_FAILED,
                detail=f"{exc.code.value}: {exc.message}", error=(exc.code, exc.message),
            )
            raise ExchangeError(
                f"{exc.message}. Message {message_id} stays in the outbox: POST the same request with "
                f'"message_id": "{message_id}" to resend the same envelope',
                code=exc.code, path=f"/v1/outbox/{message_id}",
            ) from exc
        status = _status_from(answer.http_status, report)
        codes = _codes(report)
        detail = f"gateway {status.value} (HTTP {answer.http_status})" + (f": {', '.join(codes)}" if codes else "")
        self.metrics.submissions.labels(status=status.value).inc()
        signed = report.pop("rejection_report", None) if isinstance(report, dict) else None
        entry = await asyncio.to_thread(
            self._store.outbox_update, message_id, status=status, detail=detail,
            gateway_http_status=answer.http_status, gateway_answer=report, clear_error=True,
        )
        if answer.http_status >= 400:
            entry = await asyncio.to_thread(self._keep_rejection, entry, signed)
        return entry

    def _keep_rejection(self, entry: OutboxEntry, encoded: Any) -> OutboxEntry:
        """Verify the gateway's signed rejection report of ``entry`` and keep it with this node's verdict."""
        try:
            body = base64.b64decode(encoded, validate=True) if isinstance(encoded, str) else b""
        except (binascii.Error, ValueError):
            body = b""
        if not body:
            check = RejectionCheck(verified=False, findings=(Finding.of(
                Code.NODE_REJECTION_INVALID, CHECK_REJECTION, "the gateway's refusal came without a signed report"),))
        else:
            check = verify_rejection(
                body, submitted=entry.envelope, message_id=entry.message_id, gateway=self._gateway_certificate,
                validator=self._validator, rejection_type=self._catalogue.get(REJECTION_TYPE), limits=self._limits,
            )
        self.metrics.rejections.labels(verified=str(check.verified).lower()).inc()
        if not check.verified:
            log.warning("message_id=%s the gateway's rejection report was refused: %s", entry.message_id,
                        ", ".join(check.codes))
        return self._store.outbox_rejection(
            entry.message_id, rejection=body, verified=check.verified,
            findings=[finding.to_dict() for finding in check.findings],
        )

    # --- reading and tracking ---------------------------------------------------------------------------

    async def get(self, message_id: str, *, refresh: bool = True) -> tuple[OutboxEntry, ExchangeError | None]:
        """The message, refreshed from the gateway when it is still moving; the gateway error if refreshing failed."""
        entry = await asyncio.to_thread(self._store.outbox_get, message_id)
        if not refresh or not _trackable(entry):
            return entry, None
        try:
            record = await self._gateway.track(message_id)
            try:
                status = OutboxStatus(record["status"])
            except ValueError:
                status = None
            if status is None or status in UNSUBMITTED:
                raise ExchangeError(
                    f"the gateway reports an unknown status {record['status']!r} for {message_id!r}",
                    code=Code.NODE_GATEWAY_ERROR,
                )
            entry = await asyncio.to_thread(
                self._store.outbox_update, message_id, status=status, detail=f"gateway reports {status.value}",
                gateway_history=record.get("history"),
            )
            if status in RECEIPTED and not entry.receipt_verified:
                body = await self._gateway.receipt(message_id, receiver=entry.receiver)
                if body is not None:
                    check = await asyncio.to_thread(self.check_receipt, entry, body)
                    entry = await asyncio.to_thread(
                        self._store.outbox_receipt, message_id, receipt=body, verified=check.verified,
                        receipt_status=check.status, findings=check.findings_list(),
                    )
        except ExchangeError as exc:
            if exc.code not in GATEWAY_CODES:
                raise
            return entry, exc
        return entry, None

    def check_receipt(self, entry: OutboxEntry, body: bytes) -> ReceiptCheck:
        """Verify a receipt for ``entry`` with this node's own material and trust (blocking)."""
        view = self._parties.view(moment=self._clock())
        receiver_node = view.node_certificate(entry.receiver)
        if receiver_node is None:
            return ReceiptCheck(verified=False, findings=(Finding.of(
                Code.NODE_RECEIPT_INVALID, CHECK_RECEIPT, f"{self.country} knows no node for {entry.receiver!r}",
            ),))
        check = verify_receipt(
            body,
            envelope=entry.envelope,
            message_id=entry.message_id,
            receiver=entry.receiver,
            receiver_node=receiver_node,
            trust=view.trust_for(self.country),
            validator=self._validator,
            receipt_type=self._catalogue.get(RECEIPT_TYPE),
            limits=self._limits,
        )
        self.metrics.receipts.labels(verified=str(check.verified).lower()).inc()
        return check

    def list(self, *, limit: int, offset: int) -> tuple[OutboxEntry, ...]:
        return self._store.outbox_list(limit=limit, offset=offset)


def _conversation(envelope: bytes) -> str | None:
    """The conversation id of an envelope this node built and signed (for its log lines)."""
    try:
        return read_envelope(parse_xml(envelope)).conversation_id
    except ExchangeError:  # pragma: no cover - the node's own envelope
        return None


def _trackable(entry: OutboxEntry) -> bool:
    """Whether the gateway may know more: submitted, not refused at submission, no verified receipt yet."""
    if entry.status in UNSUBMITTED or entry.status is OutboxStatus.REJECTED:
        return False
    return not (entry.status in RECEIPTED and entry.receipt_verified)


def _status_from(http_status: int, report: Any) -> OutboxStatus:
    if http_status in (200, 202) and isinstance(report, dict):
        try:
            return OutboxStatus(str(report.get("status")))
        except ValueError:
            return OutboxStatus.ACCEPTED if report.get("verdict") == "ACCEPTED" else OutboxStatus.REJECTED
    return OutboxStatus.REJECTED


def _codes(report: Any) -> list[str]:
    """The error codes of a gateway answer (a report's findings, or an error body's code)."""
    if not isinstance(report, dict):
        return []
    codes = [
        finding.get("code") for check in report.get("checks") or () if isinstance(check, dict)
        for finding in check.get("findings") or () if isinstance(finding, dict) and finding.get("severity") == "error"
    ]
    if not codes and isinstance(report.get("code"), str):
        codes = [report["code"]]
    return [str(code) for code in dict.fromkeys(codes) if code]


__all__ = ["DocumentRefused", "Outbox", "OutboxRequest", "tamper"]
