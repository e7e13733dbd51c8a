"""Time is an explicit input: nothing in the library reads the wall clock; only the edges do, and pass it on.

The edges are the command line (``exchange/cli``, and the narrated demo it runs) and each service's one injected
clock (the default of its ``now``/``clock`` parameter). A new ``datetime.now()`` anywhere else fails this test:
give the function a ``moment`` (or ``created``/``issued``) parameter instead, as pyhanko-certvalidator's
ValidationContext takes its moment.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("exchange", "gateway")
#: Where the wall clock may be read: the CLI, the demo runner, and each service's injected default clock.
EDGES = ("exchange/cli/",)
CLOCKS = {
    "exchange/_demo.py": None,  # the narrated demo runs real processes on the real clock, like the CLI
    "exchange/node/_store.py": "utc_now",
    "gateway/_store.py": "utc_now",
    "gateway/_app.py": "_now",
    "exchange/validator/_app.py": "_now",
    # the conformance kit plays a live node or gateway against another system: its one clock, like the CLI's
    "exchange/conformance/_material.py": "now",
}
READS = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"), ("time", "time")}


def _reads(path: Path) -> list[tuple[int, str]]:
    """(line, enclosing function) of every wall-clock read in ``path``."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function
            if isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute):
                owner = child.func.value
                owner_name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
                if (owner_name, child.func.attr) in READS:
                    found.append((child.lineno, function))
            visit(child, name)

    visit(ast.parse(path.read_text(), filename=str(path)), "<module>")
    return found


def test_only_the_edges_read_the_wall_clock() -> None:
    hidden = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative.startswith(EDGES) or "/migrations/" in relative:
                continue
            allowed = CLOCKS.get(relative, "")
            hidden += [f"{relative}:{line} in {function}()" for line, function in _reads(path)
                       if not (relative in CLOCKS and (allowed is None or function == allowed))]
    assert hidden == [], "the wall clock is read outside the edges; take the time as a parameter"


@pytest.mark.parametrize("relative", sorted(CLOCKS))
def test_the_listed_clocks_exist(relative: str) -> None:
    """The allowances stay honest: each names a file that still reads the clock where it says."""
    reads = _reads(ROOT / relative)
    assert reads and (CLOCKS[relative] is None or {function for _, function in reads} == {CLOCKS[relative]})
