"""The receiver's inbox the kit plays when it tests a gateway: it records every delivery and answers receipts.

The gateway under test delivers the tester's messages for the tester's receiver country to this inbox (its
endpoint in the receiver's package, or the gateway's configured node URL for it). Each delivery is recorded as
it arrived (bytes, the ``PTX-Delivery`` header and the library's verdict on it under the gateway certificate the
receiver's folder joined) and answered as a node answers (:func:`exchange.sign_receipt`, signed with the
receiver's node key), except that a message id the kit marks with :meth:`Probe.fail_once` is answered 503
the first time, so the kit sees whether the gateway delivers it again, and how.

It runs on uvicorn in a thread of the kit's process, bound to the address given (``--inbox-listen``).
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from exchange import DELIVERY_HEADER, Code, Credential, Party, ReceiptStatus, sign_receipt, verify_delivery
from exchange.conformance._material import now

_MESSAGE_ID = re.compile(r"(?:^|;)\s*m=([^;]*)")
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One delivery as the probe saw it, and what it answered."""

    message_id: str | None
    header: str | None
    body: bytes
    authentic: bool
    problem: str
    status: int
    answer: bytes
    at: float


class Probe:
    """The receiver's inbox: records deliveries, answers signed receipts. Thread-safe."""

    def __init__(self, *, receiver: Party, node: Credential, gateway: x509.Certificate) -> None:
        self.receiver = receiver
        self._node = node
        self._gateway = gateway
        self._lock = threading.Lock()
        self._deliveries: list[Delivery] = []
        self._fail_once: set[str] = set()

    def fail_once(self, message_id: str) -> None:
        """Answer the first delivery of ``message_id`` with 503 (the receiver is not available now)."""
        with self._lock:
            self._fail_once.add(message_id)

    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    def of(self, message_id: str) -> list[Delivery]:
        return [delivery for delivery in self.deliveries() if delivery.message_id == message_id]

    def wait(self, predicate: Callable[[list[Delivery]], bool], timeout: float) -> list[Delivery]:
        """The deliveries once ``predicate`` holds for them, or when ``timeout`` seconds have passed."""
        deadline = time.monotonic() + timeout
        while True:
            seen = self.deliveries()
            if predicate(seen) or time.monotonic() >= deadline:
                return seen
            time.sleep(0.05)

    def answer(self, body: bytes, header: str | None) -> tuple[int, str, bytes, Delivery]:
        """(HTTP status, media type, body) of the answer to one delivery, and the record of it."""
        match = _MESSAGE_ID.search(header or "")
        message_id = match.group(1).strip() if match else None
        problems = [f.message for f in verify_delivery(header, body, message_id or "", self._gateway,
                                                        moment=now())] if header else ["no PTX-Delivery header"]
        with self._lock:
            failing = message_id in self._fail_once
            if failing and message_id is not None:
                self._fail_once.discard(message_id)
        if problems:
            status, media = 401, "application/json"
            answer = json.dumps({"code": Code.GW_DELIVERY_NOT_AUTHENTICATED.value, "message": problems[0]}).encode()
        elif failing:
            status, media = 503, "application/json"
            answer = json.dumps({"code": Code.STORE_UNAVAILABLE.value,
                                 "message": "the kit's receiver is not available now (on purpose, once)"}).encode()
        else:
            status, media = 200, "application/xml"
            answer = sign_receipt(node=self._node, issuer=self.receiver, message_id=message_id or "", envelope=body,
                                  status=ReceiptStatus.RECEIVED, reasons=(), issued=now())
        record = Delivery(message_id=message_id, header=header, body=body, authentic=not problems,
                          problem="; ".join(problems), status=status, answer=answer, at=time.monotonic())
        with self._lock:
            self._deliveries.append(record)
        return status, media, answer, record

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        if scope["method"] != "POST" or scope["path"].rstrip("/") != "/v1/inbox":
            status, media, answer = 404, "application/json", b'{"code": "NOT-FOUND", "message": "only /v1/inbox"}'
        else:
            body = bytearray()
            more = True
            while more:
                message = await receive()
                body.extend(message.get("body", b""))
                more = bool(message.get("more_body"))
            header = next((value.decode("latin-1") for name, value in scope["headers"]
                           if name.decode("latin-1").lower() == DELIVERY_HEADER.lower()), None)
            status, media, answer, _ = await asyncio.to_thread(self.answer, bytes(body), header)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", media.encode()), (b"content-length", str(len(answer)).encode())]})
        await send({"type": "http.response.body", "body": answer})


class Listening:
    """An ASGI app (the probe) served by uvicorn in a background thread of this process (a context manager)."""

    def __init__(self, app: Any, host: str, port: int) -> None:
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                                    lifespan="on", access_log=False))
        self.thread = threading.Thread(target=self.server.run, name="ptx-kit-probe", daemon=True)

    def __enter__(self) -> Listening:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise OSError(f"nothing listens on {self.server.config.host}:{self.server.config.port} (is it free?)")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


__all__ = ["Delivery", "Listening", "Probe"]
