"""``/v1/inbox``: deliveries from the gateway, and what this node received.

``POST /v1/inbox`` is the gateway's delivery endpoint (see :mod:`exchange.node._inbox`). It answers 200 with
the node's signed receipt (``application/xml``): RECEIVED, or REJECTED with coded reasons; the header
``PTX-Receipt-Status`` repeats the verdict for logs. A redelivery of the same bytes gets the same receipt.
Refusals without a receipt are JSON ``{code, message}``: 401 not delivered by the gateway (with mutual TLS also
when the connection did not present the gateway's TLS client certificate: ``NODE-TRANSPORT-IDENTITY``), 409 same
id with other bytes, 413 too large, 415 not XML, 503 store unavailable (the gateway tries again).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response

from exchange import DELIVERY_HEADER as HEADER
from exchange import Code, InputError, ReceiptStatus, peer_certificate
from exchange.node._app import Services

router = APIRouter(prefix="/v1/inbox", tags=["inbox"])

RECEIPT_STATUS_HEADER = "PTX-Receipt-Status"
XML: dict[str, Any] = {"content": {"application/xml": {}}}


def _too_large(limit: int) -> InputError:
    return InputError(f"the delivery exceeds {limit:,} bytes", code=Code.XML_TOO_LARGE)


async def read_bounded(request: Request, limit: int) -> bytes:
    """The request body, refused with XML-TOO-LARGE as soon as it exceeds ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise _too_large(limit)
    return bytes(body)


@router.post("", response_class=Response, responses={200: XML})
async def deliver(
    request: Request,
    services: Services,
    delivery: Annotated[str | None, Header(alias=HEADER)] = None,
) -> Response:
    """Receive one envelope from the gateway; answer with this node's signed receipt."""
    if services.transport is not None:  # mutual TLS: the connection must be the gateway's, before any byte is read
        identity = services.transport.identify(peer_certificate(request.scope))
        if not identity.identified:
            raise InputError(identity.message, code=identity.code or Code.NODE_TRANSPORT_IDENTITY)
    body = await read_bounded(request, services.settings.max_message_bytes)
    answer = await asyncio.to_thread(
        services.inbox.receive, body, delivery=delivery, content_type=request.headers.get("content-type")
    )
    return Response(
        answer.receipt,
        media_type="application/xml",
        headers={RECEIPT_STATUS_HEADER: answer.entry.verdict.value},
    )


@router.get("")
async def list_inbox(
    services: Services,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
) -> dict[str, Any]:
    """Received messages, newest first (accepted and rejected)."""
    entries = await asyncio.to_thread(services.store.inbox_list, limit=limit, offset=offset)
    return {"items": [entry.to_dict() for entry in entries], "limit": limit, "offset": offset}


@router.get("/{message_id}")
async def get_inbox_message(message_id: str, services: Services) -> dict[str, Any]:
    """One received message: routing fields, every check with its findings, the signed receipt answered."""
    entry = await asyncio.to_thread(services.store.inbox_get, message_id)
    body = entry.to_dict(detail=True)
    if entry.verdict is ReceiptStatus.RECEIVED:
        body["document_url"] = f"/v1/documents/{message_id}"
    return body


@router.get("/{message_id}/envelope", response_class=Response, responses={200: XML})
async def get_inbox_envelope(message_id: str, services: Services) -> Response:
    """The envelope exactly as delivered (what the receipt's digest covers)."""
    envelope = await asyncio.to_thread(services.store.inbox_envelope, message_id)
    return Response(envelope, media_type="application/xml")


@router.get("/{message_id}/receipt", response_class=Response, responses={200: XML})
async def get_inbox_receipt(message_id: str, services: Services) -> Response:
    """The signed receipt this node answered for the message."""
    entry = await asyncio.to_thread(services.store.inbox_get, message_id)
    return Response(entry.receipt, media_type="application/xml")
