"""``ptx demo``: the README's first command. Ten narrated scenarios of the exchange, then expected versus actual.

``--list`` shows the scenarios, ``--scenario N`` plays one (repeatable), ``--pause`` waits for Enter between
steps (for live teaching), ``--json`` prints a machine summary, ``--keep`` leaves the services running at the end
(to explore them in a browser) until Ctrl-C. Exit 0 only when every outcome matched its expectation.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer

from exchange._i18n import gettext as _
from exchange.cli._app import EXIT_INVALID, EXIT_OK, LANG_HELP, app, set_language
from exchange.cli._console import console


@app.command()
def demo(
    scenario: Annotated[
        list[int] | None, typer.Option("--scenario", "-s", help="Play only this scenario (repeat for several).")
    ] = None,
    list_only: Annotated[bool, typer.Option("--list", help="List the scenarios and exit.")] = False,
    pause: Annotated[bool, typer.Option("--pause", help="Wait for Enter between steps (live teaching).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a machine-readable summary only.")] = False,
    keep: Annotated[bool, typer.Option("--keep", help="Leave the services running after the demo (Ctrl-C stops).")]
    = False,
    lang: Annotated[str | None, typer.Option("--lang", help=LANG_HELP, callback=set_language)] = None,
) -> None:
    """Play the exchange between two single windows, scenario by scenario, and check every outcome."""
    from rich.markup import escape
    from rich.table import Table

    from exchange._demo import SCENARIOS, Demo, matches, remove, temporary_root

    out = console()
    if list_only:
        for item in SCENARIOS:
            out.print(f"{item.number:>2}. {escape(_(item.title))}  [dim]("
                      + _("expects {outcome}").format(outcome=escape(item.expected)) + ")[/dim]", soft_wrap=True)
        raise typer.Exit(EXIT_OK)
    chosen = [s for s in SCENARIOS if not scenario or s.number in scenario]
    unknown = sorted(set(scenario or []) - {s.number for s in SCENARIOS})
    if unknown:
        raise typer.BadParameter(_("no scenario {numbers}; see ptx demo --list").format(
            numbers=", ".join(map(str, unknown))))

    def say(text: str) -> None:
        if not as_json:
            out.print(text)

    started = time.monotonic()
    root = temporary_root()
    session = Demo(root, log=say)
    rows: list[dict[str, Any]] = []
    try:
        say("[bold]" + _("Cross-border paperless trade: a live exchange between the single windows of AA and BB")
            + "[/bold]")
        say(_("Starting a fresh demo workspace (two countries' PKI, signed trust lists, an agreement), the gateway "
              "and both single windows..."))
        session.start()
        say("  " + _("gateway {url}  (dashboard {url}/ui)   AA {aa}   BB {bb}").format(
            url=session.urls["gateway"], aa=session.urls["AA"], bb=session.urls["BB"]) + "\n")
        for item in chosen:
            say(f"[bold cyan]{item.number}. {escape(_(item.title))}[/bold cyan]")
            say("  [bold]" + _("What happens:") + f"[/bold] {escape(_(item.happens))}")
            say("  [bold]" + _("Why it matters:") + f"[/bold] {escape(_(item.why))}")
            if pause:
                typer.prompt("  " + _("press Enter to play it"), default="", show_default=False)
            try:
                outcome = item.play(session)
                actual, lines = outcome.actual, outcome.lines
            except Exception as exc:  # noqa: BLE001 - a broken scenario is reported, and the demo goes on
                actual, lines = f"ERROR {type(exc).__name__}", [str(exc)]
            ok = matches(item.expected, actual)
            for line in lines:
                say(f"  [dim]>[/dim] {escape(line)}")
            say("  " + _("expected {expected}, got {actual}").format(
                expected=f"[bold]{escape(item.expected)}[/bold]", actual=f"[bold]{escape(actual)}[/bold]") + " "
                + ("[green]" + _("OK") + "[/green]" if ok else "[red]" + _("MISMATCH") + "[/red]") + "\n")
            rows.append({"number": item.number, "title": item.title, "expected": item.expected, "actual": actual,
                         "matched": ok})
        if keep and not as_json:
            say(_("Services keep running (dashboard {url}/ui); Ctrl-C stops them.").format(url=session.urls["gateway"]))
            try:
                while True:
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
    finally:
        session.stop()
        remove(root)
    seconds = time.monotonic() - started
    matched = sum(1 for row in rows if row["matched"])
    if as_json:
        print(json.dumps({"scenarios": rows, "matched": matched, "total": len(rows), "seconds": round(seconds, 1)},
                         indent=2))
    else:
        table = Table(title=_("Expected versus actual"))
        for column in ("#", _("scenario"), _("expected"), _("actual"), _("ok")):
            table.add_column(column)
        for row in rows:  # Rich measures cells by their width on a terminal, so Chinese columns stay aligned
            table.add_row(str(row["number"]), escape(_(row["title"])), escape(row["expected"]), escape(row["actual"]),
                          "[green]" + _("yes") + "[/green]" if row["matched"] else "[red]" + _("NO") + "[/red]")
        out.print(table)
        out.print(_("{matched} of {total} outcomes matched in {seconds} s").format(
            matched=matched, total=len(rows), seconds=f"{seconds:.0f}"))
    raise typer.Exit(EXIT_OK if rows and matched == len(rows) else EXIT_INVALID)
