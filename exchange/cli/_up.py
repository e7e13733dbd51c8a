"""``ptx up`` / ``ptx down``: the gateway and every country's node as local processes; and the client commands
``ptx send``, ``ptx status`` and ``ptx inbox`` that talk to them.

``ptx up`` creates the workspace if it is missing, starts ``ptx serve gateway`` and one ``ptx serve node --demo``
per country (demo mode: the nodes accept ``ptx send --tamper``; a production node refuses it), waits until all
answer ``/readyz``, prints their URLs, then streams their logs with a prefix and stops them all on Ctrl-C or
SIGTERM. ``ptx up --detach`` leaves them running (logs in ``workspace/logs/``, process ids
and URLs in ``workspace/run/services.json``) for scripts; ``ptx down`` stops them. A port that is already taken
is a clear error before anything starts. ``ptx up --tls`` runs them all on HTTPS with mutual TLS from the
workspace's certificates: each node submits with its country's TLS client certificate, the gateway delivers with
its own, and each side checks the other's; the handshake lets clients without a certificate in (a browser on the
dashboard, these commands), but submissions and deliveries need the registered one. The client commands verify
the services against the workspace's CAs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from exchange._errors import Code, ConfigurationError, InputError
from exchange._i18n import _, code_message, current, status_label
from exchange._ports import bindable
from exchange.cli._app import EXIT_INVALID, EXIT_OK, app

if TYPE_CHECKING:
    import ssl

DEFAULT_GATEWAY_PORT = 8000
DEFAULT_FIRST_NODE_PORT = 8001
STATE_FILE = Path("run") / "services.json"
FINAL_STATUSES = {"ACKNOWLEDGED", "RECEIVER_REJECTED", "REJECTED", "FAILED"}

WorkspaceOption = Annotated[
    Path | None, typer.Option("--workspace", "-w", help="Workspace folder (default: $PTX_WORKSPACE or ./workspace).")
]


@dataclass(frozen=True)
class Service:
    name: str
    url: str
    command: list[str]


def _workspace_dir(option: Path | None) -> Path:
    return (option or Path(os.environ.get("PTX_WORKSPACE", "workspace"))).resolve()


def _ptx() -> list[str]:
    return [sys.executable, "-m", "exchange.cli"]


def plan(
    workspace: Path, countries: list[str], host: str, gateway_port: int, first_node_port: int, *, tls: bool = False
) -> list[Service]:
    """The services ``ptx up`` starts: the gateway, then one node per country."""
    scheme = "https" if tls else "http"
    tls_args = ["--tls", "--optional-client-cert"] if tls else []
    gateway_url = f"{scheme}://{host}:{gateway_port}"
    node_urls = {code: f"{scheme}://{host}:{first_node_port + index}" for index, code in enumerate(countries)}
    from exchange._workspace import GATEWAY_PARTY, party_folder

    services = [Service("gateway", gateway_url, [  # each service on its party's folder alone
        *_ptx(), "serve", "gateway", "--workspace", str(party_folder(workspace, GATEWAY_PARTY)), "--host", host,
        "--port", str(gateway_port),
        *[arg for code, url in node_urls.items() for arg in ("--node", f"{code}={url}")], "--log-level", "warning",
        *tls_args,
    ])]
    for code, url in node_urls.items():
        services.append(Service(code, url, [
            *_ptx(), "serve", "node", "--country", code, "--workspace", str(party_folder(workspace, code)),
            "--host", host,
            "--port", url.rsplit(":", 1)[1], "--gateway", gateway_url, "--log-level", "warning", "--demo", *tls_args,
        ]))
    return services


@cache
def _workspace_context(root: Path) -> ssl.SSLContext:
    from exchange._tls import TlsMaterial, workspace_ca_bundle
    from exchange._workspace import Workspace

    context = TlsMaterial(server_ca=workspace_ca_bundle(Workspace.open(root))).client_context()
    assert context is not None  # noqa: S101 - server_ca is set
    return context


def verify_for(url: str, workspace: Path | None) -> ssl.SSLContext | bool:
    """How ``ptx`` checks a service it calls: an ``https://`` one against the workspace's CAs (no system store)."""
    return _workspace_context(_workspace_dir(workspace)) if url.startswith("https://") else True


def _wait_ready(service: Service, process: subprocess.Popen[bytes], timeout: float, workspace: Path) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    verify = verify_for(service.url, workspace)
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ConfigurationError(f"{service.name} stopped while starting (exit {process.returncode}); "
                                     "see its log", code=Code.CONFIG_INVALID)
        try:
            if httpx.get(f"{service.url}/readyz", timeout=1, verify=verify).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise ConfigurationError(f"{service.name} not ready at {service.url} after {timeout:.0f} s", code=Code.CONFIG_INVALID)


def _stop_all(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            with _quiet():
                os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with _quiet():
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


class _quiet:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return isinstance(exc[1], ProcessLookupError | PermissionError)


def _pump(name: str, process: subprocess.Popen[bytes], width: int) -> None:
    assert process.stdout is not None  # noqa: S101 - started with a pipe
    for raw in iter(process.stdout.readline, b""):
        sys.stdout.write(f"{name:<{width}} | {raw.decode(errors='replace')}")
        sys.stdout.flush()


def _passphrase_env(root: Path) -> dict[str, str]:
    """The services never ask (their stdin is not the terminal): when the workspace holds encrypted keys and
    ``PTX_KEY_PASSPHRASE`` is unset, ``ptx up`` asks once on the terminal and hands the answer to them."""
    from exchange._keystore import FileKeyStore
    from exchange._passphrase import PASSPHRASE_ENV, configured_passphrase
    from exchange.cli._keys import key_files

    if os.environ.get(PASSPHRASE_ENV) or not any(FileKeyStore().is_encrypted(path) for path in key_files(root)):
        return {}
    secret = configured_passphrase()  # the prompt ptx installs on a terminal; None elsewhere
    return {PASSPHRASE_ENV: secret.decode("utf-8")} if secret else {}


@app.command("up")
def up(
    workspace: WorkspaceOption = None,
    host: Annotated[str, typer.Option("--host", help="Interface the services listen on.")] = "127.0.0.1",
    gateway_port: Annotated[int, typer.Option("--gateway-port", help="Gateway port.")] = DEFAULT_GATEWAY_PORT,
    node_port: Annotated[
        int, typer.Option("--node-port", help="First node port; the next countries take the following ports.")
    ] = DEFAULT_FIRST_NODE_PORT,
    detach: Annotated[bool, typer.Option("--detach", "-d", help="Leave the services running in the background.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for the services to be ready.")] = 60,
    tls: Annotated[bool, typer.Option(
        "--tls", help="HTTPS and mutual TLS between the nodes and the gateway, with the workspace's certificates.",
    )] = False,
) -> None:
    """Start the gateway and every country's single-window node as local processes."""
    from exchange._workspace import Workspace, init_workspace

    root = _workspace_dir(workspace)
    if not (root / "workspace.yaml").is_file():
        from datetime import UTC, datetime

        typer.echo(_("creating the workspace in {folder}").format(folder=root), err=True)
        init_workspace(root, moment=datetime.now(UTC))
    countries = list(Workspace.open(root).countries)
    services = plan(root, countries, host, gateway_port, node_port, tls=tls)
    taken = [f"{s.name} ({s.url})" for s in services if not bindable(int(s.url.rsplit(":", 1)[1]), host)]
    if taken:
        raise ConfigurationError(
            f"port already in use for {', '.join(taken)}: stop what holds it (ptx down?) or choose other ports "
            "with --gateway-port/--node-port", code=Code.CONFIG_INVALID,
        )
    logs = root / "logs"
    logs.mkdir(exist_ok=True)
    processes: list[subprocess.Popen[bytes]] = []
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **_passphrase_env(root)}
    try:
        for service in services:
            if detach:
                with open(logs / f"{service.name}.log", "ab") as log:
                    process = subprocess.Popen(service.command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                               stdin=subprocess.DEVNULL, start_new_session=True)
            else:
                process = subprocess.Popen(service.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL, env=env, start_new_session=True)
            processes.append(process)
        for service, process in zip(services, processes, strict=True):
            _wait_ready(service, process, timeout, root)
    except BaseException:
        _stop_all(processes)
        raise
    for service in services:
        typer.echo(f"{service.name:<8} {service.url}" + ("   " + _("(dashboard: /ui, OpenAPI: /openapi.json)")
                                                        if service.name == "gateway" else ""))
    state = {"workspace": str(root), "services": [
        {"name": s.name, "url": s.url, "pid": p.pid} for s, p in zip(services, processes, strict=True)
    ]}
    (root / STATE_FILE).parent.mkdir(exist_ok=True)
    (root / STATE_FILE).write_text(json.dumps(state, indent=2))
    if detach:
        typer.echo(_("running in the background; logs in {logs}; stop with: {command}").format(
            logs=logs, command=f"ptx down --workspace {root}"))
        return

    width = max(len(s.name) for s in services)
    for service, process in zip(services, processes, strict=True):
        threading.Thread(target=_pump, args=(service.name, process, width), daemon=True).start()
    stopping = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        while not stopping.is_set():
            if any(process.poll() is not None for process in processes):
                typer.echo(_("a service stopped; stopping the others"), err=True)
                break
            stopping.wait(0.5)
    finally:
        _stop_all(processes)
        with _quiet():
            (root / STATE_FILE).unlink(missing_ok=True)
    typer.echo(_("stopped"))


@app.command("down")
def down(workspace: WorkspaceOption = None) -> None:
    """Stop the services ``ptx up --detach`` started."""
    root = _workspace_dir(workspace)
    state_path = root / STATE_FILE
    if not state_path.is_file():
        typer.echo(_("nothing is running (no run/services.json in the workspace)"))
        raise typer.Exit(EXIT_OK)
    state = json.loads(state_path.read_text())
    stopped = []
    for service in state["services"]:
        with _quiet():
            os.killpg(int(service["pid"]), signal.SIGTERM)
            stopped.append(service["name"])
    deadline = time.monotonic() + 10
    for service in state["services"]:
        while time.monotonic() < deadline and _alive(int(service["pid"])):
            time.sleep(0.1)
        if _alive(int(service["pid"])):
            with _quiet():
                os.killpg(int(service["pid"]), signal.SIGKILL)
    state_path.unlink(missing_ok=True)
    typer.echo(_("stopped {services}").format(services=", ".join(stopped)) if stopped
               else _("stopped nothing (already gone)"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


# --- clients ----------------------------------------------------------------------------------------------


def _urls(workspace: Path | None) -> dict[str, str]:
    """Service URLs: from ``ptx up``'s state file when present, else the default ports."""
    root = _workspace_dir(workspace)
    state_path = root / STATE_FILE
    if state_path.is_file():
        return {s["name"]: s["url"] for s in json.loads(state_path.read_text())["services"]}
    urls = {"gateway": os.environ.get("PTX_GATEWAY_URL", f"http://127.0.0.1:{DEFAULT_GATEWAY_PORT}")}
    if (root / "workspace.yaml").is_file():
        from exchange._workspace import Workspace

        for index, code in enumerate(Workspace.open(root).countries):
            urls[code] = f"http://127.0.0.1:{DEFAULT_FIRST_NODE_PORT + index}"
    return urls


def _call(method: str, url: str, *, workspace: Path | None = None, **kwargs: Any) -> Any:
    import httpx

    try:
        response = httpx.request(method, url, timeout=30, verify=verify_for(url, workspace), **kwargs)
    except httpx.HTTPError as exc:
        raise ConfigurationError(f"cannot reach {url}: {exc} (is `ptx up` running?)", code=Code.CONFIG_INVALID) from exc
    try:
        body = response.json()
    except ValueError:
        body = {"code": str(response.status_code), "message": response.text[:500]}
    if response.status_code >= 400 and not (isinstance(body, dict) and "verdict" in body):
        message = body.get("message", body) if isinstance(body, dict) else body
        code = body.get("code", response.status_code) if isinstance(body, dict) else response.status_code
        raise InputError(f"{url} answered {response.status_code}: {code}: {message}", code=Code.INPUT_INVALID)
    return body


def _print_answer(body: dict[str, Any]) -> None:
    typer.echo(_("message {id}: {status}").format(id=body.get("message_id"),
                                                  status=_shown_status(body.get("status") or body.get("verdict"))))
    for check in body.get("checks", []):
        if check.get("status") == "failed":
            for finding in check.get("findings", []):
                where = " " + _("at {path}").format(path=finding["path"]) if finding.get("path") else ""
                message = finding["message"]
                if current() != "en" and code_message(finding["code"]):
                    message = f"{code_message(finding['code'])} ({message})"  # the English detail beside
                typer.echo(f"  {check['name']}: {finding['code']} {message}{where}")


def _shown_status(status: object) -> str:
    """A status as people read it: the status itself (it is an identifier), in another language its label beside."""
    if status is None or current() == "en":
        return str(status)
    label = status_label(status)
    return f"{status} ({label})" if label != str(status) else str(status)


@app.command("send")
def send(
    file: Annotated[Path | None, typer.Argument(help="An already signed document to send.")] = None,
    sender: Annotated[str, typer.Option("--from", help="Sending country (its node sends).")] = "AA",
    receiver: Annotated[str, typer.Option("--to", help="Receiving country.")] = "BB",
    type_id: Annotated[str | None, typer.Option("--type", help="Document type to build (with --data).")] = None,
    data: Annotated[Path | None, typer.Option("--data", help="Structured input (JSON/YAML) to build from.")] = None,
    issuer: Annotated[str | None, typer.Option("--as", help="Issuing authority (default: the one for the type).")] = None,
    tamper: Annotated[bool, typer.Option("--tamper", help="Change one byte after signing (a demo of rejection).")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until the message reaches a final status.")] = False,
    workspace: WorkspaceOption = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait with --wait.")] = 60,
    node_url: Annotated[str | None, typer.Option(
        "--node", help="The sending node's URL (default: from `ptx up`, or the default ports).")] = None,
) -> None:
    """Send a document from one country's single window to another's, through the gateway."""
    from exchange._builder import load_input

    urls = _urls(workspace)
    node = node_url.rstrip("/") if node_url else urls.get(sender.upper())
    if node is None:
        raise InputError(f"no node for {sender!r}; known: {', '.join(k for k in urls if k != 'gateway')}",
                         code=Code.INPUT_INVALID)
    request: dict[str, Any] = {"to": receiver.upper()}
    if file is not None:
        if type_id or data:
            raise InputError("give a FILE or --type with --data, not both", code=Code.INPUT_INVALID)
        request["document"] = file.read_text(encoding="utf-8")
    elif type_id and data:
        request.update(type=type_id, data=load_input(data))
        if issuer:
            request["issuer"] = issuer
    else:
        raise InputError("say what to send: a signed FILE, or --type T --data F [--as ISSUER]", code=Code.INPUT_INVALID)
    if tamper:
        request["tamper"] = True
    body = _call("POST", f"{node}/v1/outbox", workspace=workspace, json=request)
    gateway_answer = (body.get("gateway") or {}).get("answer") if isinstance(body, dict) else None
    _print_answer(gateway_answer or body)
    message_id = body.get("message_id") if isinstance(body, dict) else None
    status = body.get("status") if isinstance(body, dict) else None
    if wait and message_id:
        status = _wait_outbox(node, message_id, timeout, workspace)
    raise typer.Exit(EXIT_OK if status not in ("REJECTED", "FAILED", "RECEIVER_REJECTED") else EXIT_INVALID)


def _wait_outbox(node: str, message_id: str, timeout: float, workspace: Path | None) -> str | None:
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        body = _call("GET", f"{node}/v1/outbox/{message_id}", workspace=workspace)
        if body.get("status") != status:
            status = body.get("status")
            receipt = body.get("receipt") or {}
            typer.echo(f"  {_shown_status(status)}" + ("  " + _("(receipt verified by this node)")
                                                       if receipt.get("verified") else ""))
        if status in FINAL_STATUSES:
            return status
        time.sleep(0.3)
    typer.echo(_("still {status} after {seconds} s").format(status=status, seconds=f"{timeout:.0f}"), err=True)
    return status


@app.command("status")
def status(
    message_id: Annotated[str, typer.Argument(help="Message id.")],
    wait: Annotated[bool, typer.Option("--wait", help="Wait until a final status.")] = False,
    workspace: WorkspaceOption = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait with --wait.")] = 60,
    receipt: Annotated[str | None, typer.Option(
        "--receipt", help="Fetch this receiver's signed receipt and verify it as the sender does, with the sender's "
                          "own folder (its node certificate and trust); exit 1 if it does not verify.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="With --receipt: write the receipt XML here.")] = None,
) -> None:
    """A message's status and history at the gateway (read as its operator, with the token of the workspace's
    gateway folder or $PTX_OPERATOR_TOKEN); one line per receiver when it has several (a transit route)."""
    from exchange.cli._gateway import operator_auth

    gateway = _urls(workspace)["gateway"]
    deadline = time.monotonic() + timeout
    auth = operator_auth(workspace)
    while True:
        body = _call("GET", f"{gateway}/v1/messages/{message_id}", workspace=workspace, headers=auth)
        if not wait or body.get("status") in FINAL_STATUSES or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    receivers = body.get("receivers") or [body.get("receiver")]
    typer.echo(f"{message_id}: {_shown_status(body.get('status'))}  {body.get('sender')} -> "
               f"{', '.join(map(str, receivers))}  {body.get('document_type')}")
    deliveries = body.get("deliveries") or []
    if len(deliveries) > 1:
        typer.echo("  " + _("acknowledged {receivers}").format(receivers=body.get("acknowledged")))
        for delivery in deliveries:
            error = f"  {delivery['last_error_code']}" if delivery.get("last_error_code") else ""
            typer.echo(f"  {delivery['receiver']}  {_shown_status(delivery['status'])}  "
                       + _("attempts {count}").format(count=delivery["attempts"]) + error)
    for change in body.get("history", []):
        whose = f"{change['receiver']}  " if change.get("receiver") and len(deliveries) > 1 else ""
        typer.echo(f"  {change.get('at')}  {whose}{_shown_status(change.get('status'))}  {change.get('detail', '')}")
    if receipt is not None:
        _check_receipt(gateway, body, receipt.upper(), workspace=workspace, headers=auth, out=out)


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def _check_receipt(gateway: str, record: dict[str, Any], receiver: str, *, workspace: Path | None,
                   headers: dict[str, str], out: Path | None) -> None:
    """Fetch ``receiver``'s receipt of the message and verify it with the one receipt verifier, as the sender
    does: the sender's own folder knows the receiver's node certificate and trusts it."""
    import httpx

    from exchange import Validator, Workspace, XmlLimits, default_catalogue, verify_receipt
    from exchange._parties import WorkspaceParties
    from exchange._workspace import PARTIES_DIR

    message_id, sender = str(record["message_id"]), str(record["sender"])
    base = f"{gateway}/v1/messages/{message_id}"
    verify = verify_for(gateway, workspace)
    answer = httpx.get(f"{base}/receipt", params={"receiver": receiver}, headers=headers, timeout=30, verify=verify)
    if answer.status_code != 200:
        typer.echo(_("no verified receipt of {receiver} at the gateway yet (HTTP {status})").format(
            receiver=receiver, status=answer.status_code), err=True)
        raise typer.Exit(EXIT_INVALID)
    envelope = httpx.get(f"{base}/envelope", headers=headers, timeout=30, verify=verify).content
    root = _workspace_dir(workspace)
    own = root / PARTIES_DIR / sender
    folder = Workspace.open(own if own.is_dir() else root)
    view = WorkspaceParties(folder, sender).view(moment=_now())
    node = view.node_certificate(receiver)
    if node is None:
        raise InputError(f"{sender}'s folder knows no node of {receiver}", code=Code.INPUT_INVALID)
    check = verify_receipt(answer.content, envelope=envelope, message_id=message_id, receiver=receiver,
                           receiver_node=node, trust=view.trust_for(sender), validator=Validator(),
                           receipt_type=default_catalogue().get("receipt"), limits=XmlLimits())
    if out is not None:
        out.write_bytes(answer.content)
    if not check.verified or check.receipt is None:
        typer.echo(_("receipt of {receiver}: NOT verified by {sender}").format(receiver=receiver, sender=sender))
        for finding in check.findings:
            message = finding.message
            if current() != "en" and code_message(finding.code):
                message = f"{code_message(finding.code)} ({message})"
            typer.echo(f"  {finding.code}  {message}")
        raise typer.Exit(EXIT_INVALID)
    typer.echo(_("receipt of {receiver}: verified by {sender}'s own folder: signed by {receiver}'s node, {status}, "
                 "names message {id} and the SHA-256 of the envelope").format(
        receiver=receiver, sender=sender, status=_shown_status(check.receipt.status.value), id=message_id))


@app.command("inbox")
def inbox(
    country: Annotated[str, typer.Argument(help="Country whose single-window inbox to list.")],
    workspace: WorkspaceOption = None,
) -> None:
    """Documents a country's single window has received."""
    urls = _urls(workspace)
    node = urls.get(country.upper())
    if node is None:
        raise InputError(f"no node for {country!r}", code=Code.INPUT_INVALID)
    body = _call("GET", f"{node}/v1/inbox", workspace=workspace)
    items = body.get("items", body) if isinstance(body, dict) else body
    if not items:
        typer.echo(_("{country}'s inbox is empty").format(country=country.upper()))
    for item in items:
        codes = ",".join(item.get("codes") or [])
        typer.echo(f"{item.get('message_id')}  {item.get('sender')} -> {country.upper()}  {item.get('document_type')}  "
                   f"{_shown_status(item.get('verdict'))}{'  ' + codes if codes else ''}  {item.get('received_at')}")
