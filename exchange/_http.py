"""The services' outgoing HTTP: httpx's client API on aiohttp's connection pool and HTTP parser.

The gateway's deliveries and a node's calls to the gateway go through ``httpx.AsyncClient`` (its API, its
exceptions, its redirect and cookie policy, ``MockTransport`` in tests) with :class:`AiohttpTransport` under it.
Measured on the 2-core machine (a POST of an 18 KB envelope answered with 3 KB, 4 at a time, to a local uvicorn
server): httpx's own transport (httpcore over anyio, h11) spent 1.27 ms of the client's CPU per request, aiohttp
0.13 ms; in the gateway under load httpx took a fifth of the CPU the process spent holding the GIL.

The transport sends one request as httpx hands it over (no redirects: the client decides; no cookies kept: the
client's jar does; no proxies from the environment; no decompression: the body is passed on as it came and httpx
decodes it, so a caller's cap on the decoded answer holds as before) and translates aiohttp's errors into
httpx's: a timeout into ``ConnectTimeout`` / ``ReadTimeout``, a failed connection or TLS handshake into
``ConnectError``, a connection that broke or spoke bad HTTP into ``ReadError`` / ``RemoteProtocolError``. Timeouts
come from the request (httpx's ``timeout`` extension): *connect* bounds opening the connection, *pool* waiting
for one, *read* each wait for the answer's next bytes; aiohttp has no write timeout, so *write* is not applied
(callers that must bound a whole attempt do, as the delivery worker does with its own deadline).

An aiohttp session belongs to the event loop that made it: the transport makes one on first use in each loop
and closes it in :meth:`AiohttpTransport.aclose` (the client's ``aclose``).
"""

from __future__ import annotations

import asyncio
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
                del self._sessions[other]  # a finished loop's session: its connections went with it
            connector = aiohttp.TCPConnector(limit=MAX_CONNECTIONS, keepalive_timeout=KEEPALIVE_EXPIRY)
            session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False, trust_env=False,
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),  # httpx's own are sent instead
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
        try:
            response = await self._session().request(
                request.method, URL(str(request.url), encoded=True), headers=headers, data=body or None,
                allow_redirects=False, timeout=timeout, **options,
            )
        except Exception as exc:
            raise _translated(exc, request) from exc
        return httpx.Response(
            response.status,
            headers=[(name, value) for name, value in response.raw_headers],
            stream=_Body(response, request),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": (response.reason or "").encode("latin-1")},
        )

    async def aclose(self) -> None:
        sessions, self._sessions = self._sessions, {}
        loop = asyncio.get_running_loop()
        for owner, session in sessions.items():
            if owner is loop:
                await session.close()


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
