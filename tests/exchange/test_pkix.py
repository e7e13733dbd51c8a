"""RFC 5280 building blocks (exchange._pkix): name preparation and matching, the algorithm profile, CRL views.

Whole paths and revocation decisions are tested through TrustContext in test_path_validation.py.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

from exchange._pki import generate_key, key_usage
from exchange._pkix import PathValidator, certificate_signed_by, names_match, prepare
from tests.support.certificates import (
    crl_with_an_unpreparable_issuer,
    duplicate_extension,
    unknown_signature_algorithm,
)

MOMENT = dt.datetime(2030, 1, 15, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def test_rfc4518_preparation_folds_case_maps_spaces_and_drops_invisible_characters() -> None:
    assert prepare("  Good\u00a0\tCA\u200b ") == "good ca"
    assert prepare("STRASSE") == prepare("straße")  # full case folding
    assert prepare("\uff27ood CA") == "good ca"  # NFKC: fullwidth G


def test_rfc5280_7_1_rdn_sequence_order_matters_within_an_rdn_it_does_not() -> None:
    cn, org = NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME
    multi = x509.Name([x509.RelativeDistinguishedName([x509.NameAttribute(cn, "A"), x509.NameAttribute(org, "B")])])
    swapped = x509.Name([x509.RelativeDistinguishedName([x509.NameAttribute(org, "b"), x509.NameAttribute(cn, "a")])])
    assert names_match(multi, swapped)
    in_order = x509.Name([x509.NameAttribute(cn, "A"), x509.NameAttribute(org, "B")])
    reversed_order = x509.Name([x509.NameAttribute(org, "B"), x509.NameAttribute(cn, "A")])
    assert not names_match(in_order, reversed_order)
    assert not names_match(in_order, multi)  # two RDNs are not one multi-valued RDN
    assert not names_match(x509.Name([x509.NameAttribute(cn, "A")]), x509.Name([x509.NameAttribute(org, "A")]))
    printable = x509.Name([x509.NameAttribute(cn, "Good CA", _type=_ASN1Type.PrintableString)])
    utf8 = x509.Name([x509.NameAttribute(cn, "good  ca", _type=_ASN1Type.UTF8String)])
    assert names_match(printable, utf8)


def _certificate(subject: str, key: object, signer: object, algorithm: hashes.HashAlgorithm,
                 *, ca: bool) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder().subject_name(name).issuer_name(x509.Name([x509.NameAttribute(
            NameOID.COMMON_NAME, "Root")]))
        .public_key(key.public_key())  # type: ignore[attr-defined]
        .serial_number(x509.random_serial_number())
        .not_valid_before(MOMENT - DAY).not_valid_after(MOMENT + DAY)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(key_usage(("key_cert_sign", "crl_sign") if ca else ("digital_signature",)), critical=True)
    )
    return builder.sign(signer, algorithm)  # type: ignore[arg-type]


def test_the_algorithm_profile_refuses_other_hashes_and_small_rsa() -> None:
    """SHA-256/384/512 only (cryptography no longer even signs with SHA-1), RSA of at least 2048 bits."""
    root_key = generate_key()
    root = _certificate("Root", root_key, root_key, hashes.SHA256(), ca=True)
    good = _certificate("Leaf", generate_key(), root_key, hashes.SHA256(), ca=False)
    sha224 = _certificate("Leaf", generate_key(), root_key, hashes.SHA224(), ca=False)
    small = _certificate("Leaf", rsa.generate_private_key(public_exponent=65537, key_size=1024), root_key,
                         hashes.SHA256(), ca=False)
    assert certificate_signed_by(good, root)
    assert not certificate_signed_by(sha224, root)
    validator = PathValidator([root])
    assert validator.build(good, moment=MOMENT) == (good, root)
    assert validator.build(sha224, moment=MOMENT) is None
    assert validator.build(small, moment=MOMENT) is None  # the subject key is outside the profile


def test_certificates_are_parsed_in_full_before_threads_share_them(tmp_path: Path) -> None:
    """asn1crypto parses a certificate's parts on first access and is not thread-safe: two gateway threads validating
    paths through one fresh certificate raised KeyError in its Validity under load (bench/scale.py with several
    gateways). The shared parsed form is complete before anyone else sees it."""
    from datetime import UTC, datetime

    from exchange._pkix import _asn1
    from exchange._workspace import init_country

    certificate = init_country(tmp_path / "cc", "CC", moment=datetime.now(UTC)).node_certificate("CC")
    parsed = _asn1(certificate)
    tbs = parsed["tbs_certificate"]
    assert tbs.children is not None and not any(isinstance(child, tuple) for child in tbs.children)
    assert tbs["validity"].children is not None and all(
        not isinstance(child, tuple) for child in tbs["validity"].children)
    assert parsed.critical_extensions is not None


def test_a_certificate_path_validation_cannot_read_is_never_part_of_a_path() -> None:
    """Found by fuzz/run.py in CI: an envelope whose KeyInfo carried its issuing CA with a one-digit change to the
    signature algorithm's OID raised ValueError from asn1crypto inside sender authentication. Wherever such a
    certificate comes from (KeyInfo, a trust list's intermediates or anchors), the validator leaves it out."""
    from exchange._pki import build_country_pki, demo_country
    from exchange._pkix import unreadable

    pki = build_country_pki(demo_country("CC"), moment=MOMENT)
    root, issuing, node = pki.root.certificate, pki.issuing_ca.certificate, pki.node.certificate
    damaged = unknown_signature_algorithm(issuing)
    assert unreadable(issuing) is None
    assert "1.2.840.10232.4.3.2" in (unreadable(damaged) or "")

    assert PathValidator([root]).build(node, [damaged], moment=MOMENT) is None
    assert PathValidator([root]).build(node, [damaged, issuing], moment=MOMENT) == (node, issuing, root)
    assert PathValidator([root], [damaged]).build(node, moment=MOMENT) is None
    assert PathValidator([root], [damaged]).build(unknown_signature_algorithm(node), [issuing], moment=MOMENT) is None
    assert PathValidator([unknown_signature_algorithm(root)], [issuing]).build(node, moment=MOMENT) is None


def test_a_crl_path_validation_cannot_read_is_never_used() -> None:
    """A CRL whose issuer name asn1crypto cannot prepare (cryptography loads it) made PathValidator raise ValueError
    when it was built; such a CRL is left out, and revocation without a readable CRL stays undecided (fail closed)."""
    from exchange._pki import build_country_pki, demo_country
    from exchange._pkix import RevocationStatus, unreadable_crl

    pki = build_country_pki(demo_country("CC"), moment=MOMENT)
    root, issuing, node = pki.root.certificate, pki.issuing_ca.certificate, pki.node.certificate
    damaged = crl_with_an_unpreparable_issuer(pki.issuing_ca.key, MOMENT)
    assert "unassigned code points" in (unreadable_crl(damaged) or "")
    assert unreadable_crl(pki.issuing_ca_crl) is None

    validator = PathValidator([root], [issuing], [pki.root_crl, damaged])
    path = validator.build(node, moment=MOMENT)
    assert path == (node, issuing, root)
    statuses = [result.status for result in validator.revocations(path, moment=MOMENT)]
    assert statuses == [RevocationStatus.UNKNOWN, RevocationStatus.GOOD]  # the node's issuer has no readable CRL
    readable = PathValidator([root], [issuing], [pki.root_crl, damaged, pki.issuing_ca_crl])
    assert [r.status for r in readable.revocations(path, moment=MOMENT)] == [RevocationStatus.GOOD] * 2


def test_a_certificate_whose_crl_issuer_name_cannot_be_prepared_is_unreadable() -> None:
    """The cRLIssuer of a distribution point is compared with CRLs' issuers after RFC 4518 preparation: one that
    cannot be prepared makes the certificate unreadable (never in a path), not an exception in revocation."""
    from exchange._pki import build_country_pki, demo_country
    from exchange._pkix import unreadable

    pki = build_country_pki(demo_country("CC"), moment=MOMENT)
    crl_issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "CRL issuer \u0378")])
    points = x509.CRLDistributionPoints([x509.DistributionPoint(
        full_name=None, relative_name=None, reasons=None, crl_issuer=[x509.DirectoryName(crl_issuer)])])
    leaf = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Leaf")]))
        .issuer_name(pki.issuing_ca.certificate.subject).public_key(generate_key().public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(MOMENT - DAY).not_valid_after(MOMENT + DAY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage(("digital_signature",)), critical=True)
        .add_extension(points, critical=False)
        .sign(pki.issuing_ca.key, hashes.SHA256())  # type: ignore[arg-type]
    )
    assert "unassigned code points" in (unreadable(leaf) or "")
    assert PathValidator([pki.root.certificate], [pki.issuing_ca.certificate]).build(leaf, moment=MOMENT) is None


def _ca_with_excluded_name(root: object, root_key: object, excluded: str) -> tuple[x509.Certificate, object]:
    key = generate_key()
    issuer = root.subject  # type: ignore[attr-defined]
    certificate = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Constrained CA")]))
        .issuer_name(issuer).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(MOMENT - DAY).not_valid_after(MOMENT + DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(key_usage(("key_cert_sign", "crl_sign")), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root.public_key()),  # type: ignore[attr-defined]
                       critical=False)
        .add_extension(x509.NameConstraints(permitted_subtrees=None, excluded_subtrees=[x509.DirectoryName(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, excluded)]))]), critical=True)
        .sign(root_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return certificate, key


def test_a_name_constraint_path_validation_cannot_prepare_makes_no_path_not_an_exception() -> None:
    """A CA whose excluded subtree is a directory name with an unassigned code point: pyhanko-certvalidator raised
    ValueError from asn1crypto while validating a path through it (found in review). The path is not valid."""
    from exchange._pki import build_country_pki, demo_country

    pki = build_country_pki(demo_country("CC"), moment=MOMENT)
    root = pki.root.certificate
    for excluded, found in (("Someone else", True), ("Someone else \u0378", False)):
        ca, ca_key = _ca_with_excluded_name(root, pki.root.key, excluded)
        leaf_key = generate_key()
        leaf = (
            x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Leaf")]))
            .issuer_name(ca.subject).public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(MOMENT - DAY).not_valid_after(MOMENT + DAY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(key_usage(("digital_signature",)), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.public_key()), critical=False)  # type: ignore[arg-type]
            .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
        )
        path = PathValidator([root], [ca]).build(leaf, moment=MOMENT)
        assert (path == (leaf, ca, root)) is found, excluded


def test_a_certificate_with_a_duplicate_extension_is_unreadable_everywhere() -> None:
    """cryptography raises DuplicateExtension (not ValueError) when such a certificate's extensions are read; it
    escaped PathValidator and trust-list loading (found in review)."""
    from exchange._pki import build_country_pki, demo_country
    from exchange._pkix import unreadable

    pki = build_country_pki(demo_country("CC"), moment=MOMENT)
    root, issuing, node = pki.root.certificate, pki.issuing_ca.certificate, pki.node.certificate
    damaged = duplicate_extension(issuing)
    assert "Duplicate" in (unreadable(damaged) or "")
    assert PathValidator([root], [damaged]).build(node, moment=MOMENT) is None
    assert PathValidator([root]).build(node, [damaged, issuing], moment=MOMENT) == (node, issuing, root)
    assert PathValidator([root], [issuing]).build(duplicate_extension(node), moment=MOMENT) is None
    assert PathValidator([duplicate_extension(root)], [issuing]).build(node, moment=MOMENT) is None
