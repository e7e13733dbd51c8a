"""Optional mutual TLS between the single-window nodes and the gateway: settings, material and identities.

Everything works over plain HTTP by default; TLS is switched on by configuration. One model, :class:`TlsSettings`,
serves both services: ``PTX_TLS__<FIELD>`` for the gateway, ``PTX_NODE_TLS__<FIELD>`` for a node.

=========================  ==================================================  =====================================
field                      meaning                                             with ``FROM_WORKSPACE=true``
=========================  ==================================================  =====================================
``FROM_WORKSPACE``         fill every field left unset from the ``ptx init``   (``ptx serve ... --tls`` sets it)
                           workspace
``CERT``, ``KEY``          this service's TLS server certificate chain (PEM)   gateway: ``gateway/tls-server.*``;
                           and key; setting them switches HTTPS on             node: ``CC/tls/server.*``
``CLIENT_CA``              CA bundle (PEM) TLS clients must chain to; setting  gateway: every country's root CA;
                           it turns client certificates on (mutual TLS)        node: the gateway's CA
``REQUIRE_CLIENT_CERT``    true (default): the handshake fails without a
                           client certificate. false: the handshake asks for
                           one but lets clients without one in (a browser on
                           the dashboard); submissions to the gateway and
                           deliveries to a node still need one (HTTP 401)
``CLIENT_CERT``,           this service's own TLS client certificate for its   gateway: ``gateway/tls-client.*``;
``CLIENT_KEY``             calls (deliveries; a node's submissions)            node: ``CC/tls/client.*``
``SERVER_CA``              CA bundle (PEM) the servers it calls must chain to  gateway: every country's root, and
                                                                               for each receiver's URL only that
                                                                               country's root; node: gateway CA
=========================  ==================================================  =====================================

Transport identity. The handshake proves that the client holds the key of *some* certificate under a trusted CA.
Which party that is, is decided by an exact match of the presented leaf certificate against the registry: the
gateway knows each country's registered TLS client certificate (``CC/tls/client.pem``), a node knows the
gateway's (``gateway/tls-client.pem``). Exact match rather than the subject's C attribute: every certificate a
country's CA issued (its chamber of commerce, its NPPO, ...) chains to the same root and carries the same C, but
only the single window's TLS client certificate speaks for the single window. Replacing one is a workspace
change, like replacing a node's signing certificate. The gateway then passes the party to the pipeline, whose
sender-authentication check refuses an envelope that claims another sender (``GW-TRANSPORT-IDENTITY``).

Failing closed: an ``https://`` URL this service calls needs ``SERVER_CA`` (or ``FROM_WORKSPACE``), there is no
fallback to the system CA store; a certificate without its key, client verification without HTTPS, and a file
that does not load are configuration errors (``CONFIG-INVALID``) before anything listens. TLS 1.2 is the floor.
Keys may be encrypted at rest (:mod:`exchange._keystore`): they open with ``PTX_KEY_PASSPHRASE``.
The handshake does not consult CRLs (OpenSSL would refuse every connection once one CA's CRL lapsed); removing a
certificate from the registry withdraws the identity it carried.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

from cryptography import x509
from pydantic import BaseModel, ConfigDict, FilePath, model_validator

from exchange._errors import Code, ConfigurationError, TrustError
from exchange._keystore import key_store
from exchange._pki import fingerprint, load_certificate_file, load_certificates
from exchange._redact import redact_url

if TYPE_CHECKING:
    from exchange._workspace import Workspace

#: The party a node's registry names for the gateway's TLS client certificate.
GATEWAY_PARTY = "gateway"
#: The ASGI TLS extension key (ASGI spec, "TLS extension"): ``scope["extensions"]["tls"]``.
TLS_EXTENSION = "tls"


def _pairing_problem(
    cert: object | None, key: object | None, client_ca: object | None, client_cert: object | None,
    client_key: object | None,
) -> str | None:
    if (cert is None) != (key is None):
        return "cert and key go together: the server certificate needs its private key and vice versa"
    if client_ca is not None and cert is None:
        return "client_ca (client certificates) needs the service to serve TLS: set cert and key"
    if (client_cert is None) != (client_key is None):
        return "client_cert and client_key go together"
    return None


class TlsSettings(BaseModel):
    """TLS for one service (see the module docstring); the defaults leave everything on plain HTTP."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    from_workspace: bool = False
    cert: FilePath | None = None
    key: FilePath | None = None
    client_ca: FilePath | None = None
    require_client_cert: bool = True
    client_cert: FilePath | None = None
    client_key: FilePath | None = None
    server_ca: FilePath | None = None

    @model_validator(mode="after")
    def _check_pairs(self) -> Self:
        if not self.from_workspace:  # the workspace fills the gaps; checked again once resolved
            problem = _pairing_problem(self.cert, self.key, self.client_ca, self.client_cert, self.client_key)
            if problem is not None:
                raise ValueError(problem)
        return self

    @property
    def verifies_servers(self) -> bool:
        """Whether this service has a CA to check the ``https://`` servers it calls."""
        return self.from_workspace or self.server_ca is not None


def require_verifiable(urls: Iterable[str], settings: TlsSettings, what: str) -> None:
    """Refuse ``https://`` URLs when there is nothing to verify their servers with (``ValueError``)."""
    for url in urls:
        if urlsplit(url).scheme == "https" and not settings.verifies_servers:
            raise ValueError(
                f"{what} {redact_url(url)!r} is https but no CA is configured to verify it: set tls.server_ca or "
                "tls.from_workspace (there is no fallback to the system CA store)"
            )


@dataclass(frozen=True, slots=True)
class TlsMaterial:
    """Resolved TLS configuration: paths of this service's own chains and keys (``ssl`` loads them from files),
    PEM text of the CA bundles. The empty material means plain HTTP."""

    cert: Path | None = None
    key: Path | None = None
    client_ca: str | None = None
    require_client_cert: bool = True
    client_cert: Path | None = None
    client_key: Path | None = None
    server_ca: str | None = None
    #: Per party (a receiver), the CA its server must chain to, narrower than ``server_ca``.
    server_ca_by_party: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        problem = _pairing_problem(self.cert, self.key, self.client_ca, self.client_cert, self.client_key)
        if problem is not None:
            raise ConfigurationError(f"TLS settings: {problem}", code=Code.CONFIG_INVALID)

    @property
    def serves_tls(self) -> bool:
        return self.cert is not None

    @property
    def verifies_clients(self) -> bool:
        """Mutual TLS: the server asks clients for certificates (and demands one if ``require_client_cert``)."""
        return self.serves_tls and self.client_ca is not None

    @property
    def scheme(self) -> str:
        return "https" if self.serves_tls else "http"

    def server_context(self) -> ssl.SSLContext:
        """The listening side: this service's chain, and client verification when ``client_ca`` is set."""
        if self.cert is None or self.key is None:
            raise ConfigurationError("TLS settings: no server certificate (cert, key)", code=Code.CONFIG_INVALID)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.options |= ssl.OP_NO_RENEGOTIATION
        _load_chain(context, self.cert, self.key, "cert")
        if self.client_ca is not None:
            _load_cas(context, self.client_ca, "client_ca")
            context.verify_mode = ssl.CERT_REQUIRED if self.require_client_cert else ssl.CERT_OPTIONAL
            context.verify_flags |= ssl.VERIFY_X509_STRICT
        return context

    def client_context(self, party: str | None = None) -> ssl.SSLContext | None:
        """The calling side: verify the server (against ``party``'s CA when known), present this service's
        client certificate. None without a CA for servers (the service then calls plain ``http://`` only)."""
        cadata = (self.server_ca_by_party.get(party) if party is not None else None) or self.server_ca
        if cadata is None:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # check_hostname and CERT_REQUIRED are its defaults
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.verify_flags |= ssl.VERIFY_X509_STRICT
        _load_cas(context, cadata, "server_ca")
        if self.client_cert is not None and self.client_key is not None:
            _load_chain(context, self.client_cert, self.client_key, "client_cert")
        return context

    def httpx_options(self, urls_by_party: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Keyword arguments for an ``httpx.AsyncClient`` calling these servers: the transport
        (:class:`exchange._http.AiohttpTransport`) verifying with this material, and one transport per party URL
        that verifies against that party's own CA (``mounts``); plain HTTP has the transport with nothing to
        verify with. Callers write ``httpx.AsyncClient(**material.httpx_options(...))``."""
        from exchange._http import AiohttpTransport

        default = self.client_context()
        mounts: dict[str, AiohttpTransport] = {}
        for party, url in (urls_by_party or {}).items() if default is not None else ():
            parts = urlsplit(url)
            context = self.client_context(party) if party in self.server_ca_by_party else None
            if parts.scheme == "https" and parts.hostname and context is not None:
                host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
                mounts[f"https://{host}:{parts.port or 443}"] = AiohttpTransport(ssl_context=context)
        options: dict[str, Any] = {"transport": AiohttpTransport(ssl_context=default)}
        return options | {"mounts": mounts} if mounts else options


def _load_chain(context: ssl.SSLContext, cert: Path, key: Path, what: str) -> None:
    """The chain and its key, through the key store: an encrypted key opens with the configured passphrase
    (``KEY-PASSPHRASE-REQUIRED`` / ``-WRONG`` naming the file otherwise)."""
    try:
        key_store().load_cert_chain(context, cert, key)
    except TrustError as exc:  # not a usable key: PKI-INVALID, still a setting that fails before listening
        raise ConfigurationError(f"TLS settings: {exc.message}", code=exc.code) from exc
    except (ssl.SSLError, OSError) as exc:
        raise ConfigurationError(
            f"TLS settings: {what} {cert} with key {key} does not load: {exc}", code=Code.CONFIG_INVALID
        ) from exc


def _load_cas(context: ssl.SSLContext, cadata: str, what: str) -> None:
    try:
        context.load_verify_locations(cadata=cadata)
    except (ssl.SSLError, ValueError) as exc:
        raise ConfigurationError(f"TLS settings: {what} is not a PEM CA bundle: {exc}", code=Code.CONFIG_INVALID) from exc


def _read_bundle(path: Path) -> str:
    try:
        data = path.read_bytes()
        load_certificates(data, source=str(path))
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc.strerror}", code=Code.CONFIG_INVALID) from exc
    except TrustError as exc:
        raise ConfigurationError(f"TLS settings: {exc.message}", code=Code.CONFIG_INVALID) from exc
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise ConfigurationError(f"TLS settings: {path} is not a PEM CA bundle", code=Code.CONFIG_INVALID)
    return data.decode("ascii")


def _resolve(settings: TlsSettings, defaults: Callable[[], TlsMaterial]) -> TlsMaterial:
    """Explicit settings win field by field; the workspace fills the rest when ``from_workspace``."""
    base = defaults() if settings.from_workspace else TlsMaterial()
    return replace(
        base,
        cert=settings.cert or base.cert,
        key=settings.key or base.key,
        client_ca=_read_bundle(settings.client_ca) if settings.client_ca else base.client_ca,
        require_client_cert=settings.require_client_cert,
        client_cert=settings.client_cert or base.client_cert,
        client_key=settings.client_key or base.client_key,
        server_ca=_read_bundle(settings.server_ca) if settings.server_ca else base.server_ca,
        server_ca_by_party=MappingProxyType({}) if settings.server_ca else base.server_ca_by_party,
    )


def _pem(workspace: Workspace, relative: str) -> str:
    return _read_bundle(workspace.file(relative))


def country_roots(workspace: Workspace) -> dict[str, str]:
    """Each member country's root CA (PEM) by country code: own and partners' (from their packages)."""
    return {code: _read_bundle(workspace.anchor_file(code)) for code in workspace.members}


def gateway_tls(settings: TlsSettings, workspace: Workspace) -> TlsMaterial:
    """The gateway's material: ``settings``, completed from the workspace when ``from_workspace``."""

    def defaults() -> TlsMaterial:
        record = workspace.gateway_record
        if record.tls_server_key is None or record.tls_client_key is None:
            raise ConfigurationError(f"{workspace.path} holds the gateway's certificates but not its TLS keys",
                                     code=Code.CONFIG_INVALID)
        roots = country_roots(workspace)
        bundle = "".join(roots.values())
        return TlsMaterial(
            cert=workspace.file(record.tls_server), key=workspace.file(record.tls_server_key), client_ca=bundle,
            client_cert=workspace.file(record.tls_client), client_key=workspace.file(record.tls_client_key),
            server_ca=bundle, server_ca_by_party=MappingProxyType(roots),
        )

    return _resolve(settings, defaults)


def node_tls(settings: TlsSettings, workspace: Workspace, country: str) -> TlsMaterial:
    """Country ``country``'s node material: ``settings``, completed from the workspace when ``from_workspace``."""

    def defaults() -> TlsMaterial:
        record = workspace.country(country)
        gateway_ca = _pem(workspace, workspace.gateway_record.ca)
        return TlsMaterial(
            cert=workspace.file(record.tls_server), key=workspace.file(record.tls_server_key), client_ca=gateway_ca,
            client_cert=workspace.file(record.tls_client), client_key=workspace.file(record.tls_client_key),
            server_ca=gateway_ca,
        )

    return _resolve(settings, defaults)


def workspace_ca_bundle(workspace: Workspace) -> str:
    """Every CA a demo service's TLS server chains to (the gateway's CA, each country's root): what ``ptx``'s
    own client commands verify against when the services run with ``--tls``."""
    return _pem(workspace, workspace.gateway_record.ca) + "".join(country_roots(workspace).values())


# --- transport identity ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TransportIdentity:
    """Who the TLS client is (``party``), or why it is refused (``code`` and ``message``)."""

    party: str | None
    certificate: x509.Certificate | None = None
    code: Code | None = None
    message: str = ""

    @property
    def identified(self) -> bool:
        return self.party is not None


@dataclass(frozen=True, slots=True)
class TransportPolicy:
    """Registered TLS client certificates (SHA-256 fingerprint -> party), and the codes for a request without a
    certificate and for a certificate nobody registered. Immutable: safe to share across requests."""

    parties: Mapping[str, str]
    missing: Code
    unknown: Code
    what: str

    def identify(self, certificate: x509.Certificate | None) -> TransportIdentity:
        if certificate is None:
            return TransportIdentity(None, None, self.missing, f"{self.what} must come with a TLS client certificate")
        party = self.parties.get(fingerprint(certificate))
        if party is None:
            return TransportIdentity(
                None, certificate, self.unknown,
                f"the TLS client certificate {certificate.subject.rfc4514_string()!r} is not a registered TLS "
                f"client certificate; {self.what} must come with one",
            )
        return TransportIdentity(party, certificate)


def _leaf(workspace: Workspace, relative: str) -> x509.Certificate:
    return _leaf_file(workspace.file(relative))


def _leaf_file(path: Path) -> x509.Certificate:
    try:
        return load_certificate_file(path)[0]
    except TrustError as exc:
        raise ConfigurationError(f"TLS registry: {exc.message}", code=Code.CONFIG_INVALID) from exc


def gateway_transport_policy(workspace: Workspace) -> TransportPolicy:
    """What the gateway accepts: each country's registered TLS client certificate names that country."""
    parties = {
        fingerprint(_leaf_file(path)): code for code in workspace.members
        if (path := workspace.tls_client_file(code)) is not None
    }
    return TransportPolicy(
        MappingProxyType(parties), Code.GW_TRANSPORT_CERT_MISSING, Code.GW_TRANSPORT_IDENTITY, "a submission"
    )


def node_transport_policy(workspace: Workspace) -> TransportPolicy:
    """What a node's inbox accepts: only the gateway's registered TLS client certificate."""
    gateway = _leaf(workspace, workspace.gateway_record.tls_client)
    return TransportPolicy(
        MappingProxyType({fingerprint(gateway): GATEWAY_PARTY}), Code.NODE_TRANSPORT_IDENTITY,
        Code.NODE_TRANSPORT_IDENTITY, "a delivery",
    )


def tls_connection(scope: Mapping[str, Any]) -> bool:
    """Whether the request of this ASGI scope came over TLS (the listener filled the TLS extension)."""
    extensions = scope.get("extensions") or {}
    return isinstance(extensions, Mapping) and TLS_EXTENSION in extensions


def peer_certificate(scope: Mapping[str, Any]) -> x509.Certificate | None:
    """The TLS client's (verified) leaf certificate from the ASGI TLS extension, or None (plain HTTP, or a TLS
    client without a certificate). The server fills the extension (:mod:`exchange.services._asgi_tls`)."""
    extension = (scope.get("extensions") or {}).get(TLS_EXTENSION) or {}
    leaf = next(iter(extension.get("client_cert_chain") or ()), None)
    return x509.load_pem_x509_certificate(leaf.encode("ascii")) if leaf else None


__all__ = [
    "GATEWAY_PARTY",
    "TLS_EXTENSION",
    "TlsMaterial",
    "TlsSettings",
    "TransportIdentity",
    "TransportPolicy",
    "country_roots",
    "gateway_tls",
    "gateway_transport_policy",
    "node_tls",
    "node_transport_policy",
    "peer_certificate",
    "tls_connection",
    "require_verifiable",
    "workspace_ca_bundle",
]
