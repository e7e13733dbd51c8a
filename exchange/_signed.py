"""Signed JSON documents that cross a border: a country's public package and a bilateral agreement.

Both are a JWS in the JSON general serialization (RFC 7515 section 7.2.1, with :mod:`joserfc`): one payload, and
one signature per signing country, each in its own member. A member's protected header carries the signer's
certificate chain (``x5c``), the signing country (``ptx-country``) and the document kind (``typ``); all of it is
covered by the signature, so neither the payload nor who claims to have signed can be changed afterwards.

A signature counts only when the signer is the country's trust-list signer: its certificate must chain to the
anchor the relying party holds for that country (given out of band, by fingerprint), carry the trust-list signing
usage and be shown not revoked by that country's own trust list, exactly as a trust list's own signature is
judged (:func:`exchange._trustlist.check_scheme_signer`). So a gateway, which holds no country's key, cannot
forge either document: it can only pass on what the countries signed.

Countersigning (the second party to an agreement) adds a member over the same payload bytes; each member is
verified on its own, so the order and the moment of signing do not matter. Algorithms follow the key: ES256 for
P-256, ES384 for P-384, PS256 for RSA; anything else is refused.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey
from joserfc.jws import JWSRegistry
from joserfc.registry import HeaderParameter

from exchange._errors import Code, TrustError
from exchange._pki import Credential
from exchange._trustlist import TrustList, check_scheme_signer

#: the members' header key naming the signing country
COUNTRY_HEADER = "ptx-country"
#: the most bytes of a signed document read (a package holds a trust list and a few certificates)
MAX_SIGNED_BYTES = 4 * 1024 * 1024
_ALGORITHMS = ("ES256", "ES384", "PS256")
#: the JWS header registry: the standard parameters and ``ptx-country`` (strict: any other is refused)
REGISTRY = JWSRegistry(
    header_registry={COUNTRY_HEADER: HeaderParameter("the signing country (or 'gateway')", "str", required=True)},
    algorithms=_ALGORITHMS,
)
REGISTRY.max_header_length = 32 * 1024  # the protected header carries the signer's certificate chain (x5c)


@dataclass(frozen=True, slots=True)
class Codes:
    """The codes one kind of document is refused with."""

    invalid: Code
    signature: Code
    unsigned: Code


PACKAGE_CODES = Codes(Code.PACKAGE_INVALID, Code.PACKAGE_SIGNATURE_INVALID, Code.PACKAGE_SIGNATURE_INVALID)
AGREEMENT_CODES = Codes(Code.AGREEMENT_INVALID, Code.AGREEMENT_SIGNATURE_INVALID, Code.AGREEMENT_UNSIGNED)


@dataclass(frozen=True, slots=True)
class Member:
    """One signature of a signed document, before it is verified."""

    country: str
    signer: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    serialized: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SignedDocument:
    """A parsed (not yet verified) signed document: the payload bytes and who claims to have signed them."""

    kind: str
    payload: bytes
    members: tuple[Member, ...]
    raw: dict[str, Any]

    def countries(self) -> tuple[str, ...]:
        return tuple(member.country for member in self.members)


def algorithm(key: object) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if isinstance(key.curve, ec.SECP256R1):
            return "ES256"
        if isinstance(key.curve, ec.SECP384R1):
            return "ES384"
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey) and key.key_size >= 2048:
        return "PS256"
    raise TrustError(f"no JWS algorithm for a {type(key).__name__} key", code=Code.PKI_INVALID)


def jwk(key: Any) -> ECKey | RSAKey:
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return ECKey.import_key(key)
    return RSAKey.import_key(key)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def sign(payload: bytes, credential: Credential, *, country: str, kind: str) -> dict[str, Any]:
    """A signed document with one member: ``country``'s signature over ``payload``."""
    header = {
        "alg": algorithm(credential.key),
        "typ": kind,
        COUNTRY_HEADER: country,
        "x5c": [_b64(certificate.public_bytes(serialization.Encoding.DER))
                for certificate in credential.signing_chain],
    }
    value = jws.serialize_json([{"protected": header}], payload, jwk(credential.key),
                                 registry=REGISTRY)
    return dict(value)


def countersign(document: SignedDocument, credential: Credential, *, country: str) -> dict[str, Any]:
    """``document`` with ``country``'s signature added (an earlier signature of that country is replaced)."""
    added = sign(document.payload, credential, country=country, kind=document.kind)
    kept = [member.serialized for member in document.members if member.country != country]
    return {"payload": document.raw["payload"], "signatures": [*kept, *added["signatures"]]}


def dumps(value: Mapping[str, Any]) -> bytes:
    return (json.dumps(value, indent=1, sort_keys=True) + "\n").encode("utf-8")


#: what people call each kind of signed document in messages
KIND_NAMES = {"ptx-agreement+json": "agreement", "ptx-country-package+json": "country package",
              "ptx-gateway-package+json": "gateway package"}


def kind_name(kind: str) -> str:
    return KIND_NAMES.get(kind, kind)


def parse(data: bytes, *, kind: str, codes: Codes) -> SignedDocument:
    """Read a signed document's structure (nothing is trusted yet): a refusal is ``codes.invalid``."""
    def invalid(reason: str) -> TrustError:
        return TrustError(f"not a signed {kind_name(kind)}: {reason}", code=codes.invalid)

    if len(data) > MAX_SIGNED_BYTES:
        raise invalid(f"{len(data):,} bytes, more than {MAX_SIGNED_BYTES:,}")
    try:
        raw = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid(f"not JSON ({exc})") from exc
    if not isinstance(raw, dict) or set(raw) != {"payload", "signatures"} or not isinstance(raw["payload"], str) \
            or not isinstance(raw["signatures"], list) or not raw["signatures"]:
        raise invalid("expected a JWS in the JSON general serialization (payload and signatures)")
    try:
        payload = base64.urlsafe_b64decode(raw["payload"] + "=" * (-len(raw["payload"]) % 4))
    except (binascii.Error, ValueError) as exc:
        raise invalid("the payload is not base64url") from exc
    members = []
    for position, serialized in enumerate(raw["signatures"], start=1):
        if not isinstance(serialized, dict) or not isinstance(serialized.get("protected"), str) \
                or not isinstance(serialized.get("signature"), str) or set(serialized) - {"protected", "signature"}:
            raise invalid(f"signature {position} is not a member with a protected header and a signature only")
        try:
            protected = serialized["protected"]
            header = json.loads(base64.urlsafe_b64decode(protected + "=" * (-len(protected) % 4)))
            chain = tuple(x509.load_der_x509_certificate(base64.b64decode(item, validate=True))
                          for item in header["x5c"])
            country = header[COUNTRY_HEADER]
            member_kind = header["typ"]
        except (ValueError, KeyError, TypeError, binascii.Error, x509.InvalidVersion) as exc:
            raise invalid(f"signature {position}: its protected header lacks a readable x5c, typ or "
                          f"{COUNTRY_HEADER}") from exc
        if member_kind != kind:
            raise invalid(f"signature {position} signs a {member_kind!r}, not a {kind!r}")
        if not isinstance(country, str) or not chain:
            raise invalid(f"signature {position} names no signing country or certificate")
        members.append(Member(country, chain[0], chain[1:], serialized))
    countries = [member.country for member in members]
    if len(set(countries)) != len(countries):
        raise invalid(f"a country signed more than once ({', '.join(countries)})")
    return SignedDocument(kind, payload, tuple(members), raw)


def verify_member(document: SignedDocument, country: str, trust_list: TrustList, *, moment: datetime,
                  codes: Codes) -> None:
    """``country``'s signature on ``document`` verifies, by its trust-list signer under ``trust_list``'s anchors
    (the list must itself have been loaded under the anchor the caller holds for ``country``)."""
    member = next((member for member in document.members if member.country == country), None)
    if member is None:
        raise TrustError(f"the {kind_name(document.kind)} is not signed by {country}", code=codes.unsigned)
    try:
        check_scheme_signer(trust_list, member.signer, member.chain, trust_list.anchors, moment)
    except TrustError as exc:
        raise TrustError(f"{country}'s signature on the {kind_name(document.kind)}: {exc}",
                         code=codes.signature) from exc
    flattened = {"payload": document.raw["payload"], **member.serialized}
    try:
        jws.deserialize_json(flattened,  # type: ignore[call-overload]
                             jwk(member.signer.public_key()),
                             algorithms=[algorithm(member.signer.public_key())], registry=REGISTRY)
    except (JoseError, ValueError) as exc:
        raise TrustError(
            f"{country}'s signature on the {kind_name(document.kind)} does not verify: it was changed after it was "
            f"signed, or the signature is not {country}'s",
            code=codes.signature,
        ) from exc


__all__ = [
    "AGREEMENT_CODES",
    "PACKAGE_CODES",
    "REGISTRY",
    "Codes",
    "Member",
    "SignedDocument",
    "algorithm",
    "countersign",
    "dumps",
    "jwk",
    "parse",
    "sign",
    "verify_member",
]
