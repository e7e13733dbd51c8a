"""The Typer application every ``ptx`` command registers on."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="ptx",
    help="Cross-border paperless trade: validate, sign, verify and exchange trade documents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Exit codes shared by every command.
EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
