"""The Typer application every ``ptx`` command registers on."""

from __future__ import annotations

from typing import Any

import click
import typer
from typer.core import TyperGroup

from exchange._errors import ExchangeError

# Exit codes shared by every command.
EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2


class _ExchangeGroup(TyperGroup):
    """Turns any project error that escapes a command into ``ptx: CODE: message`` and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ExchangeError as exc:
            typer.echo(f"ptx: {exc}", err=True)
            raise typer.Exit(EXIT_USAGE) from exc


app = typer.Typer(
    name="ptx",
    cls=_ExchangeGroup,
    help="Cross-border paperless trade: validate, sign, verify and exchange trade documents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
