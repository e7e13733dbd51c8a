"""``ptx serve``: run one service in the foreground (``ptx serve gateway``, ``ptx serve node``).

This module only creates the ``serve`` group; each service's command registers on :data:`serve_app` from its
own module (``exchange/cli/_node.py`` for the node). Helpers shared by the commands live here too.
"""

from __future__ import annotations

import errno
import socket
from typing import Any

import typer

from exchange._errors import Code, ConfigurationError
from exchange.cli._app import app

serve_app = typer.Typer(help="Run a service in the foreground: the gateway or a single-window node.",
                        no_args_is_help=True)
app.add_typer(serve_app, name="serve")


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``, or a clear ``CONFIG-INVALID`` error (e.g. the port is taken).

    Binding before the server starts (and handing the socket to uvicorn) leaves no window in which another
    process could take the port, and turns "address in use" into one readable line instead of a traceback.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigurationError(f"cannot listen on {host!r}: {exc.strerror}", code=Code.CONFIG_INVALID) from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            message = f"port {port} on {host} is already in use: stop what holds it or choose another --port"
        else:
            message = f"cannot listen on {host}:{port}: {exc.strerror}"
        raise ConfigurationError(message, code=Code.CONFIG_INVALID) from exc
    sock.set_inheritable(True)
    return sock


def tls_overrides(tls: bool, require_client_cert: bool | None) -> dict[str, Any]:
    """Settings overrides for ``--tls`` (TLS material from the workspace) and ``--require-client-cert`` /
    ``--optional-client-cert``; merged with the ``*_TLS__*`` environment, the options winning."""
    nested: dict[str, Any] = {}
    if tls:
        nested["from_workspace"] = True
    if require_client_cert is not None:
        nested["require_client_cert"] = require_client_cert
    return {"tls": nested} if nested else {}


__all__ = ["bind_socket", "serve_app", "tls_overrides"]
