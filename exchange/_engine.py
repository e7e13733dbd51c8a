"""One check engine for every service that decides whether to accept a message: the gateway and the node.

A message is checked by named steps, in order; each is a small function of the run's state and an explicit
context (the parties' public material, trust, time, limits) that records findings with stable codes::

    size -> parse -> envelope-schema -> sender-authentication -> routing -> duplicate -> document-type
         -> document-schema -> document-rules -> document-signature -> issuer-trust -> ACCEPTED | REJECTED

A :class:`Profile` composes the steps for one service: which of them run, who decides (the prefix of the codes a
step gives for the service's own decisions: ``GW-*`` at the gateway, ``NODE-*`` at a node), and how an
INDETERMINATE trust decision is treated (refused by default, with the decider's own code). Findings about the
document itself (``SIG-*``, ``TRUST-*``, ``SCHEMA-*``, ``ENV-*``, ``DOCTYPE-*``, ...) carry the same code
wherever they are found. The gateway's profile has every step; the node's leaves out ``size`` (its HTTP layer
bounds the body) and ``duplicate`` (its inbox answers a redelivery from its store) and adds the check that the
envelope is the one the gateway signed the delivery for.

Rules of the run, the same for both profiles:

- every step reports ``passed``, ``failed`` or ``skipped``; a step is skipped only when what it needs is
  missing, and ``document-rules`` is *not applicable* (skipped, not required) for a type without rules;
- nothing is read from an envelope that failed its schema, and nothing after ``sender-authentication`` uses
  content the sending node did not sign: the header is re-read from the verifier's signed content, so signature
  wrapping cannot smuggle in another header or payload;
- when routing fails, the document checks still run so that the sender sees every problem at once; issuer
  trust needs a receiver whose trust applies, so it waits for routing;
- a document fault is a finding; only a programmer or configuration fault raises.

The verdict maps to an HTTP status in the KoSIT/AS4 habit: 202 accepted, 422 rejected, 413 too large, 401 not
authenticated, 403 not authorised (spoofed sender, untrusted node, no agreement), 409 conflicting duplicate,
200 for an identical resend (the earlier answer, which the caller holds).

An :class:`Engine` holds only immutable configuration and is safe to share between concurrent requests; the
parties' material comes from :class:`Parties`, read once per run through :meth:`Parties.view` (one reload point:
routing, sender authentication and trust see the same version of the agreements and trust lists).
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from cryptography import x509
from lxml import etree

from exchange._catalogue import Catalogue, DocumentType
from exchange._dsig import SignatureCheck, SignaturePolicy, verify_signature
from exchange._envelope import COUNTRY_SCHEME, EnvelopeHeader, read_envelope
from exchange._ephyto import EPHYTO_TYPE
from exchange._errors import Code, ExchangeError, Severity, XmlError
from exchange._findings import CheckResult, CheckStatus, Finding
from exchange._findings import MessageVerdict as Verdict
from exchange._pki import fingerprint
from exchange._validation import CHECK_RULES, CHECK_SCHEMA, Validator
from exchange._xml import XmlLimits, parse_xml

if TYPE_CHECKING:
    from exchange._trust import TrustContext, TrustDecision

ENVELOPE_TYPE = "envelope"
RECEIPT_TYPE = "receipt"
#: The envelope carries the issuer-signed document base64-encoded, so the node's signature is the only one.
ENVELOPE_POLICY = SignaturePolicy(max_signatures=1)


class Step(StrEnum):
    """The named steps, in the order they run."""

    SIZE = "size"
    PARSE = "parse"
    ENVELOPE_SCHEMA = "envelope-schema"
    SENDER = "sender-authentication"
    ROUTING = "routing"
    DUPLICATE = "duplicate"
    DOCUMENT_TYPE = "document-type"
    DOCUMENT_SCHEMA = "document-schema"
    DOCUMENT_RULES = "document-rules"
    DOCUMENT_SIGNATURE = "document-signature"
    ISSUER_TRUST = "issuer-trust"


STEP_ORDER: tuple[Step, ...] = tuple(Step)
#: where an ePhyto certificate names its importing country
_SPS_NS = {"rsm": "urn:un:unece:uncefact:data:standard:SPSCertificate:17",
           "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:21"}


# --- what a service knows about the parties --------------------------------------------------------------


class PartyView:
    """The parties' public material as one service sees it at one moment (one version of every file).

    Subclasses answer from their own folder; every method takes what it needs explicitly.
    """

    def node_certificate(self, party: str) -> x509.Certificate | None:  # pragma: no cover - interface
        """The certificate of the single-window node registered for ``party``, or None."""
        raise NotImplementedError

    def node_certificates(self, party: str) -> tuple[tuple[x509.Certificate, datetime | None], ...]:
        """Every node certificate of ``party`` with the moment it retires (None: current); a renewal keeps the
        old one for an overlap period. The default: the one :meth:`node_certificate` answers."""
        current = self.node_certificate(party)
        return ((current, None),) if current is not None else ()

    def refused_agreements(self) -> tuple[ExchangeError, ...]:
        """Agreements of this service's folder that were refused (a signature that does not verify), to say why
        a flow has no agreement. The default: none."""
        return ()

    def receiver_known(self, party: str) -> bool:  # pragma: no cover - interface
        """Whether this service takes messages for ``party`` (the gateway: a member; a node: itself)."""
        raise NotImplementedError

    def agreements_for(
        self, sender: str, receiver: str, document_type: str
    ) -> tuple[str, ...]:  # pragma: no cover - interface
        """The ids of the agreements in force that let this flow happen (none: it may not)."""
        raise NotImplementedError

    def node_trust(self, party: str) -> TrustContext:  # pragma: no cover - interface
        """The trust in which the node certificate of ``party`` is evaluated (for envelopes it signs as a sender,
        receipts it signs as a receiver): at the gateway that party's own trust, at a node the node's own."""
        raise NotImplementedError

    def trust_for(self, receiver: str) -> TrustContext:  # pragma: no cover - interface
        """What ``receiver`` recognises: the trust in which the issuer of a document for it is evaluated."""
        raise NotImplementedError

    def relay_certificate(self) -> x509.Certificate | None:
        """The certificate that may sign an envelope for a sender that has no node of its own in the exchange
        (the gateway's, relaying what its ePhyto hub interface took in), pinned; None (the default): no relay."""
        return None


class Parties:
    """Where a service's :class:`PartyView` comes from: :meth:`view` is its one reload point."""

    def view(self, *, moment: datetime) -> PartyView:  # pragma: no cover - interface
        raise NotImplementedError


# --- profiles --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """Which steps a service runs and how it names its own decisions."""

    name: str
    #: prefix of the codes for this service's own decisions (``GW``, ``NODE``)
    decider: str
    steps: tuple[Step, ...]
    #: the code for a receiver this service does not take messages for
    receiver_code: Code
    #: refuse a trust decision that is INDETERMINATE (revocation status unknown, ...): the secure default
    refuse_indeterminate: bool = True
    #: document types accepted in an envelope signed by the relay (:meth:`PartyView.relay_certificate`) instead of
    #: the sender's node; none by default. The sender is then as the relay identified it, and every document check
    #: (signature, issuer trust) is this service's own.
    relayed_types: frozenset[str] = frozenset()
    #: every receiver of the envelope must be one this service routes to (the gateway); otherwise (a node) the
    #: envelope must name this service's own country among its receivers and the others are the gateway's concern
    every_receiver: bool = True

    def __post_init__(self) -> None:
        unknown = [step for step in self.steps if step not in STEP_ORDER]
        if unknown or list(self.steps) != sorted(self.steps, key=STEP_ORDER.index):
            raise ValueError(f"profile {self.name}: steps must be a subsequence of {[s.value for s in STEP_ORDER]}")
        if self.relayed_types:
            self.code("SENDER-RELAYED")  # the decider has a code for it

    def code(self, suffix: str) -> Code:
        """The decider's code for ``suffix`` (``SENDER-UNKNOWN`` -> ``GW-SENDER-UNKNOWN`` or ``NODE-...``)."""
        code: Code = Code._value2member_map_[f"{self.decider}-{suffix}"]  # type: ignore[assignment]
        return code


GATEWAY_PROFILE = Profile("gateway", "GW", STEP_ORDER, Code.GW_RECEIVER_UNKNOWN)
#: A node takes ePhyto certificates that the gateway relays from its hub interface: the ePhyto hub's model, in which
#: the hub vouches for the NPPO that delivered (its TLS client certificate) and the receiver relies on the NPPO's
#: signature on the certificate, which the node checks with its own trust like any other document.
NODE_PROFILE = Profile(
    "node", "NODE", tuple(step for step in STEP_ORDER if step not in (Step.SIZE, Step.DUPLICATE)),
    Code.NODE_NOT_ADDRESSEE, relayed_types=frozenset({EPHYTO_TYPE}), every_receiver=False,
)


# --- the outcome ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Previous:
    """What the caller's store knows about an earlier message with the same id."""

    digest: str
    answer: dict[str, Any]


DuplicateLookup = Callable[[str], Previous | None]


@dataclass(frozen=True)
class Outcome:
    """The engine's answer for one message. ``header`` comes from signed content only; ``claimed`` is the header
    as read from a schema-valid envelope before its signature was checked: for display, never for a decision."""

    verdict: Verdict
    http_status: int
    checks: tuple[CheckResult, ...]
    digest: str
    received_at: datetime
    message_id: str | None = None
    header: EnvelopeHeader | None = None
    claimed: EnvelopeHeader | None = None
    agreement_id: str | None = None
    previous: Previous | None = None
    authenticated: bool = False
    document_type: str | None = None
    issuer: str | None = None
    #: the receivers this service routed the message to (the gateway: all; a node: its own country) and the
    #: agreement that governs each flow
    agreements: Mapping[str, str] = field(default_factory=dict)
    findings: tuple[Finding, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "findings", tuple(f for check in self.checks for f in check.findings))

    @property
    def accepted(self) -> bool:
        return self.verdict is Verdict.ACCEPTED

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(finding.code for finding in self.findings)

    @property
    def error_codes(self) -> tuple[str, ...]:
        return tuple(finding.code for finding in self.findings if finding.is_error)

    @property
    def document(self) -> bytes | None:
        """The issuer-signed document, byte for byte as signed, when the message is accepted."""
        return self.header.payload if self.accepted and self.header is not None else None

    def check(self, name: str) -> CheckResult:
        return next(check for check in self.checks if check.name == name)

    def checks_list(self) -> list[dict[str, Any]]:
        return [check.to_dict() for check in self.checks]

    def to_dict(self) -> dict[str, Any]:
        """The response body: ``{message_id, verdict, status, checks, received_at}`` plus routing fields."""
        return {
            "message_id": self.message_id,
            "verdict": self.verdict.value,
            "status": "ACCEPTED" if self.accepted else "REJECTED",
            "http_status": self.http_status,
            "checks": self.checks_list(),
            "received_at": self.received_at.isoformat(),
            "sender": self.header.sender.identifier if self.header else None,
            "receiver": self.header.receiver.identifier if self.header else None,
            "receivers": list(self.header.receiver_ids) if self.header else None,
            "document_type": self.header.document_type if self.header else None,
            "digest": self.digest,
        }


# --- one run ---------------------------------------------------------------------------------------------


Timings = Callable[[str, float], None]


@dataclass
class _Run:
    """The state of one run: what the steps found and what later steps need."""

    body: bytes
    moment: datetime
    view: PartyView
    profile: Profile
    duplicates: DuplicateLookup | None
    transport_party: str | None
    delivery_id: str | None
    timings: Timings | None
    digest: str = ""
    results: dict[str, CheckResult] = field(default_factory=dict)
    #: steps that do not apply to this message (a document type without business rules): shown skipped, not required
    not_applicable: set[str] = field(default_factory=set)
    #: set when a step ends the run early, with the HTTP status it ends it with
    stop: int | None = None
    tree: etree._ElementTree | None = None
    claimed: EnvelopeHeader | None = None
    header: EnvelopeHeader | None = None
    agreement_id: str | None = None
    #: receiver -> the agreement governing its flow, for each receiver this service routes to
    agreements: dict[str, str] = field(default_factory=dict)
    previous: Previous | None = None
    doc_type: DocumentType | None = None
    document: etree._ElementTree | None = None
    signature: SignatureCheck | None = None
    issuer: str | None = None

    def record(self, step: Step, findings: list[Finding] | tuple[Finding, ...]) -> bool:
        result = CheckResult.from_findings(step.value, [_rename(finding, step.value) for finding in findings])
        self.results[step.value] = result
        return result.status is CheckStatus.PASSED

    def fail(self, step: Step, findings: list[Finding], status: int) -> None:
        self.record(step, findings)
        self.stop = status

    def passed(self, step: Step) -> bool:
        result = self.results.get(step.value)
        return result is not None and result.status is CheckStatus.PASSED

    def satisfied(self, step: Step) -> bool:
        return self.passed(step) or (step.value in self.not_applicable and step.value not in self.results)

    def timed(self, name: str, fn: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        try:
            return fn()
        finally:
            if self.timings is not None:
                self.timings(name, time.perf_counter() - started)


class Engine:
    """Runs one profile's steps. Holds only immutable configuration: safe to share between concurrent requests."""

    def __init__(
        self,
        profile: Profile,
        *,
        catalogue: Catalogue,
        parties: Parties,
        limits: XmlLimits,
        document_policy: SignaturePolicy | None = None,
    ) -> None:
        self.profile = profile
        self.catalogue = catalogue
        self.parties = parties
        self.limits = limits
        self.max_bytes = limits.max_bytes
        self.validator = Validator(catalogue, limits=limits, svrl=False)  # findings only: no SVRL is shown
        self.document_policy = document_policy or SignaturePolicy()
        self.envelope_type: DocumentType = catalogue.get(ENVELOPE_TYPE)
        self._steps: dict[Step, Callable[[_Run], None]] = {
            Step.SIZE: self._size,
            Step.PARSE: self._parse,
            Step.ENVELOPE_SCHEMA: self._envelope_schema,
            Step.SENDER: self._sender,
            Step.ROUTING: self._routing,
            Step.DUPLICATE: self._duplicate,
            Step.DOCUMENT_TYPE: self._document_type,
            Step.DOCUMENT_SCHEMA: self._document_schema,
            Step.DOCUMENT_RULES: lambda run: None,  # recorded by document-schema: one validation gives both
            Step.DOCUMENT_SIGNATURE: self._document_signature,
            Step.ISSUER_TRUST: self._issuer_trust,
        }

    def too_large(self, size: int, *, moment: datetime) -> Outcome:
        """The answer for a body the caller stopped reading at ``max_bytes`` (``size`` is what it had read)."""
        run = self._new_run(b"", moment)
        run.fail(Step.SIZE, [Finding.of(
            Code.XML_TOO_LARGE, Step.SIZE, f"the message is over {size - 1:,} bytes; the limit is {self.max_bytes:,}"
        )], 413)
        return self._outcome(run)

    def run(
        self,
        body: bytes,
        *,
        moment: datetime,
        duplicates: DuplicateLookup | None = None,
        transport_party: str | None = None,
        delivery_id: str | None = None,
        timings: Timings | None = None,
    ) -> Outcome:
        """Check one message at ``moment`` (the explicit evaluation time).

        ``duplicates`` looks up an earlier message by id (the gateway's store); ``transport_party`` is the party
        the TLS client certificate belongs to, when mutual TLS is on; ``delivery_id`` is the message id the
        gateway signed the delivery for (a node).
        """
        run = self._new_run(body, moment, duplicates=duplicates, transport_party=transport_party,
                            delivery_id=delivery_id, timings=timings)
        run.digest = hashlib.sha256(body).hexdigest()
        return self._play(run)

    def run_identified(
        self,
        header: EnvelopeHeader,
        *,
        moment: datetime,
        duplicates: DuplicateLookup | None = None,
        timings: Timings | None = None,
    ) -> Outcome:
        """Check a document whose header and sender an authenticated transport established, not a node-signed
        envelope (the ePhyto hub interface: the NPPO is identified by its TLS client certificate). The header's
        payload is what the steps check; ``sender-authentication`` is recorded as passed by that transport, and
        every other step of the profile is the engine's own, as for an envelope."""
        run = self._new_run(header.payload, moment, duplicates=duplicates, transport_party=header.sender.identifier,
                            timings=timings)
        run.digest = hashlib.sha256(header.payload).hexdigest()
        run.claimed = run.header = header
        return self._play(run, identified=True)

    def _play(self, run: _Run, *, identified: bool = False) -> Outcome:
        """Run the profile's steps in order until one ends the run; ``identified``: the transport established the
        sender, so ``sender-authentication`` is recorded as passed instead of run."""
        for step in self.profile.steps:
            if identified and step is Step.SENDER:
                run.record(Step.SENDER, [])
            else:
                self._steps[step](run)
            if run.stop is not None:
                break
        return self._outcome(run)

    def _new_run(self, body: bytes, moment: datetime, **kwargs: Any) -> _Run:
        return _Run(body=body, moment=moment, view=self.parties.view(moment=moment), profile=self.profile,
                    duplicates=kwargs.get("duplicates"), transport_party=kwargs.get("transport_party"),
                    delivery_id=kwargs.get("delivery_id"), timings=kwargs.get("timings"))

    # --- the steps -----------------------------------------------------------------------------------------

    def _size(self, run: _Run) -> None:
        if len(run.body) > self.max_bytes:
            run.fail(Step.SIZE, [Finding.of(
                Code.XML_TOO_LARGE, Step.SIZE, f"the message is {len(run.body):,} bytes; the limit is {self.max_bytes:,}"
            )], 413)
            return
        run.record(Step.SIZE, [])

    def _parse(self, run: _Run) -> None:
        try:
            run.tree = run.timed(Step.PARSE, lambda: parse_xml(run.body, limits=self.limits))
        except XmlError as exc:
            run.fail(Step.PARSE, [Finding.from_error(exc, Step.PARSE)], 422)
            return
        run.record(Step.PARSE, [])

    def _envelope_schema(self, run: _Run) -> None:
        """The envelope's XSD and its business rules (``ENV-*``), then its header read for the next steps."""
        assert run.tree is not None
        root = run.tree.getroot()
        if root.tag != self.envelope_type.qname:
            run.fail(Step.ENVELOPE_SCHEMA, [Finding.of(
                Code.DOCTYPE_MISMATCH, Step.ENVELOPE_SCHEMA,
                f"expected an envelope ({self.envelope_type.qname}), got {root.tag}", line=1,
            )], 422)
            return
        tree = run.tree
        report = run.timed(Step.ENVELOPE_SCHEMA, lambda: self.validator.validate(
            tree, document_type=self.envelope_type, parsed_from=run.body))
        if not run.record(Step.ENVELOPE_SCHEMA, report.findings):
            run.stop = 422
            return
        try:
            run.claimed = read_envelope(run.tree)
        except ExchangeError as exc:  # e.g. a payload libxml2's base64Binary lets through ("@PD94...")
            run.fail(Step.ENVELOPE_SCHEMA, [Finding.from_error(exc, Step.ENVELOPE_SCHEMA)], 422)

    def _sender(self, run: _Run) -> None:
        """The node registered for the sender id signed the whole envelope, and its certificate can be relied on."""
        run.timed(Step.SENDER, lambda: self._authenticate(run))

    def _authenticate(self, run: _Run) -> None:
        assert run.claimed is not None
        profile, view, sender = self.profile, run.view, run.claimed.sender
        if sender.scheme != COUNTRY_SCHEME:
            run.fail(Step.SENDER, [Finding.of(
                profile.code("PARTY-SCHEME"), Step.SENDER,
                f"sender id scheme {sender.scheme!r} is not {COUNTRY_SCHEME!r}",
                path="/Envelope/Header/Sender/Identifier/@Authority",
            )], 401)
            return
        registered_all = view.node_certificates(sender.identifier)
        relay = view.relay_certificate() if profile.relayed_types else None
        if not registered_all and relay is None:
            run.fail(Step.SENDER, [Finding.of(
                profile.code("SENDER-UNKNOWN"), Step.SENDER,
                f"no single-window node is registered for {sender.identifier!r} here",
                path="/Envelope/Header/Sender/Identifier",
            )], 401)
            return
        assert run.tree is not None  # parsed from run.body by the parse step, and only read since
        check = verify_signature(run.tree, parsed_from=run.body, policy=ENVELOPE_POLICY, check=Step.SENDER,
                                 limits=self.limits)
        if not check.valid or check.signer is None or check.signed_content is None:
            run.fail(Step.SENDER, [*check.findings, Finding.of(
                profile.code("SENDER-NOT-AUTHENTICATED"), Step.SENDER,
                f"the envelope is not signed by {sender.identifier}'s node in a way that verifies",
            )], 401)
            return
        if relay is not None and fingerprint(check.signer) == fingerprint(relay):
            self._relayed(run, check.signed_content)
            return
        if not registered_all:
            run.fail(Step.SENDER, [Finding.of(
                profile.code("SENDER-UNKNOWN"), Step.SENDER,
                f"no single-window node is registered for {sender.identifier!r} here",
                path="/Envelope/Header/Sender/Identifier",
            )], 401)
            return
        signed_by = fingerprint(check.signer)
        matched = next(((certificate, retires) for certificate, retires in registered_all
                        if fingerprint(certificate) == signed_by), None)
        if matched is None:
            run.fail(Step.SENDER, [Finding.of(
                profile.code("SENDER-MISMATCH"), Step.SENDER,
                f"the envelope claims sender {sender.identifier} but is signed by "
                f"{check.signer.subject.rfc4514_string()}, not by {sender.identifier}'s registered node",
            )], 403)
            return
        if matched[1] is not None and matched[1] <= run.moment:
            run.fail(Step.SENDER, [Finding.of(
                profile.code("SENDER-CERT-RETIRED"), Step.SENDER,
                f"the envelope is signed with {sender.identifier}'s earlier node certificate, which retired at "
                f"{matched[1].isoformat()} when its renewal's overlap ended; sign with the current one",
            )], 403)
            return
        decision = view.node_trust(sender.identifier).evaluate(check.signer, check.chain, document_type=ENVELOPE_TYPE)
        problems = self._trust_problems(decision, Step.SENDER)
        if problems:
            problems.append(Finding.of(
                profile.code("SENDER-CERT-INVALID"), Step.SENDER,
                f"{sender.identifier}'s node certificate cannot be relied on for envelopes: "
                + "; ".join(f"{finding.code}: {finding.message}" for finding in problems),
            ))
        if run.transport_party is not None and run.transport_party != sender.identifier:
            problems.append(Finding.of(
                profile.code("TRANSPORT-IDENTITY"), Step.SENDER,
                f"the TLS client is {run.transport_party}, but the envelope claims sender {sender.identifier}",
            ))
        if problems:
            run.fail(Step.SENDER, problems, 403)
            return
        try:  # from here on only what the sending node signed is used
            run.header = read_envelope(parse_xml(check.signed_content, limits=self.limits))
        except ExchangeError as exc:  # pragma: no cover - the signed content of a schema-valid envelope
            run.fail(Step.SENDER, [Finding.from_error(exc, Step.SENDER)], 422)
            return
        run.record(Step.SENDER, [])

    def _relayed(self, run: _Run, signed_content: bytes) -> None:
        """An envelope the relay signed: only for the profile's relayed types, read from the relay's signed content."""
        try:
            header = read_envelope(parse_xml(signed_content, limits=self.limits))
        except ExchangeError as exc:  # pragma: no cover - the signed content of a schema-valid envelope
            run.fail(Step.SENDER, [Finding.from_error(exc, Step.SENDER)], 422)
            return
        if header.document_type not in self.profile.relayed_types:
            run.fail(Step.SENDER, [Finding.of(
                self.profile.code("SENDER-MISMATCH"), Step.SENDER,
                f"the gateway signed this envelope for {header.sender.identifier}, but it relays only "
                f"{', '.join(sorted(self.profile.relayed_types))} from its hub interface, not {header.document_type!r}",
            )], 403)
            return
        run.header = header
        run.record(Step.SENDER, [Finding.of(
            self.profile.code("SENDER-RELAYED"), Step.SENDER,
            f"relayed by the gateway from its ePhyto hub interface, where {header.sender.identifier}'s NPPO was "
            "identified by its TLS client certificate; the certificate's own signature and issuer are checked below",
        )])

    def _routing(self, run: _Run) -> None:
        """Each receiver is one this service takes messages for, and an agreement in force lets each flow happen.

        The gateway routes to every receiver of the envelope (a transit declaration names every country after the
        origin on its route) and refuses the whole message, naming the country, if any one cannot be routed; a node
        routes to its own country, which must be among the receivers (the others are the gateway's to deliver)."""
        assert run.header is not None
        profile, header = self.profile, run.header
        findings: list[Finding] = []
        if run.delivery_id is not None and header.message_id != run.delivery_id:
            findings.append(Finding.of(
                Code.NODE_DELIVERY_MISMATCH, Step.ROUTING,
                f"the gateway delivered message {run.delivery_id!r}, but the envelope is message {header.message_id!r}",
                path="/Envelope/Header/DocumentIdentification/InstanceIdentifier",
            ))
        several = len(header.receivers) > 1
        routed: list[str] = []
        for index, receiver in enumerate(header.receivers):
            path = "/Envelope/Header/Receiver" + (f"[{index + 1}]" if several else "")
            if receiver.scheme != COUNTRY_SCHEME:
                findings.append(Finding.of(
                    profile.code("PARTY-SCHEME"), Step.ROUTING,
                    f"receiver id scheme {receiver.scheme!r} is not {COUNTRY_SCHEME!r}",
                    path=f"{path}/Identifier/@Authority",
                ))
            elif run.view.receiver_known(receiver.identifier):
                routed.append(receiver.identifier)
            elif profile.every_receiver:
                findings.append(Finding.of(
                    profile.receiver_code, Step.ROUTING,
                    f"this {profile.name} takes no messages for receiver {receiver.identifier!r}",
                    path=f"{path}/Identifier",
                ))
        if not routed and not findings:
            findings.append(Finding.of(
                profile.receiver_code, Step.ROUTING,
                f"this {profile.name} takes no messages for receiver "
                + ", ".join(repr(identifier) for identifier in header.receiver_ids),
                path="/Envelope/Header/Receiver/Identifier" if not several else "/Envelope/Header/Receiver",
            ))
        refused_listed = False
        for receiver_id in routed:
            allowing = run.view.agreements_for(header.sender.identifier, receiver_id, header.document_type)
            if not allowing:
                findings.append(Finding.of(
                    profile.code("NO-AGREEMENT"), Step.ROUTING,
                    f"no agreement in force lets {header.sender.identifier} send {header.document_type!r} "
                    f"to {receiver_id}",
                    path="/Envelope/Header/DocumentIdentification/Type",
                ))
                if not refused_listed:
                    findings += [Finding.from_error(error, Step.ROUTING) for error in run.view.refused_agreements()]
                    refused_listed = True
            elif header.agreement_ref and header.agreement_ref not in allowing:
                findings.append(Finding.of(
                    profile.code("NO-AGREEMENT"), Step.ROUTING,
                    f"the envelope names agreement {header.agreement_ref!r}, but the flow to {receiver_id} is "
                    "governed by " + ", ".join(repr(agreement) for agreement in allowing)
                    + (" (an envelope to several receivers travels under each flow's own agreement: leave "
                       "AgreementRef out)" if several else ""),
                    path="/Envelope/Header/BusinessScope/AgreementRef",
                ))
            else:
                run.agreements[receiver_id] = header.agreement_ref or allowing[0]
        if routed and routed[0] in run.agreements:
            run.agreement_id = run.agreements[routed[0]]
        run.record(Step.ROUTING, findings)

    def _duplicate(self, run: _Run) -> None:
        """Same id and bytes: the earlier answer (200); same id, other bytes: a conflict (409)."""
        assert run.header is not None
        previous = run.duplicates(run.header.message_id) if run.duplicates is not None else None
        if previous is None:
            run.record(Step.DUPLICATE, [])
        elif previous.digest == run.digest:
            run.previous = previous
            run.fail(Step.DUPLICATE, [Finding.of(
                self.profile.code("DUPLICATE-RESEND"), Step.DUPLICATE,
                "identical resend: the earlier answer is returned",
            )], 200)
        else:
            run.fail(Step.DUPLICATE, [Finding.of(
                self.profile.code("DUPLICATE-CONFLICT"), Step.DUPLICATE,
                f"message id {run.header.message_id!r} was already used for an envelope with other bytes",
                path="/Envelope/Header/DocumentIdentification/InstanceIdentifier",
            )], 409)

    def _document_type(self, run: _Run) -> None:
        """The type is a trade document type of the catalogue, and the payload really is one of it."""
        assert run.header is not None
        header = run.header
        doc_type = self.catalogue.payload_type(header.document_type, check=Step.DOCUMENT_TYPE)
        if isinstance(doc_type, Finding):  # unknown, or a protocol type (envelope, receipt, trust list)
            run.record(Step.DOCUMENT_TYPE, [doc_type])
            return
        try:
            document = parse_xml(header.payload, limits=self.limits)
        except XmlError as exc:
            run.record(Step.DOCUMENT_TYPE, [Finding.from_error(exc, Step.DOCUMENT_TYPE)])
            return
        findings = []
        root_tag = document.getroot().tag
        if root_tag != doc_type.qname:
            findings.append(Finding.of(
                self.profile.code("PAYLOAD-MISMATCH"), Step.DOCUMENT_TYPE,
                f"the envelope says {doc_type.id!r} ({doc_type.qname}) but the payload's root is {root_tag}",
                line=1, path="/" + etree.QName(root_tag).localname if isinstance(root_tag, str) else None,
            ))
        if header.standard != doc_type.namespace or header.type_version != doc_type.version:
            findings.append(Finding.of(
                self.profile.code("PAYLOAD-MISMATCH"), Step.DOCUMENT_TYPE,
                f"the envelope names {header.standard} version {header.type_version}; the catalogue has "
                f"{doc_type.namespace} version {doc_type.version}",
                path="/Envelope/Header/DocumentIdentification",
            ))
        if doc_type.id == EPHYTO_TYPE and not findings:
            importing = str(document.xpath("string(/rsm:SPSCertificate/rsm:SPSConsignment/ram:ImportSPSCountry/ram:ID)",
                                           namespaces=_SPS_NS)).strip()
            if importing and importing != header.receiver.identifier:
                findings.append(Finding.of(
                    self.profile.code("PAYLOAD-MISMATCH"), Step.DOCUMENT_TYPE,
                    f"the phytosanitary certificate is for importing country {importing}, but the envelope goes to "
                    f"{header.receiver.identifier}: a certificate reaches only the country it was issued for",
                    path="/SPSCertificate/SPSConsignment/ImportSPSCountry/ID",
                ))
        if not findings:
            findings += self._route(header, doc_type, document)
        run.doc_type = doc_type
        if run.record(Step.DOCUMENT_TYPE, findings):
            run.document = document

    def _route(self, header: EnvelopeHeader, doc_type: DocumentType, document: etree._ElementTree) -> list[Finding]:
        """The envelope's receivers are the countries after the origin on the document's route, in order, and the
        sender is its origin; only a document type with a route (the manifest's ``route``) goes to several."""
        several = len(header.receivers) > 1
        route = route_of(document, doc_type)
        mismatch = self.profile.code("ROUTE-MISMATCH")
        if not route:
            if not several:
                return []
            why = (f"a {doc_type.id!r} document goes to one receiver" if doc_type.route is None
                   else "the document names no route")
            return [Finding.of(mismatch, Step.DOCUMENT_TYPE,
                               f"the envelope names {len(header.receivers)} receivers "
                               f"({', '.join(header.receiver_ids)}), but {why}: only a document with a route "
                               "travels to several countries", path="/Envelope/Header/Receiver")]
        findings = []
        sender = header.sender.identifier
        allowed, expected = route_receivers(route, sender, doc_type)
        if not allowed:
            findings.append(Finding.of(
                mismatch, Step.DOCUMENT_TYPE,
                f"the envelope comes from {sender}, but the document's route is {' -> '.join(route)}: it is sent "
                + ("by a country the goods cross, after the origin" if doc_type.route_sender == "member"
                   else "by its origin, the country whose customs issues it"),
                path="/Envelope/Header/Sender",
            ))
        if header.receiver_ids != expected:
            findings.append(Finding.of(
                mismatch, Step.DOCUMENT_TYPE,
                f"the envelope goes to {', '.join(header.receiver_ids)}, but the document's route "
                f"({' -> '.join(route)}) says {', '.join(expected) or 'no one'}: every other country on the route, "
                "in order, receives it",
                path="/Envelope/Header/Receiver",
            ))
        return findings

    def _document_schema(self, run: _Run) -> None:
        """The payload's XSD (``document-schema``) and Schematron rules (``document-rules``), in one validation."""
        if run.document is None or run.doc_type is None:
            return
        document, doc_type = run.document, run.doc_type
        payload = run.header.payload if run.header is not None else None  # what the document was parsed from
        report = run.timed(Step.DOCUMENT_SCHEMA, lambda: self.validator.validate(
            document, document_type=doc_type, parsed_from=payload))
        schema, rules = report.check(CHECK_SCHEMA), report.check(CHECK_RULES)
        run.record(Step.DOCUMENT_SCHEMA, schema.findings if schema is not None else ())
        if rules is not None and rules.status is not CheckStatus.SKIPPED:
            run.record(Step.DOCUMENT_RULES, rules.findings)
        elif doc_type.rules_path is None:
            run.not_applicable.add(Step.DOCUMENT_RULES.value)  # the type has no business rules

    def _document_signature(self, run: _Run) -> None:
        if run.document is None or run.header is None:
            return
        payload, document = run.header.payload, run.document  # the document was parsed from the payload
        check = run.timed(Step.DOCUMENT_SIGNATURE, lambda: verify_signature(
            document, parsed_from=payload, policy=self.document_policy, check=Step.DOCUMENT_SIGNATURE,
            limits=self.limits))
        if run.record(Step.DOCUMENT_SIGNATURE, check.findings) and check.signer is not None:
            run.signature = check

    def _issuer_trust(self, run: _Run) -> None:
        """The issuer chains to an anchor the receiver recognises and is authorised for this type there."""
        check, header, doc_type = run.signature, run.header, run.doc_type
        if check is None or check.signer is None or header is None or doc_type is None:
            return
        if not run.passed(Step.ROUTING):
            return  # whose trust applies depends on a receiver this service could route to
        signer = check.signer
        receivers = tuple(run.agreements) or (header.receiver.identifier,)
        findings: list[Finding] = []
        issuer = None
        for receiver in receivers:  # each receiver's own recognition decides for it
            trust = run.view.trust_for(receiver)
            decision = run.timed(Step.ISSUER_TRUST, functools.partial(
                trust.evaluate, signer, check.chain, document_type=doc_type.id))
            own = list(decision.findings)
            own += [problem for problem in self._trust_problems(decision, Step.ISSUER_TRUST) if problem not in own]
            if len(receivers) > 1:
                own = [replace(finding, message=f"{receiver}: {finding.message}") for finding in own]
            findings += [finding for finding in own if finding not in findings]
            if decision.issuer is not None:
                issuer = decision.issuer.name
        if run.record(Step.ISSUER_TRUST, findings) and issuer is not None:
            run.issuer = issuer

    def _trust_problems(self, decision: TrustDecision, step: Step) -> list[Finding]:
        """The errors of a trust decision, and the profile's refusal of an undetermined one."""
        problems = [finding for finding in decision.findings if finding.is_error]
        status = getattr(decision, "status", None)
        indeterminate = status is not None and str(getattr(status, "value", status)).upper() == "INDETERMINATE"
        if indeterminate and self.profile.refuse_indeterminate:
            problems.append(Finding.of(
                self.profile.code("TRUST-INDETERMINATE"), step,
                "the trust decision is INDETERMINATE (" + (", ".join(f.code for f in decision.findings) or "no reason")
                + f"); this {self.profile.name} refuses what it cannot determine",
            ))
        elif not decision.trusted and not problems:
            problems.append(Finding.of(
                Code.TRUST_CHAIN_UNTRUSTED, step, "the signer is not trusted", severity=Severity.ERROR))
        return problems

    # --- the outcome ----------------------------------------------------------------------------------------

    def _outcome(self, run: _Run) -> Outcome:
        if run.stop is not None:
            status = run.stop
        elif not run.passed(Step.ROUTING):
            status = 403
        else:
            status = 202 if all(run.satisfied(step) for step in self.profile.steps) else 422
        checks = tuple(run.results.get(step.value) or CheckResult.skipped(step.value) for step in self.profile.steps)
        claimed = run.claimed
        named = run.header or claimed
        return Outcome(
            verdict=Verdict.ACCEPTED if status == 202 else Verdict.REJECTED,
            http_status=status,
            checks=checks,
            digest=run.digest,
            received_at=run.moment,
            message_id=named.message_id if named is not None else None,
            header=run.header,
            claimed=claimed,
            agreement_id=run.agreement_id,
            agreements=dict(run.agreements),
            previous=run.previous,
            authenticated=run.header is not None,
            document_type=run.doc_type.id if run.doc_type is not None else None,
            issuer=run.issuer,
        )


@functools.lru_cache(maxsize=64)
def _route_path(path: str, namespace: str) -> etree.XPath:
    return etree.XPath(path, namespaces={"doc": namespace})


def route_receivers(route: tuple[str, ...], sender: str, doc_type: DocumentType) -> tuple[bool, tuple[str, ...]]:
    """Whether ``sender`` may send a document with ``route`` along it, and to whom, in order: from its origin to
    every country after it (``route_sender: origin``, a transit declaration), or from a country on it after the
    origin to every other one (``member``, a progress event). The engine and the sending node both ask this."""
    if doc_type.route_sender == "member":
        return sender in route[1:], tuple(country for country in route if country != sender)
    return route[0] == sender, route[1:]


def route_of(document: etree._ElementTree, doc_type: DocumentType) -> tuple[str, ...]:
    """The countries of the document's route in order, origin first (empty: the type or document has none)."""
    if doc_type.route is None:
        return ()
    found = _route_path(doc_type.route, doc_type.namespace)(document)
    assert isinstance(found, list)  # a location path: the manifest allows nothing else
    return tuple((element.text or "").strip() for element in found if isinstance(element, etree._Element))


def _rename(finding: Finding, check: str) -> Finding:
    if finding.check == check:
        return finding
    return Finding(
        code=finding.code, severity=finding.severity, check=check, message=finding.message,
        line=finding.line, column=finding.column, path=finding.path,
    )


__all__ = [
    "ENVELOPE_POLICY",
    "ENVELOPE_TYPE",
    "GATEWAY_PROFILE",
    "NODE_PROFILE",
    "RECEIPT_TYPE",
    "STEP_ORDER",
    "DuplicateLookup",
    "Engine",
    "Outcome",
    "Parties",
    "PartyView",
    "Previous",
    "Profile",
    "Step",
]
