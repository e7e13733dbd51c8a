"""``ptx serve node --country AA``: run one country's single-window node (FastAPI on uvicorn).

Options override the ``PTX_NODE_*`` environment variables (see :mod:`exchange.node._settings`); the workspace
defaults to ``$PTX_NODE_WORKSPACE``, ``$PTX_WORKSPACE`` or ``./workspace``. Configuration problems (unknown
country, missing workspace, port in use) print ``ptx: CODE: message`` and exit 2 before anything listens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from exchange.cli._serve import bind_socket, serve_app

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
) -> None:
    """Run a single-window node: outbox, inbox (deliveries from the gateway only) and received documents."""
    import uvicorn

    from exchange.node import create_app, load_settings

    overrides: dict[str, Any] = {"country": country}
    if workspace is not None:
        overrides["workspace"] = workspace
    if gateway is not None:
        overrides["gateway_url"] = gateway
    if database_url is not None:
        overrides["database_url"] = database_url
    settings = load_settings(**overrides)
    app = create_app(settings)
    sock = bind_socket(host, port)
    typer.echo(f"{settings.country} single window on http://{host}:{port} (gateway {settings.gateway_url})", err=True)
    config = uvicorn.Config(app, log_level=log_level.lower(), proxy_headers=False, server_header=False)
    uvicorn.Server(config).run(sockets=[sock])
