"""``/v1/outbox``: send a document through the gateway and follow it to the receiver's verified receipt.

``POST /v1/outbox`` answers 201 with the stored message and the gateway's answer (its verdict is in
``status``: ACCEPTED, REJECTED ...), or 200 when the same request with the same ``message_id`` was sent before.
A gateway that cannot be reached is 502 ``NODE-GATEWAY-UNREACHABLE`` (the message stays stored; POST the same
request with its ``message_id`` to resend the same bytes). An invalid document built from ``data`` is 422
``INPUT-INVALID`` with every finding; nothing is signed or sent.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from exchange.node._app import Services
from exchange.node._outbox import OutboxRequest

router = APIRouter(prefix="/v1/outbox", tags=["outbox"])


@router.post("", status_code=201)
async def send(request: OutboxRequest, services: Services, response: Response) -> dict[str, Any]:
    """Build or take a signed document, wrap and sign the envelope, submit it to the gateway."""
    entry, created = await services.outbox.send(request)
    if not created:
        response.status_code = 200
    return entry.to_dict(detail=True)


@router.get("")
async def list_outbox(
    services: Services,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
) -> dict[str, Any]:
    """Sent messages, newest first, as last seen (no refresh from the gateway)."""
    entries = await asyncio.to_thread(services.outbox.list, limit=limit, offset=offset)
    return {"items": [entry.to_dict() for entry in entries], "limit": limit, "offset": offset}


@router.get("/{message_id}")
async def get_outbox_message(
    message_id: str,
    services: Services,
    refresh: Annotated[bool, Query(description="ask the gateway for news first")] = True,
) -> dict[str, Any]:
    """One sent message. Refreshed from the gateway while it is moving; once the gateway holds the receiver's
    receipt, this node fetches and verifies it itself. ``refresh_error`` says why a refresh failed."""
    entry, problem = await services.outbox.get(message_id, refresh=refresh)
    body = entry.to_dict(detail=True)
    body["refresh_error"] = None if problem is None else {"code": problem.code.value, "message": problem.message}
    return body
