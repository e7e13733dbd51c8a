"""The ``ptx`` command line.

Each command lives in its own private module that registers on :data:`app`; heavy libraries are imported
inside the commands so ``ptx --help`` starts fast. Any :class:`~exchange.ExchangeError` that escapes a
command is printed as ``ptx: CODE: message`` on stderr and exits 2 (usage or configuration error).
"""

from __future__ import annotations

import sys

from exchange._errors import ExchangeError
from exchange.cli._app import EXIT_USAGE, app, error_text

# Registration: importing a module adds its commands to ``app``.
from exchange.cli import _validate as _validate  # noqa: E402,F401  isort: skip
from exchange.cli import _schemas as _schemas  # noqa: E402,F401  isort: skip
from exchange.cli import _issue as _issue  # noqa: E402,F401  isort: skip
from exchange.cli import _demo as _demo  # noqa: E402,F401  isort: skip
from exchange.cli import _serve as _serve  # noqa: E402,F401  isort: skip
from exchange.cli import _gateway as _gateway  # noqa: E402,F401  isort: skip
from exchange.cli import _up as _up  # noqa: E402,F401  isort: skip
from exchange.cli import _pki as _pki  # noqa: E402,F401  isort: skip
from exchange.cli import _sign as _sign  # noqa: E402,F401  isort: skip
from exchange.cli import _node as _node  # noqa: E402,F401  isort: skip
from exchange.cli import _keys as _keys  # noqa: E402,F401  isort: skip
from exchange.cli import _country as _country  # noqa: E402,F401  isort: skip
from exchange.cli import _narration as _narration  # noqa: E402,F401  isort: skip
from exchange.cli import _conformance as _conformance  # noqa: E402,F401  isort: skip


def main() -> None:
    from exchange import _i18n

    _i18n.use(_i18n.from_environment())  # PTX_LANG, LC_ALL, LC_MESSAGES, LANG; --lang overrides
    try:
        app()
    except ExchangeError as exc:
        print(error_text(exc), file=sys.stderr)
        sys.exit(EXIT_USAGE)


__all__ = ["app", "main"]
