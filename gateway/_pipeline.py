"""The gateway's ordered pipeline of named checks.

::

    size -> parse -> envelope-schema -> sender-authentication -> routing -> duplicate -> document-type
         -> document-schema -> document-rules -> document-signature -> issuer-trust -> ACCEPTED | REJECTED

Each check yields findings with stable codes; a document fault is a finding, only a programmer or
configuration fault raises. Every check reports ``passed``, ``failed`` or ``skipped``. A check is skipped
only when what it needs is missing: nothing is read from an envelope that failed its schema, and nothing
after ``sender-authentication`` runs on content the sending node did not sign (the header is re-read from
the verifier's signed content, so signature wrapping cannot smuggle in another header). When routing fails,
the document checks still run so that the sender sees every problem at once.

The verdict maps to an HTTP status in the KoSIT/AS4 habit: 202 accepted, 422 rejected, 413 too large,
401 not authenticated, 403 not authorised (spoofed sender, no agreement), 409 conflicting duplicate, 200 for
an identical resend (the earlier answer, produced by the app from the store).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
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
from gateway._status import Verdict

if TYPE_CHECKING:
    from exchange._trust import TrustContext

CHECK_SIZE = "size"
CHECK_PARSE = "parse"
CHECK_ENVELOPE_SCHEMA = "envelope-schema"
CHECK_SENDER = "sender-authentication"
CHECK_ROUTING = "routing"
CHECK_DUPLICATE = "duplicate"
CHECK_DOCUMENT_TYPE = "document-type"
CHECK_DOCUMENT_SCHEMA = "document-schema"
CHECK_DOCUMENT_RULES = "document-rules"
CHECK_DOCUMENT_SIGNATURE = "document-signature"
CHECK_ISSUER_TRUST = "issuer-trust"

CHECK_ORDER = (
    CHECK_SIZE,
    CHECK_PARSE,
    CHECK_ENVELOPE_SCHEMA,
    CHECK_SENDER,
    CHECK_ROUTING,
    CHECK_DUPLICATE,
    CHECK_DOCUMENT_TYPE,
    CHECK_DOCUMENT_SCHEMA,
    CHECK_DOCUMENT_RULES,
    CHECK_DOCUMENT_SIGNATURE,
    CHECK_ISSUER_TRUST,
)

ENVELOPE_TYPE = "envelope"
# The envelope carries the issuer-signed document base64-encoded, so the node's signature is the only one.
ENVELOPE_POLICY = SignaturePolicy(max_signatures=1)


class Members:
    """What the gateway knows about the parties: registered nodes, agreements and each receiver's trust.

    The default implementation reads a workspace (:class:`exchange._workspace.Workspace`); tests may supply
    their own. All methods take explicit time.
    """

    def node_certificate(self, party: str) -> x509.Certificate | None:  # pragma: no cover - interface
        raise NotImplementedError

    def is_known(self, party: str) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def agreement_for(
        self, sender: str, receiver: str, document_type: str, *, moment: datetime
    ) -> str | None:  # pragma: no cover - interface
        """The id of an agreement in force that lets this flow happen, or None."""
        raise NotImplementedError

    def trust_for(self, receiver: str, *, moment: datetime) -> TrustContext:  # pragma: no cover - interface
        raise NotImplementedError

    def node_problems(self, certificate: x509.Certificate, *, moment: datetime) -> list[Finding]:  # pragma: no cover
        """Why the node certificate cannot be relied on at ``moment`` (chain, validity, revocation); [] if fine."""
        raise NotImplementedError


class WorkspaceMembers(Members):
    """Members as a demo workspace describes them (nodes, agreements, trust lists, CRLs)."""

    def __init__(self, workspace: Any) -> None:
        self._workspace = workspace
        # Node certificates and agreements are read once (a gateway restart picks up new ones); trust lists and
        # CRLs are re-read by the workspace whenever their files change, so a revocation takes effect at once.
        self._countries = frozenset(workspace.countries)
        self._nodes: dict[str, x509.Certificate] = {
            code: workspace.node(code).certificate for code in workspace.countries
        }
        self._agreements = tuple(workspace.agreements)

    @property
    def workspace(self) -> Any:
        return self._workspace

    def node_certificate(self, party: str) -> x509.Certificate | None:
        return self._nodes.get(party)

    def is_known(self, party: str) -> bool:
        return party in self._countries

    def agreement_for(self, sender: str, receiver: str, document_type: str, *, moment: datetime) -> str | None:
        for agreement in self._agreements:
            if agreement.allows(sender, receiver, document_type, moment=moment):
                return str(agreement.id)
        return None

    def trust_for(self, receiver: str, *, moment: datetime) -> TrustContext:
        context: TrustContext = self._workspace.trust_context(receiver, moment=moment)
        return context

    def node_problems(self, certificate: x509.Certificate, *, moment: datetime) -> list[Finding]:
        context = self._workspace.trust_context(None, moment=moment)
        decision = context.evaluate(certificate)
        return [finding for finding in decision.findings if finding.code in _NODE_CERT_CODES]


_NODE_CERT_CODES = frozenset({
    Code.TRUST_CERT_REVOKED.value, Code.TRUST_CERT_EXPIRED.value, Code.TRUST_CERT_NOT_YET_VALID.value,
    Code.TRUST_CHAIN_UNTRUSTED.value, Code.TRUST_REVOCATION_UNKNOWN.value,
})


@dataclass(frozen=True)
class Previous:
    """What the store knows about an earlier message with the same id."""

    digest: str
    answer: dict[str, Any]


DuplicateLookup = Callable[[str], Previous | None]


@dataclass(frozen=True)
class Outcome:
    """The pipeline's answer for one submission."""

    verdict: Verdict
    http_status: int
    checks: tuple[CheckResult, ...]
    digest: str
    received_at: datetime
    message_id: str | None = None
    header: EnvelopeHeader | None = None
    agreement_id: str | None = None
    previous: Previous | None = None
    authenticated: bool = False
    findings: tuple[Finding, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "findings", tuple(f for check in self.checks for f in check.findings))

    @property
    def accepted(self) -> bool:
        return self.verdict is Verdict.ACCEPTED

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(finding.code for finding in self.findings)

    def check(self, name: str) -> CheckResult:
        return next(check for check in self.checks if check.name == name)

    def to_dict(self) -> dict[str, Any]:
        """The response body: ``{message_id, verdict, status, checks, received_at}`` plus routing fields."""
        return {
            "message_id": self.message_id,
            "verdict": self.verdict.value,
            "status": "ACCEPTED" if self.accepted else "REJECTED",
            "checks": [check.to_dict() for check in self.checks],
            "received_at": self.received_at.isoformat(),
            "sender": self.header.sender.identifier if self.header else None,
            "receiver": self.header.receiver.identifier if self.header else None,
            "document_type": self.header.document_type if self.header else None,
            "digest": self.digest,
        }


class _Run:
    """One pass of the pipeline: collects check results in order."""

    def __init__(self) -> None:
        self.results: dict[str, CheckResult] = {}
        #: checks that do not apply to this message (a document type without business rules): shown skipped,
        #: and not required for acceptance
        self.not_applicable: set[str] = set()

    def record(self, name: str, findings: Iterable[Finding]) -> bool:
        result = CheckResult.from_findings(name, list(findings))
        self.results[name] = result
        return result.status is CheckStatus.PASSED

    def passed(self, name: str) -> bool:
        return name in self.results and self.results[name].status is CheckStatus.PASSED

    def satisfied(self, name: str) -> bool:
        return self.passed(name) or (name in self.not_applicable and name not in self.results)

    def finish(self) -> tuple[CheckResult, ...]:
        return tuple(self.results.get(name) or CheckResult.skipped(name) for name in CHECK_ORDER)


def _first_code(run: _Run, name: str) -> str | None:
    result = run.results.get(name)
    if result is None:
        return None
    return next((finding.code for finding in result.findings if finding.is_error), None)


class Pipeline:
    """Runs the checks. Holds only immutable configuration: safe to share between concurrent requests."""

    def __init__(
        self,
        *,
        catalogue: Catalogue,
        members: Members,
        max_bytes: int,
        limits: XmlLimits | None = None,
        document_policy: SignaturePolicy | None = None,
    ) -> None:
        self.catalogue = catalogue
        self.members = members
        self.max_bytes = max_bytes
        self.limits = limits or XmlLimits(max_bytes=max_bytes)
        self.validator = Validator(catalogue, limits=self.limits)
        self.document_policy = document_policy or SignaturePolicy()
        self.envelope_type: DocumentType = catalogue.get(ENVELOPE_TYPE)

    def too_large(self, size: int, *, moment: datetime) -> Outcome:
        """The answer for a body the app stopped reading at ``max_bytes`` (``size`` is what it had read)."""
        run = _Run()
        run.record(CHECK_SIZE, [Finding.of(
            Code.XML_TOO_LARGE, CHECK_SIZE, f"the message is over {size - 1:,} bytes; the limit is {self.max_bytes:,}"
        )])
        return self._outcome(run, "", moment, http_status=413)

    def run(
        self,
        body: bytes,
        *,
        moment: datetime,
        duplicates: DuplicateLookup | None = None,
        transport_party: str | None = None,
        timings: Callable[[str, float], None] | None = None,
    ) -> Outcome:
        """Check one submitted envelope at ``moment`` (the explicit evaluation time)."""
        import time

        run = _Run()
        digest = hashlib.sha256(body).hexdigest()

        def timed(name: str, fn: Callable[[], Any]) -> Any:
            started = time.perf_counter()
            try:
                return fn()
            finally:
                if timings is not None:
                    timings(name, time.perf_counter() - started)

        # size
        if len(body) > self.max_bytes:
            run.record(CHECK_SIZE, [Finding.of(
                Code.XML_TOO_LARGE, CHECK_SIZE, f"the message is {len(body):,} bytes; the limit is {self.max_bytes:,}"
            )])
            return self._outcome(run, digest, moment, http_status=413)
        run.record(CHECK_SIZE, [])

        # parse
        try:
            tree = timed(CHECK_PARSE, lambda: parse_xml(body, limits=self.limits))
        except XmlError as exc:
            run.record(CHECK_PARSE, [Finding.from_error(exc, CHECK_PARSE)])
            return self._outcome(run, digest, moment, http_status=422)
        run.record(CHECK_PARSE, [])

        # envelope schema (XSD; the routing rules are checked by the routing check itself)
        report = timed(CHECK_ENVELOPE_SCHEMA, lambda: self.validator.validate(
            tree, schema=self.envelope_type.schema_path
        ))
        if tree.getroot().tag != self.envelope_type.qname:
            findings = [Finding.of(
                Code.DOCTYPE_MISMATCH, CHECK_ENVELOPE_SCHEMA,
                f"expected an envelope ({self.envelope_type.qname}), got {tree.getroot().tag}", line=1,
            )]
        else:
            findings = [_rename(f, CHECK_ENVELOPE_SCHEMA) for f in report.findings]
        if not run.record(CHECK_ENVELOPE_SCHEMA, findings):
            return self._outcome(run, digest, moment, http_status=422)

        # sender authentication: the node registered for the sender id signed the whole envelope
        try:
            unverified = read_envelope(tree)
        except ExchangeError as exc:  # e.g. a payload libxml2's base64Binary lets through ("@PD94...")
            run.record(CHECK_ENVELOPE_SCHEMA, [Finding.from_error(exc, CHECK_ENVELOPE_SCHEMA)])
            return self._outcome(run, digest, moment, http_status=422)
        header, status = timed(CHECK_SENDER, lambda: self._authenticate(run, body, unverified, moment, transport_party))
        if header is None:
            return self._outcome(run, digest, moment, http_status=status, message_id=unverified.message_id)

        # routing: receiver known, agreement in force for sender -> receiver and this type
        agreement_id = self._route(run, header, moment)

        # duplicate: same id and bytes -> the earlier answer; same id, other bytes -> conflict
        if duplicates is not None:
            previous = duplicates(header.message_id)
            if previous is not None and previous.digest == digest:
                run.record(CHECK_DUPLICATE, [Finding.of(
                    Code.GW_DUPLICATE_CONFLICT, CHECK_DUPLICATE, "identical resend: the earlier answer is returned",
                    severity=Severity.INFO,
                )])
                return self._outcome(run, digest, moment, http_status=200, header=header, previous=previous,
                                     authenticated=True)
            if previous is not None:
                run.record(CHECK_DUPLICATE, [Finding.of(
                    Code.GW_DUPLICATE_CONFLICT, CHECK_DUPLICATE,
                    f"message id {header.message_id!r} was already used for an envelope with other bytes",
                    path="/Envelope/Header/DocumentIdentification/InstanceIdentifier",
                )])
                return self._outcome(run, digest, moment, http_status=409, header=header, authenticated=True)
        run.record(CHECK_DUPLICATE, [])

        # the trade document itself
        self._check_document(run, header, moment, timed)

        if not run.passed(CHECK_ROUTING):
            status = 403
        else:
            status = 202 if all(run.satisfied(name) for name in CHECK_ORDER) else 422
        return self._outcome(run, digest, moment, http_status=status, header=header, agreement_id=agreement_id,
                             authenticated=True)

    # --- checks -----------------------------------------------------------------------------------------

    def _authenticate(
        self,
        run: _Run,
        body: bytes,
        unverified: EnvelopeHeader,
        moment: datetime,
        transport_party: str | None,
    ) -> tuple[EnvelopeHeader | None, int]:
        sender = unverified.sender
        if sender.scheme != COUNTRY_SCHEME:
            run.record(CHECK_SENDER, [Finding.of(
                Code.GW_PARTY_SCHEME, CHECK_SENDER, f"sender id scheme {sender.scheme!r} is not {COUNTRY_SCHEME!r}",
                path="/Envelope/Header/Sender/Identifier/@Authority",
            )])
            return None, 401
        registered = self.members.node_certificate(sender.identifier)
        if registered is None:
            run.record(CHECK_SENDER, [Finding.of(
                Code.GW_SENDER_UNKNOWN, CHECK_SENDER, f"no single-window node is registered for {sender.identifier!r}",
                path="/Envelope/Header/Sender/Identifier",
            )])
            return None, 401
        check = verify_signature(body, policy=ENVELOPE_POLICY, check=CHECK_SENDER)
        if not check.valid or check.signer is None or check.signed_content is None:
            findings = list(check.findings) or [Finding.of(
                Code.GW_SENDER_NOT_AUTHENTICATED, CHECK_SENDER, "the envelope signature does not verify"
            )]
            findings.append(Finding.of(
                Code.GW_SENDER_NOT_AUTHENTICATED, CHECK_SENDER,
                f"the envelope is not signed by {sender.identifier}'s node in a way that verifies",
            ))
            run.record(CHECK_SENDER, findings)
            return None, 401
        if fingerprint(check.signer) != fingerprint(registered):
            run.record(CHECK_SENDER, [Finding.of(
                Code.GW_SENDER_MISMATCH, CHECK_SENDER,
                f"the envelope claims sender {sender.identifier} but is signed by "
                f"{check.signer.subject.rfc4514_string()}, not by {sender.identifier}'s registered node",
            )])
            return None, 403
        problems = [
            Finding.of(
                Code.GW_SENDER_CERT_INVALID, CHECK_SENDER,
                f"{sender.identifier}'s node certificate cannot be relied on: {finding.code}: {finding.message}",
            )
            for finding in self.members.node_problems(registered, moment=moment)
        ]
        if transport_party is not None and transport_party != sender.identifier:
            problems.append(Finding.of(
                Code.GW_TRANSPORT_IDENTITY, CHECK_SENDER,
                f"the TLS client is {transport_party}, but the envelope claims sender {sender.identifier}",
            ))
        if problems:
            run.record(CHECK_SENDER, problems)
            return None, 403
        # From here on only what the node signed is used.
        try:
            header = read_envelope(parse_xml(check.signed_content, limits=self.limits))
        except ExchangeError as exc:  # pragma: no cover - signed content of a schema-valid envelope
            run.record(CHECK_SENDER, [Finding.from_error(exc, CHECK_SENDER)])
            return None, 422
        run.record(CHECK_SENDER, [])
        return header, 202

    def _route(self, run: _Run, header: EnvelopeHeader, moment: datetime) -> str | None:
        findings = []
        receiver = header.receiver
        agreement_id = None
        if receiver.scheme != COUNTRY_SCHEME:
            findings.append(Finding.of(
                Code.GW_PARTY_SCHEME, CHECK_ROUTING, f"receiver id scheme {receiver.scheme!r} is not {COUNTRY_SCHEME!r}",
                path="/Envelope/Header/Receiver/Identifier/@Authority",
            ))
        elif not self.members.is_known(receiver.identifier):
            findings.append(Finding.of(
                Code.GW_RECEIVER_UNKNOWN, CHECK_ROUTING, f"receiver {receiver.identifier!r} is not a known party",
                path="/Envelope/Header/Receiver/Identifier",
            ))
        elif receiver.identifier == header.sender.identifier:
            findings.append(Finding.of(
                Code.GW_SELF_ADDRESSED, CHECK_ROUTING, "sender and receiver are the same party",
                path="/Envelope/Header/Receiver/Identifier",
            ))
        else:
            agreement_id = self.members.agreement_for(
                header.sender.identifier, receiver.identifier, header.document_type, moment=moment
            )
            if agreement_id is None:
                findings.append(Finding.of(
                    Code.GW_NO_AGREEMENT, CHECK_ROUTING,
                    f"no agreement in force lets {header.sender.identifier} send {header.document_type!r} "
                    f"to {receiver.identifier}",
                    path="/Envelope/Header/DocumentIdentification/Type",
                ))
            elif header.agreement_ref and header.agreement_ref != agreement_id:
                findings.append(Finding.of(
                    Code.GW_NO_AGREEMENT, CHECK_ROUTING,
                    f"the envelope names agreement {header.agreement_ref!r}, but the flow is governed by "
                    f"{agreement_id!r}",
                    path="/Envelope/Header/BusinessScope/AgreementRef",
                ))
        run.record(CHECK_ROUTING, findings)
        return agreement_id

    def _check_document(
        self, run: _Run, header: EnvelopeHeader, moment: datetime, timed: Callable[[str, Callable[[], Any]], Any]
    ) -> None:
        # document type: known, and the payload really is one
        doc_type = self.catalogue.get(header.document_type) if header.document_type in self.catalogue else None
        if doc_type is None or doc_type.id == ENVELOPE_TYPE:
            run.record(CHECK_DOCUMENT_TYPE, [Finding.of(
                Code.DOCTYPE_UNKNOWN, CHECK_DOCUMENT_TYPE, f"document type {header.document_type!r} is not in the catalogue",
                path="/Envelope/Header/DocumentIdentification/Type",
            )])
            return
        try:
            document = parse_xml(header.payload, limits=self.limits)
        except XmlError as exc:
            run.record(CHECK_DOCUMENT_TYPE, [Finding.from_error(exc, CHECK_DOCUMENT_TYPE)])
            return
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
                f"the envelope names {header.standard} version {header.type_version}; the catalogue has "
                f"{doc_type.namespace} version {doc_type.version}",
                path="/Envelope/Header/DocumentIdentification",
            ))
        if not run.record(CHECK_DOCUMENT_TYPE, type_findings):
            return

        # schema and rules
        report = timed(CHECK_DOCUMENT_SCHEMA, lambda: self.validator.validate(document, document_type=doc_type))
        schema = report.check(CHECK_SCHEMA)
        rules = report.check(CHECK_RULES)
        run.record(CHECK_DOCUMENT_SCHEMA, [_rename(f, CHECK_DOCUMENT_SCHEMA) for f in (schema.findings if schema else ())])
        if rules is not None and rules.status is not CheckStatus.SKIPPED:
            run.record(CHECK_DOCUMENT_RULES, [_rename(f, CHECK_DOCUMENT_RULES) for f in rules.findings])
        elif doc_type.rules_path is None:
            run.not_applicable.add(CHECK_DOCUMENT_RULES)  # the type has no business rules

        # issuer's signature, then trust in the issuer for this type, as the receiver recognises it
        check = timed(CHECK_DOCUMENT_SIGNATURE, lambda: verify_signature(
            header.payload, policy=self.document_policy, check=CHECK_DOCUMENT_SIGNATURE
        ))
        if not run.record(CHECK_DOCUMENT_SIGNATURE, check.findings) or check.signer is None:
            return
        if not run.passed(CHECK_ROUTING):
            return  # whose trust applies depends on a receiver the gateway could route to
        trust = self.members.trust_for(header.receiver.identifier, moment=moment)
        decision = timed(CHECK_ISSUER_TRUST, lambda: trust.evaluate(
            check.signer, check.chain, document_type=doc_type.id
        ))
        run.record(CHECK_ISSUER_TRUST, [_rename(f, CHECK_ISSUER_TRUST) for f in decision.findings])

    # --- outcome ----------------------------------------------------------------------------------------

    def _outcome(
        self,
        run: _Run,
        digest: str,
        moment: datetime,
        *,
        http_status: int,
        message_id: str | None = None,
        header: EnvelopeHeader | None = None,
        agreement_id: str | None = None,
        previous: Previous | None = None,
        authenticated: bool = False,
    ) -> Outcome:
        checks = run.finish()
        accepted = http_status == 202
        return Outcome(
            verdict=Verdict.ACCEPTED if accepted else Verdict.REJECTED,
            http_status=http_status,
            checks=checks,
            digest=digest,
            received_at=moment,
            message_id=header.message_id if header is not None else message_id,
            header=header,
            agreement_id=agreement_id,
            previous=previous,
            authenticated=authenticated,
        )


def _rename(finding: Finding, check: str) -> Finding:
    if finding.check == check:
        return finding
    return Finding(
        code=finding.code, severity=finding.severity, check=check, message=finding.message,
        line=finding.line, column=finding.column, path=finding.path,
    )


__all__ = [
    "CHECK_ORDER",
    "Members",
    "Outcome",
    "Pipeline",
    "Previous",
    "Verdict",
    "WorkspaceMembers",
]
