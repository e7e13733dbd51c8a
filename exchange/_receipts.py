"""Receipts: signing the ones a receiving node answers, and the one verifier of a receipt, used by the gateway
(before a message becomes ACKNOWLEDGED) and by the sending node (before it believes it was received).

A receipt is evidence only if the sender can check it against what it sent (a common complaint about AS4
receipts). :func:`verify_receipt` therefore checks, with the verifier's own material and trust:

1. the receipt's enveloped signature verifies under the strict profile;
2. the signer is the receiver's registered node certificate (not merely some certificate in KeyInfo);
3. this node's trust recognises that certificate for ``receipt`` at the moment (chain, validity, revocation,
   authorisation under the agreement);
4. the *signed content* is a schema- and rule-valid receipt;
5. its ``RefToMessageID`` is the message id sent, its ``EnvelopeDigest`` is the SHA-256 of the exact envelope
   bytes sent, and its issuer is the receiver.

The gateway's signed answer to a refused submission (a rejection report, ``schemas/rejection``) is made by
:func:`sign_rejection` and checked by the sending node with :func:`verify_rejection`: signed by the gateway's
certificate the node holds, a valid report, naming the message id it sent (when the gateway could read one) and
the SHA-256 of exactly the bytes it sent.

Every problem is a finding with the ``receipt`` check name and the verifier's own code (``GW-RECEIPT-INVALID`` at
the gateway, ``NODE-RECEIPT-INVALID`` at a node, beside the ``SIG-*``/``TRUST-*`` codes of the receipt itself);
a receipt is verified only when there are none.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cryptography import x509

from exchange._algorithms import DigestMethod
from exchange._dsig import SignaturePolicy, sign_document, verify_signature
from exchange._envelope import (
    Party,
    Receipt,
    ReceiptStatus,
    Rejection,
    build_receipt,
    build_rejection,
    envelope_digest,
    read_receipt,
    read_rejection,
)
from exchange._errors import Code, ExchangeError, Severity, XmlError
from exchange._findings import Finding
from exchange._pki import Credential, fingerprint
from exchange._validation import Validator
from exchange._xml import XmlLimits, parse_xml

if TYPE_CHECKING:
    from exchange._catalogue import DocumentType
    from exchange._trust import TrustContext

CHECK_RECEIPT = "receipt"
RECEIPT_POLICY = SignaturePolicy(max_signatures=1)


@dataclass(frozen=True, slots=True)
class ReceiptCheck:
    """The sender's verdict on a receipt. ``receipt`` holds the signed fields, and only when ``verified``."""

    verified: bool
    findings: tuple[Finding, ...]
    receipt: Receipt | None = None

    @property
    def status(self) -> ReceiptStatus | None:
        return self.receipt.status if self.receipt is not None else None

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(finding.code for finding in self.findings)

    def findings_list(self) -> list[dict[str, Any]]:
        """The receipt's reasons (when verified) followed by this node's own findings about it."""
        reasons = [finding.to_dict() for finding in self.receipt.reasons] if self.receipt is not None else []
        return reasons + [finding.to_dict() for finding in self.findings]


def sign_receipt(
    *,
    node: Credential,
    issuer: Party,
    message_id: str,
    envelope: bytes,
    status: ReceiptStatus,
    reasons: tuple[Finding, ...] | list[Finding],
    issued: datetime,
) -> bytes:
    """The node's signed receipt for ``envelope`` exactly as received."""
    unsigned = build_receipt(
        ref_to_message_id=message_id, envelope=envelope, issuer=issuer, status=status, reasons=reasons, issued=issued,
    )
    return sign_document(unsigned, node.key, node.signing_chain)


def _refused(invalid: Code, findings: list[Finding], message: str) -> ReceiptCheck:
    findings.append(Finding.of(invalid, CHECK_RECEIPT, message))
    return ReceiptCheck(verified=False, findings=tuple(findings))


def verify_receipt(
    body: bytes,
    *,
    envelope: bytes,
    message_id: str,
    receiver: str,
    receiver_node: x509.Certificate,
    trust: TrustContext,
    validator: Validator,
    receipt_type: DocumentType,
    limits: XmlLimits,
    invalid: Code = Code.NODE_RECEIPT_INVALID,
) -> ReceiptCheck:
    """Verify a receipt for the ``envelope`` sent as ``message_id`` to ``receiver`` (see the module); ``invalid`` is
    the verifier's code for a receipt it refuses."""
    check = verify_signature(body, policy=RECEIPT_POLICY, check=CHECK_RECEIPT, limits=limits)
    if not check.valid or check.signer is None or check.signed_content is None:
        return _refused(invalid, list(check.findings), "the receipt's signature does not verify")
    if fingerprint(check.signer) != fingerprint(receiver_node):
        return _refused(invalid, [], f"the receipt is signed by {check.signer.subject.rfc4514_string()}, "
                            f"not by {receiver}'s registered node")
    decision = trust.evaluate(check.signer, check.chain, document_type=receipt_type.id)
    problems = [finding for finding in decision.findings if finding.is_error]
    if not decision.trusted or problems:
        return _refused(
            invalid,
            [Finding(code=f.code, severity=f.severity, check=CHECK_RECEIPT, message=f.message) for f in problems],
            f"{receiver}'s node certificate cannot be relied on for receipts",
        )
    try:
        tree = parse_xml(check.signed_content, limits=limits)
    except XmlError as exc:  # pragma: no cover - the verifier produced these bytes from a parsed tree
        return _refused(invalid, [Finding.from_error(exc, CHECK_RECEIPT)], "the receipt's signed content cannot be read")
    report = validator.validate(tree, document_type=receipt_type)
    if not report.valid:
        return _refused(
            invalid,
            [Finding(code=f.code, severity=f.severity, check=CHECK_RECEIPT, message=f.message, line=f.line,
                     column=f.column, path=f.path) for f in report.findings],
            "the receipt is not a valid receipt document",
        )
    try:
        receipt = read_receipt(tree)
    except ExchangeError as exc:  # pragma: no cover - a schema-valid receipt has every field
        return _refused(invalid, [Finding.from_error(exc, CHECK_RECEIPT)], "the receipt cannot be read")
    findings: list[Finding] = []
    if receipt.ref_to_message_id != message_id:
        findings.append(Finding.of(
            invalid, CHECK_RECEIPT,
            f"the receipt answers message {receipt.ref_to_message_id!r}, not {message_id!r}",
            path="/Receipt/RefToMessageID",
        ))
    if receipt.digest_algorithm != DigestMethod.SHA256.value:
        findings.append(Finding.of(
            invalid, CHECK_RECEIPT,
            f"the receipt digests with {receipt.digest_algorithm}; this node expects SHA-256",
            path="/Receipt/EnvelopeDigest/@Algorithm",
        ))
    elif not hmac.compare_digest(receipt.envelope_digest, envelope_digest(envelope)):
        findings.append(Finding.of(
            invalid, CHECK_RECEIPT,
            "the receipt's envelope digest is not the SHA-256 of the envelope this node sent",
            path="/Receipt/EnvelopeDigest",
        ))
    if receipt.issuer.identifier != receiver:
        findings.append(Finding.of(
            invalid, CHECK_RECEIPT,
            f"the receipt names issuer {receipt.issuer.identifier!r}, not {receiver!r}",
            path="/Receipt/Issuer/Identifier",
        ))
    if findings:
        return ReceiptCheck(verified=False, findings=tuple(findings))
    return ReceiptCheck(verified=True, findings=(), receipt=receipt)


# --- rejection reports: the gateway's signed answer to a refused submission ----------------------------------

CHECK_REJECTION = "rejection"


@dataclass(frozen=True, slots=True)
class RejectionCheck:
    """The sender's verdict on a rejection report. ``rejection`` holds the signed fields, only when ``verified``."""

    verified: bool
    findings: tuple[Finding, ...]
    rejection: Rejection | None = None

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(finding.code for finding in self.findings)


def sign_rejection(
    *,
    signer: Credential,
    issuer: str,
    submitted: bytes,
    message_id: str | None,
    http_status: int,
    findings: tuple[Finding, ...] | list[Finding],
    issued: datetime,
) -> bytes:
    """The gateway's signed rejection report for ``submitted`` exactly as received."""
    unsigned = build_rejection(submitted=submitted, message_id=message_id, issuer=issuer, http_status=http_status,
                               findings=findings, issued=issued)
    return sign_document(unsigned, signer.key, signer.signing_chain)


def sign_rejection_answer(
    *,
    signer: Credential,
    issuer: str,
    submitted: bytes,
    answer: Mapping[str, Any],
    http_status: int,
    issued: datetime,
) -> bytes:
    """The signed rejection report of a refused submission from its JSON answer (``checks`` with their findings,
    ``message_id``; an answer without a check's error gives its ``error`` instead): every finding of every check."""
    findings = [
        Finding(code=str(f["code"]), severity=Severity(f["severity"]), check=str(f["check"]), message=str(f["message"]),
                line=f.get("line"), column=f.get("column"), path=f.get("path"))
        for check in answer.get("checks") or () for f in check.get("findings") or ()
    ]
    if not any(finding.is_error for finding in findings):
        error = answer.get("error") or {}
        findings.append(Finding(code=str(error.get("code", Code.GW_DUPLICATE_CONFLICT.value)), severity=Severity.ERROR,
                                check="gateway", message=str(error.get("message", "refused"))))
    message_id = answer.get("message_id")
    return sign_rejection(signer=signer, issuer=issuer, submitted=submitted,
                          message_id=str(message_id) if message_id else None, http_status=http_status,
                          findings=findings, issued=issued)


def verify_rejection(
    body: bytes,
    *,
    submitted: bytes,
    message_id: str,
    gateway: x509.Certificate,
    validator: Validator,
    rejection_type: DocumentType,
    limits: XmlLimits,
) -> RejectionCheck:
    """Verify the gateway's rejection report for the ``submitted`` envelope this node sent as ``message_id``."""
    def refused(findings: list[Finding], message: str) -> RejectionCheck:
        renamed = [Finding(code=f.code, severity=f.severity, check=CHECK_REJECTION, message=f.message, line=f.line,
                           column=f.column, path=f.path) for f in findings]
        renamed.append(Finding.of(Code.NODE_REJECTION_INVALID, CHECK_REJECTION, message))
        return RejectionCheck(verified=False, findings=tuple(renamed))

    check = verify_signature(body, policy=RECEIPT_POLICY, check=CHECK_REJECTION, limits=limits)
    if not check.valid or check.signer is None or check.signed_content is None:
        return refused(list(check.findings), "the rejection report's signature does not verify")
    if fingerprint(check.signer) != fingerprint(gateway):
        return refused([], f"the rejection report is signed by {check.signer.subject.rfc4514_string()}, "
                           "not by the gateway's certificate this node holds")
    try:
        tree = parse_xml(check.signed_content, limits=limits)
    except XmlError as exc:  # pragma: no cover - the verifier produced these bytes from a parsed tree
        return refused([Finding.from_error(exc, CHECK_REJECTION)], "the report's signed content cannot be read")
    report = validator.validate(tree, document_type=rejection_type)
    if not report.valid:
        return refused(list(report.findings), "the report is not a valid rejection report")
    try:
        rejection = read_rejection(tree)
    except (ExchangeError, ValueError) as exc:  # pragma: no cover - a schema-valid report has every field
        return refused([], f"the rejection report cannot be read: {exc}")
    problems: list[str] = []
    if rejection.ref_to_message_id is not None and rejection.ref_to_message_id != message_id:
        problems.append(f"it answers message {rejection.ref_to_message_id!r}, not {message_id!r}")
    if rejection.digest_algorithm != DigestMethod.SHA256.value or not hmac.compare_digest(
        rejection.submission_digest, envelope_digest(submitted)
    ):
        problems.append("its submission digest is not the SHA-256 of the envelope this node sent")
    if problems:
        return refused([], "the rejection report does not answer what this node sent: " + "; ".join(problems))
    return RejectionCheck(verified=True, findings=(), rejection=rejection)


__all__ = [
    "CHECK_RECEIPT",
    "CHECK_REJECTION",
    "RECEIPT_POLICY",
    "ReceiptCheck",
    "RejectionCheck",
    "sign_receipt",
    "sign_rejection",
    "sign_rejection_answer",
    "verify_receipt",
    "verify_rejection",
]
