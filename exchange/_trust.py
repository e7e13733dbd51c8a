"""Trust evaluation: does a signer certificate chain to an anchor this receiver recognises, and may it sign this?

:class:`TrustContext` is the explicit input (compare pyhanko-certvalidator's ``ValidationContext``): the trust
lists recognised (each with the document types and the period it is recognised for, e.g. from a bilateral
agreement), bare anchors given by an integrator, extra intermediates and CRLs, trust lists that are known
but *not* recognised (to say so precisely), and the moment of evaluation. There is no hidden ``now()`` and
no fallback to any system certificate store.

:meth:`TrustContext.evaluate` runs these steps and reports every finding (check ``issuer-trust``):

1. path     :class:`exchange._pkix.PathValidator` (pyhanko-certvalidator underneath) builds and validates a
            path from the signer (KeyInfo certificates and known intermediates are candidates, never
            anchors) to a recognised anchor at the moment, as RFC 5280 6.1 says (names matched per 7.1,
            self-issued certificates not counted in pathLenConstraint, name constraints and policies
            processed, unrecognised critical extensions refused). CA certificates need basicConstraints CA
            and keyUsage keyCertSign; SHA-256/384/512 with RSA >= 2048 or ECDSA P-256/384/521 only. When
            the path holds only at another instant (validity periods), each certificate of that path
            outside its window at the moment is reported as TRUST-CERT-EXPIRED or
            TRUST-CERT-NOT-YET-VALID (the remaining checks still run on it); if it chains only to a known,
            unrecognised list's anchor: TRUST-NOT-RECOGNISED; otherwise TRUST-CHAIN-UNTRUSTED (a self-signed
            KeyInfo certificate ends here).
2. usage    the signer needs keyUsage digitalSignature or nonRepudiation, must not be a CA, and an extended
            key usage, when present, must allow document signing (RFC 9336) or any purpose: TRUST-KEY-USAGE.
3. revocation  each certificate below the anchor is decided from the CRLs held by pyhanko-certvalidator's
            RFC 5280 6.3 processing (authentic, in scope, without unprocessed critical extensions; signed by
            its issuer or by a CRL-signing key certified under the same anchor, whose own path and status
            are validated): TRUST-CERT-REVOKED; or, when no CRL valid at
            the moment covers it for every reason, TRUST-REVOCATION-UNKNOWN (INDETERMINATE); a CRL past its
            nextUpdate never vouches, one issued after the moment only if issued while the certificate was
            valid (``retroactive_revocation``, the default). A revocation
            dated after the moment is a warning, except for the keyCompromise and cACompromise reasons,
            which taint earlier signatures too.
4. recognition and authorisation  the anchor's trust list must be current (TRUST-LIST-EXPIRED), recognised
            at the moment and for this document type (TRUST-NOT-RECOGNISED), list the signer as an issuer
            and grant it this document type at the moment (TRUST-ISSUER-NOT-AUTHORISED). A bare anchor has no
            authorisation data: TRUST-AUTHORISATION-UNCHECKED (information) says so.

The decision's bottom line is three-valued (:class:`TrustStatus`, as pyHanko's certvalidator): PASSED,
FAILED for a definite fault, INDETERMINATE when the only errors are missing information
(TRUST-REVOCATION-UNKNOWN, TRUST-LIST-EXPIRED: see :data:`INDETERMINATE_CODES`). ``trusted`` is True only
for PASSED, so a caller refuses INDETERMINATE unless its policy maps it otherwise.

Performance: the path validator (certificates and CRLs parsed once, a signature memo) and the
anchor-to-list index are computed once per context (and shared by :meth:`TrustContext.at`); a validated path is remembered per
(signer, intermediates) and reused while every certificate in it is inside its validity window, which is
sound because the rest of the path decision does not depend on time. Everything is immutable or a
lock-free memo; a context may be shared by concurrent requests.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from exchange._errors import Code, ConfigurationError, Severity
from exchange._findings import Finding
from exchange._pki import DOCUMENT_SIGNING, common_name, crl_number, utc
from exchange._pkix import DEFAULT_MAX_DEPTH, PathValidator, RevocationStatus, self_issued
from exchange._trustlist import AuthorisationStatus, IssuerEntry, TrustList

CHECK_ISSUER_TRUST = "issuer-trust"
MAX_CHAIN_DEPTH = DEFAULT_MAX_DEPTH
_PATH_CACHE_LIMIT = 4096
_EKU_NAMES = {
    value: name.lower() for name, value in vars(ExtendedKeyUsageOID).items() if isinstance(value, x509.ObjectIdentifier)
}


# --- what is recognised ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recognition:
    """One trust list that a receiver recognises: for which document types (None: every type the list
    grants) and during which period (None: open). ``basis`` names where this comes from, for messages
    ("agreement AA-BB", "own trust list", "command line")."""

    trust_list: TrustList
    document_types: frozenset[str] | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    basis: str = "configuration"

    def __post_init__(self) -> None:
        if self.document_types is not None:
            object.__setattr__(self, "document_types", frozenset(self.document_types))
        if self.valid_from is not None:
            object.__setattr__(self, "valid_from", utc(self.valid_from))
        if self.valid_until is not None:
            object.__setattr__(self, "valid_until", utc(self.valid_until))


class TrustStatus(StrEnum):
    """The bottom line of a trust decision, three-valued as in pyHanko's certvalidator (and ETSI EN 319 102-1).

    ``PASSED``: every check held. ``FAILED``: a check found a definite fault (untrusted path, expired,
    revoked, wrong usage, not authorised). ``INDETERMINATE``: nothing definite is wrong, but a fact needed for
    the decision is missing (no CRL that covers a certificate at the moment, a trust list past its
    NextUpdate); fresher material may decide it later. Callers refuse anything but ``PASSED`` unless their
    policy says otherwise, and say so with their own code.
    """

    PASSED = "passed"
    INDETERMINATE = "indeterminate"
    FAILED = "failed"


#: Error codes that mean "cannot be decided with the material held", not "wrong": the decision is
#: INDETERMINATE when every error finding has one of these codes.
INDETERMINATE_CODES: frozenset[str] = frozenset({Code.TRUST_REVOCATION_UNKNOWN.value, Code.TRUST_LIST_EXPIRED.value})


def trust_status(findings: Iterable[Finding]) -> TrustStatus:
    """FAILED when an error finding is a definite fault, INDETERMINATE when every error is missing
    information, PASSED when there is no error."""
    errors = [finding.code for finding in findings if finding.is_error]
    if not errors:
        return TrustStatus.PASSED
    if all(code in INDETERMINATE_CODES for code in errors):
        return TrustStatus.INDETERMINATE
    return TrustStatus.FAILED


@dataclass(frozen=True, slots=True)
class TrustDecision:
    """The outcome of evaluating one signer.

    ``status`` is the three-valued bottom line (:class:`TrustStatus`); ``trusted`` is True exactly when it
    is PASSED, so callers that test ``trusted`` refuse INDETERMINATE as well.
    ``chain`` is the path built from the signer to a recognised anchor (leaf first); when the path held only
    at another instant (an expired or not-yet-valid certificate), it is that path, and ``trusted`` is False.
    ``issuer`` is the trust list entry that authorised the signer, ``recognition`` the list it came from.
    """

    trusted: bool
    findings: tuple[Finding, ...]
    chain: tuple[x509.Certificate, ...] = ()
    issuer: IssuerEntry | None = None
    recognition: Recognition | None = None

    @property
    def status(self) -> TrustStatus:
        """PASSED, INDETERMINATE or FAILED; never PASSED unless ``trusted``."""
        if self.trusted:
            return TrustStatus.PASSED
        status = trust_status(self.findings)
        return TrustStatus.FAILED if status is TrustStatus.PASSED else status

    @property
    def scheme(self) -> str | None:
        """The country whose trust list recognised the signer."""
        return self.recognition.trust_list.country if self.recognition is not None else None


class _Index:
    """What a context derives once from its material; shared, never mutated except the lock-free memos."""

    def __init__(
        self,
        recognitions: tuple[Recognition, ...],
        anchors: tuple[x509.Certificate, ...],
        intermediates: tuple[x509.Certificate, ...],
        crls: tuple[x509.CertificateRevocationList, ...],
        known: tuple[TrustList, ...],
    ) -> None:
        recognised_anchors: dict[x509.Certificate, None] = {}
        self.by_anchor: dict[x509.Certificate, list[Recognition]] = {}
        for recognition in recognitions:
            for anchor in recognition.trust_list.anchors:
                recognised_anchors[anchor] = None
                self.by_anchor.setdefault(anchor, []).append(recognition)
        self.bare_anchors = frozenset(anchors)
        for anchor in anchors:
            recognised_anchors[anchor] = None
        self.anchors = tuple(recognised_anchors)

        all_intermediates: dict[x509.Certificate, None] = dict.fromkeys(intermediates)
        for recognition in recognitions:
            all_intermediates.update(dict.fromkeys(recognition.trust_list.intermediates))
        self.intermediates = tuple(all_intermediates)
        all_crls = list(crls)
        for recognition in recognitions:
            all_crls.extend(recognition.trust_list.crls)
        self.validator = PathValidator(self.anchors, self.intermediates, all_crls, max_depth=MAX_CHAIN_DEPTH)

        unrecognised: dict[x509.Certificate, TrustList] = {}
        for trust_list in known:
            for anchor in trust_list.anchors:
                if anchor not in recognised_anchors:
                    unrecognised.setdefault(anchor, trust_list)
        self.unrecognised = unrecognised
        known_intermediates = (c for trust_list in known for c in trust_list.intermediates)
        self.unrecognised_validator = (
            PathValidator(unrecognised, (*self.intermediates, *known_intermediates), max_depth=MAX_CHAIN_DEPTH)
            if unrecognised
            else None
        )
        self.paths: dict[tuple[x509.Certificate, tuple[x509.Certificate, ...]], tuple[x509.Certificate, ...]] = {}


@dataclass(frozen=True, slots=True)
class TrustContext:
    """Everything a receiver trusts, and when. Immutable; derive another moment with :meth:`at`.

    ``anchors`` are bare anchors (an integrator's CA given on the command line): any correctly issued
    signer under them is accepted for any document type, with a TRUST-AUTHORISATION-UNCHECKED note.
    ``known`` are trust lists that are loaded but not recognised, so that a signer from such a scheme is
    reported as TRUST-NOT-RECOGNISED instead of a bare TRUST-CHAIN-UNTRUSTED. ``require_revocation=False``
    (a named weakening) lets a signer pass when no CRL is available; a CRL that is present is always used.
    ``retroactive_revocation`` (on by default, as pyHanko's ``retroactive_revinfo``) lets a CRL issued after
    the moment establish good standing at the moment, provided it was issued while the certificate was valid
    (a complete CRL keeps every entry until the certificate expires, RFC 5280 3.3): an evaluation "as of" an
    earlier moment uses what is known now. ``False`` is pyHanko's default: good standing then needs a CRL valid
    at the moment (thisUpdate <= moment <= nextUpdate). Either way a later CRL can prove a revocation.
    """

    moment: datetime
    recognitions: tuple[Recognition, ...] = ()
    anchors: tuple[x509.Certificate, ...] = ()
    intermediates: tuple[x509.Certificate, ...] = ()
    crls: tuple[x509.CertificateRevocationList, ...] = ()
    known: tuple[TrustList, ...] = ()
    require_revocation: bool = True
    retroactive_revocation: bool = True
    _index: _Index | None = field(default=None, repr=False, compare=False, kw_only=True)

    def __post_init__(self) -> None:
        object.__setattr__(self, "moment", utc(self.moment))
        for name in ("recognitions", "anchors", "intermediates", "crls", "known"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if not self.recognitions and not self.anchors:
            raise ConfigurationError(
                "a trust context needs at least one recognised trust list or anchor", code=Code.CONFIG_INVALID
            )
        if self._index is None:
            object.__setattr__(
                self,
                "_index",
                _Index(self.recognitions, self.anchors, self.intermediates, self.crls, self.known),
            )

    # --- construction helpers ----------------------------------------------------------------------------

    @classmethod
    def from_trust_lists(
        cls, trust_lists: Iterable[TrustList], *, moment: datetime, basis: str = "configuration", **kwargs: Any
    ) -> TrustContext:
        """Recognise each list for every type it grants, with no period limit."""
        return cls(moment=moment, recognitions=tuple(Recognition(tl, basis=basis) for tl in trust_lists), **kwargs)

    @classmethod
    def from_anchors(cls, anchors: Iterable[x509.Certificate], *, moment: datetime, **kwargs: Any) -> TrustContext:
        """Trust whatever chains to these anchors (authorisation is then not checked)."""
        return cls(moment=moment, anchors=tuple(anchors), **kwargs)

    def at(self, moment: datetime) -> TrustContext:
        """The same trust at another moment (cheap: the derived index is shared)."""
        return TrustContext(
            moment=moment,
            recognitions=self.recognitions,
            anchors=self.anchors,
            intermediates=self.intermediates,
            crls=self.crls,
            known=self.known,
            require_revocation=self.require_revocation,
            retroactive_revocation=self.retroactive_revocation,
            _index=self._index,
        )

    @property
    def trust_lists(self) -> tuple[TrustList, ...]:
        return tuple(recognition.trust_list for recognition in self.recognitions)

    # --- evaluation --------------------------------------------------------------------------------------

    def evaluate(
        self,
        signer: x509.Certificate,
        chain: Sequence[x509.Certificate] = (),
        *,
        document_type: str | None = None,
    ) -> TrustDecision:
        """Decide whether ``signer`` (with the untrusted ``chain`` from KeyInfo) is trusted for ``document_type``."""
        index = self._require_index()
        presented = tuple(dict.fromkeys(certificate for certificate in chain if certificate != signer))
        findings: list[Finding] = []

        path = self._path(index, signer, presented)
        if path is None:
            shifted = self._path_at_other_time(index, signer, presented)
            if shifted is None:
                return TrustDecision(False, tuple(self._untrusted(index, signer, presented)))
            path, time_findings = shifted
            findings.extend(time_findings)

        findings.extend(self._usage_findings(signer))
        findings.extend(self._revocation_findings(index, path, presented))
        recognition_findings, issuer, recognition = self._recognition(index, path, signer, document_type)
        findings.extend(recognition_findings)
        trusted = not any(finding.is_error for finding in findings)
        return TrustDecision(
            trusted=trusted,
            findings=tuple(findings),
            chain=path,
            issuer=issuer,
            recognition=recognition,
        )

    def _require_index(self) -> _Index:
        if self._index is None:  # pragma: no cover - __post_init__ always sets it
            raise ConfigurationError("trust context is not initialised", code=Code.CONFIG_INVALID)
        return self._index

    # --- step 1: the path --------------------------------------------------------------------------------

    def _path(
        self, index: _Index, signer: x509.Certificate, presented: tuple[x509.Certificate, ...]
    ) -> tuple[x509.Certificate, ...] | None:
        key = (signer, presented)
        cached = index.paths.get(key)
        if cached is not None and all(_valid_at(c, self.moment) for c in cached):
            return cached
        path = index.validator.build(signer, presented, moment=self.moment)
        if path is not None:
            if len(index.paths) >= _PATH_CACHE_LIMIT:
                index.paths.clear()
            index.paths[key] = path
        return path

    def _path_at_other_time(
        self, index: _Index, signer: x509.Certificate, presented: tuple[x509.Certificate, ...]
    ) -> tuple[tuple[x509.Certificate, ...], list[Finding]] | None:
        """If a path holds but for validity periods, report each certificate outside its window."""
        path = index.validator.build(signer, presented, moment=None)
        if path is None:
            return None
        findings = [finding for c in path if (finding := self._time_finding(c, path)) is not None]
        return (path, findings) if findings else None

    def _time_finding(self, certificate: x509.Certificate, path: Sequence[x509.Certificate]) -> Finding | None:
        role = "signer" if certificate is path[0] else ("anchor" if certificate is path[-1] else "issuing CA")
        name = common_name(certificate.subject)
        if self.moment > certificate.not_valid_after_utc:
            return Finding.of(
                Code.TRUST_CERT_EXPIRED,
                CHECK_ISSUER_TRUST,
                f"the {role} certificate {name!r} expired on {_iso(certificate.not_valid_after_utc)}; "
                f"the moment of evaluation is {_iso(self.moment)}",
            )
        if self.moment < certificate.not_valid_before_utc:
            return Finding.of(
                Code.TRUST_CERT_NOT_YET_VALID,
                CHECK_ISSUER_TRUST,
                f"the {role} certificate {name!r} is valid only from {_iso(certificate.not_valid_before_utc)}; "
                f"the moment of evaluation is {_iso(self.moment)}",
            )
        return None

    def _untrusted(
        self, index: _Index, signer: x509.Certificate, candidates: tuple[x509.Certificate, ...]
    ) -> list[Finding]:
        name = common_name(signer.subject)
        if index.unrecognised_validator is not None:
            path = index.unrecognised_validator.build(signer, candidates, moment=None)
            if path is not None:
                trust_list = index.unrecognised[path[-1]]
                return [
                    Finding.of(
                        Code.TRUST_NOT_RECOGNISED,
                        CHECK_ISSUER_TRUST,
                        f"{name!r} chains to the anchor of {trust_list.country}'s trust list "
                        f"({common_name(path[-1].subject)}), which this receiver does not recognise: "
                        "no agreement covers it",
                    )
                ]
        if self_issued(signer):
            detail = (
                "it is self-signed; a certificate in KeyInfo is never trusted by itself, only a path to an "
                "anchor the receiver recognises"
            )
        else:
            detail = (
                f"no path from it (issuer {common_name(signer.issuer)!r}) leads to an anchor this receiver "
                "recognises, or a certificate on the way is not a valid CA certificate"
            )
        return [Finding.of(Code.TRUST_CHAIN_UNTRUSTED, CHECK_ISSUER_TRUST, f"signer {name!r} is not trusted: {detail}")]

    # --- step 2: key usage -------------------------------------------------------------------------------

    @staticmethod
    def _usage_findings(signer: x509.Certificate) -> list[Finding]:
        problems: list[str] = []
        try:
            usage: x509.KeyUsage | None = signer.extensions.get_extension_for_class(x509.KeyUsage).value
        except x509.ExtensionNotFound:
            usage = None
        if usage is None:
            problems.append("it has no keyUsage extension")
        elif not (usage.digital_signature or usage.content_commitment):
            problems.append(
                f"its keyUsage allows only {_usage_names(usage)}; signing documents needs "
                "digitalSignature or nonRepudiation"
            )
        try:
            if signer.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
                problems.append("it is a CA certificate; a CA signs certificates, not documents")
        except x509.ExtensionNotFound:
            pass
        try:
            purposes = signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            purposes = None
        if purposes is not None and not {DOCUMENT_SIGNING, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE} & set(purposes):
            named = ", ".join(_EKU_NAMES.get(oid, oid.dotted_string) for oid in purposes)
            problems.append(f"its extended key usage ({named}) does not include document signing")
        if not problems:
            return []
        name = common_name(signer.subject)
        return [
            Finding.of(Code.TRUST_KEY_USAGE, CHECK_ISSUER_TRUST, f"{name!r} may not sign documents: {problem}")
            for problem in problems
        ]

    # --- step 3: revocation ------------------------------------------------------------------------------

    def _revocation_findings(
        self, index: _Index, path: tuple[x509.Certificate, ...], presented: tuple[x509.Certificate, ...]
    ) -> list[Finding]:
        findings: list[Finding] = []
        results = index.validator.revocations(
            path, presented, moment=self.moment, retroactive=self.retroactive_revocation
        )
        for certificate, result in zip(path[:-1], results, strict=True):
            name = common_name(certificate.subject)
            if result.status is RevocationStatus.REVOKED:
                entry = result.entry
                when = f" on {_iso(entry.revoked_at)}" if entry is not None else ""
                because = f" ({entry.reason.value})" if entry is not None and entry.reason is not None else ""
                listed = (
                    f" by {common_name(result.crl.issuer)!r}{when}{because} (CRL number {crl_number(result.crl)})"
                    if result.crl is not None
                    else f"{when}{because}"
                )
                findings.append(Finding.of(Code.TRUST_CERT_REVOKED, CHECK_ISSUER_TRUST, f"{name!r} was revoked{listed}"))
                continue
            if result.later is not None:
                because = f" ({result.later.reason.value})" if result.later.reason is not None else ""
                findings.append(
                    Finding.of(
                        Code.TRUST_CERT_REVOKED,
                        CHECK_ISSUER_TRUST,
                        f"{name!r} was revoked on {_iso(result.later.revoked_at)}{because}, after the moment of "
                        f"evaluation {_iso(self.moment)}; it was valid then",
                        severity=Severity.WARNING,
                    )
                )
            if result.status is RevocationStatus.UNKNOWN and self.require_revocation:
                findings.append(
                    Finding.of(
                        Code.TRUST_REVOCATION_UNKNOWN,
                        CHECK_ISSUER_TRUST,
                        f"revocation of {name!r} cannot be checked at {_iso(self.moment)}: no CRL held covers it "
                        f"then ({'; '.join(result.notes)})",
                    )
                )
        return findings

    # --- step 4: recognition and authorisation -----------------------------------------------------------

    def _recognition(
        self, index: _Index, path: tuple[x509.Certificate, ...], signer: x509.Certificate, document_type: str | None
    ) -> tuple[list[Finding], IssuerEntry | None, Recognition | None]:
        anchor = path[-1]
        recognitions = index.by_anchor.get(anchor, [])
        if not recognitions:
            if anchor in index.bare_anchors:
                return (
                    [
                        Finding.of(
                            Code.TRUST_AUTHORISATION_UNCHECKED,
                            CHECK_ISSUER_TRUST,
                            f"{common_name(signer.subject)!r} chains to the configured anchor "
                            f"{common_name(anchor.subject)!r}, which comes without a trust list: which document types "
                            "it may sign was not checked",
                        )
                    ],
                    None,
                    None,
                )
            return (
                [
                    Finding.of(  # pragma: no cover - the store holds only recognised or bare anchors
                        Code.TRUST_NOT_RECOGNISED, CHECK_ISSUER_TRUST, "the anchor is not recognised"
                    )
                ],
                None,
                None,
            )
        first: tuple[list[Finding], IssuerEntry | None, Recognition] | None = None
        for recognition in recognitions:
            findings, issuer = self._authorisation(recognition, signer, document_type)
            if not any(finding.is_error for finding in findings):
                return findings, issuer, recognition
            if first is None:
                first = (findings, issuer, recognition)
        assert first is not None
        return first[0], first[1], None

    def _authorisation(
        self, recognition: Recognition, signer: x509.Certificate, document_type: str | None
    ) -> tuple[list[Finding], IssuerEntry | None]:
        trust_list = recognition.trust_list
        country = trust_list.country
        label = f"{country}'s trust list (sequence {trust_list.sequence_number})"
        findings: list[Finding] = []
        if not trust_list.is_current(self.moment):
            findings.append(
                Finding.of(
                    Code.TRUST_LIST_EXPIRED,
                    CHECK_ISSUER_TRUST,
                    f"{label} expired: its next update was due {_iso(trust_list.next_update)}, before "
                    f"{_iso(self.moment)}",
                )
            )
        if recognition.valid_from is not None and self.moment < recognition.valid_from:
            findings.append(
                Finding.of(
                    Code.TRUST_NOT_RECOGNISED,
                    CHECK_ISSUER_TRUST,
                    f"{recognition.basis} recognises {label} only from {_iso(recognition.valid_from)}",
                )
            )
        if recognition.valid_until is not None and self.moment > recognition.valid_until:
            findings.append(
                Finding.of(
                    Code.TRUST_NOT_RECOGNISED,
                    CHECK_ISSUER_TRUST,
                    f"{recognition.basis} recognised {label} only until {_iso(recognition.valid_until)}",
                )
            )
        issuer = trust_list.issuer_for(signer)
        if issuer is None:
            findings.append(
                Finding.of(
                    Code.TRUST_ISSUER_NOT_AUTHORISED,
                    CHECK_ISSUER_TRUST,
                    f"{common_name(signer.subject)!r} chains to {country}'s anchor but is not listed as an issuer in {label}",
                )
            )
            return findings, None
        if document_type is None:
            findings.append(
                Finding.of(
                    Code.TRUST_ISSUER_NOT_AUTHORISED,
                    CHECK_ISSUER_TRUST,
                    f"the document type is not known, so whether {issuer.name!r} may issue it cannot be checked",
                )
            )
            return findings, issuer
        if recognition.document_types is not None and document_type not in recognition.document_types:
            allowed = ", ".join(sorted(recognition.document_types)) or "nothing"
            findings.append(
                Finding.of(
                    Code.TRUST_NOT_RECOGNISED,
                    CHECK_ISSUER_TRUST,
                    f"{recognition.basis} recognises {country}'s issuers for {allowed}; not for {document_type}",
                )
            )
        authorisation = issuer.authorisation(document_type)
        if authorisation is None:
            granted = ", ".join(issuer.granted_types(self.moment)) or "no document type"
            findings.append(
                Finding.of(
                    Code.TRUST_ISSUER_NOT_AUTHORISED,
                    CHECK_ISSUER_TRUST,
                    f"{issuer.name!r} is authorised in {label} for {granted}, not for {document_type}",
                )
            )
            return findings, issuer
        change = authorisation.status_at(self.moment)
        if change is None:
            findings.append(
                Finding.of(
                    Code.TRUST_ISSUER_NOT_AUTHORISED,
                    CHECK_ISSUER_TRUST,
                    f"{issuer.name!r} is authorised for {document_type} only from "
                    f"{_iso(authorisation.history[0].since)}",
                )
            )
        elif change.status is not AuthorisationStatus.GRANTED:
            findings.append(
                Finding.of(
                    Code.TRUST_ISSUER_NOT_AUTHORISED,
                    CHECK_ISSUER_TRUST,
                    f"the authorisation of {issuer.name!r} for {document_type} was {change.status.value} on "
                    f"{_iso(change.since)} in {label}",
                )
            )
        return findings, issuer


# --- helpers ------------------------------------------------------------------------------------------------


def _valid_at(certificate: x509.Certificate, moment: datetime) -> bool:
    return certificate.not_valid_before_utc <= moment <= certificate.not_valid_after_utc












def _usage_names(usage: x509.KeyUsage) -> str:
    names = []
    for attribute in (
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
    ):
        if getattr(usage, attribute):
            names.append(attribute)
    return ", ".join(names) or "nothing"


def _iso(moment: datetime) -> str:
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")




__all__ = [
    "CHECK_ISSUER_TRUST",
    "INDETERMINATE_CODES",
    "Recognition",
    "TrustContext",
    "TrustDecision",
    "TrustStatus",
    "trust_status",
]
