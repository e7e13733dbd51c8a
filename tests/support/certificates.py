"""Damaged certificates for tests of what refuses them."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import serialization

_ECDSA_WITH_SHA256 = bytes.fromhex("06082a8648ce3d040302")  # 1.2.840.10045.4.3.2, DER
_UNKNOWN = bytes.fromhex("06082a8648cf78040302")  # 1.2.840.10232.4.3.2: the same length, one arc changed


def unknown_signature_algorithm(certificate: x509.Certificate) -> x509.Certificate:
    """``certificate`` (signed with ecdsa-with-SHA256) with its outer signature algorithm changed to an OID nobody
    knows: cryptography still loads it; asn1crypto, which path validation reads, refuses it (found by fuzzing)."""
    der = certificate.public_bytes(serialization.Encoding.DER)
    at = der.rindex(_ECDSA_WITH_SHA256)
    return x509.load_der_x509_certificate(der[:at] + _UNKNOWN + der[at + len(_ECDSA_WITH_SHA256):])
