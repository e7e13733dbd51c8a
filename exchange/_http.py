"""The services' outgoing HTTP: httpx's client API on aiohttp's connection pool and HTTP parser.

The gateway's deliveries and a node's calls to the gateway go through ``httpx.AsyncClient`` (its API, its
exceptions, its redirect and cookie policy, ``MockTransport`` in tests) with :class:`AiohttpTransport` under it.
Measured on the 2-core machine (a POST of an 18 KB envelope answered with 3 KB, 4 at a time, to a local uvicorn
server): httpx's own transport (httpcore over anyio, h11) spent 1.31 ms of the client's CPU per request, httpx on
this transport 0.35 ms, aiohttp alone 0.12 ms; in the gateway under load the delivery request's share of the
samples holding the GIL fell from 22 % to 12 % (bench/README.md).

The transport sends one request as httpx hands it over (no redirects: the client decides; no cookies kept: the
client's jar does; no proxies from the environment; no decompression: the body is passed on as it came and httpx
decodes it, so a caller's cap on the decoded answer holds as before) and translates aiohttp's errors into
httpx's: a timeout into ``ConnectTimeout`` / ``ReadTimeout``, a failed connection or TLS handshake into
``ConnectError``, a connection that broke or spoke bad HTTP into ``ReadError`` / ``RemoteProtocolError``. Timeouts
come from the request (httpx's ``timeout`` extension): *connect* bounds opening the connection, *pool* waiting
for one, *read* each wait for the answer's next bytes; aiohttp has no write timeout, so the request up to the
answer's head is bounded by the sum of the four (``WriteTimeout`` when that runs out). A URL's ``user:password``
travels as httpx's ``Authorization`` header only.

An aiohttp session belongs to the event loop that made it: the transport makes one on first use in each loop
and closes it in :meth:`AiohttpTransport.aclose` (the client's ``aclose``).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import ssl
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx
from yarl import URL

#: Connections kept per transport (httpx's default limit).
MAX_CONNECTIONS = 100
#: Seconds an idle kept-alive connection stays open (httpx's default keep-alive expiry).
KEEPALIVE_EXPIRY = 5.0


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An ``httpx`` async transport on aiohttp. ``ssl_context`` verifies servers (and presents a client
    certificate) for ``https`` URLs; None: the system's default verification, as httpx's ``verify=True``."""

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.ssl_context = ssl_context
        self._sessions: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}

    def _session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None or session.closed:
            for other in [other for other in self._sessions if other.is_closed()]:
                _drop(self._sessions.pop(other))  # a finished loop's session
            connector = aiohttp.TCPConnector(limit=MAX_CONNECTIONS, keepalive_timeout=KEEPALIVE_EXPIRY)
            session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False, trust_env=False,
                # httpx's own are sent instead, and no Content-Type httpx did not set
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            )
            self._sessions[loop] = session
        return session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        scheme = request.url.scheme
        if scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"request URL has the unsupported scheme {scheme!r}", request=request)
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        timeout = aiohttp.ClientTimeout(
            total=None, connect=timeouts.get("pool"), sock_connect=timeouts.get("connect"),
            sock_read=timeouts.get("read"),
        )
        body = await request.aread()
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in request.headers.raw]
        options: dict[str, Any] = {"ssl": self.ssl_context} if scheme == "https" and self.ssl_context else {}
        # httpx has turned the URL's user:password into the Authorization header; aiohttp refuses both at once
        url = URL(str(request.url.copy_with(userinfo=b"")), encoded=True)
        # aiohttp has no write timeout: the whole exchange up to the answer's head is bounded instead (a peer that
        # stops reading a large body would otherwise hold the request for ever)
        phases = [timeouts.get(phase) for phase in ("pool", "connect", "write", "read")]
        deadline = None if any(phase is None for phase in phases) else sum(p for p in phases if p is not None)
        try:
            async with asyncio.timeout(deadline):
                response = await self._session().request(
                    request.method, url, headers=headers, data=_payload(body), allow_redirects=False,
                    timeout=timeout, **options,
                )
        except TimeoutError as exc:
            if not isinstance(exc, aiohttp.ServerTimeoutError):
                raise httpx.WriteTimeout(
                    f"the request and the answer's head took longer than {deadline:g} s", request=request
                ) from exc
            raise _translated(exc, request) from exc
        except Exception as exc:
            raise _translated(exc, request) from exc
        version = response.version or aiohttp.HttpVersion11
        try:
            return httpx.Response(
                response.status,
                headers=[(name, value) for name, value in response.raw_headers],
                stream=_Body(response, request),
                # aiohttp decoded the reason phrase's bytes as UTF-8 with surrogateescape: these are those bytes
                extensions={"http_version": f"HTTP/{version.major}.{version.minor}".encode(),
                            "reason_phrase": (response.reason or "").encode("utf-8", "surrogateescape")},
            )
        except Exception as exc:
            response.release()
            raise httpx.RemoteProtocolError(f"unusable answer: {exc}", request=request) from exc

    async def aclose(self) -> None:
        sessions, self._sessions = self._sessions, {}
        loop = asyncio.get_running_loop()
        for owner, session in sessions.items():
            if owner is loop:
                await session.close()
            else:
                _drop(session)


def _payload(body: bytes) -> bytes | io.BytesIO | None:
    """The body as aiohttp takes it: over 1 MiB as a file object, written in chunks (aiohttp warns that raw
    bytes that large are written in one go)."""
    if not body:
        return None
    return io.BytesIO(body) if len(body) > 1 << 20 else body


def _drop(session: aiohttp.ClientSession) -> None:
    """Close a session of another (finished) event loop from outside it: its sockets now, and nothing left for
    aiohttp to report as unclosed at garbage collection."""
    connector = session.connector
    if connector is not None:
        with contextlib.suppress(Exception):  # the loop is gone: closing its transports may find them closed
            connector._close()
    session._connector = None


class _Body(httpx.AsyncByteStream):
    """The answer's body as it arrives; closing it hands the connection back (or drops it if unread)."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except Exception as exc:
            raise _translated(exc, self._request) from exc

    async def aclose(self) -> None:
        self._response.release()


def _translated(exc: Exception, request: httpx.Request) -> Exception:
    """aiohttp's (and the socket's) errors as httpx's, which callers catch; anything else unchanged."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(text, request=request)
    if isinstance(exc, (aiohttp.ServerTimeoutError, asyncio.TimeoutError)):
        return httpx.ReadTimeout(text, request=request)
    if isinstance(exc, (aiohttp.ClientConnectorError, aiohttp.ClientSSLError, ssl.SSLError)):
        return httpx.ConnectError(text, request=request)
    if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientResponseError)):
        return httpx.RemoteProtocolError(text, request=request)
    if isinstance(exc, aiohttp.InvalidURL):
        return httpx.UnsupportedProtocol(text, request=request)
    if isinstance(exc, (aiohttp.ClientError, OSError)):
        return httpx.ReadError(text, request=request)
    return exc


__all__ = ["KEEPALIVE_EXPIRY", "MAX_CONNECTIONS", "AiohttpTransport"]
