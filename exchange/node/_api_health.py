"""``/healthz`` (the process answers), ``/readyz`` (the store answers and the node's key is loaded) and
``/metrics`` (Prometheus, :mod:`exchange.node._metrics`)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Response

from exchange.node._app import Services

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(services: Services) -> dict[str, Any]:
    """Liveness: the process is up."""
    return {"status": "ok", "country": services.settings.country}


@router.get("/readyz")
async def readyz(services: Services) -> dict[str, Any]:
    """Readiness: the store answers (a ``STORE-*`` error otherwise, HTTP 503)."""
    await asyncio.to_thread(services.store.ping)
    return {"status": "ready", "country": services.settings.country, "gateway": services.settings.gateway_url}


@router.get("/metrics", summary="Prometheus metrics")
async def metrics(services: Services) -> Response:
    return Response(services.metrics.render(), media_type=services.metrics.content_type)
