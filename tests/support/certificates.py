"""Damaged certificates and CRLs for tests of what refuses them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

_ECDSA_WITH_SHA256 = bytes.fromhex("06082a8648ce3d040302")  # 1.2.840.10045.4.3.2, DER
_UNKNOWN = bytes.fromhex("06082a8648cf78040302")  # 1.2.840.10232.4.3.2: the same length, one arc changed


def unknown_signature_algorithm(certificate: x509.Certificate) -> x509.Certificate:
    """``certificate`` (signed with ecdsa-with-SHA256) with its outer signature algorithm changed to an OID nobody
    knows: cryptography still loads it; asn1crypto, which path validation reads, refuses it (found by fuzzing)."""
    der = certificate.public_bytes(serialization.Encoding.DER)
    at = der.rindex(_ECDSA_WITH_SHA256)
    return x509.load_der_x509_certificate(der[:at] + _UNKNOWN + der[at + len(_ECDSA_WITH_SHA256):])


def crl_with_an_unpreparable_issuer(key: Any, moment: datetime) -> x509.CertificateRevocationList:
    """A CRL signed by ``key`` whose issuer's common name holds U+0378, an unassigned code point: cryptography loads
    it; asn1crypto's RFC 4518 preparation of the name, which path validation compares, refuses it."""
    return (
        x509.CertificateRevocationListBuilder()
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "CC Issuing CA \u0378")]))
        .last_update(moment - timedelta(days=1))
        .next_update(moment + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


def duplicate_extension(certificate: x509.Certificate) -> x509.Certificate:
    """``certificate`` with its first extension twice (its signature no longer verifies): cryptography loads it and
    raises DuplicateExtension, not ValueError, when the extensions are read."""
    parsed = asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))
    extensions = list(parsed["tbs_certificate"]["extensions"])
    parsed["tbs_certificate"]["extensions"] = asn1_x509.Extensions(
        [*extensions, asn1_x509.Extension.load(extensions[0].dump())])
    return x509.load_der_x509_certificate(parsed.dump(force=True))


def with_version(certificate: x509.Certificate, version: int) -> bytes:
    """The DER of ``certificate`` with another version number (cryptography refuses to load it: InvalidVersion)."""
    parsed = asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))
    parsed["tbs_certificate"]["version"] = asn1_x509.Version(version)
    return bytes(parsed.dump(force=True))
