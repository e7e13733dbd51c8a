"""Delivery authentication: the gateway's header signature over the body, message id and time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from exchange._transport import sign_delivery, verify_delivery

NOW = datetime(2026, 11, 5, 8, 30, tzinfo=UTC)


def certificate(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gateway")])
    return (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(NOW - timedelta(days=1)).not_valid_after(NOW + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


@pytest.fixture(params=["ec", "rsa"])
def key(request: pytest.FixtureRequest) -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    if request.param == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_authentic_delivery(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> None:
    header = sign_delivery(b"<Envelope/>", "msg-1", key, moment=NOW)
    assert verify_delivery(header, b"<Envelope/>", "msg-1", certificate(key), moment=NOW + timedelta(seconds=30)) == []


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"body": b"<Envelope>x</Envelope>"}, "does not verify"),
        ({"message_id": "msg-2"}, "signed for message"),
        ({"moment": NOW + timedelta(minutes=10)}, "outside"),
        ({"header": None}, "no PTX-Delivery header"),
        ({"header": "t=now; sig=zz"}, "malformed"),
        ({"other_key": True}, "does not verify"),
    ],
)
def test_refusals(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, change: dict[str, object], needle: str) -> None:
    header = sign_delivery(b"<Envelope/>", "msg-1", key, moment=NOW)
    cert = certificate(ec.generate_private_key(ec.SECP256R1())) if change.get("other_key") else certificate(key)
    findings = verify_delivery(
        change.get("header", header),  # type: ignore[arg-type]
        change.get("body", b"<Envelope/>"),  # type: ignore[arg-type]
        change.get("message_id", "msg-1"),  # type: ignore[arg-type]
        cert,
        moment=change.get("moment", NOW),  # type: ignore[arg-type]
    )
    assert [f.code for f in findings] == ["GW-DELIVERY-NOT-AUTHENTICATED"]
    assert needle in findings[0].message
