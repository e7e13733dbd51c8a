"""The Typer application every ``ptx`` command registers on."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import click
import typer
from typer.core import TyperGroup

from exchange import _i18n
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
    return str(click.prompt(_i18n.gettext("Passphrase of the private keys"), hide_input=True, err=True))


def error_text(exc: ExchangeError) -> str:
    """``ptx: CODE: message`` (stable, English), and in another language a second line with the code's message."""
    text = f"ptx: {exc}"
    if _i18n.current() != _i18n.DEFAULT:
        text += f"\n     {_i18n.code_message(exc.code)}"
    return text


class _ExchangeGroup(TyperGroup):
    """Turns any project error that escapes a command into ``ptx: CODE: message`` and exit code 2; on a terminal,
    lets an encrypted key ask for its passphrase (once, and only when ``PTX_KEY_PASSPHRASE`` is unset)."""

    def invoke(self, ctx: click.Context) -> Any:
        use_prompt(ask_passphrase if interactive() else None)
        try:
            return super().invoke(ctx)
        except ExchangeError as exc:
            typer.echo(error_text(exc), err=True)
            raise typer.Exit(EXIT_USAGE) from exc


app = typer.Typer(
    name="ptx",
    cls=_ExchangeGroup,
    help="Cross-border paperless trade: validate, sign, verify and exchange trade documents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def set_language(value: str | None) -> str | None:
    """``--lang en|zh|ru``: the language of everything the command prints for people (codes and JSON stay)."""
    if value is None:
        _i18n.use(_i18n.from_environment())
        return None
    language = _i18n.normalise(value)
    if language is None or (language not in _i18n.LANGUAGES and language != _i18n.PSEUDO):
        raise typer.BadParameter(f"{value!r}: one of {', '.join(_i18n.LANGUAGES)}")
    _i18n.use(language)
    return language


LANG_HELP = "Language for people: en, zh or ru (default: PTX_LANG, then LC_ALL/LC_MESSAGES/LANG)."


@app.callback()
def _options(
    lang: Annotated[str | None, typer.Option("--lang", help=LANG_HELP, callback=set_language,
                                             is_eager=True)] = None,
) -> None:
    """Cross-border paperless trade: validate, sign, verify and exchange trade documents."""
