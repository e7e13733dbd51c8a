"""Malformed and oversized HTTP against the gateway and node BB as real processes (``ptx serve``): every attack is
answered, in time, with its status and a JSON body naming its code (``exchange/services/_server.py``), never a 5xx and
never silence; the service stays up and the next valid message is taken (the gateway's is delivered to node BB).

Each attack is bytes on one socket, with pauses and a half-close where the attack needs them. The services run
with 1.5 s HTTP timeouts here (10 s by default) and a 4 s deadline for a whole body (60 s by default), so a
stalled request must be answered within those plus a margin, and a body that drips a byte just inside every
timeout within the deadline plus a margin.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from tests.attacks.rawhttp import BODY_DEADLINE, TIMEOUT, Live, Part, Service, exchange, live_services

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("http-attacks")]

MIB = 1024 * 1024
MARGIN = 2.0  # seconds an answer may take beyond the attack's own pauses and the server's timeout


@dataclass(frozen=True)
class Target:
    """What an attack builds on: the service's path, the headers of a legitimate request, a valid body."""

    path: bytes
    headers: bytes
    body: bytes

    def head(self, *lines: bytes, method: bytes = b"POST", target: bytes | None = None) -> bytes:
        return (method + b" " + (target or self.path) + b" HTTP/1.1\r\n" + self.headers
                + b"".join(line + b"\r\n" for line in lines) + b"\r\n")


@dataclass(frozen=True)
class HttpAttack:
    name: str
    parts: Callable[[Target], list[Part]]
    status: int
    code: str
    half_close: bool = False
    waits: bool = False  # answered only after the server's timeout
    deadline: bool = False  # answered at the body deadline, however long the attack would go on

    def __str__(self) -> str:
        return self.name


def _length(t: Target) -> bytes:
    return b"Content-Length: %d" % len(t.body)


def _chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data)


def _slow_headers(t: Target) -> list[Part]:
    """Slowloris: a byte of header every half second, never the end of the headers."""
    return [t.head()[:-2][:60], *[part for byte in b"X-Slow: dripping" for part in (0.5, bytes([byte]))]]


def _drip(head: bytes, body: bytes, every: float = TIMEOUT * 0.7) -> list[Part]:
    """The headers, then one byte of ``body`` just inside every idle timeout: never silent, never done."""
    steps = int((BODY_DEADLINE + 3 * MARGIN) / every) + 1
    return [head, *[part for byte in body[:steps] for part in (every, bytes([byte]))]]


HTTP_ATTACKS: tuple[HttpAttack, ...] = (
    # framing: what a request-smuggling or parser-confusion attempt sends
    HttpAttack("chunked-garbage", lambda t: [t.head(b"Transfer-Encoding: chunked") + b"ZZZ\r\nhello\r\n0\r\n\r\n"],
               400, "HTTP-MALFORMED"),
    HttpAttack("chunk-size-overflow", lambda t: [t.head(b"Transfer-Encoding: chunked") + b"F" * 24 + b"\r\nx\r\n"],
               400, "HTTP-MALFORMED"),
    HttpAttack("chunk-longer-than-its-size",
               lambda t: [t.head(b"Transfer-Encoding: chunked") + b"4\r\n<a/>XX\r\n0\r\n\r\n"], 400, "HTTP-MALFORMED"),
    HttpAttack("content-length-with-transfer-encoding",
               lambda t: [t.head(_length(t), b"Transfer-Encoding: chunked") + _chunked(t.body)], 400, "HTTP-MALFORMED"),
    HttpAttack("transfer-encoding-unknown",
               lambda t: [t.head(b"Transfer-Encoding: xchunked") + _chunked(t.body)], 400, "HTTP-MALFORMED"),
    HttpAttack("content-length-not-a-number", lambda t: [t.head(b"Content-Length: ten") + t.body], 400,
               "HTTP-MALFORMED"),
    HttpAttack("content-length-negative", lambda t: [t.head(b"Content-Length: -1") + t.body], 400, "HTTP-MALFORMED"),
    HttpAttack("content-length-twice",
               lambda t: [t.head(_length(t), b"Content-Length: %d" % (len(t.body) + 1)) + t.body], 400,
               "HTTP-MALFORMED"),
    HttpAttack("content-length-shorter-than-body",
               lambda t: [t.head(b"Content-Length: 2") + b"<a/>GARBAGE\r\n\r\n"], 400, "HTTP-MALFORMED"),
    HttpAttack("header-line-folded", lambda t: [t.head(b"X-Folded: a", b" b", _length(t)) + t.body], 400,
               "HTTP-MALFORMED"),
    HttpAttack("bare-lf-line-ends", lambda t: [t.head(_length(t)).replace(b"\r\n", b"\n") + t.body], 400,
               "HTTP-MALFORMED"),
    HttpAttack("nul-in-header-value", lambda t: [t.head(b"X-Nul: a\x00b", _length(t)) + t.body], 400,
               "HTTP-MALFORMED"),
    HttpAttack("not-http", lambda t: [b"HELLO GATEWAY\r\n\r\n"], 400, "HTTP-MALFORMED"),
    HttpAttack("headers-cut-off-by-the-client", lambda t: [t.head(_length(t))[:40]], 400, "HTTP-MALFORMED",
               half_close=True),
    HttpAttack("chunk-extension-without-end",
               lambda t: [t.head(b"Transfer-Encoding: chunked") + b"4;" + b"e" * MIB + b"\r\n<a/>\r\n0\r\n\r\n"], 400,
               "HTTP-MALFORMED"),
    # upgrades: the services speak HTTP/1.1 only
    HttpAttack("upgrade-to-h2c",
               lambda t: [t.head(b"Connection: Upgrade, HTTP2-Settings", b"Upgrade: h2c",
                                 b"HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA", _length(t)) + t.body],
               400, "HTTP-UPGRADE-REFUSED"),
    HttpAttack("upgrade-to-websocket",
               lambda t: [t.head(b"Connection: Upgrade", b"Upgrade: websocket", b"Sec-WebSocket-Version: 13",
                                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", method=b"GET", target=b"/healthz")],
               400, "HTTP-UPGRADE-REFUSED"),
    HttpAttack("connect-tunnel", lambda t: [b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n"], 400,
               "HTTP-UPGRADE-REFUSED"),
    # size and count of the header block
    HttpAttack("one-header-of-1-mib", lambda t: [t.head(b"X-Big: " + b"a" * MIB, _length(t)) + t.body], 431,
               "HTTP-HEADERS-TOO-LARGE"),
    HttpAttack("16-mib-of-headers-before-a-valid-message",
               lambda t: [t.head(*(b"X-Pad-%d: " % i + b"p" * (16 * 1024 - 16) for i in range(1024)), _length(t))
                          + t.body], 431, "HTTP-HEADERS-TOO-LARGE"),
    HttpAttack("request-target-of-64-kib",
               lambda t: [t.head(_length(t), target=t.path + b"?q=" + b"x" * 65536) + t.body], 431,
               "HTTP-HEADERS-TOO-LARGE"),
    HttpAttack("headers-just-over-the-size-limit",
               lambda t: [t.head(b"X-Pad: " + b"p" * (16 * 1024), _length(t)) + t.body], 431, "HTTP-HEADERS-TOO-LARGE"),
    HttpAttack("too-many-headers", lambda t: [t.head(*(b"X-%d: y" % i for i in range(500)), _length(t)) + t.body],
               431, "HTTP-HEADERS-TOO-MANY"),
    HttpAttack("too-many-trailers",
               lambda t: [t.head(b"Transfer-Encoding: chunked") + b"%x\r\n%s\r\n0\r\n" % (len(t.body), t.body)
                          + b"".join(b"X-T%d: y\r\n" % i for i in range(500)) + b"\r\n"], 431, "HTTP-HEADERS-TOO-MANY"),
    # time: a request that stops half-way is answered, not left hanging
    HttpAttack("body-shorter-than-its-content-length",
               lambda t: [t.head(_length(t)) + t.body[: len(t.body) // 2]], 400, "HTTP-BODY-INCOMPLETE", waits=True),
    HttpAttack("body-shorter-than-its-content-length-then-eof",
               lambda t: [t.head(_length(t)) + t.body[: len(t.body) // 2]], 400, "HTTP-BODY-INCOMPLETE",
               half_close=True),
    HttpAttack("chunked-body-without-its-last-chunk",
               lambda t: [t.head(b"Transfer-Encoding: chunked") + b"%x\r\n%s\r\n" % (len(t.body), t.body)], 400,
               "HTTP-BODY-INCOMPLETE", waits=True),
    HttpAttack("headers-that-never-end", _slow_headers, 408, "HTTP-HEADERS-TIMEOUT", waits=True),
    HttpAttack("idle-connection", lambda t: [], 408, "HTTP-HEADERS-TIMEOUT", waits=True),
    HttpAttack("body-drips-a-byte-inside-every-timeout", lambda t: _drip(t.head(_length(t)), t.body), 408,
               "HTTP-BODY-TIMEOUT", deadline=True),
    HttpAttack("body-drips-after-half-of-it-at-once",
               lambda t: _drip(t.head(_length(t)) + t.body[: len(t.body) // 2], t.body[len(t.body) // 2:]), 408,
               "HTTP-BODY-TIMEOUT", deadline=True),
    HttpAttack("chunked-body-drips-one-chunk-a-byte",
               lambda t: [t.head(b"Transfer-Encoding: chunked"),
                          *[part for byte in t.body[:12] for part in (TIMEOUT * 0.7, b"1\r\n%c\r\n" % byte)]],
               408, "HTTP-BODY-TIMEOUT", deadline=True),
)

assert len({attack.name for attack in HTTP_ATTACKS}) == len(HTTP_ATTACKS)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with live_services(tmp_path_factory.mktemp("http-attacks")) as services:
        yield services


def target(live: Live, service: Service, message_id: str) -> Target:
    body = live.forge.message(message_id)
    headers = {"Host": f"127.0.0.1:{service.port}", **live.headers(service, body, message_id)}
    return Target(service.path.encode(), b"".join(f"{k}: {v}\r\n".encode() for k, v in headers.items()), body)


@pytest.mark.parametrize("attack", HTTP_ATTACKS, ids=str)
@pytest.mark.parametrize("side", ["gateway", "node"])
def test_malformed_http_is_answered_with_its_code(attack: HttpAttack, side: str, live: Live) -> None:
    service = live.gateway if side == "gateway" else live.node
    message_id = f"http-{side}-{attack.name}"
    parts = attack.parts(target(live, service, message_id))
    answer = exchange(service.port, parts, half_close=attack.half_close)
    pauses = sum(part for part in parts if isinstance(part, float))
    assert answer.status == attack.status, answer
    assert answer.headers.get("content-type") == "application/json", answer
    assert answer.json()["code"] == attack.code, answer
    assert answer.seconds <= pauses + (TIMEOUT if attack.waits else 0) + MARGIN, answer
    if attack.waits:
        assert answer.seconds >= TIMEOUT * 0.9, answer  # the deadline, not an early guess
    if attack.deadline:
        assert BODY_DEADLINE * 0.9 <= answer.seconds <= BODY_DEADLINE + MARGIN, answer

    # still up, still taking messages; what was refused was never taken
    assert live.http.get(f"{service.base}/healthz", timeout=5).status_code == 200
    live.accepts(service, f"ok-after-{side}-{attack.name}")
    if side == "gateway":
        assert live.http.get(f"{service.base}/v1/messages/{message_id}", timeout=5).status_code == 404
    else:
        assert live.http.get(f"{service.base}/v1/inbox/{message_id}", timeout=5).status_code == 404


def test_keep_alive_and_pipelining_still_work(live: Live) -> None:
    """The guard refuses what is broken, not what is merely uncommon: two pipelined requests on one connection,
    the second one closing it, are both answered."""
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    for service in (live.gateway, live.node):
        with socket.create_connection(("127.0.0.1", service.port), timeout=10) as sock:
            sock.sendall(request)
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
        assert received.count(b"HTTP/1.1 200 OK") == 2, received
