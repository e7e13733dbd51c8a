"""What the test suite needs from the machine beyond the project's own venv, looked up in one place.

Each :class:`Need` is one thing some tests use: a Debian tool, PostgreSQL's server binaries, Debian's chromium, the
public corpus beside the clone. It is looked for on ``PATH`` (and where ``make deps`` installs it), once per test
process. :func:`require` returns what was found, or ends the test with one line that names what is missing and how
to get it::

    SKIPPED [4] tests/exchange/test_dsig_interop.py:138: missing xmlsec1: the xmlsec1 command line is not on PATH;
    get it with `sudo make deps` (Debian package xmlsec1)

``make test`` ends with a summary of these skips grouped by what is missing (``tests/conftest.py``). Under
``CI=true`` the same call fails the test instead, and the session fails if anything was still skipped for a missing
need: CI must never go green on a half-installed machine.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from exchange.testing.postgres import ENV_BINDIR as ENV_POSTGRES_BINDIR
from exchange.testing.postgres import POSTGRES_TOOLS, postgres_bindir

REPO = Path(__file__).resolve().parents[2]
#: every skip reason for a missing need starts with this, so the summary and the CI check can find them
PREFIX = "missing "
ENV_CORPUS = "PTX_CORPUS"
ENV_CHROMIUM = "PTX_CHROMIUM"
ENV_POSTGRES_URL = "PTX_TEST_POSTGRES_URL"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def corpus_dir() -> Path:
    """The public test corpus: ``$PTX_CORPUS``, by default ``../shared/corpus`` beside the clone."""
    named = os.environ.get(ENV_CORPUS)
    return Path(named).expanduser().resolve() if named else REPO.parent / "shared" / "corpus"


def _command(name: str) -> Callable[[], Path | None]:
    def find() -> Path | None:
        found = shutil.which(name)
        return Path(found) if found else None
    return find


def _chromium() -> Path | None:
    named = os.environ.get(ENV_CHROMIUM)
    if named:
        return Path(named) if Path(named).is_file() and os.access(named, os.X_OK) else None
    return _command("chromium")()


def _postgres() -> Path | None:
    if os.environ.get(ENV_POSTGRES_URL):
        return Path(ENV_POSTGRES_URL)  # a server to use was named: no binaries are needed
    return postgres_bindir()


def _corpus() -> Path | None:
    folder = corpus_dir()
    return folder if (folder / "schemas").is_dir() else None


@dataclass(frozen=True)
class Need:
    name: str
    what: str  #: what is missing, in words, when it is not found
    get: str  #: how to get it
    find: Callable[[], Path | None]


_DEPS = "`sudo make deps`"
NEEDS: dict[str, Need] = {need.name: need for need in (
    Need("xmllint", "the xmllint command line is not on PATH", f"{_DEPS} (Debian package libxml2-utils)",
         _command("xmllint")),
    Need("xmlsec1", "the xmlsec1 command line is not on PATH", f"{_DEPS} (Debian package xmlsec1)",
         _command("xmlsec1")),
    Need("docker-compose", "docker-compose (a Compose parser; no Docker engine needed) is not on PATH",
         f"{_DEPS} (Debian package docker-compose)", _command("docker-compose")),
    Need("postgresql", f"PostgreSQL server binaries ({', '.join(POSTGRES_TOOLS)}) are not in ${ENV_POSTGRES_BINDIR}, "
         "/usr/lib/postgresql/*/bin or PATH", f"{_DEPS} (Debian package postgresql), or set {ENV_POSTGRES_URL} to a "
         "server where this user may create databases", _postgres),
    Need("chromium", f"chromium is not on PATH (or at ${ENV_CHROMIUM})", f"{_DEPS} (Debian package chromium)",
         _chromium),
    Need("corpus", f"the public test corpus is not at {corpus_dir()}",
         f"{ENV_CORPUS}=/path/to/shared/corpus (the project's public test corpus, beside the clone in CI)", _corpus),
)}


@functools.cache
def find(name: str) -> Path | None:
    """Where ``name`` (a key of :data:`NEEDS`) is, or None; looked up once per process."""
    return NEEDS[name].find()


def reason(name: str) -> str:
    need = NEEDS[name]
    return f"{PREFIX}{need.name}: {need.what}; get it with {need.get}"


def require(name: str) -> Path:
    """What ``name`` found, or end the test: skipped with :func:`reason`, or failed under ``CI=true``."""
    found = find(name)
    if found is not None:
        return found
    if in_ci():
        pytest.fail(f"CI=true and {reason(name)}", pytrace=False)
    pytest.skip(reason(name))


def missing_name(skip_reason: str) -> str | None:
    """The need a skip reason names, or None for any other skip."""
    text = skip_reason.removeprefix("Skipped: ")
    if not text.startswith(PREFIX):
        return None
    return text[len(PREFIX):].split(":", 1)[0]


def corpus_files(pattern: str, under: str = "") -> list[Path]:
    """Files of the corpus for ``pytest.mark.parametrize``; when the corpus is absent, one placeholder, so that the
    test still runs once and its ``corpus`` fixture says what is missing (instead of "got empty parameter set")."""
    folder = corpus_dir() / under
    files = sorted(folder.glob(pattern)) if find("corpus") else []
    return files or [folder / "(corpus missing)"]
