"""RFC 5280 certification path validation and CRL processing: the part of it that this project claims.

Why not cryptography's X.509 verifier: it implements the Web PKI profile (CA/Browser Forum), which refuses
chains that RFC 5280 accepts and national PKIs use: names are chained byte for byte (RFC 5280 7.1 compares
them case-insensitively, with insignificant whitespace collapsed, PrintableString equal to UTF8String); a
self-issued CA certificate (key rollover) counts against pathLenConstraint (RFC 5280 6.1.4 (l) says it
does not); and it has no CRL processing at all. SECURITY.md lists the sections claimed, each with its test
in ``tests/exchange/test_path_validation.py``.

Names (RFC 5280 7.1, RFC 4518)
    :func:`names_match`: same RDN sequence; within an RDN the same set of attributes; string values compared
    after NFKC, case folding, mapping controls and format characters away and collapsing whitespace, whatever
    their ASN.1 string type.

Path (RFC 5280 6.1)
    :class:`PathValidator` builds from the target upwards (issuer name, then the issuer's key verifying the
    signature), anchors first, never a certificate twice, at most ``max_depth`` intermediates, and validates
    the whole path: signatures (SHA-256/384/512 with RSA >= 2048 (PKCS#1 v1.5 or PSS) or ECDSA P-256/384/521:
    what cryptography's verifier allowed before), validity at the moment, basicConstraints cA on every CA
    including the anchor, keyUsage with keyCertSign on every CA (a profile restriction: RFC 5280 accepts a
    CA without keyUsage), pathLenConstraint with self-issued certificates not counted (the anchor's own
    constraint applies too), and no unrecognised critical extension in any certificate.

Revocation (RFC 5280 5.2, 5.3, 6.3)
    :meth:`PathValidator.revocation` decides one certificate of a path from the CRLs held:

    * a CRL is *authentic* when its issuer name matches and it is signed either by the certificate's issuer
      (keyUsage cRLSign), or by a separate CRL-signing certificate whose subject is the CRL issuer, with
      keyUsage cRLSign, that has a valid path to the same anchor and is itself not revoked (RFC 5280
      6.3.3 (f)): the same CA name with a different key, or an indirect CRL issuer;
    * an indirect CRL (IssuingDistributionPoint indirectCRL) covers a certificate only when one of the
      certificate's CRL distribution points names that CRL issuer (cRLIssuer), and its entries are attributed
      to the issuer named by the CertificateIssuer entry extension (RFC 5280 5.3.3);
    * a CRL with a critical extension (or critical entry extension) this module does not process, a delta
      CRL, a CRL without nextUpdate or with thisUpdate after nextUpdate is *not used at all* (5.2, 5.3);
    * the IssuingDistributionPoint scope is honoured (6.3.3 (b)): onlyContainsUserCerts, onlyContainsCACerts,
      onlyContainsAttributeCerts, the distribution point name against the certificate's distribution points
      (a certificate without any is taken to name its issuer), and onlySomeReasons (with the reasons of the
      certificate's distribution point);
    * status: REVOKED when a usable CRL lists the certificate (with a revocation at or before the moment, or
      for keyCompromise / cACompromise at any date); GOOD when the CRLs valid at the moment
      (thisUpdate <= moment <= nextUpdate) that cover it cover every reason together; UNKNOWN otherwise. A
      CRL past its nextUpdate can prove a revocation (not a certificateHold, which may have been released),
      never good standing; a CRL issued after the moment can prove a revocation, and good standing only under
      the named weakening ``retroactive`` (as pyHanko's ``retroactive_revinfo``) and only if it was issued
      while the certificate was valid (entries may be dropped after expiry, RFC 5280 3.3).

Not claimed (refused, never half-processed): name constraints, policy mapping and policy constraints (a path
through a certificate carrying nameConstraints, policyConstraints, policyMappings or inhibitAnyPolicy is
refused), delta CRLs, OCSP, attribute certificates.

Everything here is immutable or a lock-free memo of a pure function: a validator may be shared by concurrent
evaluations.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import lru_cache

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import CRLEntryExtensionOID, ExtensionOID, ObjectIdentifier

#: The most intermediates between a target and its anchor.
DEFAULT_MAX_DEPTH = 6
#: The most signature checks one path search may make (a flood of same-named KeyInfo certificates is cheap).
_SIGNATURE_BUDGET = 256
_MEMO_LIMIT = 8192

_HASHES = (hashes.SHA256, hashes.SHA384, hashes.SHA512)
_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)
_MIN_RSA_BITS = 2048

#: Certificate extensions this module (or the trust evaluation after it) processes, so they may be critical.
_PROCESSED_CERTIFICATE_EXTENSIONS = frozenset(
    {
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.KEY_USAGE,
        ExtensionOID.EXTENDED_KEY_USAGE,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        ExtensionOID.ISSUER_ALTERNATIVE_NAME,
        ExtensionOID.SUBJECT_KEY_IDENTIFIER,
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        ExtensionOID.CRL_DISTRIBUTION_POINTS,
        # any policy is acceptable (user-initial-policy-set anyPolicy, initial-explicit-policy false), and
        # without policyConstraints (refused below) no policy can make a path invalid (RFC 5280 6.1.5)
        ExtensionOID.CERTIFICATE_POLICIES,
    }
)
#: Present at all: the path is refused, because this module does not process them (see the docstring).
_UNSUPPORTED_CA_EXTENSIONS = frozenset(
    {
        ExtensionOID.NAME_CONSTRAINTS,
        ExtensionOID.POLICY_CONSTRAINTS,
        ExtensionOID.POLICY_MAPPINGS,
        ExtensionOID.INHIBIT_ANY_POLICY,
    }
)
_PROCESSED_CRL_EXTENSIONS = frozenset(
    {
        ExtensionOID.CRL_NUMBER,
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        ExtensionOID.ISSUER_ALTERNATIVE_NAME,
        ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
        ExtensionOID.ISSUING_DISTRIBUTION_POINT,
    }
)
_HOLD_INSTRUCTION_CODE = ObjectIdentifier("2.5.29.23")
_PROCESSED_ENTRY_EXTENSIONS = frozenset(
    {
        CRLEntryExtensionOID.CRL_REASON,
        CRLEntryExtensionOID.INVALIDITY_DATE,
        CRLEntryExtensionOID.CERTIFICATE_ISSUER,
        _HOLD_INSTRUCTION_CODE,
    }
)
#: RFC 5280 ReasonFlags: every reason a set of CRLs must cover before it can say a certificate is good.
ALL_REASONS = frozenset(
    {
        x509.ReasonFlags.key_compromise,
        x509.ReasonFlags.ca_compromise,
        x509.ReasonFlags.affiliation_changed,
        x509.ReasonFlags.superseded,
        x509.ReasonFlags.cessation_of_operation,
        x509.ReasonFlags.certificate_hold,
        x509.ReasonFlags.privilege_withdrawn,
        x509.ReasonFlags.aa_compromise,
    }
)
#: Reasons that taint signatures made before the revocation date too.
TAINTING_REASONS = frozenset({x509.ReasonFlags.key_compromise, x509.ReasonFlags.ca_compromise})


# --- names (RFC 5280 7.1) ------------------------------------------------------------------------------

NameKey = tuple[frozenset[tuple[str, str | bytes]], ...]

_MAPPED_TO_NOTHING = frozenset("\u00ad\u1806\u034f\u180b\u180c\u180d\ufe00\ufe01\ufe02\ufe03\ufe04\ufe05\ufe06"
                               "\ufe07\ufe08\ufe09\ufe0a\ufe0b\ufe0c\ufe0d\ufe0e\ufe0f\ufffc\u200b")


def prepare(value: str) -> str:
    """RFC 4518 string preparation for caseIgnoreMatch, simplified: map (controls and format characters to
    nothing, every kind of space to SPACE, case folding), NFKC, insignificant space handling (trimmed, runs
    collapsed). Not claimed: the prohibit and bidi steps (an ill-formed value only fails to match)."""
    mapped = []
    for character in value:
        if character in _MAPPED_TO_NOTHING:
            continue
        category = unicodedata.category(character)
        if character.isspace() or category == "Zs":
            mapped.append(" ")
        elif category in ("Cc", "Cf"):
            continue
        else:
            mapped.append(character)
    folded = unicodedata.normalize("NFKC", "".join(mapped).casefold())
    return " ".join(folded.split())


@lru_cache(maxsize=4096)
def name_key(name: x509.Name) -> NameKey:
    """A hashable form of ``name`` under which two names are equal exactly when they match per RFC 5280 7.1."""
    key = []
    for rdn in name.rdns:
        attributes = set()
        for attribute in rdn:
            value = attribute.value
            attributes.add((attribute.oid.dotted_string, prepare(value) if isinstance(value, str) else bytes(value)))
        key.append(frozenset(attributes))
    return tuple(key)


def names_match(first: x509.Name, second: x509.Name) -> bool:
    """RFC 5280 7.1 name matching (see :func:`prepare`)."""
    return name_key(first) == name_key(second)


def self_issued(certificate: x509.Certificate) -> bool:
    """Issuer and subject match (RFC 5280 6.1: a self-issued certificate, e.g. a CA's key rollover)."""
    facts = _facts(certificate)
    return facts.subject == facts.issuer


# --- signatures ------------------------------------------------------------------------------------------


def key_permitted(key: object) -> bool:
    """RSA of at least 2048 bits, or ECDSA on P-256, P-384 or P-521 (the algorithms the profile allows)."""
    if isinstance(key, rsa.RSAPublicKey):
        return key.key_size >= _MIN_RSA_BITS
    if isinstance(key, ec.EllipticCurvePublicKey):
        return isinstance(key.curve, _CURVES)
    return False


def _signature_valid(
    key: object, signature: bytes, data: bytes, algorithm: hashes.HashAlgorithm | None, parameters: object
) -> bool:
    if not isinstance(algorithm, _HASHES) or not key_permitted(key):
        return False
    try:
        if isinstance(key, rsa.RSAPublicKey):
            if not isinstance(parameters, padding.PKCS1v15 | padding.PSS):
                return False
            key.verify(signature, data, parameters, algorithm)
            return True
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(algorithm))
            return True
    except (InvalidSignature, ValueError, TypeError):
        return False
    return False  # pragma: no cover - key_permitted admits only the two types above


def certificate_signed_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    """``issuer``'s public key verifies ``certificate``'s signature under the algorithm policy (names are
    not compared here)."""
    try:
        return _signature_valid(
            issuer.public_key(),
            certificate.signature,
            certificate.tbs_certificate_bytes,
            certificate.signature_hash_algorithm,
            certificate.signature_algorithm_parameters,
        )
    except (UnsupportedAlgorithm, ValueError):
        return False


def crl_signed_by_key(crl: x509.CertificateRevocationList, signer: x509.Certificate) -> bool:
    """``signer``'s public key verifies the CRL's signature under the algorithm policy."""
    try:
        return _signature_valid(
            signer.public_key(),
            crl.signature,
            crl.tbs_certlist_bytes,
            crl.signature_hash_algorithm,
            crl.signature_algorithm_parameters,
        )
    except (UnsupportedAlgorithm, ValueError):
        return False


# --- certificate facts -----------------------------------------------------------------------------------


def _extensions(certificate: x509.Certificate) -> x509.Extensions | None:
    try:
        return certificate.extensions
    except ValueError:  # duplicate or malformed extensions
        return None


def _value(extensions: x509.Extensions, kind: type[x509.ExtensionType]) -> x509.ExtensionType | None:
    try:
        return extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


@dataclass(frozen=True, slots=True)
class _Facts:
    """What the checks ask of a certificate again and again (cryptography rebuilds names on each access)."""

    subject: NameKey
    issuer: NameKey
    issuer_name: x509.Name
    ca: bool
    crl_sign: bool
    points: tuple[x509.DistributionPoint, ...]


@lru_cache(maxsize=4096)
def _facts(certificate: x509.Certificate) -> _Facts:
    issuer = certificate.issuer
    extensions = _extensions(certificate)
    constraints = _value(extensions, x509.BasicConstraints) if extensions is not None else None
    usage = _value(extensions, x509.KeyUsage) if extensions is not None else None
    found = _value(extensions, x509.CRLDistributionPoints) if extensions is not None else None
    if isinstance(found, x509.CRLDistributionPoints) and len(found) > 0:
        points = tuple(found)
    else:  # RFC 6.3.3: a certificate without distribution points is taken to name its issuer
        points = (x509.DistributionPoint([x509.DirectoryName(issuer)], None, None, None),)
    return _Facts(
        subject=name_key(certificate.subject),
        issuer=name_key(issuer),
        issuer_name=issuer,
        ca=isinstance(constraints, x509.BasicConstraints) and constraints.ca,
        crl_sign=isinstance(usage, x509.KeyUsage) and usage.crl_sign,
        points=points,
    )


def is_ca(certificate: x509.Certificate) -> bool:
    """basicConstraints present with cA asserted."""
    return _facts(certificate).ca


def may_sign_crls(certificate: x509.Certificate) -> bool:
    """keyUsage present with cRLSign."""
    return _facts(certificate).crl_sign


def _valid_at(certificate: x509.Certificate, moment: datetime) -> bool:
    return certificate.not_valid_before_utc <= moment <= certificate.not_valid_after_utc


def _certificate_problem(certificate: x509.Certificate, *, as_ca: bool) -> str | None:
    """Why ``certificate`` cannot take its place in a path (ignoring time and signatures), or None."""
    extensions = _extensions(certificate)
    if extensions is None:
        return "its extensions cannot be parsed"
    try:
        if not key_permitted(certificate.public_key()):
            return "its public key is not of a permitted algorithm and size"
    except (UnsupportedAlgorithm, ValueError):
        return "its public key cannot be read"
    for extension in extensions:
        if extension.critical and extension.oid not in _PROCESSED_CERTIFICATE_EXTENSIONS:
            return f"it carries the critical extension {extension.oid.dotted_string}, which is not processed"
        if as_ca and extension.oid in _UNSUPPORTED_CA_EXTENSIONS:
            return f"it carries {extension.oid.dotted_string}, which this validator does not process"
    if as_ca:
        constraints = _value(extensions, x509.BasicConstraints)
        if not (isinstance(constraints, x509.BasicConstraints) and constraints.ca):
            return "basicConstraints does not assert cA"
        usage = _value(extensions, x509.KeyUsage)
        if not (isinstance(usage, x509.KeyUsage) and usage.key_cert_sign):
            return "keyUsage lacks keyCertSign"
    return None


def _path_length(certificate: x509.Certificate) -> int | None:
    extensions = _extensions(certificate)
    constraints = _value(extensions, x509.BasicConstraints) if extensions is not None else None
    return constraints.path_length if isinstance(constraints, x509.BasicConstraints) else None


def validate_path(path: Sequence[x509.Certificate], moment: datetime | None) -> str | None:
    """RFC 5280 6.1 over ``path`` (target first, anchor last; names and signatures already checked by the
    builder): None when it holds at ``moment`` (None: ignoring validity periods), else why not."""
    if len(path) < 2:
        return "a path needs a target and an anchor"
    anchor = path[-1]
    problem = _certificate_problem(anchor, as_ca=True)
    if problem is not None:
        return f"the anchor is not usable: {problem}"
    remaining = _path_length(anchor)
    for certificate in reversed(path[1:-1]):  # the intermediates, from the anchor down
        problem = _certificate_problem(certificate, as_ca=True)
        if problem is not None:
            return f"{certificate.subject.rfc4514_string()}: {problem}"
        if not self_issued(certificate):  # 6.1.4 (l): self-issued certificates do not count
            if remaining is not None and remaining <= 0:
                return f"{certificate.subject.rfc4514_string()}: pathLenConstraint exceeded"
            if remaining is not None:
                remaining -= 1
        length = _path_length(certificate)
        if length is not None and (remaining is None or length < remaining):  # 6.1.4 (m)
            remaining = length
    problem = _certificate_problem(path[0], as_ca=False)
    if problem is not None:
        return problem
    if moment is not None:
        for certificate in path:
            if not _valid_at(certificate, moment):
                return f"{certificate.subject.rfc4514_string()} is not valid at the moment"
    return None


# --- CRLs ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CrlEntry:
    """One revocation as a CRL states it."""

    serial_number: int
    revoked_at: datetime
    reason: x509.ReasonFlags | None


class CrlView:
    """What a CRL says, parsed once: its issuer, times, scope and entries by (issuer, serial), or why it
    cannot be used at all. Lazy, memoised, and pure: safe to share."""

    __slots__ = ("crl", "issuer", "issuer_name", "number", "this_update", "next_update", "_parsed")

    def __init__(self, crl: x509.CertificateRevocationList) -> None:
        self.crl = crl
        self.issuer_name = crl.issuer
        self.issuer = name_key(self.issuer_name)
        self.this_update = crl.last_update_utc
        self.next_update = crl.next_update_utc
        try:
            number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
        except (x509.ExtensionNotFound, ValueError):
            number = 0
        self.number = int(number)
        self._parsed: tuple[str | None, x509.IssuingDistributionPoint | None, dict[tuple[NameKey, int], CrlEntry]]
        self._parsed = (None, None, {})
        self._parsed = self._parse()

    @property
    def problem(self) -> str | None:
        """Why the CRL must not be used at all (RFC 5280 5.2, 5.3), or None."""
        return self._parsed[0]

    @property
    def distribution_point(self) -> x509.IssuingDistributionPoint | None:
        return self._parsed[1]

    @property
    def indirect(self) -> bool:
        point = self.distribution_point
        return point is not None and point.indirect_crl

    def entry(self, issuer: NameKey, serial_number: int) -> CrlEntry | None:
        """The entry for the certificate ``serial_number`` of the issuer named ``issuer`` (a :func:`name_key`)."""
        return self._parsed[2].get((issuer, serial_number))

    @property
    def label(self) -> str:
        return f"CRL number {self.number} of {_cn_name(self.issuer_name)} (thisUpdate {_iso(self.this_update)})"

    def _parse(
        self,
    ) -> tuple[str | None, x509.IssuingDistributionPoint | None, dict[tuple[NameKey, int], CrlEntry]]:
        crl = self.crl
        entries: dict[tuple[NameKey, int], CrlEntry] = {}
        if self.next_update is None:
            return "it has no nextUpdate", None, entries
        if self.this_update > self.next_update:
            return "its thisUpdate is after its nextUpdate", None, entries
        try:
            extensions = crl.extensions
        except ValueError as exc:
            return f"its extensions cannot be parsed ({exc})", None, entries
        point: x509.IssuingDistributionPoint | None = None
        for extension in extensions:
            if extension.oid == ExtensionOID.DELTA_CRL_INDICATOR:
                return "it is a delta CRL (delta CRLs are not processed)", None, entries
            if extension.critical and extension.oid not in _PROCESSED_CRL_EXTENSIONS:
                return f"it carries the critical extension {extension.oid.dotted_string}, which is not processed", \
                    None, entries
            if isinstance(extension.value, x509.IssuingDistributionPoint):
                point = extension.value
        current: NameKey | None = self.issuer
        try:
            for revoked in crl:
                reason: x509.ReasonFlags | None = None
                for extension in revoked.extensions:
                    if extension.critical and extension.oid not in _PROCESSED_ENTRY_EXTENSIONS:
                        return (
                            f"an entry carries the critical extension {extension.oid.dotted_string}, which is "
                            "not processed"
                        ), point, {}
                    value = extension.value
                    if isinstance(value, x509.CRLReason):
                        reason = value.reason
                    elif isinstance(value, x509.CertificateIssuer):
                        names = [name for name in value if isinstance(name, x509.DirectoryName)]
                        current = name_key(names[0].value) if names else None
                if current is not None:
                    entries[(current, revoked.serial_number)] = CrlEntry(
                        revoked.serial_number, revoked.revocation_date_utc, reason
                    )
        except ValueError as exc:
            return f"its entries cannot be parsed ({exc})", point, {}
        return None, point, entries


class RevocationStatus(StrEnum):
    """What the CRLs held say about one certificate at the moment."""

    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class RevocationResult:
    """``crl`` is the CRL that revoked the certificate (REVOKED) or the newest that covered it (GOOD).
    ``later`` is a revocation dated after the moment for a reason that does not taint earlier use (GOOD
    then still holds, as a warning). ``notes`` say, for UNKNOWN, why each CRL held did not decide."""

    status: RevocationStatus
    crl: x509.CertificateRevocationList | None = None
    entry: CrlEntry | None = None
    later: CrlEntry | None = None
    notes: tuple[str, ...] = ()


def _general_names_match(first: x509.GeneralName, second: x509.GeneralName) -> bool:
    if isinstance(first, x509.DirectoryName) and isinstance(second, x509.DirectoryName):
        return names_match(first.value, second.value)
    return first == second


def _point_names(
    full_name: Iterable[x509.GeneralName] | None,
    relative_name: x509.RelativeDistinguishedName | None,
    base: x509.Name,
) -> list[x509.GeneralName]:
    if full_name is not None:
        return list(full_name)
    if relative_name is not None:  # RFC 5280 4.2.1.13: the relative name is appended to the issuer's name
        return [x509.DirectoryName(x509.Name([*base.rdns, relative_name]))]
    return []


def _scope(view: CrlView, certificate: x509.Certificate) -> tuple[frozenset[x509.ReasonFlags], str | None]:
    """The reasons for which ``view`` covers ``certificate`` (RFC 5280 6.3.3 (b), (d)), or why it covers none."""
    point = view.distribution_point
    crl_issuer = view.issuer_name
    facts = _facts(certificate)
    if point is not None:
        if point.only_contains_attribute_certs:
            return frozenset(), "it covers only attribute certificates"
        if point.only_contains_user_certs and facts.ca:
            return frozenset(), "it covers only end-entity certificates"
        if point.only_contains_ca_certs and not facts.ca:
            return frozenset(), "it covers only CA certificates"
    idp_names = (
        _point_names(point.full_name, point.relative_name, crl_issuer) if point is not None else []
    )
    idp_reasons = (
        frozenset(point.only_some_reasons) if point is not None and point.only_some_reasons is not None
        else ALL_REASONS
    )
    covered: set[x509.ReasonFlags] = set()
    why = "none of the certificate's distribution points leads to it"
    for dp in facts.points:
        # (b)(1): who issues this distribution point's CRL
        if dp.crl_issuer is not None:
            issuers = [name for name in dp.crl_issuer if isinstance(name, x509.DirectoryName)]
            if not any(names_match(name.value, crl_issuer) for name in issuers):
                continue
            if not view.indirect:
                why = "the certificate names it as its CRL issuer, but it is not marked indirectCRL"
                continue
        elif view.issuer != facts.issuer:
            if view.indirect:
                why = "it is an indirect CRL, and the certificate does not name its issuer as a cRLIssuer"
            continue
        # (b)(2)(i): the distribution point names
        if idp_names:
            dp_names = _point_names(dp.full_name, dp.relative_name, facts.issuer_name)
            if not dp_names and dp.crl_issuer is not None:
                dp_names = list(dp.crl_issuer)
            if not any(_general_names_match(a, b) for a in idp_names for b in dp_names):
                why = "its distribution point is not one of the certificate's"
                continue
        dp_reasons = frozenset(dp.reasons) if dp.reasons is not None else ALL_REASONS
        covered |= idp_reasons & dp_reasons
    if not covered:
        return frozenset(), why
    return frozenset(covered), None


class PathValidator:
    """Paths from a target to one of ``anchors`` through ``intermediates``, and revocation from ``crls``.

    ``anchors`` are trusted by their presence (a path must end at one of these exact certificates); the
    intermediates are candidates only. Extra, per-call candidates (a signature's KeyInfo) are passed to
    :meth:`build`.
    """

    def __init__(
        self,
        anchors: Iterable[x509.Certificate],
        intermediates: Iterable[x509.Certificate] = (),
        crls: Iterable[x509.CertificateRevocationList] = (),
        *,
        max_depth: int = DEFAULT_MAX_DEPTH,
    ) -> None:
        self.anchors = tuple(dict.fromkeys(anchors))
        self._anchor_set = frozenset(self.anchors)
        self.intermediates = tuple(c for c in dict.fromkeys(intermediates) if c not in self._anchor_set)
        self.max_depth = max_depth
        self._anchors_by_name = _by_subject(self.anchors)
        distinct = {crl.fingerprint(hashes.SHA256()): crl for crl in crls}  # CRLs are not hashable
        self._views = tuple(CrlView(crl) for crl in distinct.values())
        self._crls_by_issuer: dict[NameKey, list[CrlView]] = {}
        for view in self._views:
            self._crls_by_issuer.setdefault(view.issuer, []).append(view)
        for views in self._crls_by_issuer.values():
            views.sort(key=lambda v: (v.this_update, v.number), reverse=True)
        self._signatures: dict[tuple[x509.Certificate, x509.Certificate], bool] = {}
        self._crl_signatures: dict[tuple[int, x509.Certificate], bool] = {}

    # --- path building ---------------------------------------------------------------------------------

    def _signed(self, child: x509.Certificate, parent: x509.Certificate) -> bool:
        key = (child, parent)
        found = self._signatures.get(key)
        if found is None:
            found = certificate_signed_by(child, parent)
            if len(self._signatures) >= _MEMO_LIMIT:
                self._signatures.clear()
            self._signatures[key] = found
        return found

    def build(
        self,
        target: x509.Certificate,
        candidates: Sequence[x509.Certificate] = (),
        *,
        moment: datetime | None,
        anchors: Sequence[x509.Certificate] | None = None,
    ) -> tuple[x509.Certificate, ...] | None:
        """A valid path from ``target`` to an anchor (``anchors``, when given, narrows them), target first;
        at ``moment``, or ignoring validity periods when it is None. None when there is no such path."""
        allowed = self._anchor_set if anchors is None else frozenset(anchors) & self._anchor_set
        pool = _by_subject(
            c for c in dict.fromkeys((*candidates, *self.intermediates)) if c not in self._anchor_set and c != target
        )
        budget = [_SIGNATURE_BUDGET]

        def signed(child: x509.Certificate, parent: x509.Certificate) -> bool:
            if budget[0] <= 0:
                return False
            budget[0] -= 1
            return self._signed(child, parent)

        def extend(path: list[x509.Certificate]) -> tuple[x509.Certificate, ...] | None:
            current = path[-1]
            issuer = _facts(current).issuer
            for anchor in self._anchors_by_name.get(issuer, ()):
                if anchor in allowed and anchor not in path and signed(current, anchor):
                    full = (*path, anchor)
                    if validate_path(full, moment) is None:
                        return full
            if len(path) - 1 >= self.max_depth:
                return None
            for parent in pool.get(issuer, ()):
                if parent in path or _same_key_and_name(parent, path):
                    continue
                if moment is not None and not _valid_at(parent, moment):
                    continue
                if _certificate_problem(parent, as_ca=True) is not None or not signed(current, parent):
                    continue
                found = extend([*path, parent])
                if found is not None:
                    return found
            return None

        if moment is not None and not _valid_at(target, moment):
            return None
        return extend([target])

    # --- revocation -----------------------------------------------------------------------------------

    def _crl_signed(self, view: CrlView, signer: x509.Certificate) -> bool:
        key = (id(view), signer)
        found = self._crl_signatures.get(key)
        if found is None:
            found = crl_signed_by_key(view.crl, signer)
            if len(self._crl_signatures) >= _MEMO_LIMIT:
                self._crl_signatures.clear()
            self._crl_signatures[key] = found
        return found

    def _authentic(
        self,
        view: CrlView,
        issuer: x509.Certificate,
        anchor: x509.Certificate,
        candidates: Sequence[x509.Certificate],
        moment: datetime,
        retroactive: bool,
        depth: int,
        excluded: frozenset[x509.Certificate],
    ) -> str | None:
        """None when ``view`` is signed by ``issuer`` (cRLSign) or by a CRL-signing certificate validated to
        ``anchor`` and not revoked (RFC 5280 6.3.3 (f)); otherwise why it is not."""
        if view.issuer == _facts(issuer).subject and issuer not in excluded and self._crl_signed(view, issuer):
            return None if may_sign_crls(issuer) else f"its signer {_cn(issuer)} lacks keyUsage cRLSign"
        if depth >= 2:
            return "its signer's own revocation status is too far removed to be checked"
        pool = (*candidates, *self.intermediates, *self.anchors)
        for signer in dict.fromkeys(pool):
            if signer in excluded or _facts(signer).subject != view.issuer or signer == issuer:
                continue
            if not may_sign_crls(signer) or not self._crl_signed(view, signer):
                continue
            if signer in self._anchor_set:
                if signer == anchor:
                    return None
                continue
            path = self.build(signer, candidates, moment=moment, anchors=(anchor,))
            if path is None:
                continue
            for position in range(len(path) - 1):
                status = self._status(
                    path, position, candidates, moment, retroactive, depth + 1, excluded | {signer}
                )
                if status.status is not RevocationStatus.GOOD:
                    break
            else:
                return None
        return "it is signed neither by the certificate's issuer nor by a valid CRL signer under the same anchor"

    def revocation(
        self,
        path: Sequence[x509.Certificate],
        position: int,
        candidates: Sequence[x509.Certificate] = (),
        *,
        moment: datetime,
        retroactive: bool = False,
    ) -> RevocationResult:
        """The revocation status of ``path[position]`` (its issuer is ``path[position + 1]``, the anchor
        ``path[-1]``) at ``moment`` from the CRLs held (see the module docstring)."""
        return self._status(tuple(path), position, candidates, moment, retroactive, 0, frozenset())

    def _candidate_crls(self, certificate: x509.Certificate) -> list[CrlView]:
        facts = _facts(certificate)
        views = list(self._crls_by_issuer.get(facts.issuer, ()))
        for dp in facts.points:
            for name in dp.crl_issuer or ():
                if isinstance(name, x509.DirectoryName):
                    for view in self._crls_by_issuer.get(name_key(name.value), ()):
                        if view not in views:
                            views.append(view)
        views.sort(key=lambda v: (v.this_update, v.number), reverse=True)
        return views

    def _status(
        self,
        path: tuple[x509.Certificate, ...],
        position: int,
        candidates: Sequence[x509.Certificate],
        moment: datetime,
        retroactive: bool,
        depth: int,
        excluded: frozenset[x509.Certificate],
    ) -> RevocationResult:
        certificate, issuer, anchor = path[position], path[position + 1], path[-1]
        facts = _facts(certificate)
        notes: list[str] = []
        covered: set[x509.ReasonFlags] = set()
        newest_cover: x509.CertificateRevocationList | None = None
        later: CrlEntry | None = None
        hold_settled = False
        for view in self._candidate_crls(certificate):
            if view.problem is not None:
                notes.append(f"{view.label} is not used: {view.problem}")
                continue
            reasons, out_of_scope = _scope(view, certificate)
            if out_of_scope is not None:
                notes.append(f"{view.label} does not cover it: {out_of_scope}")
                continue
            problem = self._authentic(view, issuer, anchor, candidates, moment, retroactive, depth, excluded)
            if problem is not None:
                notes.append(f"{view.label} is not used: {problem}")
                continue
            assert view.next_update is not None  # a CRL without one has a problem
            stale = view.next_update < moment
            issued_later = view.this_update > moment
            entry = view.entry(facts.issuer, certificate.serial_number)
            if entry is not None and entry.reason is not x509.ReasonFlags.remove_from_crl:
                hold = entry.reason is x509.ReasonFlags.certificate_hold
                if hold and (stale or hold_settled):
                    pass  # a hold may have been released since; a newer CRL or none decides
                elif entry.revoked_at <= moment or entry.reason in TAINTING_REASONS:
                    return RevocationResult(RevocationStatus.REVOKED, crl=view.crl, entry=entry)
                elif later is None:
                    later = entry
            if x509.ReasonFlags.certificate_hold in reasons and not stale and not issued_later:
                hold_settled = True  # the newest CRL issued by the moment says whether a hold was in force
            usable_for_good = not stale and (
                not issued_later or (retroactive and view.this_update <= certificate.not_valid_after_utc)
            )
            if usable_for_good:
                covered |= reasons
                newest_cover = newest_cover or view.crl
            elif stale:
                notes.append(f"{view.label} had its next update due {_iso(view.next_update)}")
            elif retroactive:
                notes.append(
                    f"{view.label} was issued after the moment and after the certificate expired, when its entry may "
                    "have been dropped"
                )
            else:
                notes.append(f"{view.label} was issued after the moment")
        if covered >= ALL_REASONS:
            return RevocationResult(RevocationStatus.GOOD, crl=newest_cover, later=later)
        if covered:
            missing = ", ".join(sorted(reason.value for reason in ALL_REASONS - covered))
            notes.append(f"the CRLs valid at the moment cover only some reasons (not {missing})")
        if not notes:
            notes.append(f"there is no CRL from {_cn_name(facts.issuer_name)}")
        return RevocationResult(RevocationStatus.UNKNOWN, later=later, notes=tuple(notes))


def _by_subject(certificates: Iterable[x509.Certificate]) -> dict[NameKey, list[x509.Certificate]]:
    found: dict[NameKey, list[x509.Certificate]] = {}
    for certificate in certificates:
        found.setdefault(_facts(certificate).subject, []).append(certificate)
    return found


def _same_key_and_name(candidate: x509.Certificate, path: Sequence[x509.Certificate]) -> bool:
    """RFC 4158 loop detection: a (subject, public key) pair appears in a path once."""
    try:
        key = candidate.public_key()
    except (UnsupportedAlgorithm, ValueError):
        return True
    subject = _facts(candidate).subject
    for certificate in path:
        try:
            if _facts(certificate).subject == subject and certificate.public_key() == key:
                return True
        except (UnsupportedAlgorithm, ValueError):
            continue
    return False


def _cn_name(name: x509.Name) -> str:
    values = name.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(values[0].value) if values else name.rfc4514_string()


def _cn(certificate: x509.Certificate) -> str:
    return _cn_name(certificate.subject)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


__all__ = [
    "ALL_REASONS",
    "DEFAULT_MAX_DEPTH",
    "TAINTING_REASONS",
    "CrlEntry",
    "CrlView",
    "PathValidator",
    "RevocationResult",
    "RevocationStatus",
    "certificate_signed_by",
    "crl_signed_by_key",
    "is_ca",
    "key_permitted",
    "may_sign_crls",
    "name_key",
    "names_match",
    "prepare",
    "self_issued",
    "validate_path",
]
