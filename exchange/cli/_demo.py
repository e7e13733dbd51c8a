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

from exchange.cli._app import EXIT_INVALID, EXIT_OK, app
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
) -> None:
    """Play the exchange between two single windows, scenario by scenario, and check every outcome."""
    from rich.markup import escape
    from rich.table import Table

    from exchange._demo import SCENARIOS, Demo, matches, remove, temporary_root

    out = console()
    if list_only:
        for item in SCENARIOS:
            out.print(f"{item.number:>2}. {escape(item.title)}  [dim](expects {escape(item.expected)})[/dim]", soft_wrap=True)
        raise typer.Exit(EXIT_OK)
    chosen = [s for s in SCENARIOS if not scenario or s.number in scenario]
    unknown = sorted(set(scenario or []) - {s.number for s in SCENARIOS})
    if unknown:
        raise typer.BadParameter(f"no scenario {', '.join(map(str, unknown))}; see ptx demo --list")

    def say(text: str) -> None:
        if not as_json:
            out.print(text)

    started = time.monotonic()
    root = temporary_root()
    session = Demo(root, log=say)
    rows: list[dict[str, Any]] = []
    try:
        say("[bold]Cross-border paperless trade: a live exchange between the single windows of AA and BB[/bold]")
        say("Starting a fresh demo workspace (two countries' PKI, signed trust lists, an agreement), the gateway "
            "and both single windows...")
        session.start()
        say(f"  gateway {session.urls['gateway']}  (dashboard {session.urls['gateway']}/ui)   "
            f"AA {session.urls['AA']}   BB {session.urls['BB']}\n")
        for item in chosen:
            say(f"[bold cyan]{item.number}. {escape(item.title)}[/bold cyan]")
            say(f"  [bold]What happens:[/bold] {escape(item.happens)}")
            say(f"  [bold]Why it matters:[/bold] {escape(item.why)}")
            if pause:
                typer.prompt("  press Enter to play it", default="", show_default=False)
            try:
                outcome = item.play(session)
                actual, lines = outcome.actual, outcome.lines
            except Exception as exc:  # noqa: BLE001 - a broken scenario is reported, and the demo goes on
                actual, lines = f"ERROR {type(exc).__name__}", [str(exc)]
            ok = matches(item.expected, actual)
            for line in lines:
                say(f"  [dim]>[/dim] {escape(line)}")
            say(f"  expected [bold]{escape(item.expected)}[/bold], got [bold]{escape(actual)}[/bold] "
                + ("[green]OK[/green]" if ok else "[red]MISMATCH[/red]") + "\n")
            rows.append({"number": item.number, "title": item.title, "expected": item.expected, "actual": actual,
                         "matched": ok})
        if keep and not as_json:
            say(f"Services keep running (dashboard {session.urls['gateway']}/ui); Ctrl-C stops them.")
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
        table = Table(title="Expected versus actual")
        for column in ("#", "scenario", "expected", "actual", "ok"):
            table.add_column(column)
        for row in rows:
            table.add_row(str(row["number"]), escape(row["title"]), escape(row["expected"]), escape(row["actual"]),
                          "[green]yes[/green]" if row["matched"] else "[red]NO[/red]")
        out.print(table)
        out.print(f"{matched} of {len(rows)} outcomes matched in {seconds:.0f} s")
    raise typer.Exit(EXIT_OK if rows and matched == len(rows) else EXIT_INVALID)
