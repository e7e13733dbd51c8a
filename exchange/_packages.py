"""Public packages: what a country (or the gateway) hands to a partner, and nothing else.

A **country package** (``ptx country export``) is a signed JSON document (:mod:`exchange._signed`) whose payload
holds the country's root certificate (the anchor), its signed trust list, its node certificate(s) with the
moment each retires (a renewal overlaps the old and the new key), its TLS certificates, its endpoint URL and its
display name, with a sequence number. It is signed by the country's trust-list signer. A partner imports it
(``ptx country import``, ``ptx gateway admit``) with the anchor's SHA-256 it was given out of band (read aloud,
compared on paper): :func:`read_package` checks that the anchor is that one, the trust list verifies under it and
is within its validity period, the package's signature is the country's own, every node and TLS certificate was
issued under that anchor, and, given the package held so far, that the new one is not older (``PACKAGE-ROLLBACK``,
``PACKAGE-SEQUENCE-REUSED``; the trust list's own succession is checked too).

A **gateway package** (``ptx gateway export``) holds the gateway's CA, its signing certificate (which signs
rejection reports and relayed envelopes) and its TLS certificates, signed by the gateway's signing key; a country
imports it with the CA's SHA-256.

No private key is ever part of a package: the payload model has no field for one, and export reads only
certificates, the trust list and the index.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from cryptography import x509
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from exchange._errors import Code, TrustError
from exchange._pki import Credential, fingerprint, load_certificates, pem, utc
from exchange._signed import PACKAGE_CODES, SignedDocument, dumps, parse, sign, verify_member
from exchange._trustlist import TrustList, check_succession, load_trust_list

COUNTRY_PACKAGE = "ptx-country-package+json"
GATEWAY_PACKAGE = "ptx-gateway-package+json"
#: how far a package's issue time may lie ahead of the importer's clock
CLOCK_SKEW = timedelta(minutes=5)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PackagedNode(_Model):
    certificate: str = Field(description="PEM")
    retires_at: AwareDatetime | None = Field(default=None, description="after this moment its envelopes are refused")


class CountryManifest(_Model):
    """The payload of a country package."""

    format: Literal["ptx-country-package/1"] = "ptx-country-package/1"
    country: str = Field(pattern=r"^[A-Z]{2}$")
    name: str = Field(min_length=1, max_length=200)
    sequence: int = Field(ge=1)
    issued_at: AwareDatetime
    endpoint: str | None = Field(default=None, pattern=r"^https?://[^\s]+$", max_length=500)
    anchor: str = Field(description="PEM of the root certificate partners pin")
    trust_list: str = Field(description="base64 of the signed trust list XML")
    nodes: tuple[PackagedNode, ...] = Field(min_length=1)
    tls_client: str | None = None
    tls_server: str | None = None

    def same_content(self, other: CountryManifest) -> bool:
        """Equal apart from sequence and issue time (a re-export of the same material)."""
        ignore = {"sequence", "issued_at"}
        return self.model_dump(exclude=ignore) == other.model_dump(exclude=ignore)


class GatewayManifest(_Model):
    """The payload of a gateway package."""

    format: Literal["ptx-gateway-package/1"] = "ptx-gateway-package/1"
    name: str = Field(min_length=1, max_length=200)
    issued_at: AwareDatetime
    endpoint: str | None = Field(default=None, pattern=r"^https?://[^\s]+$", max_length=500)
    ca: str
    ca_crl: str
    signer: str
    tls_server: str
    tls_client: str


@dataclass(frozen=True)
class CountryPackage:
    """A verified country package."""

    manifest: CountryManifest
    data: bytes
    anchor: x509.Certificate
    trust_list: TrustList
    nodes: tuple[tuple[x509.Certificate, datetime | None], ...]

    @property
    def country(self) -> str:
        return self.manifest.country

    @property
    def anchor_sha256(self) -> str:
        return fingerprint(self.anchor)


@dataclass(frozen=True)
class GatewayPackage:
    manifest: GatewayManifest
    data: bytes
    ca: x509.Certificate


def anchor_fingerprint_text(sha256: str) -> str:
    """The fingerprint grouped in fours, for reading aloud: ``3f2a 91c0 ...``."""
    return " ".join(sha256[index:index + 4] for index in range(0, len(sha256), 4))


def _pem_text(certificate: x509.Certificate) -> str:
    return pem([certificate]).decode("ascii")


def build_country_package(
    *, country: str, name: str, sequence: int, moment: datetime, anchor: x509.Certificate, trust_list: bytes,
    nodes: tuple[tuple[x509.Certificate, datetime | None], ...], tls_client: x509.Certificate | None,
    tls_server: x509.Certificate | None, endpoint: str | None, signer: Credential,
) -> tuple[CountryManifest, bytes]:
    """The signed package (manifest, bytes)."""
    manifest = CountryManifest(
        country=country, name=name, sequence=sequence, issued_at=utc(moment), endpoint=endpoint,
        anchor=_pem_text(anchor), trust_list=base64.b64encode(trust_list).decode("ascii"),
        nodes=tuple(PackagedNode(certificate=_pem_text(cert), retires_at=retires) for cert, retires in nodes),
        tls_client=_pem_text(tls_client) if tls_client is not None else None,
        tls_server=_pem_text(tls_server) if tls_server is not None else None,
    )
    payload = manifest.model_dump_json().encode("utf-8")
    return manifest, dumps(sign(payload, signer, country=country, kind=COUNTRY_PACKAGE))


def _one_certificate(text: str, what: str, code: Code) -> x509.Certificate:
    try:
        certificates = load_certificates(text.encode("ascii"), source=what)
    except (TrustError, ValueError, UnicodeEncodeError) as exc:
        raise TrustError(f"the package's {what} is not a certificate", code=code) from exc
    except Exception as exc:  # noqa: BLE001 - any parse failure of untrusted input is the package's fault
        raise TrustError(f"the package's {what} is not a certificate ({exc})", code=code) from exc
    if len(certificates) != 1:
        raise TrustError(f"the package's {what} must be exactly one certificate", code=code)
    return certificates[0]


def _manifest(document: SignedDocument, model: type[_Model], code: Code) -> _Model:
    try:
        return model.model_validate_json(document.payload)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors())
        raise TrustError(f"the package's content is not valid: {problems}", code=code) from exc


def _opened(data: bytes, kind: str, model: type[_Model], anchor_sha256: str
            ) -> tuple[SignedDocument, _Model, x509.Certificate]:
    """A package's structure, its content and its anchor, which must be the one whose fingerprint was given out of
    band (nothing of the package is relied on before that)."""
    wanted = anchor_sha256.strip().lower().replace(":", "").replace(" ", "")
    document = parse(data, kind=kind, codes=PACKAGE_CODES)
    manifest = _manifest(document, model, Code.PACKAGE_INVALID)
    text = manifest.anchor if isinstance(manifest, CountryManifest) else getattr(manifest, "ca", "")
    whose = f"the package of {manifest.country}" if isinstance(manifest, CountryManifest) else "the gateway package"
    anchor = _one_certificate(text, "anchor", Code.PACKAGE_INVALID)
    if fingerprint(anchor) != wanted:
        raise TrustError(
            f"{whose} is anchored at {anchor_fingerprint_text(fingerprint(anchor))}, not at the fingerprint given "
            f"({anchor_fingerprint_text(wanted)}): compare it with its owner out of band before importing anything",
            code=Code.PACKAGE_ANCHOR_MISMATCH,
        )
    return document, manifest, anchor


def read_country_package(
    data: bytes, *, anchor_sha256: str, moment: datetime, held: CountryPackage | None = None
) -> CountryPackage:
    """Verify a country package under the anchor fingerprint given out of band (see the module docstring)."""
    from exchange._pkix import PathValidator

    moment = utc(moment)
    document, manifest, anchor = _opened(data, COUNTRY_PACKAGE, CountryManifest, anchor_sha256)
    assert isinstance(manifest, CountryManifest)
    if manifest.issued_at > moment + CLOCK_SKEW:
        raise TrustError(f"the package of {manifest.country} is issued in the future ({manifest.issued_at})",
                         code=Code.PACKAGE_INVALID)
    try:
        list_bytes = base64.b64decode(manifest.trust_list, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise TrustError("the package's trust list is not base64", code=Code.PACKAGE_INVALID) from exc
    try:
        trust_list = load_trust_list(list_bytes, roots=[anchor], moment=moment, country=manifest.country)
    except TrustError as exc:
        if exc.code is Code.TRUST_LIST_EXPIRED:
            raise TrustError(f"the package of {manifest.country}: {exc}", code=Code.PACKAGE_EXPIRED) from exc
        raise
    if document.countries() != (manifest.country,):
        raise TrustError(
            f"the package of {manifest.country} is signed by {', '.join(document.countries())}, not by "
            f"{manifest.country} alone", code=Code.PACKAGE_SIGNATURE_INVALID)
    verify_member(document, manifest.country, trust_list, moment=moment, codes=PACKAGE_CODES)
    validator = PathValidator(trust_list.anchors, trust_list.intermediates, trust_list.crls)
    nodes = []
    for position, node in enumerate(manifest.nodes, start=1):
        certificate = _one_certificate(node.certificate, f"node certificate {position}", Code.PACKAGE_INVALID)
        if validator.build(certificate, (), moment=moment) is None:
            raise TrustError(
                f"node certificate {position} of {manifest.country} ({certificate.subject.rfc4514_string()}) was not "
                "issued under its anchor, or is not valid now", code=Code.PACKAGE_INVALID)
        nodes.append((certificate, node.retires_at))
    if not any(retires is None or retires > moment for _, retires in nodes):
        raise TrustError(f"every node certificate of {manifest.country} has retired", code=Code.PACKAGE_INVALID)
    for what, text in (("TLS client certificate", manifest.tls_client), ("TLS server certificate",
                                                                         manifest.tls_server)):
        if text is not None:
            certificate = _one_certificate(text, what, Code.PACKAGE_INVALID)
            if validator.build(certificate, (), moment=moment) is None:
                raise TrustError(f"the {what} of {manifest.country} was not issued under its anchor",
                                 code=Code.PACKAGE_INVALID)
    package = CountryPackage(manifest, bytes(data), anchor, trust_list, tuple(nodes))
    check_package_succession(held, package)
    return package


def check_package_succession(held: CountryPackage | None, new: CountryPackage) -> None:
    """No rollback: a lower sequence than the package held, or the same with other content, is refused; the trust
    list inside must succeed the one held as well."""
    if held is None:
        return
    if held.country != new.country:
        raise TrustError(f"the package of {new.country} cannot replace the one of {held.country}",
                         code=Code.PACKAGE_INVALID)
    if held.anchor_sha256 != new.anchor_sha256:
        raise TrustError(
            f"the package of {new.country} is anchored elsewhere than the one held: a new anchor is a new "
            "relationship, agreed out of band (withdraw the partner first)", code=Code.PACKAGE_ANCHOR_MISMATCH)
    if new.manifest.sequence < held.manifest.sequence:
        raise TrustError(
            f"the package of {new.country} (sequence {new.manifest.sequence}) is older than the one held "
            f"(sequence {held.manifest.sequence}): a rollback is refused", code=Code.PACKAGE_ROLLBACK)
    if new.manifest.sequence == held.manifest.sequence and digest(new.data) != digest(held.data) \
            and not new.manifest.same_content(held.manifest):
        raise TrustError(
            f"the package of {new.country} carries the sequence of the one held ({new.manifest.sequence}) but other "
            "content; a new version needs a higher sequence", code=Code.PACKAGE_SEQUENCE_REUSED)
    check_succession(held.trust_list, new.trust_list)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_gateway_package(
    *, name: str, moment: datetime, ca: x509.Certificate, ca_crl: bytes, signer: Credential,
    tls_server: x509.Certificate, tls_client: x509.Certificate, endpoint: str | None,
) -> bytes:
    manifest = GatewayManifest(
        name=name, issued_at=utc(moment), endpoint=endpoint, ca=_pem_text(ca), ca_crl=ca_crl.decode("ascii"),
        signer=_pem_text(signer.certificate), tls_server=_pem_text(tls_server), tls_client=_pem_text(tls_client),
    )
    return dumps(sign(manifest.model_dump_json().encode("utf-8"), signer, country="gateway", kind=GATEWAY_PACKAGE))


def read_gateway_package(data: bytes, *, anchor_sha256: str, moment: datetime) -> GatewayPackage:
    """Verify a gateway package under its CA's fingerprint given out of band."""
    from joserfc import jws
    from joserfc.errors import JoseError

    from exchange._pkix import PathValidator
    from exchange._signed import REGISTRY, algorithm, jwk

    moment = utc(moment)
    document, manifest, ca = _opened(data, GATEWAY_PACKAGE, GatewayManifest, anchor_sha256)
    assert isinstance(manifest, GatewayManifest)
    signer = _one_certificate(manifest.signer, "gateway signer", Code.PACKAGE_INVALID)
    member = document.members[0]
    if len(document.members) != 1 or member.signer != signer:
        raise TrustError("the gateway package is not signed by the gateway signer it names",
                         code=Code.PACKAGE_SIGNATURE_INVALID)
    from exchange._pki import load_crl

    try:
        crl = load_crl(manifest.ca_crl.encode("ascii"), source="gateway package")
    except Exception as exc:  # noqa: BLE001 - untrusted input
        raise TrustError(f"the gateway package's CRL cannot be read ({exc})", code=Code.PACKAGE_INVALID) from exc
    validator = PathValidator((ca,), (), (crl,))
    for what, text in (("signer", manifest.signer), ("TLS server certificate", manifest.tls_server),
                       ("TLS client certificate", manifest.tls_client)):
        if validator.build(_one_certificate(text, what, Code.PACKAGE_INVALID), (), moment=moment) is None:
            raise TrustError(f"the gateway's {what} was not issued under its CA, or is not valid now",
                             code=Code.PACKAGE_SIGNATURE_INVALID)
    try:
        jws.deserialize_json({"payload": document.raw["payload"], **member.serialized},  # type: ignore[call-overload]
                             jwk(signer.public_key()),
                             algorithms=[algorithm(signer.public_key())], registry=REGISTRY)
    except (JoseError, ValueError) as exc:
        raise TrustError(f"the gateway package's signature does not verify ({exc})",
                         code=Code.PACKAGE_SIGNATURE_INVALID) from exc
    return GatewayPackage(manifest, bytes(data), ca)


__all__ = [
    "COUNTRY_PACKAGE",
    "GATEWAY_PACKAGE",
    "CountryManifest",
    "CountryPackage",
    "GatewayManifest",
    "GatewayPackage",
    "anchor_fingerprint_text",
    "build_country_package",
    "build_gateway_package",
    "read_country_package",
    "read_gateway_package",
]
