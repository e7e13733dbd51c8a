"""The Typer application every ``ptx`` command registers on."""

from __future__ import annotations

import sys
from typing import Any

import click
import typer
from typer.core import TyperGroup

from exchange._errors import ExchangeError
from exchange._passphrase import use_prompt

# Exit codes shared by every command.
EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2


def interactive() -> bool:
    """Whether a passphrase may be asked for: stdin is a terminal."""
    return sys.stdin is not None and sys.stdin.isatty()


def ask_passphrase() -> str:
    """The passphrase of encrypted private keys, asked on the terminal (never echoed, on stderr)."""
    return str(click.prompt("Passphrase of the private keys", hide_input=True, err=True))


class _ExchangeGroup(TyperGroup):
    """Turns any project error that escapes a command into ``ptx: CODE: message`` and exit code 2; on a terminal,
    lets an encrypted key ask for its passphrase (once, and only when ``PTX_KEY_PASSPHRASE`` is unset)."""

    def invoke(self, ctx: click.Context) -> Any:
        use_prompt(ask_passphrase if interactive() else None)
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
