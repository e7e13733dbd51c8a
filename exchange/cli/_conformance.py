"""``ptx conformance node URL`` and ``ptx conformance gateway URL``: the conformance kit (docs/protocol.md).

The tester runs it on their own folders only: their country's folder (``--workspace``, as every ``ptx`` command
takes it) holding the public package of the system under test, plus, for a node, a test gateway's folder the node
trusts (``--gateway-workspace``, made by ``ptx gateway init``), and for a gateway a second country folder of theirs
whose inbox the kit serves (``--receiver-workspace``, ``--inbox-listen``). Exit 0 when no scenario failed, 1 when
one did, 2 for a usage or configuration error.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from exchange._errors import Code, ConfigurationError
from exchange._i18n import gettext as _
from exchange.cli._app import EXIT_INVALID, EXIT_OK, app

if TYPE_CHECKING:
    from collections.abc import Sequence

    from exchange.conformance import Result

conformance_app = typer.Typer(
    help="Test another implementation of the protocol (docs/protocol.md) over HTTP(S): a node or a gateway.",
    no_args_is_help=True)
app.add_typer(conformance_app, name="conformance")

WorkspaceOption = Annotated[Path | None, typer.Option(
    "--workspace", "-w", help="Your own country's folder (default: $PTX_WORKSPACE or ./workspace).")]
FormatOption = Annotated[str, typer.Option("--format", "-f", help="text, json, junit or html.")]
OutOption = Annotated[Path | None, typer.Option("--out", "-o", help="Write the report here (default: stdout).")]
RevokedOption = Annotated[str | None, typer.Option(
    "--revoked-issuer", help="One of your issuers (its slug, e.g. customs) that you revoked and whose revocation "
                             "the system under test holds; without it the revoked-issuer scenario is not applicable.")]
TimeoutOption = Annotated[float, typer.Option("--timeout", min=1, help="Seconds to wait for an answer or a delivery.")]
CaOption = Annotated[Path | None, typer.Option(
    "--ca-file", help="PEM of the CA that issued the HTTPS server certificate of the system under test.")]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Text: every exchange, not only of failures.")]


def _country(folder: Path | None):  # type: ignore[no-untyped-def]
    from exchange._workspace import default_workspace_dir
    from exchange.conformance import Country

    return Country.open(folder if folder is not None else default_workspace_dir())


def _client(timeout: float, ca_file: Path | None):  # type: ignore[no-untyped-def]
    import httpx

    return httpx.Client(timeout=timeout, verify=str(ca_file) if ca_file is not None else True)


def _emit(results: Sequence[Result], target: str, url: str, started: datetime, output_format: str,
          out: Path | None, verbose: bool) -> None:
    from exchange.conformance import Report, Target
    from exchange.conformance._report import render, summary

    report = Report(target=Target(target), url=url, started=started, results=tuple(results))
    data = render(report, output_format, verbose=verbose)
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
        typer.echo(_("{summary}; report written to {path}").format(summary=summary(report), path=out), err=True)
    raise typer.Exit(EXIT_OK if report.passed else EXIT_INVALID)


def _check_format(output_format: str) -> None:
    from exchange.conformance._report import FORMATS

    if output_format not in FORMATS:
        raise typer.BadParameter(f"{output_format!r}: one of {', '.join(FORMATS)}", param_hint="--format")


@conformance_app.command("node")
def conformance_node(
    url: Annotated[str, typer.Argument(help="Base URL of the node under test (its inbox is URL/v1/inbox).")],
    gateway_workspace: Annotated[Path, typer.Option(
        "--gateway-workspace", help="Your test gateway's folder (ptx gateway init): the node under test must have "
                                    "joined its package; the kit signs deliveries with its key.")],
    workspace: WorkspaceOption = None,
    country: Annotated[str | None, typer.Option(
        "--country", help="The country the node serves (default: the one partner your folder holds).")] = None,
    revoked_issuer: RevokedOption = None,
    output_format: FormatOption = "text",
    out: OutOption = None,
    timeout: TimeoutOption = 30.0,
    ca_file: CaOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Play the gateway towards a single-window node: deliveries valid and faulty, signed as your test gateway."""
    from exchange._workspace import Workspace
    from exchange.conformance import Material, NodeTarget, run_node_suite

    _check_format(output_format)
    tester = _country(workspace)
    partners = sorted(tester.workspace.index.partners)
    if country is None:
        if len(partners) != 1:
            raise ConfigurationError(f"name the node's country with --country (your folder holds {len(partners)} "
                                     f"partners: {', '.join(partners) or 'none'})", code=Code.CONFIG_INVALID)
        country = partners[0]
    gateway = Workspace.open(gateway_workspace).gateway_signer()
    started = datetime.now(UTC)
    with _client(timeout, ca_file) as client:
        results = run_node_suite(Material(tester), gateway, NodeTarget(url, country.upper()), client=client,
                                 revoked_issuer=revoked_issuer)
    _emit(results, "node", url, started, output_format, out, verbose)


@conformance_app.command("gateway")
def conformance_gateway(
    url: Annotated[str, typer.Argument(help="Base URL of the gateway under test (URL/v1/messages).")],
    receiver_workspace: Annotated[Path, typer.Option(
        "--receiver-workspace", help="Your second country's folder, admitted by the gateway with an agreement with "
                                     "your first: the kit serves its inbox.")],
    inbox_listen: Annotated[str, typer.Option(
        "--inbox-listen", help="HOST:PORT the kit's receiver inbox listens on: where the gateway delivers to the "
                               "receiver (its package's endpoint, or the gateway's node URL for it).")],
    workspace: WorkspaceOption = None,
    revoked_issuer: RevokedOption = None,
    output_format: FormatOption = "text",
    out: OutOption = None,
    timeout: TimeoutOption = 30.0,
    settle: Annotated[float, typer.Option(
        "--settle", min=0, help="Seconds to watch the inbox for what must not arrive.")] = 3.0,
    ca_file: CaOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Play a sending node and the receiver's inbox towards a gateway: submissions valid and faulty, tracking,
    receipts, resends."""
    from exchange.conformance import GatewayTarget, Listening, Material, Probe, run_gateway_suite

    _check_format(output_format)
    host, _sep, port_text = inbox_listen.rpartition(":")
    if not host or not port_text.isdigit():
        raise typer.BadParameter(f"{inbox_listen!r}: HOST:PORT", param_hint="--inbox-listen")
    sender = _country(workspace)
    receiver = _country(receiver_workspace)
    if receiver.code == sender.code:
        raise ConfigurationError("the receiver folder must be another country than yours", code=Code.CONFIG_INVALID)
    probe = Probe(receiver=receiver.party, node=receiver.node, gateway=receiver.gateway_certificate())
    started = datetime.now(UTC)
    target = GatewayTarget(url, receiver.code, timeout=timeout, settle=settle)
    with Listening(probe, host, int(port_text)), _client(timeout, ca_file) as client:
        results = run_gateway_suite(Material(sender), probe, target, client=client, revoked_issuer=revoked_issuer)
    _emit(results, "gateway", url, started, output_format, out, verbose)


@conformance_app.command("scenarios")
def conformance_scenarios() -> None:
    """List the kit's scenarios and the clauses of docs/protocol.md each tests."""
    from exchange.conformance import SCENARIOS

    for scenario in SCENARIOS.values():
        typer.echo(f"{scenario.id:<34} {', '.join(scenario.clauses)}")
        typer.echo(f"{'':<34} {_(scenario.title)}")
