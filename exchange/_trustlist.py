"""Signed trust lists: which anchors, which issuers for which document types, which CRLs.

A country's trust scheme operator publishes one trust list (``urn:ptx:trust:TrustList:1``, schema in
``schemas/trust-list/``), modelled on ETSI TS 119 612 and the ICAO master list::

    TrustList Version="1"
      SchemeInformation        SchemeOperator (Country, Name), SequenceNumber, IssueDateTime, NextUpdate
      TrustAnchors             Certificate+            (base64 DER; the roots every path must end at)
      IntermediateCertificates Certificate*            (issuing CAs, for signatures that carry only the leaf)
      Issuers                  Issuer*: Name, Role, Certificate and/or SubjectKeyIdentifier (of the key),
                               Authorisation+: DocumentType, Status, StatusStartingTime, History
      CurrentCRLs              CRL*                    (base64 DER, one per CA of the scheme)
      ds:Signature             enveloped, by the scheme's trust list signer

Loading (:func:`load_trust_list`) is where a list earns trust: its XML-DSig signature must verify
(:func:`exchange._dsig.verify_signature`), only the signed bytes are read afterwards, they must conform to
the schema, the list must declare an anchor that the caller configured beforehand (a list is recognised
only by explicit configuration, never because it names its own root), the signer must chain to that
anchor at the evaluation moment with the ETSI ``id-tsl-kp-tslSigning`` usage and be shown not revoked by a
CRL the list carries (no such CRL, or only a stale one: TRUST-REVOCATION-UNKNOWN; the list is refused, not
trusted on an unchecked signer), and ``NextUpdate`` must not have passed. Given the list held so far, a new one
must carry a higher SequenceNumber (:func:`check_succession`: no rollback to an older signed list). Each
refusal is a :class:`TrustError` with its own code (TRUST-LIST-SIGNATURE, TRUST-LIST-INVALID,
TRUST-NOT-RECOGNISED, TRUST-LIST-EXPIRED, TRUST-REVOCATION-UNKNOWN, TRUST-LIST-ROLLBACK,
TRUST-LIST-SEQUENCE-REUSED).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from exchange._errors import Category, Code, ConfigurationError, TrustError, XmlError
from exchange._pki import (
    TSL_SIGNING,
    CountryPki,
    Credential,
    Role,
    common_name,
    fingerprint,
    key_identifier,
    utc,
)
from exchange._xml import parse_xml

if TYPE_CHECKING:
    from exchange._dsig import SignaturePolicy

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "trust-list" / "schema.xsd"
CHECK_TRUST_LIST = "trust-list-signature"

_XML_CODES = frozenset(code.value for code in Code if code.category is Category.XML)

#: ETSI TS 119 612 caps a list's validity at six months; the demo reissues well inside that.
DEFAULT_LIST_LIFETIME = timedelta(days=90)


class TrustNamespace(StrEnum):
    """The namespace of the trust list vocabulary."""

    TRUST_LIST = "urn:ptx:trust:TrustList:1"

    def tag(self, local_name: str) -> str:
        return f"{{{self.value}}}{local_name}"


_TL = TrustNamespace.TRUST_LIST


class AuthorisationStatus(StrEnum):
    """Status of an issuer for one document type (ETSI: granted / withdrawn)."""

    GRANTED = "granted"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One entry of an authorisation's history: ``status`` applies from ``since`` on."""

    status: AuthorisationStatus
    since: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "since", utc(self.since))


@dataclass(frozen=True, slots=True)
class Authorisation:
    """An issuer's status history for one document type, oldest first; the last entry is current."""

    document_type: str
    history: tuple[StatusChange, ...]

    def __post_init__(self) -> None:
        if not self.history:
            raise ConfigurationError(
                f"authorisation for {self.document_type!r} has no status", code=Code.TRUST_LIST_INVALID
            )
        object.__setattr__(self, "history", tuple(sorted(self.history, key=lambda change: change.since)))

    @classmethod
    def granted(cls, document_type: str, since: datetime) -> Authorisation:
        return cls(document_type, (StatusChange(AuthorisationStatus.GRANTED, since),))

    @property
    def current(self) -> StatusChange:
        return self.history[-1]

    def status_at(self, moment: datetime) -> StatusChange | None:
        """The entry in force at ``moment``; None before the first entry."""
        moment = utc(moment)
        in_force = None
        for change in self.history:
            if change.since <= moment:
                in_force = change
        return in_force

    def changed(self, status: AuthorisationStatus, since: datetime) -> Authorisation:
        """This authorisation with one more history entry."""
        return Authorisation(self.document_type, (*self.history, StatusChange(status, since)))


@dataclass(frozen=True, slots=True)
class IssuerEntry:
    """An issuing authority in a trust list: its identity and what it may issue.

    ``subject_key_identifier`` is the RFC 5280 method-1 key identifier of the issuer's public key
    (:func:`exchange._pki.key_identifier`), computed from the key, never copied from the certificate's SKI
    extension: an entry without a certificate matches any certificate for that key, and only for it.
    """

    name: str
    role: Role
    certificate: x509.Certificate | None
    subject_key_identifier: bytes
    authorisations: tuple[Authorisation, ...]

    def __post_init__(self) -> None:
        if self.role not in (Role.DOCUMENT_SIGNER, Role.NODE):
            raise ConfigurationError(
                f"issuer {self.name!r}: role must be document-signer or node", code=Code.TRUST_LIST_INVALID
            )
        types = [authorisation.document_type for authorisation in self.authorisations]
        if len(types) != len(set(types)):
            raise ConfigurationError(f"issuer {self.name!r} lists a document type twice", code=Code.TRUST_LIST_INVALID)

    @classmethod
    def for_credential(
        cls,
        credential: Credential | x509.Certificate,
        document_types: Iterable[str],
        *,
        since: datetime,
        role: Role = Role.DOCUMENT_SIGNER,
        name: str | None = None,
    ) -> IssuerEntry:
        certificate = credential.certificate if isinstance(credential, Credential) else credential
        return cls(
            name=name or common_name(certificate.subject),
            role=role,
            certificate=certificate,
            subject_key_identifier=key_identifier(certificate),
            authorisations=tuple(Authorisation.granted(doc_type, since) for doc_type in document_types),
        )

    def matches(self, certificate: x509.Certificate) -> bool:
        """True when ``certificate`` is this issuer's: the same certificate, or (key identifier only) a
        certificate for the same public key, whatever its SKI extension says."""
        if self.certificate is not None:
            return self.certificate == certificate
        actual = key_identifier(certificate)
        return bool(actual) and actual == self.subject_key_identifier

    def authorisation(self, document_type: str) -> Authorisation | None:
        return next((a for a in self.authorisations if a.document_type == document_type), None)

    def granted_types(self, moment: datetime) -> tuple[str, ...]:
        """Document types this issuer is authorised for at ``moment``."""
        types = []
        for authorisation in self.authorisations:
            change = authorisation.status_at(moment)
            if change is not None and change.status is AuthorisationStatus.GRANTED:
                types.append(authorisation.document_type)
        return tuple(types)

    def with_authorisation(self, authorisation: Authorisation) -> IssuerEntry:
        others = tuple(a for a in self.authorisations if a.document_type != authorisation.document_type)
        return replace(self, authorisations=(*others, authorisation))


@dataclass(frozen=True, slots=True)
class SchemeOperator:
    """Who runs the trust scheme: a country and the name of the operating body."""

    country: str
    name: str


@dataclass(frozen=True, slots=True)
class TrustList:
    """A trust list's content. Built to be published, or returned by :func:`load_trust_list`.

    ``signer`` and ``signed_xml`` are set only on lists that were loaded (and therefore verified).
    """

    operator: SchemeOperator
    sequence_number: int
    issued_at: datetime
    next_update: datetime
    anchors: tuple[x509.Certificate, ...]
    issuers: tuple[IssuerEntry, ...] = ()
    intermediates: tuple[x509.Certificate, ...] = ()
    crls: tuple[x509.CertificateRevocationList, ...] = ()
    signer: x509.Certificate | None = field(default=None, compare=False)
    signed_xml: bytes | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "issued_at", utc(self.issued_at))
        object.__setattr__(self, "next_update", utc(self.next_update))
        if self.sequence_number < 1:
            raise ConfigurationError("a trust list's sequence number starts at 1", code=Code.TRUST_LIST_INVALID)
        if not self.anchors:
            raise ConfigurationError("a trust list needs at least one anchor", code=Code.TRUST_LIST_INVALID)
        if self.next_update <= self.issued_at:
            raise ConfigurationError("NextUpdate must be after IssueDateTime", code=Code.TRUST_LIST_INVALID)

    @property
    def country(self) -> str:
        return self.operator.country

    @property
    def anchor_fingerprints(self) -> tuple[str, ...]:
        return tuple(fingerprint(anchor) for anchor in self.anchors)

    def is_current(self, moment: datetime) -> bool:
        """False once ``NextUpdate`` has passed."""
        return utc(moment) <= self.next_update

    def issuer_for(self, certificate: x509.Certificate) -> IssuerEntry | None:
        return next((issuer for issuer in self.issuers if issuer.matches(certificate)), None)

    def issuer_named(self, name: str) -> IssuerEntry | None:
        folded = name.casefold()
        return next((issuer for issuer in self.issuers if issuer.name.casefold() == folded), None)

    def to_xml(self) -> bytes:
        """The unsigned XML document, indented so that the published list is readable as it is."""
        root = _render(self)
        etree.indent(root, space="  ")
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    def sign(self, signer: Credential) -> bytes:
        """The signed XML document, ready to publish (enveloped XML-DSig by the trust list signer)."""
        from exchange._dsig import sign_document

        usage = _extended_key_usages(signer.certificate)
        if usage is None or TSL_SIGNING not in usage:
            raise TrustError(
                f"{signer.name} lacks the trust list signing usage (0.4.0.2231.3.0)", code=Code.PKI_INVALID
            )
        return sign_document(self.to_xml(), signer.key, list(signer.signing_chain))

    @classmethod
    def from_pki(
        cls,
        pki: CountryPki,
        *,
        sequence_number: int,
        issued_at: datetime,
        next_update: datetime | None = None,
        granted_since: datetime | None = None,
        crls: Sequence[x509.CertificateRevocationList] | None = None,
        operator_name: str | None = None,
    ) -> TrustList:
        """The list a country publishes for its PKI: its root, its issuing CA, every authority, its CRLs."""
        since = granted_since or issued_at
        issuers = tuple(
            IssuerEntry.for_credential(
                pki.authorities[spec.slug], spec.document_types, since=since, role=spec.role, name=spec.name
            )
            for spec in pki.spec.authorities
        )
        return cls(
            operator=SchemeOperator(pki.code, operator_name or f"{pki.spec.name} trust scheme operator"),
            sequence_number=sequence_number,
            issued_at=issued_at,
            next_update=next_update or issued_at + DEFAULT_LIST_LIFETIME,
            anchors=(pki.root.certificate,),
            intermediates=(pki.issuing_ca.certificate,),
            issuers=issuers,
            crls=tuple(crls) if crls is not None else pki.crls,
        )

    def reissued(
        self,
        *,
        issued_at: datetime,
        next_update: datetime | None = None,
        crls: Sequence[x509.CertificateRevocationList] | None = None,
        issuers: Sequence[IssuerEntry] | None = None,
    ) -> TrustList:
        """The next version of this list: sequence number + 1, new dates, optionally new CRLs or issuers."""
        return replace(
            self,
            sequence_number=self.sequence_number + 1,
            issued_at=issued_at,
            next_update=next_update or issued_at + (self.next_update - self.issued_at),
            crls=tuple(crls) if crls is not None else self.crls,
            issuers=tuple(issuers) if issuers is not None else self.issuers,
            signer=None,
            signed_xml=None,
        )


# --- rendering ---------------------------------------------------------------------------------------------


def _text(parent: etree._Element, local: str, value: str) -> etree._Element:
    element = etree.SubElement(parent, _TL.tag(local))
    element.text = value
    return element


def _instant(moment: datetime) -> str:
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def _der_b64(der: bytes) -> str:
    return base64.b64encode(der).decode("ascii")


def _render(trust_list: TrustList) -> etree._Element:
    root = etree.Element(_TL.tag("TrustList"), nsmap={"tl": _TL.value})
    root.set("Version", "1")
    info = etree.SubElement(root, _TL.tag("SchemeInformation"))
    operator = etree.SubElement(info, _TL.tag("SchemeOperator"))
    _text(operator, "Country", trust_list.operator.country)
    _text(operator, "Name", trust_list.operator.name)
    _text(info, "SequenceNumber", str(trust_list.sequence_number))
    _text(info, "IssueDateTime", _instant(trust_list.issued_at))
    _text(info, "NextUpdate", _instant(trust_list.next_update))
    anchors = etree.SubElement(root, _TL.tag("TrustAnchors"))
    for anchor in trust_list.anchors:
        _text(anchors, "Certificate", _der_b64(anchor.public_bytes(serialization.Encoding.DER)))
    if trust_list.intermediates:
        intermediates = etree.SubElement(root, _TL.tag("IntermediateCertificates"))
        for certificate in trust_list.intermediates:
            _text(intermediates, "Certificate", _der_b64(certificate.public_bytes(serialization.Encoding.DER)))
    issuers = etree.SubElement(root, _TL.tag("Issuers"))
    for issuer in trust_list.issuers:
        element = etree.SubElement(issuers, _TL.tag("Issuer"))
        _text(element, "Name", issuer.name)
        _text(element, "Role", issuer.role.value)
        if issuer.certificate is not None:
            _text(element, "Certificate", _der_b64(issuer.certificate.public_bytes(serialization.Encoding.DER)))
        _text(element, "SubjectKeyIdentifier", issuer.subject_key_identifier.hex().upper())
        for authorisation in issuer.authorisations:
            auth = etree.SubElement(element, _TL.tag("Authorisation"))
            _text(auth, "DocumentType", authorisation.document_type)
            _text(auth, "Status", authorisation.current.status.value)
            _text(auth, "StatusStartingTime", _instant(authorisation.current.since))
            if len(authorisation.history) > 1:
                history = etree.SubElement(auth, _TL.tag("History"))
                for change in reversed(authorisation.history[:-1]):
                    instance = etree.SubElement(history, _TL.tag("HistoryInstance"))
                    _text(instance, "Status", change.status.value)
                    _text(instance, "StatusStartingTime", _instant(change.since))
    if trust_list.crls:
        crls = etree.SubElement(root, _TL.tag("CurrentCRLs"))
        for crl in trust_list.crls:
            _text(crls, "CRL", _der_b64(crl.public_bytes(serialization.Encoding.DER)))
    return root


# --- loading -----------------------------------------------------------------------------------------------


def check_succession(held: TrustList | None, new: TrustList) -> None:
    """Refuse ``new`` as the successor of ``held`` (the list of the same scheme held so far) when it would
    roll trust back: a lower SequenceNumber is TRUST-LIST-ROLLBACK (an old list replayed, e.g. one that
    still grants a since-withdrawn issuer or carries a CRL without a later revocation), the same number
    with other content is TRUST-LIST-SEQUENCE-REUSED. The same list again (a reload) is accepted, and
    anything succeeds ``None``. Each operator numbers its list (ETSI TS 119 612 5.3.7); the comparison
    is with whatever the caller held, so it holds across restarts only when the caller keeps that list.
    """
    if held is None:
        return
    if held.country != new.country:
        raise TrustError(
            f"the trust list of {new.country} cannot succeed the one of {held.country}", code=Code.TRUST_LIST_INVALID
        )
    label = f"the trust list of {new.country}"
    if new.sequence_number < held.sequence_number:
        raise TrustError(
            f"{label} (sequence {new.sequence_number}, issued {_instant(new.issued_at)}) is older than the one held "
            f"(sequence {held.sequence_number}, issued {_instant(held.issued_at)}): a rollback is refused",
            code=Code.TRUST_LIST_ROLLBACK,
        )
    if new.sequence_number == held.sequence_number and new != held:
        raise TrustError(
            f"{label} (sequence {new.sequence_number}) differs from the list held under the same sequence number; "
            "a new version must carry a higher one",
            code=Code.TRUST_LIST_SEQUENCE_REUSED,
        )


def load_trust_list(
    data: bytes,
    *,
    roots: Sequence[x509.Certificate] = (),
    root_fingerprints: Sequence[str] = (),
    moment: datetime,
    country: str | None = None,
    allow_expired: bool = False,
    policy: SignaturePolicy | None = None,
    previous: TrustList | None = None,
) -> TrustList:
    """Verify and read a signed trust list.

    ``roots`` (certificates) and ``root_fingerprints`` (SHA-256 of the DER, hex, as an agreement pins
    them) are the anchors the caller decided beforehand to recognise for this list; the list must declare
    one of them and be signed under it.
    ``country``, when given, must be the list's scheme operator country. ``allow_expired`` keeps a list
    past its NextUpdate loadable so that the trust evaluation reports TRUST-LIST-EXPIRED as a finding on
    each document (services do this); direct loads refuse it. ``previous`` is the list of this scheme held
    so far: the new one must succeed it (:func:`check_succession`), or loading refuses a rollback.
    """
    from exchange._dsig import DEFAULT_POLICY, verify_signature

    moment = utc(moment)
    pinned = {value.lower().replace(":", "") for value in root_fingerprints}
    if not roots and not pinned:
        raise ConfigurationError("load_trust_list needs at least one configured root", code=Code.CONFIG_INVALID)
    check = verify_signature(bytes(data), policy=policy or DEFAULT_POLICY, check=CHECK_TRUST_LIST)
    if not check.valid or check.signed_content is None or check.signer is None:
        errors = [f for f in check.findings if f.is_error]
        reasons = "; ".join(f"{f.code}: {f.message}" for f in errors) or "no valid signature"
        if any(f.code in _XML_CODES for f in errors):
            raise TrustError(f"trust list is not readable XML ({reasons})", code=Code.TRUST_LIST_INVALID)
        raise TrustError(f"trust list signature is not valid ({reasons})", code=Code.TRUST_LIST_SIGNATURE)

    trust_list = _read(check.signed_content)
    if country is not None and trust_list.country != country:
        raise TrustError(
            f"expected the trust list of {country}, got the one of {trust_list.country}",
            code=Code.TRUST_LIST_INVALID,
        )
    configured = set(roots)
    declared = [a for a in trust_list.anchors if a in configured or fingerprint(a) in pinned]
    if not declared:
        raise TrustError(
            f"the trust list of {trust_list.country} (sequence {trust_list.sequence_number}) declares no anchor "
            "that this configuration recognises; a list is trusted only under an anchor configured beforehand",
            code=Code.TRUST_NOT_RECOGNISED,
        )
    check_scheme_signer(trust_list, check.signer, tuple(check.chain), declared, moment)
    check_succession(previous, trust_list)
    if not allow_expired and not trust_list.is_current(moment):
        raise TrustError(
            f"the trust list of {trust_list.country} (sequence {trust_list.sequence_number}) expired: "
            f"NextUpdate {_instant(trust_list.next_update)} is before {_instant(moment)}",
            code=Code.TRUST_LIST_EXPIRED,
        )
    return replace(trust_list, signer=check.signer, signed_xml=bytes(data))


def load_trust_list_file(
    path: str | Path,
    *,
    roots: Sequence[x509.Certificate] = (),
    root_fingerprints: Sequence[str] = (),
    moment: datetime,
    country: str | None = None,
    allow_expired: bool = False,
    previous: TrustList | None = None,
) -> TrustList:
    """:func:`load_trust_list` on a file's bytes; an unreadable file is TRUST-LIST-INVALID."""
    file_path = Path(path)
    try:
        data = file_path.read_bytes()
    except OSError as exc:
        raise TrustError(f"cannot read {file_path}: {exc.strerror}", code=Code.TRUST_LIST_INVALID) from exc
    return load_trust_list(
        data,
        roots=roots,
        root_fingerprints=root_fingerprints,
        moment=moment,
        country=country,
        allow_expired=allow_expired,
        previous=previous,
    )


def check_scheme_signer(
    trust_list: TrustList,
    signer: x509.Certificate,
    presented: tuple[x509.Certificate, ...],
    anchors: Sequence[x509.Certificate],
    moment: datetime,
) -> None:
    """The signer of a scheme's list (or of a document the scheme signs with the same key: its public package, its
    agreements) must chain to a configured anchor of the list at ``moment`` (RFC 5280 path validation), carry
    the trust list signing usage, and be shown not revoked by the list's own CRLs (revoked: TRUST-LIST-SIGNATURE;
    no CRL valid then that covers it: TRUST-REVOCATION-UNKNOWN, and the list is refused rather than trusted on
    an unchecked signer). The signer's revocation is decided at the moment, brought inside the list's own
    period [IssueDateTime, NextUpdate]: a list is judged as of when it spoke for its scheme (loaded "as of" an
    earlier moment, it is judged as issued; past its NextUpdate it is refused as TRUST-LIST-EXPIRED or, loaded
    with ``allow_expired``, recognises nothing). The CRL that vouches must be valid at that instant
    (thisUpdate <= instant <= nextUpdate): a list's CRLs are published with it, never after it."""
    from exchange._pkix import PathValidator, RevocationStatus

    candidates = tuple(c for c in (*presented, *trust_list.intermediates) if c != signer)
    validator = PathValidator(anchors, trust_list.intermediates, trust_list.crls)
    path = validator.build(signer, candidates, moment=moment)
    if path is None:
        raise TrustError(
            f"the trust list of {trust_list.country} is signed by {_cn(signer)}, which does not chain to its "
            f"configured anchor at {_instant(moment)} (or a certificate on the way is not valid then)",
            code=Code.TRUST_LIST_SIGNATURE,
        )
    usage = _extended_key_usages(signer)
    if usage is None or TSL_SIGNING not in usage:
        raise TrustError(
            f"{_cn(signer)} signed the trust list of {trust_list.country} without the trust list signing usage "
            "(id-tsl-kp-tslSigning)",
            code=Code.TRUST_LIST_SIGNATURE,
        )
    key_usage = _key_usage(signer)
    if key_usage is None or not (key_usage.digital_signature or key_usage.content_commitment):
        raise TrustError(
            f"{_cn(signer)} may not sign: its key usage lacks digitalSignature", code=Code.TRUST_LIST_SIGNATURE
        )
    revocation_moment = min(max(moment, trust_list.issued_at), trust_list.next_update)
    results = validator.revocations(path, candidates, moment=revocation_moment, retroactive=False)
    for certificate, result in zip(path[:-1], results, strict=True):
        if result.status is RevocationStatus.REVOKED and result.entry is not None:
            raise TrustError(
                f"the trust list of {trust_list.country} is signed under {_cn(certificate)}, which was revoked on "
                f"{_instant(result.entry.revoked_at)}",
                code=Code.TRUST_LIST_SIGNATURE,
            )
        if result.status is not RevocationStatus.GOOD:
            raise TrustError(
                f"the trust list of {trust_list.country} is signed under {_cn(certificate)}, whose revocation "
                f"cannot be checked at {_instant(revocation_moment)}: the list carries no CRL that covers it then "
                f"({'; '.join(result.notes)})",
                code=Code.TRUST_REVOCATION_UNKNOWN,
            )


def _cn(certificate: x509.Certificate) -> str:
    return common_name(certificate.subject)


def _extended_key_usages(certificate: x509.Certificate) -> x509.ExtendedKeyUsage | None:
    try:
        return certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return None


def _key_usage(certificate: x509.Certificate) -> x509.KeyUsage | None:
    try:
        return certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None


def _schema_findings(tree: etree._ElementTree) -> list[str]:
    from exchange._validation import compiled_schema

    schema = compiled_schema(SCHEMA_PATH)
    if schema.validate(tree):
        return []
    errors: Iterable[Any] = schema.error_log
    return [f"line {error.line}: {error.message}" for error in errors]


def _read(signed_content: bytes) -> TrustList:
    """Build a :class:`TrustList` from the verified, signed bytes (never from the original input)."""
    try:
        tree = parse_xml(signed_content)
    except XmlError as exc:
        raise TrustError(
            f"signed trust list content is not readable: {exc.message}", code=Code.TRUST_LIST_INVALID
        ) from exc
    root = tree.getroot()
    if root.tag != _TL.tag("TrustList"):
        raise TrustError(
            f"not a trust list: the root is {root.tag}, expected {_TL.tag('TrustList')}",
            code=Code.TRUST_LIST_INVALID,
        )
    problems = _schema_findings(tree)
    if problems:
        raise TrustError(
            "trust list does not conform to its schema: " + "; ".join(problems[:5]), code=Code.TRUST_LIST_INVALID
        )
    try:
        return _from_tree(root)
    except (ValueError, x509.InvalidVersion, binascii.Error, ConfigurationError) as exc:
        message = exc.message if isinstance(exc, ConfigurationError) else str(exc)
        raise TrustError(f"trust list content is unusable: {message}", code=Code.TRUST_LIST_INVALID) from exc


def _child(parent: etree._Element, local: str) -> etree._Element:
    element = parent.find(_TL.tag(local))
    if element is None:  # the schema guarantees presence; this guards programming errors
        raise ValueError(f"missing {local} in {etree.QName(parent).localname}")
    return element


def _child_text(parent: etree._Element, local: str) -> str:
    return (_child(parent, local).text or "").strip()


def _parse_instant(value: str) -> datetime:
    return utc(datetime.fromisoformat(value.replace("Z", "+00:00")))


_T = TypeVar("_T")


def _der(element: etree._Element) -> bytes:
    return base64.b64decode("".join((element.text or "").split()), validate=True)


def _readable(element: etree._Element, load: Callable[[bytes], _T], problem: Callable[[_T], str | None],
              what: str) -> _T:
    """One of the list's certificates or CRLs; refused (ValueError) when path validation could not read it."""
    value = load(_der(element))
    reason = problem(value)
    if reason is not None:
        raise ValueError(f"a {what} of the list cannot be read for path validation ({reason})")
    return value


def _certificate(element: etree._Element) -> x509.Certificate:
    from exchange._pkix import unreadable

    return _readable(element, x509.load_der_x509_certificate, unreadable, "certificate")


def _crl(element: etree._Element) -> x509.CertificateRevocationList:
    from exchange._pkix import unreadable_crl

    return _readable(element, x509.load_der_x509_crl, unreadable_crl, "CRL")


def _certificates(parent: etree._Element | None) -> tuple[x509.Certificate, ...]:
    if parent is None:
        return ()
    return tuple(_certificate(element) for element in parent.iter(_TL.tag("Certificate")))


def _from_tree(root: etree._Element) -> TrustList:
    info = _child(root, "SchemeInformation")
    operator = _child(info, "SchemeOperator")
    issuers = []
    for element in _child(root, "Issuers").iterchildren(_TL.tag("Issuer")):
        certificate_element = element.find(_TL.tag("Certificate"))
        certificate = (
            _certificate(certificate_element) if certificate_element is not None else None
        )
        ski_element = element.find(_TL.tag("SubjectKeyIdentifier"))
        ski = bytes.fromhex((ski_element.text or "").strip()) if ski_element is not None else None
        if certificate is not None:
            actual = key_identifier(certificate)
            if ski is not None and ski != actual:
                raise ValueError(
                    f"issuer {_child_text(element, 'Name')!r}: SubjectKeyIdentifier is not the key identifier of "
                    "its certificate's public key"
                )
            ski = actual
        if ski is None:
            raise ValueError(f"issuer {_child_text(element, 'Name')!r} has neither certificate nor key identifier")
        authorisations = []
        for auth in element.iterchildren(_TL.tag("Authorisation")):
            history = [
                StatusChange(
                    AuthorisationStatus(_child_text(auth, "Status")),
                    _parse_instant(_child_text(auth, "StatusStartingTime")),
                )
            ]
            history_element = auth.find(_TL.tag("History"))
            if history_element is not None:
                for instance in history_element.iterchildren(_TL.tag("HistoryInstance")):
                    history.append(
                        StatusChange(
                            AuthorisationStatus(_child_text(instance, "Status")),
                            _parse_instant(_child_text(instance, "StatusStartingTime")),
                        )
                    )
            authorisations.append(Authorisation(_child_text(auth, "DocumentType"), tuple(history)))
        issuers.append(
            IssuerEntry(
                name=_child_text(element, "Name"),
                role=Role(_child_text(element, "Role")),
                certificate=certificate,
                subject_key_identifier=ski,
                authorisations=tuple(authorisations),
            )
        )
    crls_element = root.find(_TL.tag("CurrentCRLs"))
    crls = (
        tuple(_crl(element) for element in crls_element.iter(_TL.tag("CRL")))
        if crls_element is not None
        else ()
    )
    return TrustList(
        operator=SchemeOperator(_child_text(operator, "Country"), _child_text(operator, "Name")),
        sequence_number=int(_child_text(info, "SequenceNumber")),
        issued_at=_parse_instant(_child_text(info, "IssueDateTime")),
        next_update=_parse_instant(_child_text(info, "NextUpdate")),
        anchors=_certificates(root.find(_TL.tag("TrustAnchors"))),
        intermediates=_certificates(root.find(_TL.tag("IntermediateCertificates"))),
        issuers=tuple(issuers),
        crls=crls,
    )


__all__ = [
    "DEFAULT_LIST_LIFETIME",
    "SCHEMA_PATH",
    "Authorisation",
    "AuthorisationStatus",
    "IssuerEntry",
    "SchemeOperator",
    "StatusChange",
    "TrustList",
    "TrustNamespace",
    "check_succession",
    "load_trust_list",
    "load_trust_list_file",
]
