"""``GET /v1/documents/{id}``: the issuer-signed document of a received message, byte for byte as signed."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response

from exchange.node._app import Services

router = APIRouter(prefix="/v1/documents", tags=["documents"])


@router.get("/{message_id}", response_class=Response, responses={200: {"content": {"application/xml": {}}}})
async def get_document(message_id: str, services: Services) -> Response:
    """The document exactly as its issuer signed it (its signature verifies again). Only for RECEIVED messages:
    a rejected message holds no document (``NODE-DOCUMENT-REJECTED``)."""
    document = await asyncio.to_thread(services.store.inbox_document, message_id)
    return Response(document, media_type="application/xml")
