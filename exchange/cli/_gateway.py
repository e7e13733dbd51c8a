"""``ptx serve gateway``, ``ptx retry ID``, ``ptx audit verify`` and ``ptx gateway migrate``: the gateway from the
command line."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from exchange._errors import Code, ConfigurationError
from exchange._i18n import _
from exchange.cli._app import EXIT_INVALID, EXIT_OK, EXIT_USAGE, app
from exchange.cli._serve import bind_socket, serve_app, tls_overrides

DEFAULT_GATEWAY_PORT = 8000
DEFAULT_GATEWAY_URL = f"http://127.0.0.1:{DEFAULT_GATEWAY_PORT}"

WorkspaceOption = Annotated[
    Path | None, typer.Option("--workspace", "-w", help="Workspace folder (default: $PTX_WORKSPACE or ./workspace).")
]
GatewayUrlOption = Annotated[
    str | None, typer.Option("--gateway", help=f"Gateway base URL (default: $PTX_GATEWAY_URL or {DEFAULT_GATEWAY_URL}).")
]


def gateway_url(option: str | None) -> str:
    return (option or os.environ.get("PTX_GATEWAY_URL") or DEFAULT_GATEWAY_URL).rstrip("/")


def operator_auth(workspace: Path | None) -> dict[str, str]:
    """``Authorization: Bearer`` with the gateway operator's token: ``$PTX_OPERATOR_TOKEN`` (a gateway elsewhere),
    else ``gateway/operator.token`` in the workspace's gateway folder (where ``ptx up`` runs the gateway)."""
    from exchange._operator import operator_headers
    from exchange._workspace import GATEWAY_PARTY, default_workspace_dir, party_folder

    token = os.environ.get("PTX_OPERATOR_TOKEN", "").strip()
    if token:
        return {"Authorization": f"Bearer {token}"}
    return operator_headers(party_folder(workspace or default_workspace_dir(), GATEWAY_PARTY))


def _node_urls(items: list[str]) -> dict[str, str]:
    urls = {}
    for item in items:
        code, sep, url = item.partition("=")
        if not sep or not code.strip() or not url.strip():
            raise typer.BadParameter(f"--node takes COUNTRY=URL, not {item!r}")
        urls[code.strip().upper()] = url.strip()
    return urls


@serve_app.command("gateway")
def serve_gateway(
    workspace: WorkspaceOption = None,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", min=1, max=65535, help="Port to listen on.")] = DEFAULT_GATEWAY_PORT,
    node: Annotated[
        list[str] | None,
        typer.Option("--node", help="A receiving node's base URL as COUNTRY=URL (repeat); or PTX_NODE_URLS (JSON)."),
    ] = None,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="Store URL (default: SQLite file in the workspace).")
    ] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
    tls: Annotated[bool, typer.Option(
        "--tls", help="HTTPS and mutual TLS with the workspace's certificates (or configure PTX_TLS__*).",
    )] = False,
    require_client_cert: Annotated[bool | None, typer.Option(
        "--require-client-cert/--optional-client-cert",
        help="With mutual TLS: fail the handshake without a client certificate (default), or let clients without "
             "one reach the dashboard and read-only API (submissions still need one).",
    )] = None,
    hub_port: Annotated[int | None, typer.Option(
        "--hub-port", min=1, max=65535,
        help="Also serve the ePhyto hub interface on this port with mutual TLS (the workspace's certificates), in "
             "this same process and store, beside the plain-HTTP main listener.",
    )] = None,
) -> None:
    """Run the gateway: ordered checks, durable store-and-forward, receipts, audit, metrics."""
    import uvicorn

    from exchange._redact import redact_url
    from exchange._tls import gateway_tls
    from exchange._workspace import Workspace
    from exchange.cli._keys import open_keys
    from exchange.services._server import server_config
    from gateway._app import create_app
    from gateway._settings import load_settings

    overrides: dict[str, Any] = {"listen_host": host}  # the dashboard is open without a credential on loopback only
    if workspace is not None:
        overrides["workspace"] = workspace
    if node:
        overrides["node_urls"] = _node_urls(node)
    if database_url is not None:
        overrides["database_url"] = database_url
    overrides.update(tls_overrides(tls, require_client_cert))
    if hub_port is not None:
        if tls:
            raise typer.BadParameter("--hub-port adds a mutual-TLS listener beside a plain one; with --tls the main "
                                     "listener serves the hub interface already")
        overrides["hub_listener"] = True
    settings = load_settings(**overrides)
    material = gateway_tls(settings.tls, Workspace.open(settings.workspace))
    open_keys(settings.workspace)  # now, not at the first delivery: KEY-* codes naming the file, one prompt
    # before binding: a bad certificate or HTTP limit is a clear error, not a traceback
    config = server_config(create_app(settings), material, log_level=log_level, service="gateway")
    sock = bind_socket(host, port)
    mutual = ((_("; mutual TLS, client certificates required") if material.require_client_cert
               else _("; mutual TLS, client certificates requested")) if material.verifies_clients else "")
    nodes = ", ".join(f"{code}={redact_url(url)}" for code, url in sorted(settings.node_urls.items())) or _("none")
    typer.echo(_("gateway on {url} (store {store}; nodes {nodes}{mutual})").format(
        url=f"{material.scheme}://{host}:{port}", store=redact_url(settings.store_url), nodes=nodes, mutual=mutual),
        err=True)
    if hub_port is None:
        uvicorn.Server(config).run(sockets=[sock])
        return
    from exchange._tls import TlsSettings

    hub_material = gateway_tls(TlsSettings(from_workspace=True, require_client_cert=True),
                               Workspace.open(settings.workspace))
    hub_config = server_config(config.app, hub_material, log_level=log_level, service="gateway")
    hub_config.lifespan = "off"  # one app, started once by the main listener
    hub_sock = bind_socket(host, hub_port)
    typer.echo(_("ePhyto hub interface on {url} (mutual TLS, client certificates required)").format(
        url=f"https://{host}:{hub_port}/hub/DeliveryService"), err=True)
    asyncio.run(_serve_both(uvicorn.Server(config), sock, _quiet_server(hub_config), hub_sock))


def _quiet_server(config: Any) -> Any:
    """A second uvicorn server in the main one's process and loop: it installs no signal handlers (the main server
    owns them) and stops when the main server stops (:func:`_serve_both`)."""
    import contextlib

    import uvicorn

    class Quiet(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Any:
            yield

    return Quiet(config)


async def _serve_both(main: Any, main_sock: Any, hub: Any, hub_sock: Any) -> None:
    second = asyncio.ensure_future(hub.serve(sockets=[hub_sock]))
    try:
        await main.serve(sockets=[main_sock])
    finally:
        hub.should_exit = True
        await second


@app.command("retry")
def retry(
    message_id: Annotated[str, typer.Argument(help="Message id of a FAILED (dead-lettered) message.")],
    gateway: GatewayUrlOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Ask the gateway to deliver a dead-lettered message again (the gateway `ptx up` started, unless --gateway).

    Retry is the operator's: the token comes from the workspace's gateway folder, or $PTX_OPERATOR_TOKEN."""
    import httpx

    from exchange.cli._up import _urls, verify_for

    base = gateway_url(gateway) if gateway or os.environ.get("PTX_GATEWAY_URL") else _urls(workspace)["gateway"]
    url = f"{base.rstrip('/')}/v1/messages/{message_id}/retry"
    try:
        response = httpx.post(url, timeout=10, verify=verify_for(url, workspace), headers=operator_auth(workspace))
    except httpx.HTTPError as exc:
        raise ConfigurationError(f"cannot reach the gateway at {url}: {exc}", code=Code.CONFIG_INVALID) from exc
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    if response.status_code != 200:
        typer.echo(f"ptx: {body.get('code', response.status_code)}: {body.get('message', response.text)}", err=True)
        raise typer.Exit(EXIT_INVALID if response.status_code in (404, 409) else EXIT_USAGE)
    typer.echo(_("{id}: {status}, due now").format(id=message_id, status=body.get("status", "WAITING_FOR_RETRY")))


audit_app = typer.Typer(help="The gateway's hash-chained audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(
    workspace: WorkspaceOption = None,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="Store URL (default: the workspace's gateway database).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Recompute the audit hash chain; exit 0 when every entry verifies, 1 when a row was changed,
    inserted or deleted."""
    from gateway._settings import load_settings
    from gateway._store import Store

    settings = load_settings(**_gateway_overrides(workspace, database_url))
    if settings.database_url is None and not (settings.workspace / "gateway.db").is_file():
        raise ConfigurationError(f"no gateway database in {settings.workspace}", code=Code.CONFIG_INVALID)
    store = Store.open(settings.store_url, create=False)
    try:
        result = store.verify_audit()
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
    elif result.ok:
        typer.echo(_("audit chain verifies: {count} entries").format(count=result.checked))
    else:
        typer.echo("AUDIT-CHAIN-BROKEN " + _("at entry {seq}: {reason}").format(seq=result.broken_seq,
                                                                              reason=result.reason), err=True)
    raise typer.Exit(EXIT_OK if result.ok else EXIT_INVALID)


gateway_app = typer.Typer(help="The gateway's store.", no_args_is_help=True)
app.add_typer(gateway_app, name="gateway")


@gateway_app.command("migrate")
def gateway_migrate(
    workspace: WorkspaceOption = None,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="Store URL (default: $PTX_DATABASE_URL or the workspace's).")
    ] = None,
    sql: Annotated[bool, typer.Option("--sql", help="Print the DDL for an empty database instead of running it.")] = False,
) -> None:
    """Bring the store's schema to this version (creating it in an empty database).

    Gateways do this themselves when they start; run it as a separate step to migrate before rolling out.
    Safe while gateways start on the same PostgreSQL database: one migration runs, the others wait for it."""
    from gateway._migrate import migration_sql
    from gateway._settings import load_settings
    from gateway._store import Store, create_store_engine

    settings = load_settings(**_gateway_overrides(workspace, database_url))
    if sql:
        typer.echo(migration_sql(settings.store_url))
        return
    store = Store(create_store_engine(settings.store_url))
    try:
        revision = store.create_schema()
    finally:
        store.close()
    if revision.changed:
        typer.echo(_("store schema migrated from {before} to {after}").format(
            before=revision.before or _("nothing (empty database)"), after=revision.after))
    else:
        typer.echo(_("store schema already at {revision}: nothing to do").format(revision=revision.after))


def _gateway_overrides(workspace: Path | None, database_url: str | None) -> dict[str, Any]:
    """Settings for a command on the gateway's store: the gateway's party folder of the workspace (where
    ``ptx up`` runs it), unless a database URL is given."""
    from exchange._workspace import GATEWAY_PARTY, default_workspace_dir, party_folder

    overrides: dict[str, Any] = {"workspace": party_folder(workspace or default_workspace_dir(), GATEWAY_PARTY)}
    if database_url is not None:
        overrides["database_url"] = database_url
    return overrides
