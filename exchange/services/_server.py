"""The HTTP server both services run on: uvicorn with one guarded HTTP/1.1 protocol.

``ptx serve gateway`` and ``ptx serve node`` build their ``uvicorn.Config`` with :func:`server_config`, so both
answer a broken request the same way, before any application code runs, and every such answer is JSON with a
code from the catalogue (``{"code", "message"}``, as the apps' own errors), then the connection closes:

==========================  ======  =============================================================================
code                        status  when
==========================  ======  =============================================================================
``HTTP-MALFORMED``          400     not HTTP/1.1 as llhttp reads it: request line, header syntax, a non-numeric,
                                    negative or repeated Content-Length, Content-Length *and* Transfer-Encoding
                                    (request smuggling), a bad chunk; also headers cut off by the client
``HTTP-HEADERS-TOO-LARGE``  431     request line and headers over ``max_header_bytes`` (16 KiB)
``HTTP-HEADERS-TOO-MANY``   431     more than ``max_headers`` header fields (100)
``HTTP-HEADERS-TIMEOUT``    408     the headers are not complete ``header_timeout`` (10 s) after the connection
                                    opened or the request began (slow headers, an idle connection)
``HTTP-BODY-INCOMPLETE``    400     the client ends its side, or sends nothing for ``body_timeout`` (10 s), before
                                    the body its Content-Length or chunked framing announced is complete
``HTTP-BODY-TIMEOUT``       408     the body is not complete ``body_deadline`` (60 s) after the headers, however
                                    steadily it drips (one byte just inside every ``body_timeout`` never stalls)
``HTTP-UPGRADE-REFUSED``    400     ``Upgrade`` (h2c, WebSocket) or ``CONNECT``: the services speak HTTP/1.1 only
                                    (uvicorn would stop parsing there and hand the app an empty body)
==========================  ======  =============================================================================

Chunk sizes, extensions and trailers are framing, not body: trailers count as header fields, and a chunked
body whose framing outweighs the body itself (more than ``max_header_bytes`` plus half the body) is
``HTTP-MALFORMED``, so a stream of chunk extensions cannot keep a request alive without delivering a body.

Why here: uvicorn's own answer to a parser error is plain text without a code; its httptools protocol has no
bound on header size or count (llhttp hands each header to Python, which concatenates it: one 100 MB header
took 19 s and 200 MB of memory and the request was served), and no timeout once a request began, so a body
shorter than its Content-Length is met with silence. h11 bounds the header block (``h11_max_incomplete_event_size``)
but accepts Content-Length together with Transfer-Encoding; llhttp refuses that. So the services choose
httptools explicitly (it ships with ``uvicorn[standard]``; without it they refuse to start) and
:class:`GuardedHttpToolsProtocol` adds what it lacks: it counts the bytes of the header block as they arrive
(at most one socket read past the limit is ever buffered), counts header fields, keeps one deadline per
connection and one for the whole body of a request, and writes the coded answer itself. A request it refuses after the application started (a stalled
body) is disconnected for the application, which sees ``http.disconnect``; what the application raises then is
expected and not logged as an error.

The limits are a frozen :class:`HttpLimits` with safe defaults; ``PTX_HTTP_MAX_HEADER_BYTES``,
``PTX_HTTP_MAX_HEADERS``, ``PTX_HTTP_HEADER_TIMEOUT``, ``PTX_HTTP_BODY_TIMEOUT`` and ``PTX_HTTP_BODY_DEADLINE``
change them for both services.
"""

from __future__ import annotations

import asyncio
import http
import json
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from exchange._errors import Code, ConfigurationError

if TYPE_CHECKING:
    import uvicorn

    from exchange._tls import TlsMaterial
    from exchange.services._asgi_tls import App, Receive, Scope, Send

log = logging.getLogger("ptx.http")

ENV_PREFIX = "PTX_HTTP_"


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """Bounds on one HTTP request before the application sees it. Defaults are the safe choice.

    ``max_header_bytes`` counts the request line and every header line together (nginx and Apache allow about
    8 KiB per line; the services' own headers, ``PTX-Delivery`` the largest, take well under 1 KiB).
    ``header_timeout`` is the time from the connection (or the first byte of a request) to the end of its
    headers; ``body_timeout`` the longest silence while a body is still owed; ``body_deadline`` the longest time
    from the end of the headers to the end of the body (60 s: the largest message, 10 MiB, at 1.4 Mbit/s), so
    a client that drips one byte just inside every ``body_timeout`` cannot hold a request open for ever. Time
    in which the application is not reading (its buffer is full) does not count against the client.
    """

    max_header_bytes: int = 16 * 1024
    max_headers: int = 100
    header_timeout: float = 10.0
    body_timeout: float = 10.0
    body_deadline: float = 60.0

    def __post_init__(self) -> None:
        if not 1024 <= self.max_header_bytes <= 1024 * 1024:
            raise ConfigurationError("max_header_bytes must be between 1 KiB and 1 MiB", code=Code.CONFIG_INVALID)
        if not 8 <= self.max_headers <= 1000:
            raise ConfigurationError("max_headers must be between 8 and 1000", code=Code.CONFIG_INVALID)
        if not 0.1 <= self.header_timeout <= 300 or not 0.1 <= self.body_timeout <= 300:
            raise ConfigurationError("the HTTP timeouts must be between 0.1 and 300 seconds", code=Code.CONFIG_INVALID)
        if not self.body_timeout <= self.body_deadline <= 3600:
            raise ConfigurationError("body_deadline must be at least body_timeout and at most 3600 seconds",
                                     code=Code.CONFIG_INVALID)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> HttpLimits:
        """The defaults, with any ``PTX_HTTP_*`` variable applied; a bad value is ``CONFIG-INVALID``."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, kind in (("max_header_bytes", int), ("max_headers", int), ("header_timeout", float),
                           ("body_timeout", float), ("body_deadline", float)):
            raw = environ.get(ENV_PREFIX + name.upper())
            if raw is None:
                continue
            try:
                values[name] = kind(raw)
            except ValueError:
                raise ConfigurationError(f"{ENV_PREFIX}{name.upper()}={raw!r} is not a number",
                                         code=Code.CONFIG_INVALID) from None
        return cls(**values)


DEFAULT_HTTP_LIMITS = HttpLimits()


class _Refused(Exception):
    """Raised inside a parser callback to stop parsing; carries the answer."""

    def __init__(self, status: int, code: Code, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def refusal_bytes(status: int, code: Code, message: str) -> bytes:
    """A complete HTTP/1.1 response: the JSON body ``{"code", "message"}``, then the connection closes."""
    body = json.dumps({"code": code.value, "message": message}).encode("utf-8")
    phrase = http.HTTPStatus(status).phrase
    head = (f"HTTP/1.1 {status} {phrase}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            "connection: close\r\n\r\n")
    return head.encode("ascii") + body


def _httptools_protocol() -> type[asyncio.Protocol]:
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError as exc:  # pragma: no cover - uvicorn[standard] brings httptools
        raise ConfigurationError(
            "the services run on uvicorn's httptools protocol, which is not installed: install uvicorn[standard]",
            code=Code.CONFIG_INVALID,
        ) from exc
    return HttpToolsProtocol


class _Guard:
    """The guard, mixed into uvicorn's ``HttpToolsProtocol`` (see :func:`guarded_protocol_class`).

    Per connection: the bytes and fields of the current header block, one deadline (end of headers, or the next
    body bytes), and whether this connection has been refused. Nothing is shared between connections.
    """

    limits: HttpLimits = DEFAULT_HTTP_LIMITS
    # provided by HttpToolsProtocol
    app: App
    cycle: Any
    flow: Any
    loop: asyncio.AbstractEventLoop
    parser: Any
    transport: asyncio.Transport
    url: bytes

    def connection_made(self, transport: asyncio.Transport) -> None:
        self._refused = False
        self._in_head = True
        self._begun = False  # a byte of the current request has been parsed
        self._head_bytes = 0
        self._wire_bytes = 0  # bytes received while a body is owed
        self._body_bytes = 0
        self._header_fields = 0
        self._header_size = 0
        self._deadline: float | None = None
        self._deadline_code = Code.HTTP_HEADERS_TIMEOUT
        self._timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None  # the whole body's deadline
        super().connection_made(transport)  # type: ignore[misc]
        self.app = self._guarded(self.app)
        self._expect_by(self.limits.header_timeout, Code.HTTP_HEADERS_TIMEOUT)

    def _guarded(self, app: App) -> App:
        async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
            try:
                await app(scope, receive, send)
            except Exception:
                if self._refused:  # the app saw the disconnect the guard caused: expected, already answered
                    return
                raise

        return guarded

    # --- bytes in -------------------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._in_head:
            self._head_bytes += len(data)
        elif self._body_owed():
            self._wire_bytes += len(data)
        super().data_received(data)  # type: ignore[misc]
        if self._refused or self.transport.is_closing():
            return
        if self._in_head and self._head_bytes > self.limits.max_header_bytes:
            self._refuse(431, Code.HTTP_HEADERS_TOO_LARGE,
                         f"the request line and headers exceed {self.limits.max_header_bytes:,} bytes")
        elif self._body_owed():
            if self._wire_bytes - self._body_bytes > self.limits.max_header_bytes + self._body_bytes // 2:
                self._refuse(400, Code.HTTP_MALFORMED,
                             "the chunk framing (sizes, extensions, trailers) outweighs the body it carries")
                return
            self._expect_by(self.limits.body_timeout, Code.HTTP_BODY_INCOMPLETE)

    def eof_received(self) -> bool | None:
        if not self._refused:
            if self._body_owed() and not self.cycle.response_started:
                self._refuse(400, Code.HTTP_BODY_INCOMPLETE,
                             "the request ended before the body its Content-Length or chunked framing announced")
            elif self._in_head and self._begun:
                self._refuse(400, Code.HTTP_MALFORMED, "the request ended before its headers were complete")
        return super().eof_received()  # type: ignore[misc]

    # --- parser callbacks -------------------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._in_head = self._begun = True
        self._head_bytes = self._header_fields = self._header_size = self._wire_bytes = self._body_bytes = 0
        self._expect_by(self.limits.header_timeout, Code.HTTP_HEADERS_TIMEOUT)
        super().on_message_begin()  # type: ignore[misc]

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_fields += 1
        self._header_size += len(name) + len(value) + 4
        if self._header_fields > self.limits.max_headers:
            raise _Refused(431, Code.HTTP_HEADERS_TOO_MANY,
                           f"the request has more than {self.limits.max_headers} header fields")
        if self._header_size > self.limits.max_header_bytes:
            raise _Refused(431, Code.HTTP_HEADERS_TOO_LARGE,
                           f"the request line and headers exceed {self.limits.max_header_bytes:,} bytes")
        super().on_header(name, value)  # type: ignore[misc]

    def on_headers_complete(self) -> None:
        if len(self.url) + self._header_size > self.limits.max_header_bytes:
            raise _Refused(431, Code.HTTP_HEADERS_TOO_LARGE,
                           f"the request line and headers exceed {self.limits.max_header_bytes:,} bytes")
        if self.parser.should_upgrade():
            raise _Refused(400, Code.HTTP_UPGRADE_REFUSED,
                           "the services speak HTTP/1.1 only: protocol upgrades and CONNECT are refused")
        self._in_head = self._begun = False
        self._deadline = None
        super().on_headers_complete()  # type: ignore[misc]
        self._cancel_body_deadline()
        if self._body_owed():
            self._body_timer = self.loop.call_later(self.limits.body_deadline, self._on_body_deadline)

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        super().on_body(body)  # type: ignore[misc]

    def on_message_complete(self) -> None:
        self._deadline = None
        self._cancel_body_deadline()
        super().on_message_complete()  # type: ignore[misc]

    def send_400_response(self, msg: str) -> None:
        """uvicorn calls this while handling the parser's exception: answer with its code instead."""
        error = sys.exc_info()[1]
        cause = error.__context__ if error is not None else None
        if isinstance(cause, _Refused):
            self._refuse(cause.status, cause.code, cause.message)
        else:
            detail = f": {error}" if error is not None and str(error) else ""
            self._refuse(400, Code.HTTP_MALFORMED, f"the request is not valid HTTP/1.1{detail}")

    # --- the deadline and the answer ----------------------------------------------------------------------

    def _body_owed(self) -> bool:
        cycle = self.cycle
        return not self._in_head and cycle is not None and cycle.more_body and not cycle.response_complete

    def _expect_by(self, seconds: float, code: Code) -> None:
        self._deadline = self.loop.time() + seconds
        self._deadline_code = code
        if self._timer is None:
            self._timer = self.loop.call_at(self._deadline, self._on_deadline)

    def _on_deadline(self) -> None:
        self._timer = None
        if self._refused or self._deadline is None or self.transport.is_closing():
            return
        now = self.loop.time()
        if self._deadline_code is Code.HTTP_BODY_INCOMPLETE and self.flow.read_paused:
            self._deadline = now + self.limits.body_timeout  # the app is not reading yet: not the client's fault
        if now < self._deadline:
            self._timer = self.loop.call_at(self._deadline, self._on_deadline)
            return
        if self._deadline_code is Code.HTTP_BODY_INCOMPLETE:
            if self.cycle.response_started:  # the app answered without the body: nothing more to say
                self._refused = True
                self.transport.close()
                return
            self._refuse(400, Code.HTTP_BODY_INCOMPLETE,
                         f"no body bytes for {self.limits.body_timeout:g} s, and the body is not complete")
        else:
            self._refuse(408, Code.HTTP_HEADERS_TIMEOUT,
                         f"the request's headers were not complete within {self.limits.header_timeout:g} s")

    def _cancel_body_deadline(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _on_body_deadline(self) -> None:
        self._body_timer = None
        if self._refused or not self._body_owed() or self.transport.is_closing():
            return
        if self.flow.read_paused:  # the app is not reading: not the client's fault, look again later
            self._body_timer = self.loop.call_later(self.limits.body_timeout, self._on_body_deadline)
            return
        if self.cycle.response_started:  # the app answered without the body: nothing more to say
            self._refused = True
            self.transport.close()
            return
        self._refuse(408, Code.HTTP_BODY_TIMEOUT,
                     f"the body was not complete {self.limits.body_deadline:g} s after the headers")

    def _refuse(self, status: int, code: Code, message: str) -> None:
        if self._refused:
            return
        self._refused = True
        self._deadline = None
        self._cancel_body_deadline()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the app's receive() answers http.disconnect, its sends are dropped
            cycle.message_event.set()
        client = self.transport.get_extra_info("peername")
        log.warning("%s %s from %s: %s", status, code.value, client, message)
        if not self.transport.is_closing():
            self.transport.write(refusal_bytes(status, code, message))
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_body_deadline()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().connection_lost(exc)  # type: ignore[misc]


@cache
def guarded_protocol_class(limits: HttpLimits = DEFAULT_HTTP_LIMITS, *, tls: bool = False) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol with the guard (and, with ``tls``, the TLS client certificate in the scope)."""
    base = _httptools_protocol()
    bases: tuple[type, ...] = (_Guard, base)
    if tls:
        from exchange.services._asgi_tls import PeerCertificateMixin

        bases = (PeerCertificateMixin, *bases)
    return type("GuardedHttpToolsProtocol", bases, {"limits": limits})


def server_config(
    app: Any, material: TlsMaterial, *, log_level: str, service: str, limits: HttpLimits | None = None
) -> uvicorn.Config:
    """The ``uvicorn.Config`` of a service: the guarded protocol, TLS when configured, no proxy headers, structured
    logs named for ``service`` (:mod:`exchange._logging`; the app writes its own access lines)."""
    import uvicorn

    from exchange._logging import log_config
    from exchange.services._asgi_tls import uvicorn_options

    limits = limits or HttpLimits.from_env()
    options = uvicorn_options(material)  # before binding: a bad certificate is a clear error, not a traceback
    options["http"] = guarded_protocol_class(limits, tls=material.serves_tls)
    factory = options.get("ssl_context_factory")
    if factory is not None and hasattr(app, "state"):  # the app can grow the listener's client CAs (new members)
        contexts = getattr(app.state, "tls_contexts", None)
        if contexts is None:
            contexts = []
            app.state.tls_contexts = contexts
        contexts.append(factory(None, None))
    return uvicorn.Config(app, log_level=log_level.lower(), log_config=log_config(service, log_level), access_log=False,
                          proxy_headers=False, server_header=False,
                          timeout_graceful_shutdown=3, h11_max_incomplete_event_size=limits.max_header_bytes,
                          ws="none", **options)


__all__ = ["DEFAULT_HTTP_LIMITS", "HttpLimits", "guarded_protocol_class", "refusal_bytes", "server_config"]
