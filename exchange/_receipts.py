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

Every problem is a finding with the ``receipt`` check name and the verifier's own code (``GW-RECEIPT-INVALID`` at
the gateway, ``NODE-RECEIPT-INVALID`` at a node, beside the ``SIG-*``/``TRUST-*`` codes of the receipt itself);
a receipt is verified only when there are none.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cryptography import x509

from exchange._algorithms import DigestMethod
from exchange._dsig import SignaturePolicy, sign_document, verify_signature
from exchange._envelope import Party, Receipt, ReceiptStatus, build_receipt, envelope_digest, read_receipt
from exchange._errors import Code, ExchangeError, XmlError
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


__all__ = ["CHECK_RECEIPT", "RECEIPT_POLICY", "ReceiptCheck", "sign_receipt", "verify_receipt"]
