"""``ptx serve node --country AA``: run one country's single-window node (FastAPI on uvicorn).

Options override the ``PTX_NODE_*`` environment variables (see :mod:`exchange.node._settings`); the workspace
defaults to ``$PTX_NODE_WORKSPACE``, ``$PTX_WORKSPACE`` or ``./workspace``. Configuration problems (unknown
country, missing workspace, port in use) print ``ptx: CODE: message`` and exit 2 before anything listens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from exchange.cli._serve import bind_socket, serve_app, tls_overrides

DEFAULT_NODE_PORT = 8001


@serve_app.command("node")
def serve_node(
    country: Annotated[
        str, typer.Option("--country", "-c", envvar="PTX_NODE_COUNTRY", help="Country this single window serves, e.g. AA.")
    ],
    workspace: Annotated[
        Path | None,
        typer.Option("--workspace", "-w", help="Workspace folder (default: $PTX_NODE_WORKSPACE, $PTX_WORKSPACE or ./workspace)."),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", min=1, max=65535, help="Port to listen on.")] = DEFAULT_NODE_PORT,
    gateway: Annotated[
        str | None, typer.Option("--gateway", help="Gateway base URL (default: $PTX_NODE_GATEWAY_URL or http://127.0.0.1:8000).")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="SQLite URL of the node's store (default: in the workspace).")
    ] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
    tls: Annotated[bool, typer.Option(
        "--tls", help="HTTPS and mutual TLS with the workspace's certificates (or configure PTX_NODE_TLS__*).",
    )] = False,
    require_client_cert: Annotated[bool | None, typer.Option(
        "--require-client-cert/--optional-client-cert",
        help="With mutual TLS: fail the handshake without a client certificate (default), or let clients without "
             "one reach the outbox, the pages and the read-only API (deliveries still need the gateway's).",
    )] = None,
    demo: Annotated[bool, typer.Option(
        "--demo", help="Demo mode: the outbox accepts demo switches such as tamper (or PTX_NODE_DEMO=true). "
                       "ptx up and ptx demo start their nodes so; never a production node.",
    )] = False,
) -> None:
    """Run a single-window node: outbox, inbox (deliveries from the gateway only) and received documents."""
    import uvicorn

    from exchange._redact import redact_url
    from exchange._tls import node_tls
    from exchange.cli._keys import open_keys
    from exchange.node import create_app, load_settings
    from exchange.services._server import server_config

    overrides: dict[str, Any] = {"country": country}
    if workspace is not None:
        overrides["workspace"] = workspace
    if gateway is not None:
        overrides["gateway_url"] = gateway
    if database_url is not None:
        overrides["database_url"] = database_url
    if demo:
        overrides["demo"] = True
    overrides.update(tls_overrides(tls, require_client_cert))
    settings = load_settings(**overrides)
    app = create_app(settings)
    open_keys(settings.workspace)  # every key it holds opens now (its authorities'): KEY-* codes naming the file
    material = node_tls(settings.tls, app.state.node.workspace, settings.country)
    # before binding: a bad certificate or HTTP limit is a clear error, not a traceback
    config = server_config(app, material, log_level=log_level, service=f"node-{country.upper()}")
    sock = bind_socket(host, port)
    from exchange._i18n import _

    mutual = ((_("; mutual TLS, client certificates required") if material.require_client_cert
               else _("; mutual TLS, client certificates requested")) if material.verifies_clients else "")
    demo_note = _("; demo mode: tamper accepted") if settings.demo else ""
    typer.echo(_("{country} single window on {url} (gateway {gateway}{mutual}{demo})").format(
        country=settings.country, url=f"{material.scheme}://{host}:{port}", gateway=redact_url(settings.gateway_url),
        mutual=mutual, demo=demo_note), err=True)
    uvicorn.Server(config).run(sockets=[sock])
