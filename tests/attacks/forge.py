"""The attacker's workshop: a world of keys and certificates, and tools that turn legitimately signed documents
into hostile ones at test time.

:func:`build_world` starts from a real demo workspace (countries AA and BB, the gateway) and adds what an
attacker or a careless issuer brings: AA authorities whose certificates are expired, not yet valid or revoked
(listed in AA's trust list for certificates of origin, so that only their dates or the CRL are wrong), a chamber
of commerce of a country nobody recognises, self-signed look-alikes of AA's chamber and node, and an RSA-1024
signer certified by AA's issuing CA. The revocation goes through :meth:`Workspace.revoke`, like ``ptx pki revoke``.

:class:`Forge` makes legitimate messages (issuer-signed document inside a node-signed envelope) and the
low-level edits attacks need: re-signing a ds:SignedInfo with the legitimate key after changing it (so an
attack is refused for what it is, not because the attacker lacked a key), recomputing a digest, swapping parts.

:class:`Canary` is a loopback listener that no input may make a service contact: XXE, an external DTD and an
external ``ds:Reference`` point at it, and the tests assert it saw no connection.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from lxml import etree

from exchange._algorithms import Namespace
from exchange._catalogue import default_catalogue
from exchange._dsig import SignaturePolicy, sign_document
from exchange._envelope import Party, build_envelope
from exchange._pki import Credential, Role, build_country_pki, demo_country, generate_key, issue_certificate, make_name
from exchange._trustlist import IssuerEntry
from exchange._workspace import Workspace, init_workspace

COO = "certificate-of-origin"
PHYTO = "phytosanitary-certificate"
XML = {"Content-Type": "application/xml"}
DS = Namespace.DS
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
WEAK_RSA_POLICY = SignaturePolicy(min_rsa_bits=1024)  # what a careless signer would use; the verifier never does


class Canary:
    """A listening loopback socket. Nothing may ever connect to it: it stands for an attacker's server."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.setblocking(False)
        self.port = int(self._sock.getsockname()[1])
        self.connections = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def contacted(self) -> bool:
        """True if anything connected since the last call (connections wait in the backlog until accepted)."""
        while True:
            try:
                conn, _ = self._sock.accept()
            except BlockingIOError:
                return self.connections > 0
            conn.close()
            self.connections += 1

    def close(self) -> None:
        self._sock.close()


@dataclass(frozen=True)
class World:
    workspace: Workspace
    created: datetime
    moment: datetime
    canary: Canary
    expired: Credential
    future: Credential
    revoked: Credential
    foreign: Credential
    impostor_chamber: Credential
    impostor_node: Credential
    weak_rsa: Credential
    weak_rsa_node: Credential

    @property
    def chamber(self) -> Credential:
        return self.workspace.authority("AA", "chamber-of-commerce")

    @property
    def nppo(self) -> Credential:
        return self.workspace.authority("AA", "nppo")

    def node(self, country: str = "AA") -> Credential:
        return self.workspace.node(country)


# AA authorities added on top of the demo ones: (name, start and end offsets from the creation moment)
_EXTRA_AUTHORITIES = {
    "expired-chamber": ("AA Expired Chamber", -HOUR, -timedelta(minutes=1)),
    "future-chamber": ("AA Future Chamber", 10 * DAY, 400 * DAY),
    "revoked-chamber": ("AA Revoked Chamber", -HOUR, 400 * DAY),
}


def _self_signed(like: x509.Certificate, role: Role, created: datetime, *, rsa_bits: int | None = None) -> Credential:
    """A self-signed certificate with the same subject as ``like`` (what an impostor puts in KeyInfo)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits) if rsa_bits else generate_key()
    certificate = issue_certificate(
        subject=like.subject, public_key=key.public_key(), issuer=None, issuer_key=key, role=role,
        not_before=created - HOUR, not_after=created + 400 * DAY,
    )
    return Credential(key, certificate, ())


def build_world(path: Path, *, created: datetime, moment: datetime, canary: Canary) -> World:
    """A demo workspace at ``created`` with the extra authorities; ``moment`` is when the services check."""
    init_workspace(path, moment=created)
    workspace = Workspace.open(path)
    issuing = workspace.issuing_ca("AA")
    index_path = path / "workspace.yaml"
    index = yaml.safe_load(index_path.read_text(encoding="utf-8"))
    entries, extra = [], {}
    for slug, (name, start, end) in _EXTRA_AUTHORITIES.items():
        key = generate_key()
        certificate = issue_certificate(
            subject=make_name(name, country="AA", organisation="Country AA"), public_key=key.public_key(),
            issuer=issuing, role=Role.DOCUMENT_SIGNER, not_before=created + start, not_after=created + end,
        )
        credential = Credential(key, certificate, (issuing.certificate,))
        cert_relative, key_relative = f"AA/authorities/{slug}.pem", f"AA/authorities/{slug}.key"
        credential.write(path / key_relative, path / cert_relative)
        index["countries"]["AA"]["authorities"][slug] = {
            "name": name, "role": "document-signer", "document_types": [COO],
            "certificate": cert_relative, "key": key_relative,
        }
        entries.append(IssuerEntry.for_credential(credential, [COO], since=created - HOUR, name=name))
        extra[slug] = credential
    index_path.write_text(yaml.safe_dump(index, sort_keys=False), encoding="utf-8")
    workspace = Workspace.open(path)
    current = workspace.trust_list("AA", moment=created, allow_expired=True)
    reissued = current.reissued(issued_at=created, issuers=(*current.issuers, *entries))
    workspace.file(workspace.country("AA").trust_list).write_bytes(reissued.sign(workspace.trust_list_signer("AA")))
    workspace = Workspace.open(path)
    workspace.revoke("AA/revoked-chamber", moment=created + timedelta(seconds=1))
    workspace = Workspace.open(path)

    weak_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    weak = issue_certificate(
        subject=make_name("AA Weak Chamber", country="AA", organisation="Country AA"),
        public_key=weak_key.public_key(), issuer=issuing, role=Role.DOCUMENT_SIGNER,
        not_before=created - HOUR, not_after=created + 400 * DAY,
    )
    chamber, node = workspace.authority("AA", "chamber-of-commerce"), workspace.node("AA")
    return World(
        workspace=workspace, created=created, moment=moment, canary=canary,
        expired=extra["expired-chamber"], future=extra["future-chamber"], revoked=extra["revoked-chamber"],
        foreign=build_country_pki(demo_country("ZZ"), moment=created).authority("chamber-of-commerce"),
        impostor_chamber=_self_signed(chamber.certificate, Role.DOCUMENT_SIGNER, created),
        impostor_node=_self_signed(node.certificate, Role.NODE, created),
        weak_rsa=Credential(weak_key, weak, (issuing.certificate,)),
        weak_rsa_node=_self_signed(node.certificate, Role.NODE, created, rsa_bits=1024),
    )


# --- low-level XML-DSig edits ---------------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def serialise(tree: etree._ElementTree | etree._Element) -> bytes:
    return bytes(etree.tostring(tree, xml_declaration=True, encoding="UTF-8"))


def signature_of(root: etree._Element) -> etree._Element:
    """The enveloped signature: the last element child of the root."""
    signature = root[-1]
    assert signature.tag == DS.tag("Signature"), signature.tag
    return signature


def ds(element: etree._Element, path: str) -> etree._Element:
    """The first element at ``path`` (``SignedInfo/Reference``) below ``element``, ds: prefix implied."""
    found = element.find("/".join(f"{{{DS.value}}}{step}" for step in path.split("/")))
    assert found is not None, path
    return found


def raw_sign(key: object, data: bytes, hash_name: str = "sha256") -> bytes:
    """A signature value as XML-DSig writes it (ECDSA as r||s), with any hash: attackers are not bound by policy."""
    algorithm: hashes.HashAlgorithm = {"sha1": hashes.SHA1, "sha256": hashes.SHA256}[hash_name]()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = utils.decode_dss_signature(key.sign(data, ec.ECDSA(algorithm)))
        size = (key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), algorithm)
    raise TypeError(type(key).__name__)


def c14n(node: etree._Element | etree._ElementTree) -> bytes:
    return bytes(etree.tostring(node, method="c14n", exclusive=True, with_comments=False))


def content_digest(root: etree._Element, hash_name: str = "sha256", element: etree._Element | None = None) -> bytes:
    """What an honest signer would digest: the element (default: the whole document minus its signature)."""
    if element is not None:
        return hashlib.new(hash_name, c14n(element)).digest()
    copied = copy.deepcopy(root)
    copied.remove(copied[-1])
    return hashlib.new(hash_name, c14n(copied)).digest()


def resign(root: etree._Element, key: object, hash_name: str = "sha256") -> None:
    """Put a fresh signature value over the (edited) ds:SignedInfo, made with ``key``."""
    signature = signature_of(root)
    ds(signature, "SignatureValue").text = b64(raw_sign(key, c14n(ds(signature, "SignedInfo")), hash_name))


# --- legitimate messages ----------------------------------------------------------------------------------------


def sample(type_id: str = COO, name: str = "basic.xml") -> bytes:
    doc_type = default_catalogue().get(type_id)
    return next(s for s in doc_type.samples if s.path.name == name).path.read_bytes()


class Forge:
    """Makes messages in ``world``: legitimate ones, and the raw material of attacks."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._documents: dict[tuple[str, str], bytes] = {}

    @property
    def canary(self) -> Canary:
        return self.world.canary

    def document(self, type_id: str = COO, *, signer: Credential | None = None, data: bytes | None = None,
                 policy: SignaturePolicy | None = None) -> bytes:
        """An issuer-signed document (default: the catalogue's basic sample signed by its AA authority)."""
        signer = signer or (self.world.nppo if type_id == PHYTO else self.world.chamber)
        if data is None and policy is None:
            key = (type_id, signer.fingerprint)
            if key not in self._documents:
                self._documents[key] = sign_document(sample(type_id), signer.key, signer.signing_chain)
            return self._documents[key]
        return sign_document(data if data is not None else sample(type_id), signer.key, signer.signing_chain,
                             policy=policy or SignaturePolicy())

    def envelope(
        self,
        document: bytes,
        message_id: str,
        *,
        type_id: str = COO,
        sender: str = "AA",
        receiver: str = "BB",
        signer: Credential | None = None,
        sign: bool = True,
        policy: SignaturePolicy | None = None,
    ) -> bytes:
        """``document`` (bytes as they are) in an envelope signed by ``signer`` (default: AA's node)."""
        doc_type = default_catalogue().get(type_id) if type_id in default_catalogue() else None
        envelope = build_envelope(
            document, sender=Party(sender), receiver=Party(receiver), document_type=type_id,
            type_version=doc_type.version if doc_type else "1.0",
            standard=doc_type.namespace if doc_type else "urn:example:unknown",
            message_id=message_id, created=self.world.moment,
        )
        if not sign:
            return envelope
        signer = signer or self.world.node("AA")
        return sign_document(envelope, signer.key, signer.signing_chain, policy=policy or SignaturePolicy())

    def message(self, message_id: str, type_id: str = COO) -> bytes:
        """A legitimate message: issuer-signed document, AA's node-signed envelope, AA -> BB."""
        return self.envelope(self.document(type_id), message_id, type_id=type_id)


__all__ = [
    "COO",
    "PHYTO",
    "WEAK_RSA_POLICY",
    "XML",
    "Canary",
    "Forge",
    "World",
    "b64",
    "build_world",
    "c14n",
    "content_digest",
    "ds",
    "raw_sign",
    "resign",
    "sample",
    "serialise",
    "signature_of",
]
