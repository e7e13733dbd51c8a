"""Shared fixtures and the suite's account of what the machine lacks.

Tests that need something beyond the venv (a Debian tool, PostgreSQL, chromium, the public corpus) ask
``tests/support/needs.py`` for it; a missing one skips the test with one line naming it and how to get it. The end
of the run lists those skips by what is missing. Under ``CI=true`` such a skip fails the run instead.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import needs

REPO = needs.REPO
_missing: Counter[str] = Counter()


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The read-only public corpus (``$PTX_CORPUS``, by default ``../shared/corpus`` beside the clone)."""
    return needs.require("corpus")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and isinstance(report.longrepr, tuple):
        name = needs.missing_name(str(report.longrepr[2]))
        if name is not None:
            _missing[name] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _missing:
        return
    terminalreporter.section("skipped because the machine lacks something")
    for name, count in sorted(_missing.items()):
        need = needs.NEEDS[name]
        terminalreporter.line(f"{count:5d} test(s) need {name}: {need.what}; get it with {need.get}")
    if needs.in_ci():
        terminalreporter.line("CI=true: a skip for a missing tool or corpus fails the run", red=True)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _missing and needs.in_ci():
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def _english_between_tests() -> Iterator[None]:
    """Each test starts in English: an in-process ``ptx --lang zh`` (CliRunner) sets the language of the worker."""
    from exchange import _i18n

    token = _i18n.use(_i18n.DEFAULT)
    yield
    _i18n.reset(token)
