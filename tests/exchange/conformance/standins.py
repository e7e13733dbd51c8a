"""Deliberately broken stand-ins: small apps in front of our real services that change one behaviour.

Each is what a careless implementation would do, and each holds only what the party it stands in for holds (a
node stand-in BB's node key, a gateway stand-in the gateway's signing key). They are served in the test's
process (:class:`exchange.conformance.Listening`) and forward everything else to the real service.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI, Request, Response

from exchange import (
    DELIVERY_HEADER,
    Credential,
    Party,
    ReceiptStatus,
    parse_xml,
    read_envelope,
    sign_delivery,
    sign_receipt,
)

_SIGNATURE = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?Signature[\s>].*</(?:[A-Za-z_][\w.-]*:)?Signature>", re.S)
_MESSAGE_ID = re.compile(r"(?:^|;)\s*m=([^;]*)")
_HOP = frozenset({"host", "content-length", "connection", "transfer-encoding"})


async def forward(request: Request, base: str, *, body: bytes | None = None,
                  headers: dict[str, str] | None = None) -> httpx.Response:
    """The same request to ``base`` (the Host header kept, as a reverse proxy must for signed reads)."""
    sent = {name: value for name, value in request.headers.items() if name.lower() not in _HOP}
    sent["host"] = request.headers.get("host", "")
    sent.update(headers or {})
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.request(request.method, f"{base}{request.url.path}", params=request.query_params,
                                    content=await request.body() if body is None else body, headers=sent)


def relay(answer: httpx.Response) -> Response:
    media = answer.headers.get("content-type")
    return Response(answer.content, status_code=answer.status_code, media_type=media)


def node_accepting_everything(node_url: str, node: Credential) -> FastAPI:
    """A node that says RECEIVED to whatever arrives: it forwards to the real node and, unless that answered a
    RECEIVED receipt, signs one itself for the envelope's message id."""
    app = FastAPI()

    @app.post("/v1/inbox")
    async def inbox(request: Request) -> Response:
        body = await request.body()
        answer = await forward(request, node_url, body=body)
        if answer.status_code == 200 and b"<StatusCode>RECEIVED</StatusCode>" in answer.content:
            return relay(answer)
        message_id = read_envelope(parse_xml(body)).message_id
        receipt = sign_receipt(node=node, issuer=Party("BB"), message_id=message_id, envelope=body,
                               status=ReceiptStatus.RECEIVED, reasons=(), issued=datetime.now(UTC))
        return Response(receipt, media_type="application/xml")

    return app


def node_answering_unsigned_receipts(node_url: str) -> FastAPI:
    """A node that checks everything but answers its receipts without their signature."""
    app = FastAPI()

    @app.post("/v1/inbox")
    async def inbox(request: Request) -> Response:
        answer = await forward(request, node_url)
        if answer.status_code != 200:
            return relay(answer)
        return Response(_SIGNATURE.sub(b"", answer.content, count=1), media_type="application/xml")

    return app


def gateway_forwarding_rejected(gateway_url: str, signer: Credential, inbox_url: str) -> FastAPI:
    """A gateway that refuses a bad submission (its answer and signed report are right) and still delivers it."""
    app = FastAPI()

    @app.api_route("/{path:path}", methods=["GET", "POST"])
    async def everything(request: Request) -> Response:
        body = await request.body()
        answer = await forward(request, gateway_url, body=body)
        if request.method == "POST" and request.url.path == "/v1/messages" and answer.status_code >= 400:
            message_id = str(answer.json().get("message_id") or "unknown-message")
            header = sign_delivery(body, message_id, signer.key, moment=datetime.now(UTC))
            async with httpx.AsyncClient(timeout=30) as client:
                await client.post(inbox_url, content=body, headers={"content-type": "application/xml",
                                                                    DELIVERY_HEADER: header})
        return relay(answer)

    return app


def gateway_losing_the_message_id(inbox_url: str, signer: Credential) -> FastAPI:
    """What a gateway's delivery looks like when it makes a new message id for each resend: placed between our
    gateway and the receiver's inbox, it lets the first attempt of a message through and re-signs every later
    attempt under a new id (as the gateway it holds the gateway's key)."""
    app = FastAPI()
    seen: set[str] = set()

    @app.post("/v1/inbox")
    async def inbox(request: Request) -> Response:
        body = await request.body()
        header = request.headers.get(DELIVERY_HEADER, "")
        match = _MESSAGE_ID.search(header)
        message_id = match.group(1).strip() if match else ""
        if message_id in seen:
            header = sign_delivery(body, f"resend-{len(seen)}-{message_id}"[:120], signer.key,
                                   moment=datetime.now(UTC))
        seen.add(message_id)
        async with httpx.AsyncClient(timeout=30) as client:
            answer = await client.post(inbox_url, content=body, headers={"content-type": "application/xml",
                                                                         DELIVERY_HEADER: header})
        return relay(answer)

    return app

