"""Verify a signed trade document: signature under the strict profile, then trust in its signer.

:func:`verify_document` is what the gateway and the nodes call. It runs two checks and reports every
finding of both:

``document-signature``  :func:`exchange._dsig.verify_signature` (structure, algorithms, digest, value)
``document-type``       the claimed document type against the signed root element (DOCTYPE-MISMATCH)
``issuer-trust``        :meth:`exchange._trust.TrustContext.evaluate` (path, validity at the moment, key
                        usage, revocation, recognition and authorisation for the document type)

Trust is evaluated only for a cryptographically valid signature: a certificate next to a signature that
does not verify says nothing about who signed. The document type, when not given, is taken from the root
element of the *signed* content through the catalogue; when given, the signed root must match it, or an
issuer could borrow another type's authorisation by a false claim. The result carries the signed content only when the
verdict is valid; it is the only thing a caller may use afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cryptography import x509
from lxml import etree

from exchange._errors import Code, XmlError
from exchange._findings import Finding
from exchange._pki import common_name, fingerprint
from exchange._trust import TrustContext, TrustStatus, trust_status
from exchange._trustlist import IssuerEntry
from exchange._validation import Verdict
from exchange._xml import parse_xml

CHECK_DOCUMENT_TYPE = "document-type"

if TYPE_CHECKING:
    from exchange._catalogue import Catalogue
    from exchange._dsig import SignaturePolicy


@dataclass(frozen=True, slots=True)
class VerificationResult:
    """The outcome of :func:`verify_document`.

    ``chain`` is the validated path (signer first, anchor last); empty when no path to a recognised anchor
    exists. ``signing_time`` is None: the signature profile carries no signed signing time, and the
    decision was taken at ``moment``. ``signed_content`` is None unless the verdict is valid.
    """

    verdict: Verdict
    findings: tuple[Finding, ...]
    moment: datetime
    document_type: str | None = None
    signer: x509.Certificate | None = None
    chain: tuple[x509.Certificate, ...] = ()
    issuer: IssuerEntry | None = None
    scheme: str | None = None
    signature_method: str | None = None
    digest_method: str | None = None
    signing_time: datetime | None = None
    signed_content: bytes | None = None

    @property
    def valid(self) -> bool:
        return self.verdict is Verdict.VALID

    @property
    def status(self) -> TrustStatus:
        """PASSED (valid), FAILED (a definite fault: a bad signature, an untrusted or revoked signer, ...) or
        INDETERMINATE (nothing wrong was found, but something needed could not be determined, e.g. whether the
        signer was revoked at the moment): the bottom line in pyHanko's sense. ``valid`` is True only for PASSED."""
        return trust_status(self.findings)

    @property
    def signer_name(self) -> str | None:
        """The issuer's name from the trust list when recognised, else the signer certificate's CN."""
        if self.issuer is not None:
            return self.issuer.name
        return common_name(self.signer.subject) if self.signer is not None else None

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(finding.code for finding in self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "status": self.status.value,
            "document_type": self.document_type,
            "signer": _certificate_dict(self.signer) if self.signer is not None else None,
            "signer_name": self.signer_name,
            "scheme": self.scheme,
            "chain": [_certificate_dict(certificate) for certificate in self.chain],
            "signature_method": self.signature_method,
            "digest_method": self.digest_method,
            "signing_time": self.signing_time.isoformat() if self.signing_time else None,
            "moment": self.moment.isoformat(),
            "findings": [finding.to_dict() for finding in self.findings],
        }


def _certificate_dict(certificate: x509.Certificate) -> dict[str, Any]:
    return {
        "subject": certificate.subject.rfc4514_string(),
        "issuer": certificate.issuer.rfc4514_string(),
        "serial": format(certificate.serial_number, "x"),
        "not_before": certificate.not_valid_before_utc.isoformat(),
        "not_after": certificate.not_valid_after_utc.isoformat(),
        "sha256": fingerprint(certificate),
    }


def verify_document(
    data: bytes,
    *,
    trust: TrustContext,
    document_type: str | None = None,
    policy: SignaturePolicy | None = None,
    catalogue: Catalogue | None = None,
) -> VerificationResult:
    """Verify the enveloped signature of ``data`` and the trust in its signer at ``trust.moment``.

    ``document_type`` is the catalogue id the document claims to be (the gateway knows it from the
    envelope); it must match the signed root element when the catalogue (``catalogue`` or the default
    one) knows the type (else DOCTYPE-MISMATCH). When None it is detected from the signed root element.
    Document faults are findings; only configuration faults raise.
    """
    from exchange._dsig import DEFAULT_POLICY, verify_signature

    if not isinstance(trust, TrustContext):
        raise TypeError("trust must be a TrustContext")
    check = verify_signature(data, policy=policy or DEFAULT_POLICY)
    findings = list(check.findings)
    method = check.signature_method.value if check.signature_method is not None else None
    digest = check.digest_method.value if check.digest_method is not None else None
    if not check.valid or check.signer is None or check.signed_content is None:
        return VerificationResult(
            verdict=Verdict.INVALID,
            findings=tuple(findings),
            moment=trust.moment,
            document_type=document_type,
            signer=check.signer,
            signature_method=method,
            digest_method=digest,
        )
    type_id, type_finding = _document_type(check.signed_content, check.signed_root, document_type, catalogue)
    if type_finding is not None:
        findings.append(type_finding)
    decision = trust.evaluate(check.signer, check.chain, document_type=type_id)
    findings.extend(decision.findings)
    valid = decision.trusted and not any(finding.is_error for finding in findings)
    return VerificationResult(
        verdict=Verdict.VALID if valid else Verdict.INVALID,
        findings=tuple(findings),
        moment=trust.moment,
        document_type=type_id,
        signer=check.signer,
        chain=decision.chain,
        issuer=decision.issuer,
        scheme=decision.scheme,
        signature_method=method,
        digest_method=digest,
        signed_content=check.signed_content if valid else None,
    )


def _document_type(
    signed_content: bytes, signed_root: str | None, claimed: str | None, catalogue: Catalogue | None
) -> tuple[str | None, Finding | None]:
    """The type to authorise: the claimed one, checked against the signed root when the catalogue knows it,
    or the one the signed root belongs to. A claim that the signed root contradicts is a finding, so that an
    issuer cannot borrow the authorisation of another type by a false claim."""
    from exchange._catalogue import default_catalogue

    types = catalogue or default_catalogue()
    if claimed is not None and claimed not in types:
        return claimed, None
    if signed_root is not None:  # the verifier's tree had it: no second parse of a document of any size
        tag = signed_root
    else:
        try:
            root = parse_xml(signed_content).getroot()
        except XmlError:  # pragma: no cover - the verifier produced these bytes from a parsed tree
            return claimed, None
        tag = root.tag if isinstance(root.tag, str) else ""
    found = types.detect(tag)
    if claimed is None:
        return (found.id if found is not None else None), None
    expected = types.get(claimed)
    if expected.qname == tag:
        return claimed, None
    return claimed, Finding.of(
        Code.DOCTYPE_MISMATCH,
        CHECK_DOCUMENT_TYPE,
        f"the document claims to be {claimed} (root {expected.qname}), but the signed root is {tag}",
        path="/" + etree.QName(tag).localname if tag else None,
    )


__all__ = ["VerificationResult", "verify_document"]
