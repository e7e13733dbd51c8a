"""Rich consoles for the CLI: no emoji substitution (``urn:ptx:exchange:Envelope:1`` must stay text), no
automatic highlighting, and wide tables when output is not a terminal (``COLUMNS`` still wins)."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


def console(*, stderr: bool = False) -> Console:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() or "COLUMNS" in os.environ else 160
    return Console(file=stream, emoji=False, highlight=False, width=width)


def pad(text: str, width: int) -> str:
    """``text`` padded with spaces to ``width`` terminal cells (a Chinese character takes two; never ``len()``)."""
    from rich.cells import cell_len

    return text + " " * max(0, width - cell_len(text))


__all__ = ["console", "pad"]
