"""The simulated national single window: a FastAPI service parametrised by country.

::

    POST /v1/outbox            issue (or take) a signed document, wrap it, sign the envelope, submit to the gateway
    GET  /v1/outbox[/{id}]     sent messages; reading one refreshes it and verifies the receiver's receipt
    POST /v1/inbox             deliveries from the gateway only: re-checked with this node's own trust, answered
                               with a signed receipt (RECEIVED, or REJECTED with coded reasons)
    GET  /v1/inbox[/{id}]      received messages with every check and finding
    GET  /v1/documents/{id}    a received document, byte for byte as its issuer signed it
    GET  /healthz, /readyz

Start one with ``ptx serve node --country AA`` or build the app with :func:`create_app`; settings come from
``PTX_NODE_*`` variables (:class:`NodeSettings`).
"""

from __future__ import annotations

from exchange.node._app import create_app
from exchange.node._settings import NodeSettings, get_settings, load_settings

__all__ = ["NodeSettings", "create_app", "get_settings", "load_settings"]
