"""Delivery authentication between the gateway and a receiving node.

The envelope itself is signed by the sending node, but a receiving node must also know that a delivery came
through the gateway (and not straight from someone who copied an envelope). The gateway therefore signs each
delivery with its own signer key, in an HTTP header::

    PTX-Delivery: t=2026-11-05T08:30:00Z; m=<message id>; sig=<base64 signature>

The signature (ECDSA P-256 / SHA-256, or RSA PKCS#1 v1.5 / SHA-256, by the key) covers
``"ptx-delivery-v1\\n" + t + "\\n" + m + "\\n" + hex(SHA-256(body))``. The node checks it against the
gateway's certificate from its own configuration, and that ``t`` lies within a skew window of its own clock.
Time is an explicit input on both sides. mTLS can be layered on top; this works over plain HTTP in a demo.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from exchange._errors import Code
from exchange._findings import Finding

HEADER = "PTX-Delivery"
#: the same header's name, as the public API exports it
DELIVERY_HEADER = HEADER
CHECK_DELIVERY = "delivery-authentication"
DEFAULT_SKEW = timedelta(minutes=5)
_FORMAT = re.compile(r"^t=([^;]+);\s*m=([^;]+);\s*sig=([A-Za-z0-9+/=]+)$")

SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


def _payload(moment_text: str, message_id: str, body: bytes) -> bytes:
    return f"ptx-delivery-v1\n{moment_text}\n{message_id}\n{hashlib.sha256(body).hexdigest()}".encode()


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def sign_delivery(body: bytes, message_id: str, key: SigningKey, *, moment: datetime) -> str:
    """The ``PTX-Delivery`` header value for ``body``."""
    moment_text = _iso(moment)
    data = _payload(moment_text, message_id, body)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        signature = key.sign(data, ec.ECDSA(hashes.SHA256()))
    elif isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        signature = key.sign(data)
    else:  # pragma: no cover - typed
        raise TypeError(f"unsupported key type {type(key).__name__}")
    return f"t={moment_text}; m={message_id}; sig={base64.b64encode(signature).decode('ascii')}"


def verify_delivery(
    header: str | None,
    body: bytes,
    message_id: str,
    gateway: x509.Certificate,
    *,
    moment: datetime,
    skew: timedelta = DEFAULT_SKEW,
) -> list[Finding]:
    """Findings (empty when the delivery is authentic) for a ``PTX-Delivery`` header."""

    def refuse(code: Code, message: str) -> list[Finding]:
        return [Finding.of(code, CHECK_DELIVERY, message)]

    if not header:
        return refuse(Code.GW_DELIVERY_NOT_AUTHENTICATED, f"no {HEADER} header: not delivered by the gateway")
    match = _FORMAT.match(header.strip())
    if match is None:
        return refuse(Code.GW_DELIVERY_NOT_AUTHENTICATED, f"the {HEADER} header is malformed")
    moment_text, header_message_id, signature_text = match.groups()
    try:
        signed_at = datetime.fromisoformat(moment_text.replace("Z", "+00:00"))
        signature = base64.b64decode(signature_text, validate=True)
    except (ValueError, binascii.Error):
        return refuse(Code.GW_DELIVERY_NOT_AUTHENTICATED, f"the {HEADER} header is malformed")
    if signed_at.tzinfo is None:
        return refuse(Code.GW_DELIVERY_NOT_AUTHENTICATED, f"the {HEADER} time has no time zone")
    if header_message_id != message_id:
        return refuse(
            Code.GW_DELIVERY_NOT_AUTHENTICATED,
            f"the delivery was signed for message {header_message_id!r}, not {message_id!r}",
        )
    if abs(signed_at - moment) > skew:
        return refuse(
            Code.GW_DELIVERY_NOT_AUTHENTICATED,
            f"the delivery was signed at {moment_text}, outside {int(skew.total_seconds())} s of {_iso(moment)}",
        )
    if not gateway.not_valid_before_utc <= moment <= gateway.not_valid_after_utc:
        return refuse(Code.GW_DELIVERY_NOT_AUTHENTICATED, "the gateway's certificate is not valid now")
    data = _payload(moment_text, header_message_id, body)
    public_key = gateway.public_key()
    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        elif isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(signature, data)
        else:
            return refuse(Code.GW_DELIVERY_NOT_AUTHENTICATED, "the gateway's key type is not supported")
    except InvalidSignature:
        return refuse(
            Code.GW_DELIVERY_NOT_AUTHENTICATED, "the delivery signature does not verify with the gateway's key"
        )
    return []


__all__ = ["CHECK_DELIVERY", "DEFAULT_SKEW", "DELIVERY_HEADER", "HEADER", "sign_delivery", "verify_delivery"]
