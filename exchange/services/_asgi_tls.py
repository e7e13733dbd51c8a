"""The TLS client certificate in the ASGI scope, under uvicorn.

uvicorn terminates TLS but does not put the peer's certificate in the scope. The ASGI spec has a place for it,
the TLS extension (``scope["extensions"]["tls"]``: ``client_cert_chain`` as PEM strings leaf first,
``client_cert_name``, ``client_cert_error``, ``tls_version``, ``cipher_suite``, ``server_cert``), so this module
fills exactly that and the apps read it with :func:`exchange._tls.peer_certificate`, knowing nothing of uvicorn.

How: uvicorn's HTTP protocol objects live one per connection and call ``self.app`` for every request on it. A
small subclass (:func:`protocol_class`, passed to ``uvicorn.Config(http=...)``) reads the peer certificate once,
in ``connection_made`` (asyncio and uvloop call it after the handshake completed, so the certificate is known and
verified), and replaces ``self.app`` for that connection with a wrapper that adds the extension to each request's
scope before the app runs. Hence every request of a keep-alive connection carries the certificate of the
connection it arrived on, and nothing is shared between connections. Only the public ``self.app`` attribute and
``connection_made`` are relied on; they are the same in uvicorn's httptools and h11 protocols, and the subclass
follows uvicorn's own ``auto`` choice (httptools when installed, else h11). Python's ``ssl`` gives the verified
leaf only, so ``client_cert_chain`` holds the leaf; an intermediate the client sent is not needed to identify it.

:func:`uvicorn_options` is what ``ptx serve`` passes to ``uvicorn.Config``: the SSL context through uvicorn's
``ssl_context_factory`` (uvicorn >= 0.47) and the protocol class.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable, MutableMapping
from functools import cache
from typing import Any

from cryptography import x509

from exchange._tls import TLS_EXTENSION, TlsMaterial

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

_TLS_VERSIONS = {"TLSv1": 0x0301, "TLSv1.1": 0x0302, "TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


def tls_extension(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> dict[str, Any] | None:
    """The ASGI TLS extension for a connection, or None when it is not TLS."""
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    chain: list[str] = []
    name = None
    if der:
        chain.append(ssl.DER_cert_to_PEM_cert(der))
        name = x509.load_der_x509_certificate(der).subject.rfc4514_string()
    cipher = ssl_object.cipher()
    return {
        "server_cert": None,
        "client_cert_chain": chain,
        "client_cert_name": name,
        # The handshake refuses a certificate that does not verify: one that is here verified.
        "client_cert_error": None,
        "tls_version": _TLS_VERSIONS.get(ssl_object.version() or ""),
        "cipher_suite": _cipher_id(ssl_object.context, cipher[0]) if cipher else None,
    }


def _cipher_id(context: ssl.SSLContext, name: str) -> int | None:
    """The IANA id of a cipher suite (OpenSSL's id carries it in the low 16 bits)."""
    for suite in context.get_ciphers():
        if suite.get("name") == name and isinstance(suite.get("id"), int):
            return int(suite["id"]) & 0xFFFF
    return None


def with_tls(app: App, extension: dict[str, Any]) -> App:
    """``app`` with the TLS extension added to the scope of every HTTP request (one connection's wrapper)."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") in ("http", "websocket"):
            extensions = dict(scope.get("extensions") or {})
            extensions[TLS_EXTENSION] = extension
            scope["extensions"] = extensions
        await app(scope, receive, send)

    return wrapped


class PeerCertificateMixin:
    """Mixed into a uvicorn HTTP protocol: per connection, the app sees the TLS extension."""

    app: App

    def connection_made(self, transport: asyncio.Transport) -> None:
        extension = tls_extension(transport.get_extra_info("ssl_object"))
        if extension is not None:
            self.app = with_tls(self.app, extension)
        super().connection_made(transport)  # type: ignore[misc]


@cache
def protocol_class() -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (httptools when installed, else h11, as uvicorn's ``auto``) with the mixin."""
    base: type[asyncio.Protocol]
    try:  # the module imports httptools
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as base
    except ImportError:  # pragma: no cover - uvicorn[standard] brings httptools
        from uvicorn.protocols.http.h11_impl import H11Protocol as base
    return type(f"PeerCertificate{base.__name__}", (PeerCertificateMixin, base), {})


@cache
def h11_protocol_class() -> type[asyncio.Protocol]:
    """The same on uvicorn's h11 protocol (tests check both)."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    return type("PeerCertificateH11Protocol", (PeerCertificateMixin, H11Protocol), {})


def uvicorn_options(material: TlsMaterial) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.Config``: ``{}`` on plain HTTP; else the SSL context and the protocol."""
    if not material.serves_tls:
        return {}
    context = material.server_context()  # built now: a bad file is a configuration error before listening

    def factory(config: Any, default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
        return context

    return {"ssl_context_factory": factory, "http": protocol_class()}


__all__ = ["PeerCertificateMixin", "h11_protocol_class", "protocol_class", "tls_extension", "uvicorn_options",
           "with_tls"]
