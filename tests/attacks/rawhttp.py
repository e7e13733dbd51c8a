"""Raw HTTP/1.1 for attacks a client library will not send: bytes, pauses and a half-close, over one socket, and
the services under attack as real processes (node BB, and the gateway delivering to it).

:func:`exchange` sends the parts of a request and reads the answer; it stops sending as soon as the server
answers (a refused 16 MiB header is answered after 16 KiB), so the answer is read before any reset.
:func:`live_services` starts ``ptx serve node`` and ``ptx serve gateway`` with short HTTP timeouts.
"""

from __future__ import annotations

import json
import os
import select
import socket
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from exchange._transport import HEADER, sign_delivery
from exchange.testing.processes import PTX, OperatorAuth, free_port, running
from tests.attacks.forge import XML, Canary, Forge, build_world

#: the services' HTTP timeouts in these tests (the defaults are 10 s): a stalled request is answered after this
TIMEOUT = 1.5
#: the services' total time for one body here (60 s by default): a body that drips is answered after this
BODY_DEADLINE = 4.0
HTTP_ENV = {"PTX_HTTP_HEADER_TIMEOUT": str(TIMEOUT), "PTX_HTTP_BODY_TIMEOUT": str(TIMEOUT),
            "PTX_HTTP_BODY_DEADLINE": str(BODY_DEADLINE)}
FAST = {"PTX_DELIVERY__BASE_DELAY": "0.05", "PTX_DELIVERY__MAX_DELAY": "0.2", "PTX_DELIVERY__POLL_INTERVAL": "0.05",
        "PTX_DELIVERY__REQUEST_TIMEOUT": "5", "PTX_DELIVERY__LEASE": "10"}

Part = bytes | float  # bytes to send, or seconds to wait


@dataclass(frozen=True)
class Answer:
    status: int | None
    headers: dict[str, str]
    body: bytes
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)


def _parse(raw: bytes, seconds: float) -> Answer:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    try:
        status = int(lines[0].split(b" ")[1])
    except (IndexError, ValueError):
        return Answer(None, {}, raw, seconds)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    length = headers.get("content-length")
    return Answer(status, headers, body[: int(length)] if length and length.isdigit() else body, seconds)


def exchange(port: int, parts: Sequence[Part], *, half_close: bool = False, timeout: float = 15.0) -> Answer:
    """Send ``parts`` to 127.0.0.1:``port`` and read one answer (until the server closes, or ``timeout``)."""
    started = time.monotonic()
    received = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.setblocking(False)
        answered = False
        for part in parts:
            if answered:
                break
            if isinstance(part, float):
                readable, _, _ = select.select([sock], [], [], part)
                answered = bool(readable)
                continue
            view = memoryview(part)
            while view and not answered:
                readable, writable, _ = select.select([sock], [sock], [], timeout)
                if readable:
                    answered = True
                elif writable:
                    try:
                        view = view[sock.send(view[: 256 * 1024]):]
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        answered = True
                else:
                    raise AssertionError("the server neither read nor answered")
        if half_close and not answered:
            sock.shutdown(socket.SHUT_WR)
        deadline = started + timeout
        while time.monotonic() < deadline:
            readable, _, _ = select.select([sock], [], [], max(0.0, deadline - time.monotonic()))
            if not readable:
                break
            try:
                chunk = sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:  # reset after the answer: what was read stays read
                break
            if not chunk:
                break
            received += chunk
            if _complete(bytes(received)):
                break
    return _parse(bytes(received), time.monotonic() - started)


def _complete(raw: bytes) -> bool:
    head, separator, body = raw.partition(b"\r\n\r\n")
    if not separator:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            return len(body) >= int(value.strip())
    return False


@dataclass
class Service:
    """One service under attack: where it listens, the path and headers a legitimate request uses."""

    name: str
    port: int
    path: str
    pid: int
    sent: dict[str, str] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Live:
    forge: Forge
    gateway: Service
    node: Service
    http: httpx.Client

    def headers(self, service: Service, body: bytes, message_id: str) -> dict[str, str]:
        """What a legitimate request to ``service`` carries: the node's inbox wants the gateway's signature."""
        if service is self.node:
            key = self.forge.world.workspace.gateway_signer().key
            return {**XML, HEADER: sign_delivery(body, message_id, key, moment=datetime.now(UTC))}
        return dict(XML)

    def accepts(self, service: Service, message_id: str) -> None:
        """A valid message to ``service`` is still taken: 202 at the gateway (then delivered), RECEIVED at the node."""
        body = self.forge.message(message_id)
        response = self.http.post(f"{service.base}{service.path}", content=body,
                                  headers=self.headers(service, body, message_id), timeout=30)
        if service is self.gateway:
            assert response.status_code == 202, response.text[:2000]
            wait_acknowledged(self.http, service.base, message_id)
        else:
            assert response.status_code == 200, response.text[:2000]
            assert response.headers["PTX-Receipt-Status"] == "RECEIVED", response.text[:2000]


def wait_acknowledged(http: httpx.Client, base: str, message_id: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        status = http.get(f"{base}/v1/messages/{message_id}", timeout=10).json().get("status")
        if status == "ACKNOWLEDGED":
            return
        time.sleep(0.05)
    raise AssertionError(f"{message_id} is {status} after {timeout} s")


@contextmanager
def live_services(folder: Path) -> Iterator[Live]:
    """Node BB and the gateway (delivering to it) as real processes on a fresh world made now."""
    canary = Canary()
    now = datetime.now(UTC)
    world = build_world(folder / "workspace", created=now, moment=now, canary=canary)
    node_port, gateway_port = free_port(), free_port()
    node = [PTX, "serve", "node", "--country", "BB", "--workspace", str(world.workspace.path), "--port",
            str(node_port), "--gateway", f"http://127.0.0.1:{gateway_port}", "--database-url",
            f"sqlite:///{folder / 'bb.sqlite'}", "--log-level", "warning"]
    gateway = [PTX, "serve", "gateway", "--workspace", str(world.workspace.path), "--port", str(gateway_port),
               "--node", f"BB=http://127.0.0.1:{node_port}", "--database-url", f"sqlite:///{folder / 'gw.db'}",
               "--log-level", "warning"]
    with ExitStack() as stack:
        node_process = stack.enter_context(running(
            node, health_url=f"http://127.0.0.1:{node_port}/healthz", env=HTTP_ENV, log=folder / "node.log"))
        gateway_process = stack.enter_context(running(
            gateway, health_url=f"http://127.0.0.1:{gateway_port}/readyz", env={**HTTP_ENV, **FAST},
            log=folder / "gateway.log"))
        http = stack.enter_context(httpx.Client(auth=OperatorAuth(world.workspace.path)))  # reads every message
        yield Live(Forge(world), Service("gateway", gateway_port, "/v1/messages", gateway_process.pid),
                   Service("node", node_port, "/v1/inbox", node_process.pid), http)
    canary.close()


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def memory_kib(pid: int) -> tuple[int, int]:
    """(resident now, peak resident) of a process in KiB (Linux ``/proc``)."""
    values = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(values["VmRSS"].split()[0]), int(values["VmHWM"].split()[0])


__all__ = ["HTTP_ENV", "TIMEOUT", "Answer", "Live", "Service", "cpu_seconds", "exchange", "live_services",
           "memory_kib"]
