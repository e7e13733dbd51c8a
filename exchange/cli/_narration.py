"""``ptx narration-table FOLDER`` (hidden): the translated narration of a workshop exercise for its ``run.sh``.

``examples/_common.sh`` calls it once per exercise and reads the pairs (English line, translation; each ended by a
NUL byte) into a table its ``step``/``say``/``saw`` look lines up in; a line without a translation stays English.
The language is ``--lang``, else ``PTX_LANG``, else ``LC_ALL``/``LC_MESSAGES``/``LANG``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from exchange import _i18n
from exchange.cli._app import app


@app.command("narration-table", hidden=True)
def narration_table(
    folder: Annotated[Path, typer.Argument(help="The exercise's folder.")],
) -> None:
    table = _i18n.narration([folder.parent / "locale", folder], _i18n.current())  # examples/locale, then its own
    out = sys.stdout.buffer
    for english, translated in table.items():
        out.write(english.encode("utf-8") + b"\0" + translated.encode("utf-8") + b"\0")
    out.flush()
