"""Keys, certificates and CRLs: each country's PKI and the gateway's identity, built from a declarative spec.

Shape of one country's PKI (``AA`` stands for any ISO 3166 code; the demo uses the user-assigned AA, BB, ...)::

    AA Root CA                              trust anchor, published in AA's trust list; pathLen 1
    ├── AA Trust List Signer                signs AA's trust list (EKU id-tsl-kp-tslSigning, ETSI TS 119 612)
    └── AA Issuing CA                       pathLen 0; everything below is an end entity (CA:false)
        ├── AA Chamber of Commerce          document signer: certificates of origin, commercial invoices
        ├── AA NPPO                         document signer: phytosanitary certificates
        ├── AA Customs                      document signer: customs declarations
        ├── AA Single Window                node: signs envelopes and receipts
        ├── AA Single Window TLS server     EKU serverAuth, SAN localhost / 127.0.0.1
        └── AA Single Window TLS client     EKU clientAuth
    CRLs: one signed by the root (covers the issuing CA and the trust list signer), one by the issuing CA.

Why an intermediate: it is how national PKIs and ICAO CSCAs are run (the root stays offline; a compromised
issuing CA is revoked by the root without replacing the anchor every partner configured), and it makes
KeyInfo carry a real chain that other XML-DSig implementations must build. The trust list signer hangs
directly under the root, like an ICAO master list signer under the CSCA.

Document signers carry keyUsage digitalSignature + nonRepudiation (critical) and basicConstraints CA:false
(critical), and no extended key usage. The gateway has its own small CA (its identity is not part of any
country's scheme): a signer for what it signs and TLS server/client certificates.

Everything is built at an explicit ``moment``; validity windows are offsets from it, so tests can build
expired or not-yet-valid authorities declaratively (:class:`AuthoritySpec`). ECDSA P-256 is the default
key type, RSA-2048 and RSA-3072 are options. Ed25519 is not offered for certificates: the trust
evaluation's algorithm policy (:mod:`exchange._pkix`, as cryptography's Web PKI verifier before it) refuses
Ed25519 keys in chains.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from exchange._errors import Code, ConfigurationError, TrustError
from exchange._keystore import (
    FileKeyStore,
    KeyStore,
    PrivateKey,
    load_private_key,
    load_private_key_file,
    no_passphrase,
    write_private,
)
from exchange._pkix import names_match

#: ETSI TS 119 612 id-tsl-kp-tslSigning: the extended key usage of a trust list signer.
TSL_SIGNING = ObjectIdentifier("0.4.0.2231.3.0")
#: RFC 9336 id-kp-documentSigning: accepted on document signers that carry an extended key usage.
DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")


class KeyType(StrEnum):
    """Key algorithms the PKI can generate."""

    EC_P256 = "ec-p256"
    RSA_2048 = "rsa-2048"
    RSA_3072 = "rsa-3072"


class Role(StrEnum):
    """What a certificate is for; decides its extensions."""

    ROOT_CA = "root-ca"
    ISSUING_CA = "issuing-ca"
    TRUST_LIST_SIGNER = "trust-list-signer"
    DOCUMENT_SIGNER = "document-signer"
    NODE = "node"
    TLS_SERVER = "tls-server"
    TLS_CLIENT = "tls-client"


#: keyUsage bits by name, as :class:`cryptography.x509.KeyUsage` spells its arguments.
KEY_USAGE_BITS = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
)

_ROLE_KEY_USAGE: Mapping[Role, frozenset[str]] = MappingProxyType(
    {
        Role.ROOT_CA: frozenset({"key_cert_sign", "crl_sign"}),
        Role.ISSUING_CA: frozenset({"key_cert_sign", "crl_sign"}),
        Role.TRUST_LIST_SIGNER: frozenset({"digital_signature", "content_commitment"}),
        Role.DOCUMENT_SIGNER: frozenset({"digital_signature", "content_commitment"}),
        Role.NODE: frozenset({"digital_signature", "content_commitment"}),
        Role.TLS_SERVER: frozenset({"digital_signature"}),
        Role.TLS_CLIENT: frozenset({"digital_signature"}),
    }
)


def key_usage(bits: Iterable[str]) -> x509.KeyUsage:
    """A KeyUsage extension with the named bits set (names from :data:`KEY_USAGE_BITS`)."""
    chosen = set(bits)
    unknown = chosen - set(KEY_USAGE_BITS)
    if unknown:
        raise ConfigurationError(f"unknown key usage bits: {', '.join(sorted(unknown))}", code=Code.PKI_INVALID)
    return x509.KeyUsage(
        digital_signature="digital_signature" in chosen,
        content_commitment="content_commitment" in chosen,
        key_encipherment="key_encipherment" in chosen,
        data_encipherment="data_encipherment" in chosen,
        key_agreement="key_agreement" in chosen,
        key_cert_sign="key_cert_sign" in chosen,
        crl_sign="crl_sign" in chosen,
        encipher_only=False,
        decipher_only=False,
    )


def generate_key(key_type: KeyType = KeyType.EC_P256) -> PrivateKey:
    """A fresh private key of the given type."""
    if key_type is KeyType.EC_P256:
        return ec.generate_private_key(ec.SECP256R1())
    if key_type is KeyType.RSA_2048:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if key_type is KeyType.RSA_3072:
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    raise ConfigurationError(f"unsupported key type {key_type!r}", code=Code.PKI_INVALID)


def fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 fingerprint of a certificate's DER, lowercase hex."""
    return certificate.fingerprint(hashes.SHA256()).hex()


def common_name(name: x509.Name) -> str:
    """The CN of a name, or its RFC 4514 string when it has none."""
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else name.rfc4514_string()


def subject_key_identifier(certificate: x509.Certificate) -> bytes:
    """The certificate's SKI extension value, or the RFC 5280 method-1 SHA-1 of its public key."""
    try:
        return certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return x509.SubjectKeyIdentifier.from_public_key(certificate.public_key()).digest


def key_identifier(certificate: x509.Certificate) -> bytes:
    """The RFC 5280 (4.2.1.2, method 1) key identifier computed from the certificate's own public key: the
    SHA-1 of the subjectPublicKey BIT STRING. Unlike the SKI extension, whose value the issuing CA chooses
    and may copy from another certificate, it identifies the key itself. Empty for a key cryptography
    cannot load (it then matches nothing)."""
    try:
        return x509.SubjectKeyIdentifier.from_public_key(certificate.public_key()).digest
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return b""


def make_name(common: str, *, country: str | None = None, organisation: str | None = None) -> x509.Name:
    attributes = []
    if country:
        attributes.append(x509.NameAttribute(NameOID.COUNTRY_NAME, country))
    if organisation:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common))
    return x509.Name(attributes)


@dataclass(frozen=True, slots=True)
class Credential:
    """A private key with its certificate and the intermediates above it (root excluded).

    The key is never part of ``repr`` and is written only by :meth:`write` (mode 0600).
    """

    key: PrivateKey = field(repr=False)
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()

    @property
    def name(self) -> str:
        return common_name(self.certificate.subject)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.certificate)

    @property
    def signing_chain(self) -> tuple[x509.Certificate, ...]:
        """Leaf first, then the intermediates: what goes into KeyInfo."""
        return (self.certificate, *self.chain)

    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def chain_pem(self) -> bytes:
        return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in self.signing_chain)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def write_key(self, path: Path, *, keys: KeyStore | None = None) -> None:
        """Store the key through ``keys`` (default: a plain PKCS#8 file, mode 0600: demo material)."""
        (keys or FileKeyStore(passphrase=no_passphrase)).store(path, self.key)

    def write(self, key_path: Path, cert_path: Path, *, keys: KeyStore | None = None) -> None:
        """Write the key (:meth:`write_key`) and the certificate chain PEM."""
        self.write_key(key_path, keys=keys)
        cert_path.parent.mkdir(parents=True, exist_ok=True)
        cert_path.write_bytes(self.chain_pem())


def _signature_hash(key: PrivateKey) -> hashes.SHA256:
    return hashes.SHA256()


def issue_certificate(
    *,
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey,
    issuer: Credential | None,
    issuer_key: PrivateKey | None = None,
    role: Role,
    not_before: datetime,
    not_after: datetime,
    serial_number: int | None = None,
    key_usage_bits: Iterable[str] | None = None,
    path_length: int | None = None,
    dns_names: Sequence[str] = (),
    ip_addresses: Sequence[str] = (),
) -> x509.Certificate:
    """Issue one certificate with the extensions its role calls for.

    ``issuer`` is None for a self-signed root (then ``issuer_key`` is the root's own key).
    ``key_usage_bits`` overrides the role's key usage (tests use it to build a wrongly configured signer).
    """
    if not_before.tzinfo is None or not_after.tzinfo is None:
        raise ConfigurationError("certificate validity needs timezone-aware datetimes", code=Code.PKI_INVALID)
    signing_key = issuer.key if issuer is not None else issuer_key
    if signing_key is None:
        raise ConfigurationError("a self-signed certificate needs issuer_key", code=Code.PKI_INVALID)
    issuer_name = issuer.certificate.subject if issuer is not None else subject
    is_ca = role in (Role.ROOT_CA, Role.ISSUING_CA)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(serial_number or x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=path_length if is_ca else None), critical=True)
        .add_extension(
            key_usage(key_usage_bits if key_usage_bits is not None else _ROLE_KEY_USAGE[role]), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                issuer.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            ),
            critical=False,
        )
    usages: list[ObjectIdentifier] = []
    if role is Role.TRUST_LIST_SIGNER:
        usages = [TSL_SIGNING]
    elif role is Role.TLS_SERVER:
        usages = [ExtendedKeyUsageOID.SERVER_AUTH]
    elif role is Role.TLS_CLIENT:
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    if dns_names or ip_addresses:
        names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
        names += [x509.IPAddress(ipaddress.ip_address(address)) for address in ip_addresses]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(signing_key, _signature_hash(signing_key))


# --- CRLs --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Revocation:
    """One entry of a CRL."""

    serial_number: int
    revoked_at: datetime
    reason: x509.ReasonFlags | None = None


def crl_number(crl: x509.CertificateRevocationList) -> int:
    """The CRL's cRLNumber extension, 0 when absent."""
    try:
        return int(crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number)
    except x509.ExtensionNotFound:
        return 0


def revocations(crl: x509.CertificateRevocationList) -> tuple[Revocation, ...]:
    """The entries of a CRL as :class:`Revocation` values."""
    entries = []
    for entry in crl:
        try:
            reason: x509.ReasonFlags | None = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        except x509.ExtensionNotFound:
            reason = None
        entries.append(Revocation(entry.serial_number, entry.revocation_date_utc, reason))
    return tuple(entries)


def make_crl(
    ca: Credential,
    *,
    this_update: datetime,
    next_update: datetime,
    number: int,
    revoked: Sequence[Revocation] = (),
) -> x509.CertificateRevocationList:
    """A CRL signed by ``ca`` with a cRLNumber and an authority key identifier."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(this_update)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            ),
            critical=False,
        )
    )
    for item in revoked:
        entry = x509.RevokedCertificateBuilder().serial_number(item.serial_number).revocation_date(item.revoked_at)
        if item.reason is not None:
            entry = entry.add_extension(x509.CRLReason(item.reason), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    return builder.sign(ca.key, _signature_hash(ca.key))


def crl_signed_by(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    """True when ``issuer`` named (RFC 5280 7.1 name matching) and signed the CRL and may sign CRLs (keyUsage
    cRLSign)."""
    if not names_match(crl.issuer, issuer.subject):
        return False
    try:
        usage = issuer.extensions.get_extension_for_class(x509.KeyUsage).value
        if not usage.crl_sign:
            return False
    except x509.ExtensionNotFound:
        return False
    try:
        return crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
    except (InvalidSignature, UnsupportedAlgorithm, TypeError, ValueError):
        return False


# --- declarative spec --------------------------------------------------------------------------------------

#: Default lifetimes, chosen to keep a demo workspace usable for a year of training sessions.
ROOT_LIFETIME = timedelta(days=3650)
ISSUING_CA_LIFETIME = timedelta(days=1825)
SIGNER_LIFETIME = timedelta(days=730)
TLS_LIFETIME = timedelta(days=397)
CRL_LIFETIME = timedelta(days=90)
BACKDATE = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class AuthoritySpec:
    """One end entity under a country's issuing CA.

    ``valid_from`` and ``valid_for`` are offsets from the build moment (negative ``valid_from`` = already
    started). ``key_usage_bits`` overrides the role's key usage; ``document_types`` are the types the
    country's trust list authorises it for.
    """

    slug: str
    name: str
    document_types: tuple[str, ...]
    role: Role = Role.DOCUMENT_SIGNER
    valid_from: timedelta = -BACKDATE
    valid_for: timedelta = SIGNER_LIFETIME
    key_usage_bits: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.role not in (Role.DOCUMENT_SIGNER, Role.NODE):
            raise ConfigurationError(
                f"authority {self.slug!r}: role must be document-signer or node", code=Code.PKI_INVALID
            )
        if not self.slug or not all(ch.isalnum() or ch == "-" for ch in self.slug) or self.slug != self.slug.lower():
            raise ConfigurationError(
                f"authority slug {self.slug!r}: lowercase letters, digits and dashes only", code=Code.PKI_INVALID
            )


@dataclass(frozen=True, slots=True)
class CountrySpec:
    """What to build for one country: its code, display name, authorities and key type."""

    code: str
    name: str
    authorities: tuple[AuthoritySpec, ...]
    key_type: KeyType = KeyType.EC_P256
    tls_hosts: tuple[str, ...] = ("localhost",)
    tls_addresses: tuple[str, ...] = ("127.0.0.1",)

    def __post_init__(self) -> None:
        if len(self.code) != 2 or not self.code.isalpha() or not self.code.isupper():
            raise ConfigurationError(
                f"country code {self.code!r}: two upper-case letters (ISO 3166-1 alpha-2)", code=Code.PKI_INVALID
            )
        slugs = [authority.slug for authority in self.authorities]
        if len(slugs) != len(set(slugs)):
            raise ConfigurationError(f"country {self.code}: authority slugs repeat", code=Code.PKI_INVALID)
        if sum(1 for authority in self.authorities if authority.role is Role.NODE) != 1:
            raise ConfigurationError(
                f"country {self.code}: exactly one authority must have the node role", code=Code.PKI_INVALID
            )


#: The document types each demo authority is authorised for in its country's trust list.
DEMO_AUTHORITIES: tuple[tuple[str, str, tuple[str, ...], Role], ...] = (
    (
        "chamber-of-commerce",
        "Chamber of Commerce",
        ("certificate-of-origin", "commercial-invoice"),
        Role.DOCUMENT_SIGNER,
    ),
    ("nppo", "NPPO", ("phytosanitary-certificate", "ephyto-sps-certificate"), Role.DOCUMENT_SIGNER),
    ("customs", "Customs", ("customs-declaration", "transit-event"), Role.DOCUMENT_SIGNER),
    ("single-window", "Single Window", ("envelope", "receipt"), Role.NODE),
)


def demo_country(code: str, *, key_type: KeyType = KeyType.EC_P256, name: str | None = None) -> CountrySpec:
    """The demo spec for a country: chamber of commerce, NPPO, customs and the single window node."""
    return CountrySpec(
        code=code,
        name=name or f"Country {code}",
        authorities=tuple(
            AuthoritySpec(slug=slug, name=f"{code} {title}", document_types=types, role=role)
            for slug, title, types, role in DEMO_AUTHORITIES
        ),
        key_type=key_type,
    )


@dataclass(frozen=True, slots=True)
class CountryPki:
    """Everything :func:`build_country_pki` made for one country."""

    spec: CountrySpec
    root: Credential
    issuing_ca: Credential
    trust_list_signer: Credential
    authorities: Mapping[str, Credential]
    tls_server: Credential
    tls_client: Credential
    root_crl: x509.CertificateRevocationList
    issuing_ca_crl: x509.CertificateRevocationList

    @property
    def code(self) -> str:
        return self.spec.code

    @property
    def node(self) -> Credential:
        slug = next(a.slug for a in self.spec.authorities if a.role is Role.NODE)
        return self.authorities[slug]

    def authority(self, slug: str) -> Credential:
        try:
            return self.authorities[slug]
        except KeyError:
            known = ", ".join(self.authorities)
            raise TrustError(
                f"country {self.code} has no authority {slug!r} (known: {known})", code=Code.PKI_INVALID
            ) from None

    @property
    def crls(self) -> tuple[x509.CertificateRevocationList, ...]:
        return (self.root_crl, self.issuing_ca_crl)


def build_country_pki(spec: CountrySpec, *, moment: datetime) -> CountryPki:
    """Generate keys, certificates and empty CRLs for one country at ``moment``.

    The CA windows are widened to cover every authority's window, so an authority built expired or
    not yet valid is wrong on its own account, not because its CA is.
    """
    _require_aware(moment)
    code = spec.code
    starts = [moment + a.valid_from for a in spec.authorities] + [moment - BACKDATE]
    ends = [moment + a.valid_from + a.valid_for for a in spec.authorities]
    ca_start = min(starts) - BACKDATE
    root_end = max([moment + ROOT_LIFETIME, *ends]) + BACKDATE
    issuing_end = max([moment + ISSUING_CA_LIFETIME, *ends])
    organisation = f"{spec.name} trust scheme"

    root_key = generate_key(spec.key_type)
    root_cert = issue_certificate(
        subject=make_name(f"{code} Root CA", country=code, organisation=organisation),
        public_key=root_key.public_key(),
        issuer=None,
        issuer_key=root_key,
        role=Role.ROOT_CA,
        not_before=ca_start,
        not_after=root_end,
        path_length=1,
    )
    root = Credential(root_key, root_cert)
    issuing = _issue(
        root,
        f"{code} Issuing CA",
        code,
        organisation,
        Role.ISSUING_CA,
        spec.key_type,
        ca_start,
        issuing_end,
        path_length=0,
    )
    tl_signer = _issue(
        root,
        f"{code} Trust List Signer",
        code,
        organisation,
        Role.TRUST_LIST_SIGNER,
        spec.key_type,
        moment - BACKDATE,
        moment - BACKDATE + SIGNER_LIFETIME,
    )
    authorities: dict[str, Credential] = {}
    for authority in spec.authorities:
        start = moment + authority.valid_from
        authorities[authority.slug] = _issue(
            issuing,
            authority.name,
            code,
            authority.name,
            authority.role,
            spec.key_type,
            start,
            start + authority.valid_for,
            key_usage_bits=authority.key_usage_bits,
        )
    node_name = next(a.name for a in spec.authorities if a.role is Role.NODE)
    tls_server = _issue(
        issuing,
        f"{node_name} TLS server",
        code,
        node_name,
        Role.TLS_SERVER,
        spec.key_type,
        moment - BACKDATE,
        moment - BACKDATE + TLS_LIFETIME,
        dns_names=spec.tls_hosts,
        ip_addresses=spec.tls_addresses,
    )
    tls_client = _issue(
        issuing,
        f"{node_name} TLS client",
        code,
        node_name,
        Role.TLS_CLIENT,
        spec.key_type,
        moment - BACKDATE,
        moment - BACKDATE + TLS_LIFETIME,
        dns_names=spec.tls_hosts,
    )
    this_update = moment - BACKDATE
    return CountryPki(
        spec=spec,
        root=root,
        issuing_ca=issuing,
        trust_list_signer=tl_signer,
        authorities=MappingProxyType(authorities),
        tls_server=tls_server,
        tls_client=tls_client,
        root_crl=make_crl(root, this_update=this_update, next_update=moment + CRL_LIFETIME, number=1),
        issuing_ca_crl=make_crl(issuing, this_update=this_update, next_update=moment + CRL_LIFETIME, number=1),
    )


def _issue(
    parent: Credential,
    common: str,
    country: str,
    organisation: str,
    role: Role,
    key_type: KeyType,
    not_before: datetime,
    not_after: datetime,
    *,
    path_length: int | None = None,
    key_usage_bits: Iterable[str] | None = None,
    dns_names: Sequence[str] = (),
    ip_addresses: Sequence[str] = (),
) -> Credential:
    key = generate_key(key_type)
    certificate = issue_certificate(
        subject=make_name(common, country=country, organisation=organisation),
        public_key=key.public_key(),
        issuer=parent,
        role=role,
        not_before=not_before,
        not_after=not_after,
        path_length=path_length,
        key_usage_bits=key_usage_bits,
        dns_names=dns_names,
        ip_addresses=ip_addresses,
    )
    return Credential(key, certificate, parent.signing_chain if parent.chain or _is_intermediate(parent) else ())


def _is_intermediate(credential: Credential) -> bool:
    """True for a CA that is not self-issued (it belongs in KeyInfo chains below it)."""
    return credential.certificate.issuer != credential.certificate.subject


def revoke(
    crl: x509.CertificateRevocationList,
    ca: Credential,
    certificate: x509.Certificate,
    *,
    moment: datetime,
    reason: x509.ReasonFlags | None = None,
    lifetime: timedelta = CRL_LIFETIME,
) -> x509.CertificateRevocationList:
    """A new CRL from ``ca``: the entries of ``crl`` plus ``certificate``, with the next CRL number."""
    _require_aware(moment)
    if certificate.issuer != ca.certificate.subject:
        raise TrustError(
            f"{common_name(certificate.subject)} was not issued by {ca.name}; its CRL cannot revoke it",
            code=Code.PKI_INVALID,
        )
    if not crl_signed_by(crl, ca.certificate):
        raise TrustError(f"the CRL given for {ca.name} is not signed by it", code=Code.PKI_INVALID)
    entries = list(revocations(crl))
    if all(entry.serial_number != certificate.serial_number for entry in entries):
        entries.append(Revocation(certificate.serial_number, moment, reason))
    return make_crl(
        ca,
        this_update=moment,
        next_update=moment + lifetime,
        number=crl_number(crl) + 1,
        revoked=entries,
    )


def renew_crl(
    crl: x509.CertificateRevocationList, ca: Credential, *, moment: datetime, lifetime: timedelta = CRL_LIFETIME
) -> x509.CertificateRevocationList:
    """The same entries under a fresh thisUpdate/nextUpdate and the next CRL number."""
    _require_aware(moment)
    if not crl_signed_by(crl, ca.certificate):
        raise TrustError(f"the CRL given for {ca.name} is not signed by it", code=Code.PKI_INVALID)
    return make_crl(
        ca, this_update=moment, next_update=moment + lifetime, number=crl_number(crl) + 1, revoked=revocations(crl)
    )


# --- the gateway's identity ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GatewayPki:
    """The gateway's own CA, its signer (for what the gateway signs) and its TLS certificates."""

    ca: Credential
    signer: Credential
    tls_server: Credential
    tls_client: Credential
    crl: x509.CertificateRevocationList


def build_gateway_pki(
    *,
    moment: datetime,
    name: str = "PTX Gateway",
    key_type: KeyType = KeyType.EC_P256,
    tls_hosts: Sequence[str] = ("localhost",),
    tls_addresses: Sequence[str] = ("127.0.0.1",),
) -> GatewayPki:
    """Generate the gateway's CA and end entities at ``moment``."""
    _require_aware(moment)
    start = moment - BACKDATE
    ca_key = generate_key(key_type)
    ca_cert = issue_certificate(
        subject=make_name(f"{name} CA", organisation=name),
        public_key=ca_key.public_key(),
        issuer=None,
        issuer_key=ca_key,
        role=Role.ROOT_CA,
        not_before=start,
        not_after=start + ROOT_LIFETIME,
        path_length=0,
    )
    ca = Credential(ca_key, ca_cert)
    signer = _issue(ca, name, "", name, Role.NODE, key_type, start, start + SIGNER_LIFETIME)
    tls_server = _issue(
        ca,
        f"{name} TLS server",
        "",
        name,
        Role.TLS_SERVER,
        key_type,
        start,
        start + TLS_LIFETIME,
        dns_names=tuple(tls_hosts),
        ip_addresses=tuple(tls_addresses),
    )
    tls_client = _issue(
        ca,
        f"{name} TLS client",
        "",
        name,
        Role.TLS_CLIENT,
        key_type,
        start,
        start + TLS_LIFETIME,
        dns_names=tuple(tls_hosts),
    )
    crl = make_crl(ca, this_update=start, next_update=moment + CRL_LIFETIME, number=1)
    return GatewayPki(ca=ca, signer=signer, tls_server=tls_server, tls_client=tls_client, crl=crl)


# --- reading PEM/DER material ----------------------------------------------------------------------------


def load_certificates(data: bytes, *, source: str = "input") -> tuple[x509.Certificate, ...]:
    """Certificates from PEM (one or more) or a single DER certificate."""
    try:
        if b"-----BEGIN" in data:
            certificates = tuple(x509.load_pem_x509_certificates(data))
        else:
            certificates = (x509.load_der_x509_certificate(data),)
    except (ValueError, x509.InvalidVersion) as exc:
        raise TrustError(f"{source}: not a PEM or DER certificate ({exc})", code=Code.PKI_INVALID) from exc
    if not certificates:
        raise TrustError(f"{source}: no certificate found", code=Code.PKI_INVALID)
    return certificates


def load_certificate_file(path: str | os.PathLike[str]) -> tuple[x509.Certificate, ...]:
    """The certificates of a PEM file, in file order (a leaf first, then its chain, as the project writes them)."""
    file_path = Path(path)
    try:
        data = file_path.read_bytes()
    except OSError as exc:
        raise TrustError(f"cannot read {file_path}: {exc.strerror}", code=Code.PKI_INVALID) from exc
    return load_certificates(data, source=str(file_path))


def load_crl(data: bytes, *, source: str = "input") -> x509.CertificateRevocationList:
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError as exc:
        raise TrustError(f"{source}: not a PEM or DER CRL ({exc})", code=Code.PKI_INVALID) from exc


def credential_matches(key: PrivateKey, certificate: x509.Certificate) -> bool:
    """True when the private key belongs to the certificate."""
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    return bool(
        key.public_key().public_bytes(serialization.Encoding.DER, fmt)
        == certificate.public_key().public_bytes(serialization.Encoding.DER, fmt)
    )


def pem(certificates: Iterable[x509.Certificate]) -> bytes:
    return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in certificates)


def crl_pem(crl: x509.CertificateRevocationList) -> bytes:
    return crl.public_bytes(serialization.Encoding.PEM)


def utc(moment: datetime) -> datetime:
    """The same instant in UTC; naive datetimes are refused (time is always explicit and unambiguous)."""
    _require_aware(moment)
    return moment.astimezone(UTC)


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ConfigurationError(
            "a moment must be timezone-aware (e.g. 2030-01-15T12:00:00+00:00)", code=Code.CONFIG_INVALID
        )


__all__ = [
    "DOCUMENT_SIGNING",
    "KEY_USAGE_BITS",
    "TSL_SIGNING",
    "AuthoritySpec",
    "CountryPki",
    "CountrySpec",
    "Credential",
    "GatewayPki",
    "KeyType",
    "PrivateKey",
    "Revocation",
    "Role",
    "build_country_pki",
    "build_gateway_pki",
    "common_name",
    "credential_matches",
    "crl_number",
    "crl_pem",
    "crl_signed_by",
    "demo_country",
    "fingerprint",
    "generate_key",
    "issue_certificate",
    "key_identifier",
    "key_usage",
    "load_certificate_file",
    "load_certificates",
    "load_crl",
    "load_private_key",
    "load_private_key_file",
    "make_crl",
    "make_name",
    "pem",
    "renew_crl",
    "revocations",
    "revoke",
    "subject_key_identifier",
    "utc",
    "write_private",
]
