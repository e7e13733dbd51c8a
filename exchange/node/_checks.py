"""The receiving node's own checks of a delivered envelope: it trusts nothing the gateway decided.

::

    parse -> envelope-schema -> sender-authentication -> routing -> document-type -> document-schema
          -> document-rules -> document-signature -> issuer-trust -> RECEIVED | REJECTED

The same ideas as the gateway's pipeline (``gateway/_pipeline.py``), with the node's own inputs: its
registered partners' node certificates, the agreements it is party to, and *its own* trust context
(``workspace.trust_context(my_country, moment=now)``), in which a partner's trust list is recognised only for
the document types an agreement lets flow from that partner to this country. The sending node is checked
twice: its certificate must be the one registered for the sender id (no spoofing), and this node's trust must
recognise it for ``envelope`` at this moment (chain, validity, revocation, authorisation).

Each check reports ``passed``, ``failed`` or ``skipped`` with findings that carry stable codes. Nothing is read
from an envelope that failed its schema, and nothing after ``sender-authentication`` uses content the sending
node did not sign: the header and payload are re-read from the verifier's signed content, so signature
wrapping cannot smuggle in another header or document. When routing fails, the document checks still run so
that the sender sees every problem at once. Holds only immutable configuration: safe to share between
concurrent requests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cryptography import x509
from lxml import etree

from exchange._catalogue import Catalogue, DocumentType
from exchange._dsig import SignaturePolicy, verify_signature
from exchange._envelope import COUNTRY_SCHEME, EnvelopeHeader, read_envelope
from exchange._errors import Code, ExchangeError, Severity, XmlError
from exchange._findings import CheckResult, CheckStatus, Finding
from exchange._pki import fingerprint
from exchange._validation import CHECK_RULES, CHECK_SCHEMA, Validator
from exchange._xml import XmlLimits, parse_xml

if TYPE_CHECKING:
    from exchange._trust import TrustContext
    from exchange._workspace import Agreement, Workspace

CHECK_PARSE = "parse"
CHECK_ENVELOPE_SCHEMA = "envelope-schema"
CHECK_SENDER = "sender-authentication"
CHECK_ROUTING = "routing"
CHECK_DOCUMENT_TYPE = "document-type"
CHECK_DOCUMENT_SCHEMA = "document-schema"
CHECK_DOCUMENT_RULES = "document-rules"
CHECK_DOCUMENT_SIGNATURE = "document-signature"
CHECK_ISSUER_TRUST = "issuer-trust"

CHECK_ORDER = (
    CHECK_PARSE,
    CHECK_ENVELOPE_SCHEMA,
    CHECK_SENDER,
    CHECK_ROUTING,
    CHECK_DOCUMENT_TYPE,
    CHECK_DOCUMENT_SCHEMA,
    CHECK_DOCUMENT_RULES,
    CHECK_DOCUMENT_SIGNATURE,
    CHECK_ISSUER_TRUST,
)

ENVELOPE_TYPE = "envelope"
RECEIPT_TYPE = "receipt"
#: The envelope carries the issuer-signed document base64-encoded, so the node's signature is the only one.
ENVELOPE_POLICY = SignaturePolicy(max_signatures=1)


@dataclass(frozen=True)
class InboxOutcome:
    """What the node's checks found. ``header`` and ``document`` come from signed content only.

    ``claimed`` is the header as read from a schema-valid envelope before its signature was checked: for
    display when sender authentication failed, never for a decision.
    """

    checks: tuple[CheckResult, ...]
    header: EnvelopeHeader | None = None
    claimed: EnvelopeHeader | None = None
    document_type: str | None = None
    issuer: str | None = None
    findings: tuple[Finding, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "findings", tuple(f for check in self.checks for f in check.findings))

    @property
    def accepted(self) -> bool:
        """Every check passed (the rules check may be skipped for a type without rules) and nothing erred."""
        if any(finding.is_error for finding in self.findings) or self.header is None:
            return False
        for check in self.checks:
            if check.status is CheckStatus.FAILED:
                return False
            if check.status is CheckStatus.SKIPPED and check.name != CHECK_DOCUMENT_RULES:
                return False
        return True

    @property
    def document(self) -> bytes | None:
        """The issuer-signed document, byte for byte as signed, when the message is accepted."""
        return self.header.payload if self.accepted and self.header is not None else None

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(finding.code for finding in self.findings if finding.is_error)

    def check(self, name: str) -> CheckResult:
        return next(check for check in self.checks if check.name == name)

    def to_list(self) -> list[dict[str, Any]]:
        return [check.to_dict() for check in self.checks]


class _Run:
    def __init__(self) -> None:
        self.results: dict[str, CheckResult] = {}

    def record(self, name: str, findings: list[Finding] | tuple[Finding, ...]) -> bool:
        result = CheckResult.from_findings(name, [_rename(finding, name) for finding in findings])
        self.results[name] = result
        return result.status is CheckStatus.PASSED

    def passed(self, name: str) -> bool:
        return name in self.results and self.results[name].status is CheckStatus.PASSED

    def finish(self) -> tuple[CheckResult, ...]:
        return tuple(self.results.get(name) or CheckResult.skipped(name) for name in CHECK_ORDER)


def _rename(finding: Finding, check: str) -> Finding:
    if finding.check == check:
        return finding
    return Finding(
        code=finding.code, severity=finding.severity, check=check, message=finding.message,
        line=finding.line, column=finding.column, path=finding.path,
    )


class InboxChecks:
    """The checks one node runs on every delivery addressed to it.

    ``workspace`` provides the partners' registered node certificates and the agreements (read once, at
    construction: a restart picks up new ones) and this node's trust context (re-read whenever the trust lists
    change, so a revocation takes effect on the next delivery).
    """

    def __init__(
        self,
        *,
        country: str,
        workspace: Workspace,
        catalogue: Catalogue,
        limits: XmlLimits,
        document_policy: SignaturePolicy | None = None,
    ) -> None:
        self.country = country
        self.workspace = workspace
        self.catalogue = catalogue
        self.limits = limits
        self.validator = Validator(catalogue, limits=limits)
        self.document_policy = document_policy or SignaturePolicy()
        self.envelope_type: DocumentType = catalogue.get(ENVELOPE_TYPE)
        self._nodes: dict[str, x509.Certificate] = {
            code: workspace.node(code).certificate for code in workspace.countries
        }
        self._agreements: tuple[Agreement, ...] = workspace.agreements_of(country)

    def trust(self, moment: datetime) -> TrustContext:
        """This node's own trust at ``moment``."""
        context: TrustContext = self.workspace.trust_context(self.country, moment=moment)
        return context

    def run(self, body: bytes, *, delivery_id: str, moment: datetime) -> InboxOutcome:
        """Check one delivered envelope at ``moment``; ``delivery_id`` is the message id the gateway signed for."""
        run = _Run()
        try:
            tree = parse_xml(body, limits=self.limits)
        except XmlError as exc:
            run.record(CHECK_PARSE, [Finding.from_error(exc, CHECK_PARSE)])
            return InboxOutcome(run.finish())
        run.record(CHECK_PARSE, [])

        if tree.getroot().tag != self.envelope_type.qname:
            run.record(CHECK_ENVELOPE_SCHEMA, [Finding.of(
                Code.DOCTYPE_MISMATCH, CHECK_ENVELOPE_SCHEMA,
                f"expected an envelope ({self.envelope_type.qname}), got {tree.getroot().tag}", line=1,
            )])
            return InboxOutcome(run.finish())
        report = self.validator.validate(tree, document_type=self.envelope_type)
        if not run.record(CHECK_ENVELOPE_SCHEMA, report.findings):
            return InboxOutcome(run.finish())
        try:
            claimed = read_envelope(tree)
        except ExchangeError as exc:  # pragma: no cover - a schema-valid envelope has every field
            run.record(CHECK_ENVELOPE_SCHEMA, [Finding.from_error(exc, CHECK_ENVELOPE_SCHEMA)])
            return InboxOutcome(run.finish())

        header = self._authenticate(run, body, claimed, moment)
        if header is None:
            return InboxOutcome(run.finish(), claimed=claimed)
        self._route(run, header, delivery_id, moment)
        document_type, issuer = self._check_document(run, header, moment)
        return InboxOutcome(run.finish(), header=header, claimed=claimed, document_type=document_type, issuer=issuer)

    # --- checks -------------------------------------------------------------------------------------------

    def _authenticate(
        self, run: _Run, body: bytes, claimed: EnvelopeHeader, moment: datetime
    ) -> EnvelopeHeader | None:
        sender = claimed.sender
        if sender.scheme != COUNTRY_SCHEME:
            run.record(CHECK_SENDER, [Finding.of(
                Code.GW_PARTY_SCHEME, CHECK_SENDER, f"sender id scheme {sender.scheme!r} is not {COUNTRY_SCHEME!r}",
                path="/Envelope/Header/Sender/Identifier/@Authority",
            )])
            return None
        registered = self._nodes.get(sender.identifier)
        if registered is None:
            run.record(CHECK_SENDER, [Finding.of(
                Code.GW_SENDER_UNKNOWN, CHECK_SENDER,
                f"{self.country} knows no single-window node for sender {sender.identifier!r}",
                path="/Envelope/Header/Sender/Identifier",
            )])
            return None
        check = verify_signature(body, policy=ENVELOPE_POLICY, check=CHECK_SENDER, limits=self.limits)
        if not check.valid or check.signer is None or check.signed_content is None:
            run.record(CHECK_SENDER, [*check.findings, Finding.of(
                Code.GW_SENDER_NOT_AUTHENTICATED, CHECK_SENDER,
                f"the envelope is not signed by {sender.identifier}'s node in a way that verifies",
            )])
            return None
        if fingerprint(check.signer) != fingerprint(registered):
            run.record(CHECK_SENDER, [Finding.of(
                Code.GW_SENDER_MISMATCH, CHECK_SENDER,
                f"the envelope claims sender {sender.identifier} but is signed by "
                f"{check.signer.subject.rfc4514_string()}, not by {sender.identifier}'s registered node",
            )])
            return None
        decision = self.trust(moment).evaluate(check.signer, check.chain, document_type=ENVELOPE_TYPE)
        problems = [finding for finding in decision.findings if finding.is_error]
        if not decision.trusted or problems:
            run.record(CHECK_SENDER, [*problems, Finding.of(
                Code.GW_SENDER_CERT_INVALID, CHECK_SENDER,
                f"{self.country} cannot rely on {sender.identifier}'s node certificate for envelopes: "
                + "; ".join(f"{finding.code}: {finding.message}" for finding in problems),
            )])
            return None
        try:  # from here on only what the sending node signed is used
            header = read_envelope(parse_xml(check.signed_content, limits=self.limits))
        except ExchangeError as exc:  # pragma: no cover - the signed content of a schema-valid envelope
            run.record(CHECK_SENDER, [Finding.from_error(exc, CHECK_SENDER)])
            return None
        run.record(CHECK_SENDER, [])
        return header

    def _route(self, run: _Run, header: EnvelopeHeader, delivery_id: str, moment: datetime) -> None:
        findings: list[Finding] = []
        receiver = header.receiver
        if header.message_id != delivery_id:
            findings.append(Finding.of(
                Code.NODE_DELIVERY_MISMATCH, CHECK_ROUTING,
                f"the gateway delivered message {delivery_id!r}, but the envelope is message {header.message_id!r}",
                path="/Envelope/Header/DocumentIdentification/InstanceIdentifier",
            ))
        if receiver.scheme != COUNTRY_SCHEME or receiver.identifier != self.country:
            findings.append(Finding.of(
                Code.NODE_NOT_ADDRESSEE, CHECK_ROUTING,
                f"the envelope is addressed to {receiver.identifier} ({receiver.scheme}), not to {self.country}",
                path="/Envelope/Header/Receiver/Identifier",
            ))
        else:
            allowing = [
                agreement for agreement in self._agreements
                if agreement.allows(header.sender.identifier, self.country, header.document_type, moment=moment)
            ]
            if not allowing:
                findings.append(Finding.of(
                    Code.GW_NO_AGREEMENT, CHECK_ROUTING,
                    f"no agreement of {self.country} in force lets {header.sender.identifier} send "
                    f"{header.document_type!r} to {self.country}",
                    path="/Envelope/Header/DocumentIdentification/Type",
                ))
            elif header.agreement_ref and header.agreement_ref not in {str(a.id) for a in allowing}:
                findings.append(Finding.of(
                    Code.GW_NO_AGREEMENT, CHECK_ROUTING,
                    f"the envelope names agreement {header.agreement_ref!r}, but the flow is governed by "
                    + ", ".join(repr(str(a.id)) for a in allowing),
                    path="/Envelope/Header/BusinessScope/AgreementRef",
                ))
        run.record(CHECK_ROUTING, findings)

    def _check_document(
        self, run: _Run, header: EnvelopeHeader, moment: datetime
    ) -> tuple[str | None, str | None]:
        doc_type = self.catalogue.get(header.document_type) if header.document_type in self.catalogue else None
        if doc_type is None or doc_type.id == ENVELOPE_TYPE:
            run.record(CHECK_DOCUMENT_TYPE, [Finding.of(
                Code.DOCTYPE_UNKNOWN, CHECK_DOCUMENT_TYPE,
                f"document type {header.document_type!r} is not in {self.country}'s catalogue",
                path="/Envelope/Header/DocumentIdentification/Type",
            )])
            return None, None
        try:
            document = parse_xml(header.payload, limits=self.limits)
        except XmlError as exc:
            run.record(CHECK_DOCUMENT_TYPE, [Finding.from_error(exc, CHECK_DOCUMENT_TYPE)])
            return doc_type.id, None
        type_findings = []
        root_tag = document.getroot().tag
        if root_tag != doc_type.qname:
            type_findings.append(Finding.of(
                Code.GW_PAYLOAD_MISMATCH, CHECK_DOCUMENT_TYPE,
                f"the envelope says {doc_type.id!r} ({doc_type.qname}) but the payload's root is {root_tag}",
                line=1, path="/" + etree.QName(root_tag).localname if isinstance(root_tag, str) else None,
            ))
        if header.standard != doc_type.namespace or header.type_version != doc_type.version:
            type_findings.append(Finding.of(
                Code.GW_PAYLOAD_MISMATCH, CHECK_DOCUMENT_TYPE,
                f"the envelope names {header.standard} version {header.type_version}; {self.country}'s catalogue "
                f"has {doc_type.namespace} version {doc_type.version}",
                path="/Envelope/Header/DocumentIdentification",
            ))
        if not run.record(CHECK_DOCUMENT_TYPE, type_findings):
            return doc_type.id, None

        report = self.validator.validate(document, document_type=doc_type)
        schema, rules = report.check(CHECK_SCHEMA), report.check(CHECK_RULES)
        run.record(CHECK_DOCUMENT_SCHEMA, schema.findings if schema is not None else ())
        if rules is not None and rules.status is not CheckStatus.SKIPPED:
            run.record(CHECK_DOCUMENT_RULES, rules.findings)

        check = verify_signature(
            header.payload, policy=self.document_policy, check=CHECK_DOCUMENT_SIGNATURE, limits=self.limits
        )
        if not run.record(CHECK_DOCUMENT_SIGNATURE, check.findings) or check.signer is None:
            return doc_type.id, None
        decision = self.trust(moment).evaluate(check.signer, check.chain, document_type=doc_type.id)
        findings = list(decision.findings)
        if not decision.trusted and not any(finding.is_error for finding in findings):  # pragma: no cover
            findings.append(Finding.of(
                Code.TRUST_CHAIN_UNTRUSTED, CHECK_ISSUER_TRUST, "the issuer is not trusted", severity=Severity.ERROR
            ))
        run.record(CHECK_ISSUER_TRUST, findings)
        issuer = decision.issuer.name if decision.issuer is not None else None
        return doc_type.id, issuer


__all__ = ["CHECK_ORDER", "ENVELOPE_POLICY", "ENVELOPE_TYPE", "RECEIPT_TYPE", "InboxChecks", "InboxOutcome"]
