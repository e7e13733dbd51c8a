"""RFC 5280 path validation and CRL processing through TrustContext (exchange._pkix), case by case.

No public path-validation suite (NIST PKITS, x509-limbo) is available offline here, so each case is built at
test time from a declarative spec (:class:`Cert`, :class:`Crl`) with cryptography's builders, and named after
the RFC 5280 section and, where one exists, the PKITS test it mirrors (PKITS numbering: NIST "Public Key
Interoperability Test Suite, Certification Path Validation", section 4). SECURITY.md lists what is claimed.

Each case asserts the three-valued outcome (PASSED / INDETERMINATE / FAILED) of a bare-anchor context:
FAILED where PKITS expects a path to be invalid for a definite reason, INDETERMINATE where the revocation
status cannot be determined (PKITS counts that as invalid too: INDETERMINATE is refused by default).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID, ObjectIdentifier

from exchange._pki import PrivateKey, generate_key, key_usage
from exchange._trust import TrustContext, TrustDecision, TrustStatus

MOMENT = dt.datetime(2030, 1, 15, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
CA_USAGE = ("key_cert_sign", "crl_sign")
EE_USAGE = ("digital_signature", "content_commitment")
UNKNOWN_OID = ObjectIdentifier("1.3.6.1.4.1.55555.1")
PASSED, INDETERMINATE, FAILED = TrustStatus.PASSED, TrustStatus.INDETERMINATE, TrustStatus.FAILED


def dn(common: str, *, organisation: str = "Test Certificates 2030", kind: _ASN1Type | None = None) -> x509.Name:
    """C=AA, O=..., CN=..., the O and CN in ``kind`` (when None, as cryptography picks: UTF8String)."""
    def attribute(oid: x509.ObjectIdentifier, value: str) -> x509.NameAttribute:
        if kind is None or oid == NameOID.COUNTRY_NAME:
            return x509.NameAttribute(oid, value)
        return x509.NameAttribute(oid, value, _type=kind)

    return x509.Name([
        attribute(NameOID.COUNTRY_NAME, "AA"),
        attribute(NameOID.ORGANIZATION_NAME, organisation),
        attribute(NameOID.COMMON_NAME, common),
    ])


# --- the declarative test PKI -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Cert:
    """One certificate. ``issuer`` is the label of the certificate whose subject and key issue it (None:
    self-signed); ``key`` the label whose key it certifies (default: its own); ``issuer_name`` the issuer
    field as written when it differs in form from the issuer's subject. ``ca=None`` leaves basicConstraints
    out; ``usage=None`` leaves keyUsage out."""

    label: str
    subject: x509.Name
    issuer: str | None = None
    ca: bool | None = False
    path_length: int | None = None
    usage: tuple[str, ...] | None = EE_USAGE
    key: str | None = None
    issuer_name: x509.Name | None = None
    extensions: tuple[tuple[x509.ExtensionType, bool], ...] = ()
    not_before: dt.timedelta = -30 * DAY
    not_after: dt.timedelta = 365 * DAY


def ca(label: str, subject: x509.Name, issuer: str | None = None, **changes: object) -> Cert:
    changes.setdefault("ca", True)
    changes.setdefault("usage", CA_USAGE)
    return Cert(label, subject, issuer, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Key:
    """A key pair with no certificate of its own yet (a CA's old key before a rollover certificate)."""

    label: str


@dataclass(frozen=True)
class Revoked:
    """One CRL entry: the certificate ``label``, when and why; ``certificate_issuer`` (a label) adds the
    CertificateIssuer entry extension of an indirect CRL."""

    label: str
    reason: x509.ReasonFlags | None = x509.ReasonFlags.key_compromise
    at: dt.timedelta = -10 * DAY
    certificate_issuer: str | None = None
    extensions: tuple[tuple[x509.ExtensionType, bool], ...] = ()


@dataclass(frozen=True)
class Crl:
    """One CRL: named for ``issuer``'s subject, signed by ``signer``'s key (default: the issuer's)."""

    label: str
    issuer: str
    revoked: tuple[Revoked, ...] = ()
    signer: str | None = None
    number: int = 1
    this_update: dt.timedelta = -DAY
    next_update: dt.timedelta = 6 * DAY
    extensions: tuple[tuple[x509.ExtensionType, bool], ...] = ()
    issuer_name: x509.Name | None = None


@dataclass
class Pki:
    """The certificates, keys and CRLs built from a spec, in order (an issuer before what it issues)."""

    specs: Sequence[Key | Cert | Crl]
    certificates: dict[str, x509.Certificate] = field(default_factory=dict)
    keys: dict[str, PrivateKey] = field(default_factory=dict)
    crls: dict[str, x509.CertificateRevocationList] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for spec in self.specs:
            if isinstance(spec, Key):
                self.keys[spec.label] = generate_key()
            elif isinstance(spec, Cert):
                self._certificate(spec)
            else:
                self._crl(spec)

    def _certificate(self, spec: Cert) -> None:
        key = self.keys[spec.key] if spec.key is not None else generate_key()
        self.keys.setdefault(spec.label, key)
        signer = key if spec.issuer is None else self.keys[spec.issuer]
        issuer_name = spec.issuer_name or (spec.subject if spec.issuer is None else
                                           self.certificates[spec.issuer].subject)
        builder = (
            x509.CertificateBuilder()
            .subject_name(spec.subject)
            .issuer_name(issuer_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(MOMENT + spec.not_before)
            .not_valid_after(MOMENT + spec.not_after)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False)
        )
        if spec.ca is not None:
            builder = builder.add_extension(
                x509.BasicConstraints(ca=spec.ca, path_length=spec.path_length if spec.ca else None), critical=True
            )
        if spec.usage is not None:
            builder = builder.add_extension(key_usage(spec.usage), critical=True)
        for extension, critical in spec.extensions:
            builder = builder.add_extension(extension, critical=critical)
        self.certificates[spec.label] = builder.sign(signer, hashes.SHA256())

    def _crl(self, spec: Crl) -> None:
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(spec.issuer_name or self.certificates[spec.issuer].subject)
            .last_update(MOMENT + spec.this_update)
            .next_update(MOMENT + spec.next_update)
            .add_extension(x509.CRLNumber(spec.number), critical=False)
        )
        for extension, critical in spec.extensions:
            builder = builder.add_extension(extension, critical=critical)
        for item in spec.revoked:
            entry = (
                x509.RevokedCertificateBuilder()
                .serial_number(self.certificates[item.label].serial_number)
                .revocation_date(MOMENT + item.at)
            )
            if item.reason is not None:
                entry = entry.add_extension(x509.CRLReason(item.reason), critical=False)
            if item.certificate_issuer is not None:
                issuer = self.certificates[item.certificate_issuer].subject
                entry = entry.add_extension(x509.CertificateIssuer([x509.DirectoryName(issuer)]), critical=True)
            for extension, critical in item.extensions:
                entry = entry.add_extension(extension, critical=critical)
            builder = builder.add_revoked_certificate(entry.build())
        self.crls[spec.label] = builder.sign(self.keys[spec.signer or spec.issuer], hashes.SHA256())

    def decide(
        self,
        target: str,
        *,
        anchor: str = "TA",
        crls: Sequence[str] | None = None,
        intermediates: Sequence[str] = (),
        moment: dt.datetime = MOMENT,
        **options: object,
    ) -> TrustDecision:
        """The decision on ``target`` under the bare anchor ``anchor`` with the named CRLs (default: all) and
        intermediates (the 'KeyInfo' chain)."""
        chosen = tuple(self.crls.values()) if crls is None else tuple(self.crls[label] for label in crls)
        context = TrustContext.from_anchors(
            [self.certificates[anchor]], moment=moment, crls=chosen, **options  # type: ignore[arg-type]
        )
        chain = (self.certificates[target], *(self.certificates[label] for label in intermediates))
        return context.evaluate(self.certificates[target], chain)


def codes(decision: TrustDecision) -> list[str]:
    return [finding.code for finding in decision.findings if finding.is_error]


def assert_outcome(decision: TrustDecision, status: TrustStatus, *expected: str) -> None:
    assert decision.status is status, decision.findings
    assert decision.trusted is (status is PASSED)
    if expected:
        assert sorted(set(codes(decision))) == sorted(expected), decision.findings


TA = ca("TA", dn("Trust Anchor"))
TA_CRL = Crl("TA CRL", "TA")
GOOD_CA = ca("Good CA", dn("Good CA"), "TA")


def good_pki(*specs: Key | Cert | Crl, ca_crl: bool = True) -> Pki:
    """TA -> Good CA -> whatever ``specs`` add, with an empty CRL from TA and (optionally) from Good CA."""
    extra = (Crl("Good CA CRL", "Good CA"),) if ca_crl else ()
    return Pki((TA, TA_CRL, GOOD_CA, *extra, *specs))


# --- 6.1: path validation ---------------------------------------------------------------------------------


def test_pkits_4_1_1_valid_signatures_and_4_1_3_invalid_ee_signature() -> None:
    pki = good_pki(Cert("EE", dn("Valid EE"), "Good CA"))
    assert_outcome(pki.decide("EE", intermediates=["Good CA"]), PASSED)
    forged = Pki((TA, TA_CRL, GOOD_CA, Crl("Good CA CRL", "Good CA"),
                  ca("Other CA", dn("Good CA"), "TA"),  # same name, another key
                  Cert("EE", dn("EE signed by the look-alike"), "Other CA")))
    assert_outcome(forged.decide("EE", intermediates=["Good CA"]), FAILED, "TRUST-CHAIN-UNTRUSTED")


def test_pkits_4_3_1_invalid_name_chaining_and_4_3_2_order() -> None:
    wrong = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "AA"),
                       x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test Certificates 2030"),
                       x509.NameAttribute(NameOID.COMMON_NAME, "Wrong CA")])
    reordered = x509.Name(list(reversed(list(dn("Good CA")))))
    pki = good_pki(Cert("Wrong", dn("EE1"), "Good CA", issuer_name=wrong),
                   Cert("Reordered", dn("EE2"), "Good CA", issuer_name=reordered))
    assert_outcome(pki.decide("Wrong", intermediates=["Good CA"]), FAILED, "TRUST-CHAIN-UNTRUSTED")
    assert_outcome(pki.decide("Reordered", intermediates=["Good CA"]), FAILED, "TRUST-CHAIN-UNTRUSTED")


@pytest.mark.parametrize(
    ("case", "written"),
    [
        ("PKITS 4.3.3 Valid Name Chaining Whitespace", dn("  Good   CA ")),
        ("PKITS 4.3.4 Valid Name Chaining Whitespace", dn("Good CA", organisation="Test   Certificates  2030")),
        ("RFC 4518 2.2 tab and no-break space map to space", dn("Good\t\u00a0CA", kind=_ASN1Type.UTF8String)),
        ("PKITS 4.3.5 Valid Name Chaining Capitalization", dn("GOOD ca", organisation="TEST CERTIFICATES 2030")),
        ("PKITS 4.3.9/4.3.10 PrintableString for UTF8String", dn("Good CA", kind=_ASN1Type.PrintableString)),
        ("PKITS 4.3.11 UTF8String case-insensitive", dn("gOoD cA", kind=_ASN1Type.UTF8String)),
    ],
)
def test_rfc5280_7_1_issuer_names_match_ignoring_case_whitespace_and_string_type(case: str,
                                                                                   written: x509.Name) -> None:
    """RFC 5280 7.1 (RFC 4518): the EE's issuer field is the CA's name written otherwise; the path holds,
    and the CA's CRL (named as the CA writes its own name) covers the EE."""
    pki = good_pki(Cert("EE", dn("EE"), "Good CA", issuer_name=written))
    assert_outcome(pki.decide("EE", intermediates=["Good CA"]), PASSED)
    revoked = Pki((TA, TA_CRL, GOOD_CA, Cert("EE", dn("EE"), "Good CA", issuer_name=written),
                   Crl("Good CA CRL", "Good CA", (Revoked("EE"),))))
    assert_outcome(revoked.decide("EE", intermediates=["Good CA"]), FAILED, "TRUST-CERT-REVOKED")


def test_rfc5280_7_1_crl_issuer_name_matches_ignoring_case() -> None:
    pki = Pki((TA, TA_CRL, GOOD_CA, Cert("EE", dn("EE"), "Good CA"),
               Crl("Good CA CRL", "Good CA", issuer_name=dn("GOOD  CA", kind=_ASN1Type.UTF8String))))
    assert_outcome(pki.decide("EE", intermediates=["Good CA"]), PASSED)


def test_pkits_4_6_15_valid_self_issued_path_length() -> None:
    """RFC 5280 6.1.4 (l): TA -> CA (pathLen 0) -> the CA's self-issued new-key certificate -> EE."""
    pki = Pki((TA, TA_CRL,
               ca("PL0 CA", dn("pathLenConstraint0 CA"), "TA", path_length=0),
               Crl("PL0 CA CRL", "PL0 CA"),
               ca("PL0 SI", dn("pathLenConstraint0 CA"), "PL0 CA", path_length=0),
               Cert("EE", dn("Valid Self-Issued pathLenConstraint EE Test15"), "PL0 SI")))
    decision = pki.decide("EE", intermediates=["PL0 SI", "PL0 CA"])
    assert_outcome(decision, PASSED)
    assert decision.chain == (pki.certificates["EE"], pki.certificates["PL0 SI"], pki.certificates["PL0 CA"],
                              pki.certificates["TA"])


def test_pkits_4_6_16_invalid_self_issued_path_length() -> None:
    """Self-issued certificates do not count, but a real sub-CA under pathLen 0 still does."""
    pki = Pki((TA, TA_CRL,
               ca("PL0 CA", dn("pathLenConstraint0 CA"), "TA", path_length=0),
               Crl("PL0 CA CRL", "PL0 CA"),
               ca("PL0 SI", dn("pathLenConstraint0 CA"), "PL0 CA", path_length=0),
               ca("subCA2", dn("pathLenConstraint0 subCA2"), "PL0 SI"),
               Crl("subCA2 CRL", "subCA2"),
               Cert("EE", dn("Invalid Self-Issued pathLenConstraint EE Test16"), "subCA2")))
    assert_outcome(pki.decide("EE", intermediates=["subCA2", "PL0 SI", "PL0 CA"]), FAILED, "TRUST-CHAIN-UNTRUSTED")


def test_pkits_4_6_17_valid_self_issued_path_length_with_two_rollovers() -> None:
    pki = Pki((TA, TA_CRL,
               ca("PL1 CA", dn("pathLenConstraint1 CA"), "TA", path_length=1),
               Crl("PL1 CA CRL", "PL1 CA"),
               ca("PL1 SI CA", dn("pathLenConstraint1 CA"), "PL1 CA"),
               ca("PL1 subCA", dn("pathLenConstraint1 subCA"), "PL1 SI CA"),
               Crl("PL1 subCA CRL", "PL1 subCA"),
               ca("PL1 SI subCA", dn("pathLenConstraint1 subCA"), "PL1 subCA"),
               Cert("EE", dn("Valid Self-Issued pathLenConstraint EE Test17"), "PL1 SI subCA")))
    assert_outcome(pki.decide("EE", intermediates=["PL1 SI subCA", "PL1 subCA", "PL1 SI CA", "PL1 CA"]), PASSED)


def test_pkits_4_6_5_invalid_path_length() -> None:
    pki = Pki((TA, TA_CRL,
               ca("PL0 CA", dn("pathLenConstraint0 CA"), "TA", path_length=0), Crl("PL0 CA CRL", "PL0 CA"),
               ca("PL0 subCA", dn("pathLenConstraint0 subCA"), "PL0 CA"), Crl("subCA CRL", "PL0 subCA"),
               Cert("EE", dn("Invalid pathLenConstraint EE Test5"), "PL0 subCA")))
    assert_outcome(pki.decide("EE", intermediates=["PL0 subCA", "PL0 CA"]), FAILED, "TRUST-CHAIN-UNTRUSTED")


def old_with_new(*, ee_revoked: bool = False) -> Pki:
    """A CA rolled its key over: TA certified the new key; the new key certified the old one (self-issued);
    the EE was signed with the old key; the CA's CRL is signed with the new key."""
    return Pki((TA, TA_CRL, Key("old"),
                ca("New", dn("Basic Self-Issued New Key CA"), "TA"),
                ca("OldWithNew", dn("Basic Self-Issued New Key CA"), "New", key="old"),
                Cert("EE", dn("Basic Self-Issued Old With New EE"), "OldWithNew"),
                Crl("CA CRL", "New", (Revoked("EE"),) if ee_revoked else ())))


def test_pkits_4_5_1_valid_basic_self_issued_old_with_new_and_4_5_2_revoked() -> None:
    decision = old_with_new().decide("EE", intermediates=["OldWithNew", "New"])
    assert_outcome(decision, PASSED)
    assert [common for common in (c.subject.rfc4514_string() for c in decision.chain[1:3])] == [
        "CN=Basic Self-Issued New Key CA,O=Test Certificates 2030,C=AA"] * 2
    # 4.5.2: the EE is revoked on the CRL the new key signed
    assert_outcome(old_with_new(ee_revoked=True).decide("EE", intermediates=["OldWithNew", "New"]), FAILED,
                   "TRUST-CERT-REVOKED")


def test_pkits_4_6_1_missing_basic_constraints_4_6_2_ca_false_4_7_1_no_key_cert_sign() -> None:
    for broken in (ca("CA", dn("Missing basicConstraints CA"), "TA", ca=None),
                   ca("CA", dn("basicConstraints Critical cA False CA"), "TA", ca=False),
                   ca("CA", dn("keyUsage Critical keyCertSign False CA"), "TA", usage=("crl_sign",))):
        pki = Pki((TA, TA_CRL, broken, Crl("CA CRL", "CA"), Cert("EE", dn("EE"), "CA")))
        assert_outcome(pki.decide("EE", intermediates=["CA"]), FAILED, "TRUST-CHAIN-UNTRUSTED")


def test_pkits_4_16_1_unknown_non_critical_and_4_16_2_unknown_critical_certificate_extension() -> None:
    unknown = x509.UnrecognizedExtension(UNKNOWN_OID, b"\x05\x00")
    pki = good_pki(Cert("Non-critical", dn("EE1"), "Good CA", extensions=((unknown, False),)),
                   Cert("Critical", dn("EE2"), "Good CA", extensions=((unknown, True),)))
    assert_outcome(pki.decide("Non-critical", intermediates=["Good CA"]), PASSED)
    assert_outcome(pki.decide("Critical", intermediates=["Good CA"]), FAILED, "TRUST-CHAIN-UNTRUSTED")


def test_name_constraints_are_not_processed_so_a_path_through_them_is_refused() -> None:
    constraints = x509.NameConstraints(permitted_subtrees=[x509.DirectoryName(dn("Good CA"))], excluded_subtrees=None)
    pki = Pki((TA, TA_CRL, ca("NC CA", dn("nameConstraints CA"), "TA", extensions=((constraints, True),)),
               Crl("NC CA CRL", "NC CA"), Cert("EE", dn("EE"), "NC CA")))
    assert_outcome(pki.decide("EE", intermediates=["NC CA"]), FAILED, "TRUST-CHAIN-UNTRUSTED")


# --- 6.3 and 5.2/5.3: revocation --------------------------------------------------------------------------


def test_pkits_4_4_1_missing_crl_is_indeterminate() -> None:
    pki = good_pki(Cert("EE", dn("Invalid Missing CRL EE Test1"), "Good CA"), ca_crl=False)
    assert_outcome(pki.decide("EE", intermediates=["Good CA"]), INDETERMINATE, "TRUST-REVOCATION-UNKNOWN")


def test_pkits_4_4_2_revoked_ca_and_4_4_3_revoked_ee() -> None:
    revoked_ee = Pki((TA, TA_CRL, GOOD_CA, Cert("EE3", dn("Invalid Revoked EE Test3"), "Good CA"),
                      Crl("Good CA CRL", "Good CA", (Revoked("EE3"),))))
    assert_outcome(revoked_ee.decide("EE3", intermediates=["Good CA"]), FAILED, "TRUST-CERT-REVOKED")
    pki = Pki((TA, TA_CRL, GOOD_CA, ca("Revoked subCA", dn("Revoked subCA"), "Good CA"),
               Crl("Good CA CRL", "Good CA", (Revoked("Revoked subCA"),)), Crl("subCA CRL", "Revoked subCA"),
               Cert("EE2", dn("Invalid Revoked CA EE Test2"), "Revoked subCA")))
    assert_outcome(pki.decide("EE2", intermediates=["Revoked subCA", "Good CA"]), FAILED, "TRUST-CERT-REVOKED")


def test_pkits_4_4_4_bad_crl_signature_4_4_5_bad_crl_issuer_name_are_indeterminate() -> None:
    bad_signature = Pki((TA, TA_CRL, GOOD_CA, ca("Impostor", dn("Impostor CA"), "TA"),
                         Crl("Good CA CRL", "Good CA", signer="Impostor"),
                         Cert("EE", dn("Invalid Bad CRL Signature EE Test4"), "Good CA")))
    assert_outcome(bad_signature.decide("EE", intermediates=["Good CA"]), INDETERMINATE, "TRUST-REVOCATION-UNKNOWN")
    bad_name = Pki((TA, TA_CRL, GOOD_CA, Crl("Good CA CRL", "Good CA", issuer_name=dn("Wrong CRL CA")),
                    Cert("EE", dn("Invalid Bad CRL Issuer Name EE Test5"), "Good CA")))
    assert_outcome(bad_name.decide("EE", intermediates=["Good CA"]), INDETERMINATE, "TRUST-REVOCATION-UNKNOWN")


def test_pkits_4_4_7_valid_two_crls() -> None:
    """One good CRL and one with a bad signature that lists the EE: only the good one counts."""
    pki = Pki((TA, TA_CRL, GOOD_CA, ca("Impostor", dn("Impostor CA"), "TA"),
               Cert("EE", dn("Valid Two CRLs EE Test7"), "Good CA"),
               Crl("Good", "Good CA"),
               Crl("Bad", "Good CA", (Revoked("EE"),), signer="Impostor", number=2)))
    assert_outcome(pki.decide("EE", intermediates=["Good CA"]), PASSED)


def test_pkits_4_4_8_unknown_critical_crl_entry_extension_makes_the_crl_unusable() -> None:
    unknown = x509.UnrecognizedExtension(UNKNOWN_OID, b"\x05\x00")
    pki = Pki((TA, TA_CRL, GOOD_CA, Cert("EE", dn("Invalid Unknown CRL Entry Extension EE Test8"), "Good CA"),
               Cert("Other", dn("Other EE"), "Good CA"),
               Crl("Good CA CRL", "Good CA", (Revoked("Other", extensions=((unknown, True),)),))))
    decision = pki.decide("EE", intermediates=["Good CA"])
    assert_outcome(decision, INDETERMINATE, "TRUST-REVOCATION-UNKNOWN")
    assert "critical extension 1.3.6.1.4.1.55555.1" in decision.findings[0].message


@pytest.mark.parametrize("listed", [True, False], ids=["PKITS 4.4.9 (EE listed)", "PKITS 4.4.10 (EE not listed)"])
def test_pkits_4_4_9_and_4_4_10_unknown_critical_crl_extension_makes_the_crl_unusable(listed: bool) -> None:
    unknown = x509.UnrecognizedExtension(UNKNOWN_OID, b"\x05\x00")
    revoked = (Revoked("EE"),) if listed else ()
    pki = Pki((TA, TA_CRL, GOOD_CA, Cert("EE", dn("Invalid Unknown CRL Extension EE"), "Good CA"),
               Crl("Good CA CRL", "Good CA", revoked, extensions=((unknown, True),))))
    assert_outcome(pki.decide("EE", intermediates=["Good CA"]), INDETERMINATE, "TRUST-REVOCATION-UNKNOWN")


def test_rfc5280_5_2_a_newer_crl_with_an_unknown_critical_extension_does_not_hide_a_revocation() -> None:
    """Issue 13: the older CRL lists the EE; a newer one that must not be used (unknown critical extension)
    does not. It is skipped, so the revocation stands."""
    unknown = x509.UnrecognizedExtension(UNKNOWN_OID, b"\x05\x00")
    pki = Pki((TA, TA_CRL, GOOD_CA, Cert("EE", dn("EE"), "Good CA"),
               Crl("Old", "Good CA", (Revoked("EE"),), number=1, this_update=-2 * DAY),
               Crl("New", "Good CA", number=2, this_update=-HOUR, extensions=((unknown, True),))))
    assert_outcome(pki.decide("EE", intermediates=["Good CA"]), FAILED, "TRUST-CERT-REVOKED")


def test_rfc5280_5_2_4_a_delta_crl_is_never_used_as_a_complete_crl() -> None:
    pki = Pki((TA, TA_CRL, GOOD_CA, Cert("EE", dn("EE"), "Good CA"),
               Crl("Delta", "Good CA", number=2, extensions=((x509.DeltaCRLIndicator(1), True),))))
    assert_outcome(pki.decide("EE", intermediates=["Good CA"]), INDETERMINATE, "TRUST-REVOCATION-UNKNOWN")


def test_pkits_4_4_11_crl_past_its_next_update_is_indeterminate_but_still_proves_a_revocation() -> None:
    stale = Pki((TA, TA_CRL, GOOD_CA, Cert("EE", dn("Invalid Old CRL nextUpdate EE Test11"), "Good CA"),
                 Crl("Good CA CRL", "Good CA", this_update=-10 * DAY, next_update=-DAY)))
    decision = stale.decide("EE", intermediates=["Good CA"])
    assert_outcome(decision, INDETERMINATE, "TRUST-REVOCATION-UNKNOWN")
    assert "next update due" in decision.findings[0].message
    revoked = Pki((TA, TA_CRL, GOOD_CA, Cert("EE", dn("EE"), "Good CA"),
                   Crl("Good CA CRL", "Good CA", (Revoked("EE", reason=x509.ReasonFlags.superseded),),
                       this_update=-5 * DAY, next_update=-DAY)))
    assert_outcome(revoked.decide("EE", intermediates=["Good CA"]), FAILED, "TRUST-CERT-REVOKED")


def test_rfc5280_5_1_2_4_and_3_3_a_crl_issued_after_the_moment() -> None:
    """thisUpdate after the moment: the CRL did not exist then. By default (as pyHanko's retroactive_revinfo)
    it may vouch for the moment only if it was issued while the certificate was still valid: a complete CRL
    keeps an entry until the certificate expires (RFC 5280 3.3), not after. Without retroactive_revocation
    (pyHanko's default) good standing needs a CRL valid at the moment. It always proves a revocation."""
    later = Pki((TA, TA_CRL, GOOD_CA, Cert("EE", dn("EE"), "Good CA"),
                 Crl("Good CA CRL", "Good CA", this_update=2 * HOUR, next_update=7 * DAY)))
    assert_outcome(later.decide("EE", intermediates=["Good CA"]), PASSED)
    decision = later.decide("EE", intermediates=["Good CA"], retroactive_revocation=False)
    assert_outcome(decision, INDETERMINATE, "TRUST-REVOCATION-UNKNOWN")
    assert "issued after the moment" in decision.findings[0].message
    after_expiry = Pki((TA, TA_CRL, GOOD_CA, Cert("EE", dn("EE"), "Good CA", not_after=10 * DAY),
                        Crl("Good CA CRL", "Good CA", this_update=20 * DAY, next_update=27 * DAY)))
    decision = after_expiry.decide("EE", intermediates=["Good CA"])
    assert_outcome(decision, INDETERMINATE, "TRUST-REVOCATION-UNKNOWN")
    compromised = Pki((TA, TA_CRL, GOOD_CA, Cert("EE", dn("EE"), "Good CA"),
                       Crl("Good CA CRL", "Good CA", (Revoked("EE", at=HOUR),), this_update=2 * HOUR)))
    assert_outcome(compromised.decide("EE", intermediates=["Good CA"]), FAILED, "TRUST-CERT-REVOKED")


def test_pkits_4_4_19_valid_separate_certificate_and_crl_keys() -> None:
    """RFC 5280 6.3.3 (f): the CA signs certificates with one key and CRLs with another; the TA certified
    both under the same name (the CRL key with cRLSign only)."""
    pki = Pki((TA, TA_CRL,
               ca("Cert CA", dn("Separate Certificate and CRL Keys CA"), "TA", usage=("key_cert_sign",)),
               ca("CRL CA", dn("Separate Certificate and CRL Keys CA"), "TA", ca=None, usage=("crl_sign",)),
               Crl("CA CRL", "CRL CA"),
               Cert("EE", dn("Valid Separate Certificate and CRL Keys EE Test19"), "Cert CA")))
    assert_outcome(pki.decide("EE", intermediates=["Cert CA", "CRL CA"]), PASSED)
    # without the CRL signer's certificate its CRL proves nothing
    context = TrustContext.from_anchors([pki.certificates["TA"]], moment=MOMENT, crls=tuple(pki.crls.values()))
    decision = context.evaluate(pki.certificates["EE"], (pki.certificates["EE"], pki.certificates["Cert CA"]))
    assert_outcome(decision, INDETERMINATE, "TRUST-REVOCATION-UNKNOWN")


def separate_keys(*, ee_revoked: bool = False, crl_signer_revoked: bool = False,
                  this_update: dt.timedelta = -DAY) -> Pki:
    return Pki((TA,
                ca("Cert CA", dn("Separate Certificate and CRL Keys CA"), "TA", usage=("key_cert_sign",)),
                ca("CRL CA", dn("Separate Certificate and CRL Keys CA"), "TA", ca=None, usage=("crl_sign",)),
                Crl("TA CRL", "TA", (Revoked("CRL CA"),) if crl_signer_revoked else (), this_update=this_update),
                Cert("EE", dn("Separate Certificate and CRL Keys EE"), "Cert CA"),
                Crl("CA CRL", "CRL CA", (Revoked("EE"),) if ee_revoked else (), this_update=this_update)))


def test_pkits_4_4_19_to_21_separate_certificate_and_crl_keys() -> None:
    intermediates = ["Cert CA", "CRL CA"]
    assert_outcome(separate_keys().decide("EE", intermediates=intermediates), PASSED)
    # 4.4.20: the EE is revoked on the CRL signed by the CRL key
    assert_outcome(separate_keys(ee_revoked=True).decide("EE", intermediates=intermediates), FAILED,
                   "TRUST-CERT-REVOKED")
    # 4.4.21: the CRL signing certificate itself is revoked by the TA: the CA's CRL proves nothing
    assert_outcome(separate_keys(crl_signer_revoked=True).decide("EE", intermediates=intermediates),
                   INDETERMINATE, "TRUST-REVOCATION-UNKNOWN")
    # "as of" an earlier moment, with CRLs issued since: the CRL signer is judged by the same rule as the EE
    later = separate_keys(this_update=2 * HOUR)
    assert_outcome(later.decide("EE", intermediates=intermediates), PASSED)
    assert_outcome(later.decide("EE", intermediates=intermediates, retroactive_revocation=False), INDETERMINATE,
                   "TRUST-REVOCATION-UNKNOWN")


def self_issued_crl_key(*, ee_revoked: bool = False, ee_signer: str = "CA") -> Pki:
    """The CA certified its own CRL key (self-issued); its certificate signing key signs a CRL that covers
    only that certificate (a partition named in its distribution point), the CRL key signs the CA's CRL."""
    partition = x509.UniformResourceIdentifier("http://crl.example/crl-key.crl")
    points = x509.CRLDistributionPoints([x509.DistributionPoint([partition], None, None, None)])
    return Pki((TA, TA_CRL,
                ca("CA", dn("Basic Self-Issued CRL Signing Key CA"), "TA"),
                ca("CRL key", dn("Basic Self-Issued CRL Signing Key CA"), "CA", ca=None, usage=("crl_sign",),
                   extensions=((points, False),)),
                Crl("CRL Cert CRL", "CA", extensions=(idp(full_name=[partition]),)),
                Cert("EE", dn("Basic Self-Issued CRL Signing Key EE"), ee_signer),
                Crl("CA CRL", "CRL key", (Revoked("EE"),) if ee_revoked else (), number=2)))


def test_pkits_4_5_6_to_8_self_issued_crl_signing_key() -> None:
    intermediates = ["CA", "CRL key"]
    assert_outcome(self_issued_crl_key().decide("EE", intermediates=intermediates), PASSED)
    # 4.5.7: the EE is revoked on the CRL the CRL key signed
    assert_outcome(self_issued_crl_key(ee_revoked=True).decide("EE", intermediates=intermediates), FAILED,
                   "TRUST-CERT-REVOKED")
    # 4.5.8: the EE was signed with the CRL key, which may not sign certificates
    assert_outcome(self_issued_crl_key(ee_signer="CRL key").decide("EE", intermediates=intermediates), FAILED,
                   "TRUST-CHAIN-UNTRUSTED")


def test_pkits_4_7_4_crl_of_a_ca_without_crl_sign_is_not_used() -> None:
    pki = Pki((TA, TA_CRL, ca("CA", dn("keyUsage Critical cRLSign False CA"), "TA", usage=("key_cert_sign",)),
               Crl("CA CRL", "CA"), Cert("EE", dn("Invalid keyUsage Critical cRLSign False EE Test4"), "CA")))
    decision = pki.decide("EE", intermediates=["CA"])
    assert_outcome(decision, INDETERMINATE, "TRUST-REVOCATION-UNKNOWN")
    assert "cRLSign" in decision.findings[0].message


# --- 5.2.5 and 6.3.3 (b): IssuingDistributionPoint scope --------------------------------------------------


def idp(**values: object) -> tuple[x509.IssuingDistributionPoint, bool]:
    arguments: dict[str, object] = {
        "full_name": None, "relative_name": None, "only_contains_user_certs": False,
        "only_contains_ca_certs": False, "only_some_reasons": None, "indirect_crl": False,
        "only_contains_attribute_certs": False,
    }
    arguments.update(values)
    return x509.IssuingDistributionPoint(**arguments), True  # type: ignore[arg-type]


def test_pkits_4_14_11_user_only_crl_does_not_cover_a_ca() -> None:
    pki = Pki((TA, Crl("TA CRL", "TA", extensions=(idp(only_contains_user_certs=True),)), GOOD_CA,
               Crl("Good CA CRL", "Good CA"), Cert("EE", dn("EE"), "Good CA")))
    decision = pki.decide("EE", intermediates=["Good CA"])
    assert_outcome(decision, INDETERMINATE, "TRUST-REVOCATION-UNKNOWN")
    assert "Good CA" in decision.findings[0].message and "end-entity" in decision.findings[0].message


def test_pkits_4_14_12_ca_only_crl_does_not_cover_an_ee_and_4_14_13_covers_a_ca() -> None:
    ca_only = (idp(only_contains_ca_certs=True),)
    pki = Pki((TA, Crl("TA CRL", "TA", extensions=ca_only), GOOD_CA,
               Crl("Good CA CRL", "Good CA", extensions=ca_only), Cert("EE", dn("EE"), "Good CA")))
    assert_outcome(pki.decide("EE", intermediates=["Good CA"]), INDETERMINATE, "TRUST-REVOCATION-UNKNOWN")
    only_ca_checked = Pki((TA, Crl("TA CRL", "TA", extensions=ca_only), GOOD_CA, Crl("Good CA CRL", "Good CA"),
                           Cert("EE", dn("Valid onlyContainsCACerts CRL EE Test13"), "Good CA")))
    assert_outcome(only_ca_checked.decide("EE", intermediates=["Good CA"]), PASSED)


def test_rfc5280_6_3_3_b_a_newer_ca_only_crl_does_not_hide_a_revocation() -> None:
    """Issue 13: the newest CRL of the CA covers only CA certificates and does not list the EE; the older
    complete CRL does. Used only within its scope, the newer one hides nothing."""
    pki = Pki((TA, TA_CRL, GOOD_CA, Cert("EE", dn("EE"), "Good CA"),
               Crl("Complete", "Good CA", (Revoked("EE", reason=x509.ReasonFlags.superseded),), number=1,
                   this_update=-2 * DAY),
               Crl("CA only", "Good CA", number=2, this_update=-HOUR, extensions=(idp(only_contains_ca_certs=True),))))
    assert_outcome(pki.decide("EE", intermediates=["Good CA"]), FAILED, "TRUST-CERT-REVOKED")


def test_pkits_4_14_14_attribute_certificate_crl_covers_no_public_key_certificate() -> None:
    pki = Pki((TA, TA_CRL, GOOD_CA, Cert("EE", dn("EE"), "Good CA"),
               Crl("Good CA CRL", "Good CA", extensions=(idp(only_contains_attribute_certs=True),))))
    assert_outcome(pki.decide("EE", intermediates=["Good CA"]), INDETERMINATE, "TRUST-REVOCATION-UNKNOWN")


KEY_REASONS = frozenset({x509.ReasonFlags.key_compromise, x509.ReasonFlags.ca_compromise})
OTHER_REASONS = frozenset({
    x509.ReasonFlags.affiliation_changed, x509.ReasonFlags.superseded, x509.ReasonFlags.cessation_of_operation,
    x509.ReasonFlags.certificate_hold, x509.ReasonFlags.privilege_withdrawn, x509.ReasonFlags.aa_compromise,
})


def test_pkits_4_14_17_crls_that_do_not_cover_every_reason_are_indeterminate() -> None:
    pki = Pki((TA, TA_CRL, GOOD_CA, Cert("EE", dn("EE"), "Good CA"),
               Crl("Key reasons", "Good CA", extensions=(idp(only_some_reasons=KEY_REASONS),))))
    decision = pki.decide("EE", intermediates=["Good CA"])
    assert_outcome(decision, INDETERMINATE, "TRUST-REVOCATION-UNKNOWN")
    assert "only some reasons" in decision.findings[0].message


def complementary(*revoked: Revoked) -> Pki:
    """Two CRLs of the CA: one for keyCompromise and cACompromise, one for the other reasons."""
    key = tuple(item for item in revoked if item.reason in KEY_REASONS)
    other = tuple(item for item in revoked if item.reason not in KEY_REASONS)
    return Pki((TA, TA_CRL, GOOD_CA, Cert("EE", dn("onlySomeReasons EE"), "Good CA"),
                Crl("Key reasons", "Good CA", key, extensions=(idp(only_some_reasons=KEY_REASONS),)),
                Crl("Other reasons", "Good CA", other, number=2, extensions=(idp(only_some_reasons=OTHER_REASONS),))))


def test_pkits_4_14_18_two_crls_for_complementary_reasons_cover_everything() -> None:
    assert_outcome(complementary().decide("EE", intermediates=["Good CA"]), PASSED)


@pytest.mark.parametrize(
    "reason",
    [x509.ReasonFlags.key_compromise, x509.ReasonFlags.certificate_hold, x509.ReasonFlags.affiliation_changed],
    ids=["PKITS 4.14.15 keyCompromise", "PKITS 4.14.16 on hold", "PKITS 4.14.21 affiliationChanged"],
)
def test_pkits_4_14_15_16_21_revoked_on_one_of_two_reason_partitioned_crls(reason: x509.ReasonFlags) -> None:
    decision = complementary(Revoked("EE", reason=reason)).decide("EE", intermediates=["Good CA"])
    assert_outcome(decision, FAILED, "TRUST-CERT-REVOKED")


def test_rfc5280_6_3_3_d_a_newer_crl_for_some_reasons_does_not_hide_a_revocation() -> None:
    """Issue 13: the newest CRL covers only keyCompromise and cACompromise; the older complete CRL lists the
    EE as superseded. The newer one says nothing about superseded: the revocation stands."""
    pki = Pki((TA, TA_CRL, GOOD_CA, Cert("EE", dn("EE"), "Good CA"),
               Crl("Complete", "Good CA", (Revoked("EE", reason=x509.ReasonFlags.superseded),), number=1,
                   this_update=-2 * DAY),
               Crl("Key reasons", "Good CA", number=2, this_update=-HOUR,
                   extensions=(idp(only_some_reasons=KEY_REASONS),))))
    assert_outcome(pki.decide("EE", intermediates=["Good CA"]), FAILED, "TRUST-CERT-REVOKED")


def test_pkits_4_14_1_3_9_a_partitioned_crl_covers_only_its_distribution_point() -> None:
    """RFC 5280 6.3.3 (b)(2)(i): the CRL's IDP names partition 1. It covers an EE that names partition 1
    (4.14.1), not one that names partition 2 (4.14.3), nor one without distribution points, which is taken
    to name its issuer (4.14.9)."""
    def uri(part: int) -> x509.UniformResourceIdentifier:
        return x509.UniformResourceIdentifier(f"http://crl.example/part{part}.crl")

    def points(part: int) -> tuple[x509.CRLDistributionPoints, bool]:
        return x509.CRLDistributionPoints([x509.DistributionPoint([uri(part)], None, None, None)]), False

    pki = Pki((TA, TA_CRL, GOOD_CA,
               Cert("In 1", dn("EE1"), "Good CA", extensions=(points(1),)),
               Cert("In 2", dn("EE2"), "Good CA", extensions=(points(2),)),
               Cert("No DP", dn("EE3"), "Good CA"),
               Crl("Part 1", "Good CA", extensions=(idp(full_name=[uri(1)]),))))
    assert_outcome(pki.decide("In 1", intermediates=["Good CA"]), PASSED)
    assert_outcome(pki.decide("In 2", intermediates=["Good CA"]), INDETERMINATE, "TRUST-REVOCATION-UNKNOWN")
    assert_outcome(pki.decide("No DP", intermediates=["Good CA"]), INDETERMINATE, "TRUST-REVOCATION-UNKNOWN")


def indirect(*, marked: bool = True, named: bool = True, revoked: tuple[Revoked, ...] = ()) -> Pki:
    """TA certifies 'Indirect CRL Issuer' (cRLSign only); it issues the CRL for Good CA's certificates,
    which name it as their cRLIssuer (PKITS 'indirectCRL CA2' / 'CA5')."""
    crl_issuer = x509.DirectoryName(dn("Indirect CRL Issuer"))
    points = x509.CRLDistributionPoints([x509.DistributionPoint(None, None, None, [crl_issuer])])
    return Pki((TA, TA_CRL, GOOD_CA,
                ca("CRL Issuer", dn("Indirect CRL Issuer"), "TA", ca=None, usage=("crl_sign",)),
                Cert("EE", dn("IDP with indirectCRL EE"), "Good CA",
                     extensions=((points, False),) if named else ()),
                Crl("Indirect", "CRL Issuer", revoked, extensions=(idp(indirect_crl=marked),) if marked else ())))


INDIRECT_PATH = ["Good CA", "CRL Issuer"]


def test_pkits_4_14_24_valid_indirect_crl() -> None:
    assert_outcome(indirect().decide("EE", intermediates=INDIRECT_PATH), PASSED)


def test_pkits_4_14_25_an_entry_without_certificate_issuer_belongs_to_the_crl_issuer() -> None:
    """RFC 5280 5.3.3: the EE's serial number is listed, but with no CertificateIssuer before it the entry
    is a certificate of the CRL issuer's own."""
    pki = indirect(revoked=(Revoked("EE"),))
    assert_outcome(pki.decide("EE", intermediates=INDIRECT_PATH), PASSED)


def test_pkits_4_14_31_and_4_14_32_revoked_on_an_indirect_crl() -> None:
    """4.14.31: the entry names the EE's issuer; 4.14.32: a preceding entry does, and it carries over."""
    named = indirect(revoked=(Revoked("EE", certificate_issuer="Good CA"),))
    assert_outcome(named.decide("EE", intermediates=INDIRECT_PATH), FAILED, "TRUST-CERT-REVOKED")
    inherited = indirect(revoked=(Revoked("Good CA", reason=None, certificate_issuer="Good CA"), Revoked("EE")))
    # the first entry's serial is Good CA's own, attributed to Good CA: a certificate of Good CA's that does
    # not exist; the second (the EE's serial) inherits Good CA as its issuer
    assert_outcome(inherited.decide("EE", intermediates=INDIRECT_PATH), FAILED, "TRUST-CERT-REVOKED")


def test_pkits_4_14_33_an_entry_belongs_to_the_issuer_last_named() -> None:
    """The same serial number under another CertificateIssuer is another certificate."""
    twin = indirect(revoked=(Revoked("EE", certificate_issuer="TA"),))
    assert_outcome(twin.decide("EE", intermediates=INDIRECT_PATH), PASSED)


def test_pkits_4_14_26_27_and_rfc5280_6_3_3_b1_indirect_crl_needs_the_mark_and_the_certificates_word() -> None:
    # 4.14.27: the certificate names the CRL issuer, but its CRL has no IDP saying it is indirect
    assert_outcome(indirect(marked=False).decide("EE", intermediates=INDIRECT_PATH), INDETERMINATE,
                   "TRUST-REVOCATION-UNKNOWN")
    # the CRL is indirect, but the certificate does not name its issuer as a cRLIssuer
    assert_outcome(indirect(named=False).decide("EE", intermediates=INDIRECT_PATH), INDETERMINATE,
                   "TRUST-REVOCATION-UNKNOWN")
    # 4.14.26: the named CRL issuer's certificate is not available: its CRL proves nothing
    assert_outcome(indirect().decide("EE", intermediates=["Good CA"]), INDETERMINATE, "TRUST-REVOCATION-UNKNOWN")


def test_pkits_4_14_22_and_4_14_23_a_direct_crl_marked_indirect() -> None:
    marked = (idp(indirect_crl=True),)
    valid = Pki((TA, TA_CRL, GOOD_CA, Cert("EE", dn("IDP with indirectCRL EE"), "Good CA"),
                 Crl("Good CA CRL", "Good CA", extensions=marked)))
    assert_outcome(valid.decide("EE", intermediates=["Good CA"]), PASSED)
    revoked = Pki((TA, TA_CRL, GOOD_CA, Cert("EE", dn("IDP with indirectCRL EE"), "Good CA"),
                   Crl("Good CA CRL", "Good CA", (Revoked("EE"),), extensions=marked)))
    assert_outcome(revoked.decide("EE", intermediates=["Good CA"]), FAILED, "TRUST-CERT-REVOKED")


def test_pkits_4_14_28_crl_issuer_certified_by_the_certificates_own_ca() -> None:
    """The indirect CRL issuer's certificate comes from Good CA and is covered by Good CA's own CRL."""
    crl_issuer = x509.DirectoryName(dn("indirectCRL CA3 cRLIssuer"))
    points = x509.CRLDistributionPoints([x509.DistributionPoint(None, None, None, [crl_issuer])])
    pki = Pki((TA, TA_CRL, GOOD_CA, Crl("Good CA CRL", "Good CA"),
               ca("CRL Issuer", dn("indirectCRL CA3 cRLIssuer"), "Good CA", ca=None, usage=("crl_sign",)),
               Cert("EE", dn("Valid cRLIssuer EE Test28"), "Good CA", extensions=((points, False),)),
               Crl("Indirect", "CRL Issuer", extensions=(idp(indirect_crl=True),))))
    assert_outcome(pki.decide("EE", intermediates=INDIRECT_PATH), PASSED)


def test_rfc5280_6_3_a_revocation_dated_exactly_at_the_moment_counts() -> None:
    """The CRL and its entry are both dated at the moment of evaluation: revoked then (the library counts only
    revocations strictly before its validation time; ours includes the moment)."""
    pki = Pki((TA, TA_CRL, GOOD_CA, Cert("EE", dn("EE"), "Good CA"),
               Crl("Good CA CRL", "Good CA", (Revoked("EE", reason=x509.ReasonFlags.superseded, at=0 * DAY),),
                   this_update=0 * DAY)))
    assert_outcome(pki.decide("EE", intermediates=["Good CA"]), FAILED, "TRUST-CERT-REVOKED")


def test_rfc5280_6_1_anchor_path_length_constraint_applies() -> None:
    """The anchor's own pathLenConstraint 0 allows no intermediate CA."""
    pki = Pki((ca("TA", dn("Trust Anchor"), path_length=0), TA_CRL, GOOD_CA, Crl("Good CA CRL", "Good CA"),
               Cert("EE", dn("EE"), "Good CA")))
    assert_outcome(pki.decide("EE", intermediates=["Good CA"]), FAILED, "TRUST-CHAIN-UNTRUSTED")
