"""The layers hold: the library (``exchange/_*.py``) imports no web framework and no database; the gateway and
the node share only the library's public API and ``exchange/services``, never each other's internals; ``bench/``
does not import ``tests/``."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LIBRARY = sorted(path.stem for path in (REPO / "exchange").glob("_*.py") if path.stem != "__init__")
WEB_AND_DATABASE = ("fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "psycopg", "jinja2", "prometheus_client")


def imported_modules(folder: Path) -> dict[Path, set[str]]:
    """Every module each file of ``folder`` imports (also inside functions), by absolute name."""
    found: dict[Path, set[str]] = {}
    for path in folder.rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)  # and what it takes from it: `from exchange import _reports` is a module
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
        found[path] = names
    return found


def test_the_library_loads_no_web_framework_and_no_database() -> None:
    script = (
        "import importlib, json, sys\n"
        f"for name in {LIBRARY!r}: importlib.import_module('exchange.' + name)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {WEB_AND_DATABASE!r})))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [], "the library pulls in a web framework or a database"
    assert len(LIBRARY) > 20


def test_the_library_does_not_import_web_or_database_modules_even_lazily() -> None:
    for path, names in imported_modules(REPO / "exchange").items():
        if path.parent != REPO / "exchange" or not path.name.startswith("_"):
            continue  # the library only: exchange/_*.py
        offending = {name for name in names if name.split(".")[0] in WEB_AND_DATABASE}
        offending |= {name for name in names if name.startswith(("gateway", "exchange.node", "exchange.services",
                                                                 "exchange.cli"))}
        assert not offending, f"{path.relative_to(REPO)} imports {sorted(offending)}"


def test_the_services_do_not_import_each_others_internals() -> None:
    for path, names in imported_modules(REPO / "gateway").items():
        assert not [name for name in names if name.startswith("exchange.node")], path
    for path, names in imported_modules(REPO / "exchange" / "node").items():
        assert not [name for name in names if name.startswith("gateway")], path


def test_the_services_use_the_librarys_public_api() -> None:
    """``from exchange import ...`` (lazy, curated, kept honest by test_exported_members.py), never a private
    module of the library."""
    for folder in (REPO / "gateway", REPO / "exchange" / "node", REPO / "exchange" / "validator"):
        for path, names in imported_modules(folder).items():
            private = [name for name in names if name.startswith("exchange._") and not name.startswith("exchange.__")]
            assert not private, f"{path.relative_to(REPO)} imports {sorted(private)}"


def test_benchmarks_do_not_import_the_tests() -> None:
    for path, names in imported_modules(REPO / "bench").items():
        assert not [name for name in names if name.split(".")[0] == "tests"], path
