"""Certification path validation and CRL processing: pyhanko-certvalidator, with the glue that is ours.

The RFC 5280 work is done by pyhanko-certvalidator (the maintained fork of certvalidator that pyHanko uses,
tested against NIST PKITS): path building, the 6.1 path validation algorithm (names matched per 7.1 with
RFC 4518 preparation, self-issued certificates not counted in pathLenConstraint, name constraints, policy
processing, unrecognised critical extensions refused) and the 6.3 CRL processing (IssuingDistributionPoint
scope, reason partitions, indirect CRLs with CertificateIssuer entries, separate CRL-signing keys whose own
path and revocation status are validated, delta CRLs alongside their complete CRL). Why not cryptography's
X.509 verifier: it implements the Web PKI profile (CA/Browser Forum), which refuses chains that RFC 5280
accepts and national PKIs use, and it has no CRL processing at all. SECURITY.md lists what is claimed.

What this module adds (ours, small):

* **Trust input**: only the anchors, intermediates and CRLs given (from signed trust lists), never a system
  store, never fetching; the moment is explicit. Each anchor's own validity and pathLenConstraint apply.
* **The algorithm profile** (:func:`key_permitted`, :class:`_Profile`): SHA-256/384/512 with RSA >= 2048
  (PKCS#1 v1.5 or PSS) or ECDSA P-256/384/521, for certificate *and* CRL signatures (the library applies
  its algorithm policy to certificates only), and for the target's own key.
* **Profile restrictions** beyond RFC 5280: every CA of a path, the anchor included, has basicConstraints
  cA and keyUsage keyCertSign (RFC 5280 accepts a CA without keyUsage).
* **CRLs that must not be used at all** (RFC 5280 5.2, 5.3): one without nextUpdate, with thisUpdate after
  nextUpdate, or with a critical entry extension that is not processed in *any* entry (the library checks
  only the matching entry), is set aside before the library sees it.
* **Time rules** (:meth:`PathValidator.revocation`): good standing needs a CRL valid at the moment, or,
  under ``retroactive`` (pyHanko's ``retroactive_revinfo``), one issued after the moment but while the
  certificate was still valid (entries may be dropped after expiry, RFC 5280 3.3). A CRL past its
  nextUpdate, or issued after the moment, can still prove a revocation: it is given to the library at an
  instant when it was current. A revocation dated after the moment is reported as ``later`` (a warning),
  except for keyCompromise and cACompromise, which taint earlier use too; a certificateHold on a CRL past
  its nextUpdate may have been released and proves nothing.
* **Bounds**: at most ``max_depth`` intermediates, at most :data:`_ISSUER_BUDGET` issuer candidates and
  :data:`_PATH_BUDGET` candidate paths per search (a flood of same-named KeyInfo certificates stays cheap).
* **Results, not exceptions**: :class:`RevocationResult` (GOOD / REVOKED / UNKNOWN with notes), paths as
  tuples of ``cryptography`` certificates; nothing of the library leaves this module.

The library's entry points are coroutines. With fetching off, they never wait on anything, so :func:`_run`
drives each to completion in the calling thread without an event loop (``asyncio.run`` would refuse to run
inside a running loop, as in the services' request handlers). Per-call state (the library's
``ValidationContext``) is created per call; what is shared (parsed certificates and CRLs, the signature memo)
is immutable or a lock-free memo: a validator may be shared by concurrent evaluations.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Coroutine, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any, TypeVar

from asn1crypto import algos as asn1_algos
from asn1crypto import crl as asn1_crl
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import CRLEntryExtensionOID, ExtensionOID, ObjectIdentifier
from pyhanko_certvalidator.authority import CertTrustAnchor, TrustAnchor, TrustQualifiers
from pyhanko_certvalidator.context import ValidationContext
from pyhanko_certvalidator.errors import (
    CRLNoMatchesError,
    CRLValidationError,
    CRLValidationIndeterminateError,
    PathBuildingError,
    RevokedError,
    ValidationError,
)
from pyhanko_certvalidator.ltv.poe import POEManager
from pyhanko_certvalidator.path import ValidationPath
from pyhanko_certvalidator.policy_decl import (
    NO_REVOCATION,
    AlgorithmUsageConstraint,
    AlgorithmUsagePolicy,
    CertRevTrustPolicy,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)
from pyhanko_certvalidator.registry import CertificateRegistry, TrustManager
from pyhanko_certvalidator.revinfo.archival import CRLContainer
from pyhanko_certvalidator.revinfo.manager import RevinfoManager
from pyhanko_certvalidator.revinfo.validate_crl import verify_crl
from pyhanko_certvalidator.sig_validate import (
    DEFAULT_VALIDATION_CONTEXT,
    DefaultSignatureValidator,
    SignatureValidationContext,
)
from pyhanko_certvalidator.validate import async_validate_path

#: The most intermediates between a target and its anchor.
DEFAULT_MAX_DEPTH = 6
#: The most issuer candidates one path search may consider, and the most complete paths it may validate.
_ISSUER_BUDGET = 256
_PATH_BUDGET = 32
_MEMO_LIMIT = 8192
#: A CRL given at an instant when it was current, to prove a revocation: just after its thisUpdate.
_JUST_AFTER = timedelta(microseconds=1)

_HASHES = frozenset({"sha256", "sha384", "sha512"})
_MECHANISMS = frozenset({"rsassa_pkcs1v15", "rsassa_pss", "ecdsa"})
_CURVES = frozenset({"secp256r1", "secp384r1", "secp521r1"})
_CRYPTOGRAPHY_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)
_MIN_RSA_BITS = 2048

#: CRL entry extensions the library processes; a CRL with any other critical one is not used at all.
_PROCESSED_ENTRY_EXTENSIONS = frozenset(
    {
        CRLEntryExtensionOID.CRL_REASON,
        CRLEntryExtensionOID.INVALIDITY_DATE,
        CRLEntryExtensionOID.CERTIFICATE_ISSUER,
        ObjectIdentifier("2.5.29.23"),  # holdInstructionCode
    }
)
_PROCESSED_CRL_EXTENSIONS = frozenset(
    {
        ExtensionOID.CRL_NUMBER,
        ExtensionOID.DELTA_CRL_INDICATOR,
        ExtensionOID.ISSUING_DISTRIBUTION_POINT,
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        ExtensionOID.ISSUER_ALTERNATIVE_NAME,
        ExtensionOID.FRESHEST_CRL,
        ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
    }
)
#: Reasons that taint signatures made before the revocation date too.
TAINTING_REASONS = frozenset({x509.ReasonFlags.key_compromise, x509.ReasonFlags.ca_compromise})

#: Revocation is decided from CRLs only (no OCSP is held), for every certificate below the anchor.
_CRL_REQUIRED = RevocationCheckingPolicy(RevocationCheckingRule.CRL_REQUIRED, RevocationCheckingRule.CRL_REQUIRED)
_NO_TIME_TOLERANCE = timedelta(0)


# --- names (RFC 5280 7.1, RFC 4518: asn1crypto's comparison) ---------------------------------------------


def prepare(value: str) -> str:
    """RFC 4518 string preparation for caseIgnoreMatch as asn1crypto does it (mapping, case folding, NFKC,
    prohibited characters), with insignificant spaces collapsed to single ones."""
    attribute = asn1_x509.NameTypeAndValue(
        {"type": "common_name", "value": asn1_x509.DirectoryString(name="utf8_string", value=value)}
    )
    return " ".join(str(attribute.prepped_value).split())


@lru_cache(maxsize=4096)
def _name_key(name: x509.Name) -> str:
    """``name`` in asn1crypto's comparable form (RFC 4518 prepared). The string is cached, not the parsed name:
    asn1crypto parses on first access and is not thread-safe, so a shared parsed object must not be read first by
    two threads."""
    return str(asn1_x509.Name.load(name.public_bytes()).hashable)


def names_match(first: x509.Name, second: x509.Name) -> bool:
    """RFC 5280 7.1 name matching (asn1crypto's: RFC 4518 preparation of each value, whatever its string
    type; attributes within an RDN in any order)."""
    return _name_key(first) == _name_key(second)


def self_issued(certificate: x509.Certificate) -> bool:
    """Issuer and subject match (RFC 5280 6.1: a self-issued certificate, e.g. a CA's key rollover)."""
    return bool(_asn1(certificate).self_issued)


# --- the algorithm profile --------------------------------------------------------------------------------


def key_permitted(key: object) -> bool:
    """RSA of at least 2048 bits, or ECDSA on P-256, P-384 or P-521 (the algorithms the profile allows)."""
    if isinstance(key, rsa.RSAPublicKey):
        return key.key_size >= _MIN_RSA_BITS
    if isinstance(key, ec.EllipticCurvePublicKey):
        return isinstance(key.curve, _CRYPTOGRAPHY_CURVES)
    return False


def _key_problem(key: asn1_keys.PublicKeyInfo) -> str | None:
    try:
        algorithm = key.algorithm
        if algorithm in ("rsa", "rsassa_pss"):
            size = key.bit_size
            return None if size >= _MIN_RSA_BITS else f"an RSA key of {size} bits (the profile needs 2048)"
        if algorithm == "ec":
            kind, curve = key.curve
            return None if kind == "named" and curve in _CURVES else f"an EC key on {curve}"
    except ValueError:
        return "a key that cannot be read"
    return f"a {algorithm} key"


def _mechanism_problem(algorithm: asn1_algos.SignedDigestAlgorithm, key: asn1_keys.PublicKeyInfo | None) -> str | None:
    try:
        mechanism, digest = algorithm.signature_algo, algorithm.hash_algo
    except ValueError:
        return f"the signature mechanism {algorithm['algorithm'].native} is outside the profile"
    if mechanism not in _MECHANISMS or digest not in _HASHES:
        return f"{mechanism} with {digest} is outside the profile (SHA-256/384/512 with RSA or ECDSA)"
    return _key_problem(key) if key is not None else None


class _Profile(AlgorithmUsagePolicy):
    """The project's algorithm profile as the library's algorithm usage policy (an allow list)."""

    def digest_algorithm_allowed(
        self, algo: asn1_algos.DigestAlgorithm, moment: datetime | None
    ) -> AlgorithmUsageConstraint:
        return AlgorithmUsageConstraint(algo["algorithm"].native in _HASHES)

    def signature_algorithm_allowed(
        self,
        algo: asn1_algos.SignedDigestAlgorithm,
        moment: datetime | None,
        public_key: asn1_keys.PublicKeyInfo | None,
    ) -> AlgorithmUsageConstraint:
        problem = _mechanism_problem(algo, public_key)
        return AlgorithmUsageConstraint(problem is None, failure_reason=problem)


_PROFILE = _Profile()


class _ProfileSignatures(DefaultSignatureValidator):
    """The library's signature check (cryptography underneath) under the profile, for certificates and CRLs
    alike, remembered per (data, signature, key). A lock-free memo of a pure function."""

    def __init__(self) -> None:
        self._memo: dict[tuple[bytes, bytes, bytes, bytes], bool] = {}

    def validate_signature(
        self,
        signature: bytes,
        signed_data: bytes,
        public_key_info: asn1_keys.PublicKeyInfo,
        signature_algorithm: asn1_algos.SignedDigestAlgorithm,
        context: SignatureValidationContext = DEFAULT_VALIDATION_CONTEXT,
    ) -> None:
        key = (
            hashlib.sha256(signed_data).digest(),
            signature,
            public_key_info.dump(),
            signature_algorithm.dump(),
        )
        valid = self._memo.get(key)
        if valid is None:
            valid = _mechanism_problem(signature_algorithm, public_key_info) is None
            if valid:
                try:
                    super().validate_signature(signature, signed_data, public_key_info, signature_algorithm, context)
                except (InvalidSignature, ValueError, TypeError, AssertionError):
                    valid = False
            if len(self._memo) >= _MEMO_LIMIT:
                self._memo.clear()
            self._memo[key] = valid
        if not valid:
            raise InvalidSignature("the signature does not verify under the algorithm profile")


_SIGNATURES = _ProfileSignatures()


def certificate_signed_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    """``issuer``'s public key verifies ``certificate``'s signature under the algorithm profile (names are
    not compared here)."""
    parsed = _asn1(certificate)
    try:
        _SIGNATURES.validate_signature(
            parsed["signature_value"].native,
            parsed["tbs_certificate"].dump(),
            _asn1(issuer).public_key,
            parsed["signature_algorithm"],
        )
    except InvalidSignature:
        return False
    return True


# --- certificates and CRLs, parsed once --------------------------------------------------------------------


#: What asn1crypto raises for DER that cryptography loaded but that it cannot read (cryptography parses fields
#: lazily and lets an unknown signature algorithm through; asn1crypto, which path validation reads, refuses it:
#: "Signature algorithm not known for 1.2.840.10232.4.3.2", a one-digit change to ecdsa-with-SHA256 found by fuzzing);
#: and what cryptography raises for fields it parses lazily (a duplicate extension, a general name type it does not
#: support, a damaged name: TypeError, found by fuzzing).
_ASN1_ERRORS = (
    ValueError, TypeError, KeyError, IndexError, OverflowError, UnsupportedAlgorithm, x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
)


@lru_cache(maxsize=4096)
def unreadable(certificate: x509.Certificate) -> str | None:
    """Why ``certificate`` cannot be read in full (None when it can): every field cryptography parses lazily, the
    fields path validation reads with asn1crypto, and the names its CRLs may be issued under, prepared for
    comparison. A damaged certificate whose key, and so an XML signature, is intact is refused this way, not met
    later as an exception in trust evaluation. Decided once per certificate (they are immutable): path building
    asks again for every candidate at every evaluation."""
    try:
        _ = (certificate.subject.rfc4514_string(), certificate.issuer.rfc4514_string(), certificate.serial_number,
             certificate.not_valid_before_utc, certificate.not_valid_after_utc, certificate.signature_algorithm_oid)
        for extension in certificate.extensions:
            _ = extension.value
        _asn1(certificate)
        _crl_issuer_names(certificate)
    except _ASN1_ERRORS as exc:
        return str(exc) or type(exc).__name__
    return None


def unreadable_crl(crl: x509.CertificateRevocationList) -> str | None:
    """Why path validation cannot read ``crl`` (None when it can): e.g. an issuer name asn1crypto's RFC 4518
    preparation refuses ("X.509 Name objects may not contain unassigned code points"), which cryptography loads."""
    try:
        _Crl(crl)
    except _ASN1_ERRORS as exc:
        return str(exc) or type(exc).__name__
    return None


def _readable_crls(crls: Iterable[x509.CertificateRevocationList]) -> Iterator[_Crl]:
    for crl in crls:
        try:
            yield _Crl(crl)
        except _ASN1_ERRORS:  # never used, as a certificate it cannot read is never in a path
            continue


@lru_cache(maxsize=4096)
def _asn1(certificate: x509.Certificate) -> asn1_x509.Certificate:
    """The asn1crypto form of ``certificate``, with the fields the library reads parsed up front (so a
    shared object is not first parsed by two threads at once)."""
    parsed = asn1_x509.Certificate.load(certificate.public_bytes(Encoding.DER))
    _ = (parsed.subject.hashable, parsed.issuer.hashable, parsed.sha256, parsed.issuer_serial)
    _ = (parsed.key_identifier, parsed.authority_key_identifier, parsed.public_key.dump(), parsed.self_issued)
    # the validity and every extension too: asn1crypto parses them lazily on first access, and two threads that
    # validate paths through one shared certificate must not both parse it (KeyError in Validity, seen under load)
    _ = (parsed["tbs_certificate"].native, parsed.critical_extensions, parsed.signature_algo,
         parsed["signature_algorithm"].hash_algo)
    return parsed


def _valid_at(certificate: x509.Certificate, moment: datetime) -> bool:
    return certificate.not_valid_before_utc <= moment <= certificate.not_valid_after_utc


def _extension(certificate: x509.Certificate, kind: type[x509.ExtensionType]) -> Any:
    try:
        return certificate.extensions.get_extension_for_class(kind).value
    except (x509.ExtensionNotFound, ValueError):
        return None


def _ca_problem(certificate: x509.Certificate) -> str | None:
    """The profile's demands on a CA certificate beyond RFC 5280 (which the library checks)."""
    constraints = _extension(certificate, x509.BasicConstraints)
    if not (isinstance(constraints, x509.BasicConstraints) and constraints.ca):
        return "basicConstraints does not assert cA"
    usage = _extension(certificate, x509.KeyUsage)
    if not (isinstance(usage, x509.KeyUsage) and usage.key_cert_sign):
        return "keyUsage lacks keyCertSign"
    return None


def _profile_problem(chain: Sequence[x509.Certificate]) -> str | None:
    """Why ``chain`` (target first, anchor last) is outside the profile, or None."""
    if _key_problem(_asn1(chain[0]).public_key) is not None:
        return "the target's key is outside the profile"
    for certificate in chain[1:]:
        problem = _ca_problem(certificate)
        if problem is not None:
            return problem
    return None


@dataclass(frozen=True, slots=True)
class CrlEntry:
    """One revocation as a CRL states it."""

    serial_number: int
    revoked_at: datetime
    reason: x509.ReasonFlags | None


def _crl_number(crl: x509.CertificateRevocationList) -> int:
    try:
        return int(crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number)
    except (x509.ExtensionNotFound, ValueError):
        return 0


class _Crl:
    """A CRL held: the library's container, its times, and why it must not be used at all (or None)."""

    __slots__ = ("crl", "container", "issuer", "number", "this_update", "next_update", "problem", "label")

    def __init__(self, crl: x509.CertificateRevocationList) -> None:
        """Raises one of ``_ASN1_ERRORS`` for a CRL path validation cannot read (see :func:`unreadable_crl`)."""
        self.crl = crl
        parsed = asn1_crl.CertificateList.load(crl.public_bytes(Encoding.DER))
        _ = (parsed.issuer.hashable, parsed.issuing_distribution_point_value, parsed.delta_crl_indicator_value)
        _ = (parsed.critical_extensions, parsed.authority_key_identifier, parsed.freshest_crl_value)
        self.container = CRLContainer(parsed)
        self.issuer = parsed.issuer.hashable
        self.number = _crl_number(crl)
        self.this_update = crl.last_update_utc
        self.next_update = crl.next_update_utc
        self.problem = self._problem()
        self.label = f"CRL number {self.number} of {_cn(crl.issuer)} (thisUpdate {_iso(self.this_update)})"

    def _problem(self) -> str | None:
        if self.next_update is None:
            return "it has no nextUpdate"
        if self.this_update > self.next_update:
            return "its thisUpdate is after its nextUpdate"
        try:
            for extension in self.crl.extensions:
                if extension.critical and extension.oid not in _PROCESSED_CRL_EXTENSIONS:
                    return f"it carries the critical extension {extension.oid.dotted_string}, which is not processed"
            for revoked in self.crl:
                for extension in revoked.extensions:
                    if extension.critical and extension.oid not in _PROCESSED_ENTRY_EXTENSIONS:
                        return (
                            f"an entry carries the critical extension {extension.oid.dotted_string}, which is not "
                            "processed"
                        )
        except ValueError as exc:
            return f"it cannot be parsed ({exc})"
        return None

    def current_at(self, moment: datetime) -> bool:
        return self.next_update is not None and self.this_update <= moment <= self.next_update

    def scope_notes(self, certificate: x509.Certificate) -> list[str]:
        """What the CRL's IssuingDistributionPoint says that keeps it from covering ``certificate`` fully
        (descriptive: the library decides)."""
        point = _crl_extension(self.crl, x509.IssuingDistributionPoint)
        if not isinstance(point, x509.IssuingDistributionPoint):
            return []
        notes = []
        constraints = _extension(certificate, x509.BasicConstraints)
        ca = isinstance(constraints, x509.BasicConstraints) and constraints.ca
        if point.only_contains_attribute_certs:
            notes.append("it covers only attribute certificates")
        if point.only_contains_user_certs and ca:
            notes.append("it covers only end-entity certificates")
        if point.only_contains_ca_certs and not ca:
            notes.append("it covers only CA certificates")
        if point.only_some_reasons is not None:
            reasons = ", ".join(sorted(reason.value for reason in point.only_some_reasons))
            notes.append(f"it covers only some reasons ({reasons})")
        return notes

    def entry(self, certificate: x509.Certificate) -> x509.RevokedCertificate | None:
        return self.crl.get_revoked_certificate_by_serial_number(certificate.serial_number)


def _crl_extension(crl: x509.CertificateRevocationList, kind: type[x509.ExtensionType]) -> Any:
    try:
        return crl.extensions.get_extension_for_class(kind).value
    except (x509.ExtensionNotFound, ValueError):
        return None


class RevocationStatus(StrEnum):
    """What the CRLs held say about one certificate at the moment."""

    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class RevocationResult:
    """``entry`` is the revocation (REVOKED) and ``crl`` the CRL held that lists it, when one can be named.
    ``later`` is a revocation dated after the moment for a reason that does not taint earlier use (GOOD
    then still holds, as a warning). ``notes`` say, for UNKNOWN, why the CRLs held did not decide."""

    status: RevocationStatus
    crl: x509.CertificateRevocationList | None = None
    entry: CrlEntry | None = None
    later: CrlEntry | None = None
    notes: tuple[str, ...] = ()


# --- running the library ----------------------------------------------------------------------------------

_T = TypeVar("_T")


def _run(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Drive one of the library's coroutines to completion in this thread. With fetching off (always, here)
    it never waits on anything, so the first step completes it; a coroutine that suspends is a programming
    fault (something started I/O) and is closed."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("pyhanko-certvalidator waited on I/O, which this module never allows")


class _Registry(CertificateRegistry):
    """The library's certificate registry, per search, with the issuer candidates it offers bounded (the
    library's path builder has no bound of its own)."""

    def __init__(self) -> None:
        super().__init__(cert_fetcher=None)
        self.budget = _ISSUER_BUDGET

    def find_potential_issuers(
        self, cert: asn1_x509.Certificate, trust_manager: TrustManager
    ) -> Iterator[TrustAnchor | asn1_x509.Certificate]:
        for issuer in super().find_potential_issuers(cert, trust_manager):
            if self.budget <= 0:
                return
            self.budget -= 1
            yield issuer


def _qualifiers(anchor: x509.Certificate) -> TrustQualifiers:
    """The anchor's own validity and pathLenConstraint apply (nothing else of it: its name constraints and
    policies are not imposed on the paths below it)."""
    length = _asn1(anchor).max_path_length
    return TrustQualifiers(
        max_path_length=length,
        max_aa_path_length=length,  # the library takes None here for "none" when max_path_length is set
        valid_from=anchor.not_valid_before_utc,
        valid_until=anchor.not_valid_after_utc,
    )


#: how many revocation decisions a validator remembers (per path and interval of time) before it starts again
_DECIDED_LIMIT = 4096


def _position(instants: Sequence[datetime], moment: datetime) -> tuple[int, int]:
    """Where ``moment`` falls among sorted ``instants``: equal positions mean every comparison agrees."""
    return bisect.bisect_left(instants, moment), bisect.bisect_right(instants, moment)


class PathValidator:
    """Paths from a target to one of ``anchors`` through ``intermediates``, and revocation from ``crls``.

    ``anchors`` are trusted by their presence (a path must end at one of these exact certificates); the
    intermediates are candidates only. Extra, per-call candidates (a signature's KeyInfo) are passed to
    :meth:`build` and :meth:`revocation`.
    """

    def __init__(
        self,
        anchors: Iterable[x509.Certificate],
        intermediates: Iterable[x509.Certificate] = (),
        crls: Iterable[x509.CertificateRevocationList] = (),
        *,
        max_depth: int = DEFAULT_MAX_DEPTH,
    ) -> None:
        # a certificate path validation cannot read is never part of a path (it could not be checked)
        self.anchors = tuple(c for c in dict.fromkeys(anchors) if unreadable(c) is None)
        self._anchor_set = frozenset(self.anchors)
        self.intermediates = tuple(
            c for c in dict.fromkeys(intermediates) if c not in self._anchor_set and unreadable(c) is None
        )
        self.max_depth = max_depth
        self._trust_anchors: dict[x509.Certificate, CertTrustAnchor] = {
            anchor: CertTrustAnchor(_asn1(anchor), quals=_qualifiers(anchor))
            for anchor in self.anchors
            if _ca_problem(anchor) is None and _key_problem(_asn1(anchor).public_key) is None
        }
        distinct = {crl.fingerprint(hashes.SHA256()): crl for crl in crls}  # CRLs are not hashable
        self._crls = tuple(_readable_crls(distinct.values()))
        self._usable_crls = tuple(view for view in self._crls if view.problem is None)
        # Every instant a revocation decision compares the moment with, apart from the certificates in play: the
        # CRLs' thisUpdate and nextUpdate and every revocation date they list. Between two consecutive instants
        # (and at each one) the decision is the same, so it is remembered per interval (:meth:`revocations`).
        instants: set[datetime] = set()
        for view in self._crls:
            instants.add(view.this_update)
            if view.next_update is not None:
                instants.add(view.next_update)
            try:
                instants.update(revoked.revocation_date_utc for revoked in view.crl)
            except ValueError:  # a CRL that cannot be parsed is never used (its problem says so)
                pass
        self._instants = tuple(sorted(instants))
        self._decided: dict[tuple[object, ...], tuple[RevocationResult, ...]] = {}

    # --- the library's per-call context ---------------------------------------------------------------

    def _context(
        self,
        moment: datetime,
        anchors: Iterable[x509.Certificate],
        pool: Iterable[x509.Certificate],
        *,
        crls: Sequence[_Crl] | None = None,
        retroactive: bool = False,
    ) -> ValidationContext:
        registry = _Registry()
        for certificate in pool:
            registry.register(_asn1(certificate))
        roots = [self._trust_anchors[anchor] for anchor in anchors if anchor in self._trust_anchors]
        if crls is None:
            policy = CertRevTrustPolicy(NO_REVOCATION)
            revinfo = RevinfoManager(registry, POEManager(), crls=(), ocsps=())
        else:
            policy = CertRevTrustPolicy(_CRL_REQUIRED, retroactive_revinfo=retroactive)
            revinfo = RevinfoManager(registry, POEManager(), crls=[view.container for view in crls], ocsps=())
        return ValidationContext(
            trust_roots=roots,
            moment=moment,
            revinfo_policy=policy,
            revinfo_manager=revinfo,
            certificate_registry=registry,
            time_tolerance=_NO_TIME_TOLERANCE,
            algorithm_usage_policy=_PROFILE,
            signature_validator=_SIGNATURES,
        )

    def _pool(self, target: x509.Certificate, candidates: Iterable[x509.Certificate]) -> tuple[x509.Certificate, ...]:
        return tuple(
            c
            for c in dict.fromkeys((*candidates, *self.intermediates))
            if c not in self._anchor_set and c != target and unreadable(c) is None
        )

    # --- path building --------------------------------------------------------------------------------

    def build(
        self,
        target: x509.Certificate,
        candidates: Sequence[x509.Certificate] = (),
        *,
        moment: datetime | None,
        anchors: Sequence[x509.Certificate] | None = None,
    ) -> tuple[x509.Certificate, ...] | None:
        """A valid path from ``target`` to an anchor (``anchors``, when given, narrows them), target first;
        at ``moment``, or, when it is None, at some instant when every certificate of the path is valid.
        Revocation is not part of it (see :meth:`revocation`). None when there is no such path."""
        allowed = self.anchors if anchors is None else tuple(a for a in self.anchors if a in frozenset(anchors))
        if target in self._anchor_set or not any(a in self._trust_anchors for a in allowed):
            return None
        if unreadable(target) is not None:
            return None
        if moment is not None and not _valid_at(target, moment):
            return None
        pool = self._pool(target, candidates)
        known = {_asn1(c).sha256: c for c in (target, *pool, *allowed)}
        context = self._context(moment or target.not_valid_before_utc, allowed, pool)
        return _run(self._first_valid(context, target, known, moment, allowed, pool))

    async def _first_valid(
        self,
        context: ValidationContext,
        target: x509.Certificate,
        known: dict[bytes, x509.Certificate],
        moment: datetime | None,
        allowed: Sequence[x509.Certificate],
        pool: Sequence[x509.Certificate],
    ) -> tuple[x509.Certificate, ...] | None:
        paths = context.path_builder.async_build_paths_lazy(_asn1(target))
        tried = 0
        try:
            async for path in paths:
                if path.pkix_len < 1 or path.pkix_len - 1 > self.max_depth:
                    continue
                tried += 1
                if tried > _PATH_BUDGET:
                    return None
                chain = tuple(known[certificate.sha256] for certificate in reversed(list(path)))
                if _profile_problem(chain) is not None:
                    continue
                instant = moment if moment is not None else _common_instant(chain)
                if instant is None:
                    continue
                at = context if moment is not None else self._context(instant, allowed, pool)
                try:
                    await async_validate_path(at, path)
                except ValidationError:
                    continue
                except _ASN1_ERRORS:  # a field asn1crypto cannot read (a name constraint it cannot prepare): not valid
                    continue
                return chain
        except PathBuildingError:
            return None
        finally:
            await paths.cancel()
        return None

    # --- revocation -----------------------------------------------------------------------------------

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
        return self.revocations(path, candidates, moment=moment, retroactive=retroactive, positions=(position,))[0]

    def revocations(
        self,
        path: Sequence[x509.Certificate],
        candidates: Sequence[x509.Certificate] = (),
        *,
        moment: datetime,
        retroactive: bool = False,
        positions: Sequence[int] | None = None,
    ) -> tuple[RevocationResult, ...]:
        """:meth:`revocation` for each of ``positions`` (default: every certificate below the anchor), with one
        library context for those that see the same CRLs.

        Remembered per interval of time: the moment enters a decision only through comparisons with the CRLs'
        thisUpdate, nextUpdate and revocation dates and with the validity dates of the certificates in play (no
        time tolerance), so two moments with the same position among those instants (between the same two, or
        equal to the same one) get the same decision. A gateway judging message after message at the clock's
        moment therefore runs the library once per interval, not once per message."""
        path = tuple(path)
        chosen = tuple(range(len(path) - 1)) if positions is None else tuple(positions)
        pool = self._pool(path[0], (*candidates, *path[1:-1]))
        certificate_instants = sorted({instant for certificate in (*path, *pool)
                                       for instant in (certificate.not_valid_before_utc, certificate.not_valid_after_utc)})
        key = (path, pool, chosen, retroactive, _position(self._instants, moment),
               _position(certificate_instants, moment))
        known = self._decided.get(key)
        if known is not None:
            return known
        decided = self._revocations(path, pool, chosen, moment, retroactive)
        if len(self._decided) >= _DECIDED_LIMIT:
            self._decided.clear()
        self._decided[key] = decided
        return decided

    def _revocations(
        self,
        path: tuple[x509.Certificate, ...],
        pool: tuple[x509.Certificate, ...],
        chosen: tuple[int, ...],
        moment: datetime,
        retroactive: bool,
    ) -> tuple[RevocationResult, ...]:
        relevant = self._relevant((*path, *pool))
        contexts: dict[tuple[_Crl, ...], ValidationContext] = {}
        results: dict[int, RevocationResult] = {}
        # from the anchor down, as the library's own walk: a context remembers which certificate issued each CRL
        # it has met, and a CA's own CRL must not be taken as covering that CA because its issuer is known
        for position in sorted(chosen, reverse=True):
            certificate = path[position]
            crls = tuple(
                view
                for view in relevant
                if view.problem is None
                and (  # retroactive: a CRL issued after the moment vouches only if issued while the certificate was valid
                    not retroactive
                    or view.this_update <= moment
                    or view.this_update <= certificate.not_valid_after_utc
                )
            )
            context = contexts.get(crls)
            if context is None:
                context = contexts[crls] = self._revocation_context(path, pool, moment, crls, retroactive)
            results[position] = self._decide(path, position, pool, moment, retroactive, context, relevant)
        return tuple(results[position] for position in chosen)

    def _decide(
        self,
        path: tuple[x509.Certificate, ...],
        position: int,
        pool: Sequence[x509.Certificate],
        moment: datetime,
        retroactive: bool,
        context: ValidationContext,
        relevant: Sequence[_Crl],
    ) -> RevocationResult:
        certificate, issuer = path[position], path[position + 1]
        status, entry, failures = self._verify(path, position, context)
        if status is RevocationStatus.REVOKED:
            return self._revoked(certificate, entry, relevant)
        later: CrlEntry | None = None
        usable = tuple(view for view in relevant if view.problem is None)
        own = self._covering(certificate, relevant)
        for view in sorted(own, key=lambda v: v.this_update):
            # (a CRL issued exactly at the moment too: the library counts only revocations strictly before it)
            if view.problem is not None or (view.current_at(moment) and view.this_update != moment):
                continue
            instant = min(view.this_update + _JUST_AFTER, view.next_update or view.this_update)
            at = self._revocation_context(path, pool, instant, usable, False)
            found, entry, _ = self._verify(path, position, at)
            if found is not RevocationStatus.REVOKED or entry is None:
                continue
            stale = view.next_update is not None and view.next_update < moment
            if entry.reason is x509.ReasonFlags.certificate_hold and (stale or status is RevocationStatus.GOOD):
                continue  # a hold may have been released since; a CRL current at the moment, or none, decides
            if entry.revoked_at <= moment or entry.reason in TAINTING_REASONS:
                return self._revoked(certificate, entry, relevant)
            later = later or entry
        if status is RevocationStatus.GOOD:
            return RevocationResult(RevocationStatus.GOOD, later=later)
        notes = self._notes(certificate, issuer, own, moment, retroactive)
        notes.extend(failure for failure in failures if failure not in notes)
        if not notes:
            notes.append(f"there is no CRL from {_cn(certificate.issuer)}")
        return RevocationResult(RevocationStatus.UNKNOWN, later=later, notes=tuple(notes))

    def _revocation_context(
        self,
        path: tuple[x509.Certificate, ...],
        pool: Sequence[x509.Certificate],
        moment: datetime,
        crls: Sequence[_Crl],
        retroactive: bool,
    ) -> ValidationContext:
        """A library context with CRL checking required, in which the CAs of ``path`` are recorded as validated,
        as the library's own walk down a path does before it checks a certificate below them (their own
        revocation is decided at their own position; a separate CRL signer's path is validated in full)."""
        anchor = path[-1]
        context = self._context(moment, (anchor,), pool, crls=crls, retroactive=retroactive)
        trust_anchor = self._trust_anchors.get(anchor)
        if trust_anchor is not None:
            for above in range(len(path) - 2, 0, -1):
                issuers = [_asn1(c) for c in reversed(path[above + 1 : -1])]
                context.record_validation(_asn1(path[above]), ValidationPath(trust_anchor, issuers, _asn1(path[above])))
        return context

    def _verify(
        self, path: tuple[x509.Certificate, ...], position: int, context: ValidationContext
    ) -> tuple[RevocationStatus, CrlEntry | None, list[str]]:
        """The library's RFC 5280 6.3 decision on ``path[position]`` in ``context``."""
        trust_anchor = self._trust_anchors.get(path[-1])
        if trust_anchor is None:
            return RevocationStatus.UNKNOWN, None, ["the anchor is outside the profile"]
        below = path[position:-1]
        validation_path = ValidationPath(trust_anchor, [_asn1(c) for c in reversed(below[1:])], _asn1(below[0]))
        try:
            _run(verify_crl(_asn1(path[position]), validation_path, context))
        except RevokedError as revoked:
            reason = _REASONS.get(str(revoked.reason.native))
            entry = CrlEntry(path[position].serial_number, revoked.revocation_dt, reason)
            return RevocationStatus.REVOKED, entry, []
        except CRLValidationIndeterminateError as unknown:
            return RevocationStatus.UNKNOWN, None, [str(failure[0]) for failure in unknown.failures]
        except CRLNoMatchesError:
            return RevocationStatus.UNKNOWN, None, []
        except CRLValidationError as failed:
            return RevocationStatus.UNKNOWN, None, [str(failed)]
        return RevocationStatus.GOOD, None, []

    @staticmethod
    def _revoked(
        certificate: x509.Certificate, entry: CrlEntry | None, relevant: Sequence[_Crl]
    ) -> RevocationResult:
        """REVOKED, naming the CRL held that lists the certificate with that date, when there is one."""
        listed = None
        if entry is not None:
            for view in relevant:
                revoked = view.entry(certificate)
                if revoked is not None and revoked.revocation_date_utc == entry.revoked_at:
                    listed = view.crl
                    break
        return RevocationResult(RevocationStatus.REVOKED, crl=listed, entry=entry)

    def _relevant(self, certificates: Iterable[x509.Certificate]) -> tuple[_Crl, ...]:
        """The CRLs held that could speak for any of ``certificates``: those named for one's issuer or one of
        its cRLIssuers (the library would pass over the others; giving it fewer keeps it quick)."""
        names: set[str] = set()
        for certificate in certificates:
            names |= _crl_issuer_names(certificate)
        return tuple(view for view in self._crls if view.issuer in names)

    @staticmethod
    def _covering(certificate: x509.Certificate, relevant: Sequence[_Crl]) -> list[_Crl]:
        names = _crl_issuer_names(certificate)
        return [view for view in relevant if view.issuer in names]

    @staticmethod
    def _notes(
        certificate: x509.Certificate,
        issuer: x509.Certificate,
        relevant: Sequence[_Crl],
        moment: datetime,
        retroactive: bool,
    ) -> list[str]:
        """Why the CRLs held did not decide, from their facts (the library's own messages follow)."""
        notes = []
        usage = _extension(issuer, x509.KeyUsage)
        for view in sorted(relevant, key=lambda v: (v.this_update, v.number), reverse=True):
            if view.problem is not None:
                notes.append(f"{view.label} is not used: {view.problem}")
                continue
            if (
                view.issuer == _name_key(issuer.subject)
                and isinstance(usage, x509.KeyUsage)
                and not usage.crl_sign
            ):
                notes.append(f"{view.label} is not used: its signer {_cn(issuer.subject)} lacks keyUsage cRLSign")
            for note in view.scope_notes(certificate):
                notes.append(f"{view.label} does not cover it fully: {note}")
            if view.next_update is not None and view.next_update < moment:
                notes.append(f"{view.label} had its next update due {_iso(view.next_update)}")
            elif view.this_update > moment:
                if not retroactive:
                    notes.append(f"{view.label} was issued after the moment")
                elif view.this_update > certificate.not_valid_after_utc:
                    notes.append(
                        f"{view.label} was issued after the moment and after the certificate expired, when its "
                        "entry may have been dropped"
                    )
        return notes


_REASONS: dict[str, x509.ReasonFlags] = {flag.name: flag for flag in x509.ReasonFlags}


@lru_cache(maxsize=4096)
def _crl_issuer_names(certificate: x509.Certificate) -> frozenset[str]:
    """The names (asn1crypto's comparable form) a CRL covering ``certificate`` may be issued under: its issuer
    and the cRLIssuers of its distribution points."""
    names = {_name_key(certificate.issuer)}
    points = _extension(certificate, x509.CRLDistributionPoints)
    for point in points or ():
        for name in point.crl_issuer or ():
            if isinstance(name, x509.DirectoryName):
                names.add(_name_key(name.value))
    return frozenset(names)


def _common_instant(chain: Sequence[x509.Certificate]) -> datetime | None:
    """The first instant at which every certificate of ``chain`` is valid, or None when there is none."""
    start = max(c.not_valid_before_utc for c in chain)
    end = min(c.not_valid_after_utc for c in chain)
    return start if start <= end else None


def _cn(name: x509.Name) -> str:
    values = name.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(values[0].value) if values else name.rfc4514_string()


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


__all__ = [
    "DEFAULT_MAX_DEPTH",
    "TAINTING_REASONS",
    "CrlEntry",
    "PathValidator",
    "RevocationResult",
    "RevocationStatus",
    "certificate_signed_by",
    "key_permitted",
    "names_match",
    "prepare",
    "self_issued",
]
