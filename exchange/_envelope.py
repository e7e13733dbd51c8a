"""Envelopes and receipts: building them, and reading their fields after they have been checked.

An envelope (``schemas/envelope``) carries one issuer-signed trade document, its exact bytes in base64, under
a routing header modelled on the UN/CEFACT SBDH and the ePhyto hub envelope; the sending node signs the whole
envelope. A receipt (``schemas/receipt``) is the receiving node's signed answer: the message id, the SHA-256
digest of the envelope bytes as received, the verdict and coded reasons.

The readers here (:func:`read_envelope`, :func:`read_receipt`) expect a tree that has already passed the schema
(and, for anything trusted, come from a verifier's ``signed_content``); they raise :class:`InputError` with a
code if a field is still missing, never a third-party exception.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from lxml import etree

from exchange._algorithms import DigestMethod
from exchange._errors import Code, InputError
from exchange._findings import Finding

ENVELOPE_NS = "urn:ptx:exchange:Envelope:1"
RECEIPT_NS = "urn:ptx:exchange:Receipt:1"
REJECTION_NS = "urn:ptx:exchange:Rejection:1"
COUNTRY_SCHEME = "iso3166-1"


class ReceiptStatus(StrEnum):
    """The verdict a receipt carries (the SPSAcknowledgement StatusCode)."""

    RECEIVED = "RECEIVED"
    REJECTED = "REJECTED"


@dataclass(frozen=True, slots=True)
class Party:
    """A party of an exchange: its identifier in a scheme (a country code in ``iso3166-1`` for single windows)."""

    identifier: str
    scheme: str = COUNTRY_SCHEME
    name: str | None = None


#: The most receivers one envelope may name (a transit route: origin, transit countries, destination).
MAX_RECEIVERS = 16


@dataclass(frozen=True, slots=True)
class EnvelopeHeader:
    """The routing header of an envelope plus its decoded payload.

    ``receivers`` are every Receiver of the header in order: one for a bilateral message, every country after the
    origin on the route for a transit declaration. ``receiver`` is the first (the only one, bilaterally): code
    that decides something about receivers must look at all of them.
    """

    sender: Party
    receivers: tuple[Party, ...]
    document_type: str
    type_version: str
    standard: str
    message_id: str
    created: datetime
    conversation_id: str
    agreement_ref: str | None
    payload: bytes

    def __post_init__(self) -> None:
        if not self.receivers:
            raise InputError("an envelope names at least one receiver", code=Code.INPUT_FIELD_MISSING)

    @property
    def receiver(self) -> Party:
        return self.receivers[0]

    @property
    def receiver_ids(self) -> tuple[str, ...]:
        return tuple(party.identifier for party in self.receivers)


@dataclass(frozen=True, slots=True)
class Receipt:
    """The fields of a receipt."""

    receipt_id: str
    ref_to_message_id: str
    issued: datetime
    issuer: Party
    digest_algorithm: str
    envelope_digest: bytes
    status: ReceiptStatus
    reasons: tuple[Finding, ...]


def envelope_digest(envelope: bytes) -> bytes:
    """SHA-256 of the envelope bytes exactly as received: what a receipt must name."""
    return hashlib.sha256(envelope).digest()


def new_message_id() -> str:
    return str(uuid.uuid4())


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise InputError("times in envelopes and receipts need a time zone", code=Code.INPUT_FIELD_INVALID)
    return moment.isoformat().replace("+00:00", "Z")


def _party(parent: etree._Element, tag: str, party: Party, ns: str) -> None:
    element = etree.SubElement(parent, f"{{{ns}}}{tag}")
    identifier = etree.SubElement(element, f"{{{ns}}}Identifier", Authority=party.scheme)
    identifier.text = party.identifier
    if party.name:
        etree.SubElement(element, f"{{{ns}}}Name").text = party.name


def _text(parent: etree._Element, ns: str, tag: str, text: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ns}}}{tag}")
    element.text = text
    return element


def _serialise(root: etree._Element) -> bytes:
    etree.indent(root, space="  ")
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8")) + b"\n"


def build_envelope(
    document: bytes,
    *,
    sender: Party,
    receiver: Party | Sequence[Party],
    document_type: str,
    type_version: str,
    standard: str,
    message_id: str | None = None,
    conversation_id: str | None = None,
    agreement_ref: str | None = None,
    created: datetime,
) -> bytes:
    """An unsigned envelope around the exact bytes of a signed document (the node signs the result).

    ``created`` (aware) is the envelope's CreationDateAndTime: the caller's clock, never a hidden one. ``receiver``
    may be several parties (a transit declaration goes to every country on its route after the origin), in order.
    """
    receivers = [receiver] if isinstance(receiver, Party) else list(receiver)
    if not 1 <= len(receivers) <= MAX_RECEIVERS:
        raise InputError(f"an envelope names 1 to {MAX_RECEIVERS} receivers, not {len(receivers)}",
                         code=Code.INPUT_FIELD_INVALID)
    ns = ENVELOPE_NS
    message_id = message_id or new_message_id()
    root = etree.Element(f"{{{ns}}}Envelope", nsmap={None: ns})
    header = etree.SubElement(root, f"{{{ns}}}Header")
    _text(header, ns, "HeaderVersion", "1.0")
    _party(header, "Sender", sender, ns)
    for party in receivers:
        _party(header, "Receiver", party, ns)
    ident = etree.SubElement(header, f"{{{ns}}}DocumentIdentification")
    _text(ident, ns, "Standard", standard)
    _text(ident, ns, "TypeVersion", type_version)
    _text(ident, ns, "Type", document_type)
    _text(ident, ns, "InstanceIdentifier", message_id)
    _text(ident, ns, "CreationDateAndTime", _iso(created))
    scope = etree.SubElement(header, f"{{{ns}}}BusinessScope")
    _text(scope, ns, "ConversationID", conversation_id or f"conv-{message_id}")
    if agreement_ref:
        _text(scope, ns, "AgreementRef", agreement_ref)
    payload = _text(root, ns, "Payload", base64.b64encode(document).decode("ascii"))
    payload.set("mediaType", "application/xml")
    return _serialise(root)


def _required(parent: etree._Element, path: str, ns: str) -> etree._Element:
    element = parent.find(path, {"e": ns})
    if element is None:
        raise InputError(f"{path.replace('e:', '')} is missing", code=Code.INPUT_FIELD_MISSING)
    return element


def _required_text(parent: etree._Element, path: str, ns: str) -> str:
    return (_required(parent, path, ns).text or "").strip()


def _read_party(parent: etree._Element, tag: str, ns: str) -> Party:
    return _party_of(_required(parent, f"e:{tag}", ns), ns)


def _party_of(element: etree._Element, ns: str) -> Party:
    identifier = _required(element, "e:Identifier", ns)
    name = element.find("e:Name", {"e": ns})
    return Party(
        identifier=(identifier.text or "").strip(),
        scheme=identifier.get("Authority", ""),
        name=(name.text or "").strip() if name is not None else None,
    )


def _read_time(text: str, field: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(f"{field} {text!r} is not a date and time", code=Code.INPUT_FIELD_INVALID) from exc
    if moment.tzinfo is None:
        raise InputError(f"{field} {text!r} has no time zone", code=Code.INPUT_FIELD_INVALID)
    return moment


def read_envelope(tree: etree._ElementTree | etree._Element) -> EnvelopeHeader:
    """The header fields and decoded payload of a schema-valid envelope."""
    ns = ENVELOPE_NS
    root = tree.getroot() if isinstance(tree, etree._ElementTree) else tree
    if root.tag != f"{{{ns}}}Envelope":
        raise InputError(f"not an envelope: the root is {root.tag}", code=Code.DOCTYPE_MISMATCH)
    header = _required(root, "e:Header", ns)
    ident = _required(header, "e:DocumentIdentification", ns)
    scope = _required(header, "e:BusinessScope", ns)
    agreement = scope.find("e:AgreementRef", {"e": ns})
    payload_text = _required_text(root, "e:Payload", ns)
    try:
        payload = base64.b64decode("".join(payload_text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InputError("the payload is not base64", code=Code.INPUT_FIELD_INVALID, path="/Envelope/Payload") from exc
    return EnvelopeHeader(
        sender=_read_party(header, "Sender", ns),
        receivers=tuple(_party_of(element, ns) for element in header.iterfind("e:Receiver", {"e": ns})),
        document_type=_required_text(ident, "e:Type", ns),
        type_version=_required_text(ident, "e:TypeVersion", ns),
        standard=_required_text(ident, "e:Standard", ns),
        message_id=_required_text(ident, "e:InstanceIdentifier", ns),
        created=_read_time(_required_text(ident, "e:CreationDateAndTime", ns), "CreationDateAndTime"),
        conversation_id=_required_text(scope, "e:ConversationID", ns),
        agreement_ref=(agreement.text or "").strip() if agreement is not None else None,
        payload=payload,
    )


def build_receipt(
    *,
    ref_to_message_id: str,
    envelope: bytes,
    issuer: Party,
    status: ReceiptStatus,
    reasons: Sequence[Finding] = (),
    issued: datetime,
    receipt_id: str | None = None,
) -> bytes:
    """An unsigned receipt for the envelope bytes as received (the receiving node signs the result).

    ``issued`` (aware) is the receipt's IssueDateTime: the caller's clock, never a hidden one.
    """
    ns = RECEIPT_NS
    root = etree.Element(f"{{{ns}}}Receipt", nsmap={None: ns})
    _text(root, ns, "ReceiptID", receipt_id or f"rcpt-{uuid.uuid4()}")
    _text(root, ns, "RefToMessageID", ref_to_message_id)
    _text(root, ns, "IssueDateTime", _iso(issued))
    _party(root, "Issuer", issuer, ns)
    digest = _text(root, ns, "EnvelopeDigest", base64.b64encode(envelope_digest(envelope)).decode("ascii"))
    digest.set("Algorithm", DigestMethod.SHA256.value)
    _text(root, ns, "StatusCode", status.value)
    for finding in reasons:
        reason = _text(root, ns, "Reason", finding.message)
        reason.set("code", finding.code)
        reason.set("check", finding.check)
        reason.set("severity", finding.severity.value)
    return _serialise(root)


def read_receipt(tree: etree._ElementTree | etree._Element) -> Receipt:
    """The fields of a schema-valid receipt."""
    from exchange._errors import Severity

    ns = RECEIPT_NS
    root = tree.getroot() if isinstance(tree, etree._ElementTree) else tree
    if root.tag != f"{{{ns}}}Receipt":
        raise InputError(f"not a receipt: the root is {root.tag}", code=Code.DOCTYPE_MISMATCH)
    digest_element = _required(root, "e:EnvelopeDigest", ns)
    try:
        digest = base64.b64decode("".join((digest_element.text or "").split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InputError("EnvelopeDigest is not base64", code=Code.INPUT_FIELD_INVALID) from exc
    status_text = _required_text(root, "e:StatusCode", ns)
    try:
        status = ReceiptStatus(status_text)
    except ValueError as exc:
        raise InputError(f"unknown receipt status {status_text!r}", code=Code.INPUT_FIELD_INVALID) from exc
    reasons = []
    for reason in root.iterfind("e:Reason", {"e": ns}):
        try:
            severity = Severity(reason.get("severity", "error"))
        except ValueError:
            severity = Severity.ERROR
        reasons.append(
            Finding(
                code=reason.get("code", Code.RULE_FAILED.value),
                severity=severity,
                check=reason.get("check", "receiver"),
                message=(reason.text or "").strip(),
            )
        )
    return Receipt(
        receipt_id=_required_text(root, "e:ReceiptID", ns),
        ref_to_message_id=_required_text(root, "e:RefToMessageID", ns),
        issued=_read_time(_required_text(root, "e:IssueDateTime", ns), "IssueDateTime"),
        issuer=_read_party(root, "Issuer", ns),
        digest_algorithm=digest_element.get("Algorithm", ""),
        envelope_digest=digest,
        status=status,
        reasons=tuple(reasons),
    )


@dataclass(frozen=True)
class Rejection:
    """The fields of a gateway's rejection report (see ``schemas/rejection``)."""

    rejection_id: str
    ref_to_message_id: str | None
    issued: datetime
    issuer: str
    digest_algorithm: str
    submission_digest: bytes
    http_status: int
    findings: tuple[Finding, ...]


def build_rejection(
    *,
    submitted: bytes,
    message_id: str | None,
    issuer: str,
    http_status: int,
    findings: Sequence[Finding],
    issued: datetime,
    rejection_id: str | None = None,
) -> bytes:
    """An unsigned rejection report for the bytes exactly as submitted (the gateway signs the result)."""
    ns = REJECTION_NS
    root = etree.Element(f"{{{ns}}}Rejection", nsmap={None: ns})
    _text(root, ns, "RejectionID", rejection_id or f"rej-{uuid.uuid4()}")
    if message_id is not None:
        _text(root, ns, "RefToMessageID", message_id)
    _text(root, ns, "IssueDateTime", _iso(issued))
    _text(root, ns, "Issuer", issuer)
    digest = _text(root, ns, "SubmissionDigest", base64.b64encode(envelope_digest(submitted)).decode("ascii"))
    digest.set("Algorithm", DigestMethod.SHA256.value)
    _text(root, ns, "StatusCode", "REJECTED")
    _text(root, ns, "HTTPStatus", str(http_status))
    for finding in findings:
        element = _text(root, ns, "Finding", finding.message)
        element.set("code", finding.code)
        element.set("severity", finding.severity.value)
        element.set("check", finding.check)
        if finding.path:
            element.set("path", finding.path)
        if finding.line:
            element.set("line", str(finding.line))
        if finding.column is not None and finding.line:
            element.set("column", str(finding.column))
    return _serialise(root)


def read_rejection(tree: etree._ElementTree | etree._Element) -> Rejection:
    """The fields of a schema-valid rejection report."""
    from exchange._errors import Severity

    ns = REJECTION_NS
    root = tree.getroot() if isinstance(tree, etree._ElementTree) else tree
    if root.tag != f"{{{ns}}}Rejection":
        raise InputError(f"not a rejection report: the root is {root.tag}", code=Code.DOCTYPE_MISMATCH)
    digest_element = _required(root, "e:SubmissionDigest", ns)
    try:
        digest = base64.b64decode("".join((digest_element.text or "").split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InputError("SubmissionDigest is not base64", code=Code.INPUT_FIELD_INVALID) from exc
    findings = []
    for element in root.iterfind("e:Finding", {"e": ns}):
        line = element.get("line")
        column = element.get("column")
        findings.append(Finding(
            code=element.get("code", ""), severity=Severity(element.get("severity", "error")),
            check=element.get("check", ""), message=(element.text or "").strip(), path=element.get("path"),
            line=int(line) if line else None, column=int(column) if column else None,
        ))
    ref = root.find("e:RefToMessageID", {"e": ns})
    return Rejection(
        rejection_id=_required_text(root, "e:RejectionID", ns),
        ref_to_message_id=(ref.text or "").strip() if ref is not None else None,
        issued=_read_time(_required_text(root, "e:IssueDateTime", ns), "IssueDateTime"),
        issuer=_required_text(root, "e:Issuer", ns),
        digest_algorithm=digest_element.get("Algorithm", ""),
        submission_digest=digest,
        http_status=int(_required_text(root, "e:HTTPStatus", ns)),
        findings=tuple(findings),
    )


__all__ = [
    "COUNTRY_SCHEME",
    "ENVELOPE_NS",
    "MAX_RECEIVERS",
    "RECEIPT_NS",
    "REJECTION_NS",
    "Rejection",
    "build_rejection",
    "read_rejection",
    "EnvelopeHeader",
    "Party",
    "Receipt",
    "ReceiptStatus",
    "build_envelope",
    "build_receipt",
    "envelope_digest",
    "new_message_id",
    "read_envelope",
    "read_receipt",
]
