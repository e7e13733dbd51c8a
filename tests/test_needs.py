"""The suite's account of missing tools (tests/support/needs.py and the hooks in tests/conftest.py): a missing
tool or corpus skips with one line naming it and how to get it, the run ends with a summary by cause, and under
``CI=true`` the same run fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import needs

REPO = Path(__file__).resolve().parent.parent

PROBE = '''
from tests.support.needs import require

def test_needs_a_tool():
    require("xmlsec1")

def test_needs_the_corpus(corpus):
    pass

def test_needs_nothing():
    pass
'''


def test_every_need_names_how_to_get_it() -> None:
    for name, need in needs.NEEDS.items():
        text = needs.reason(name)
        assert text.startswith(f"missing {name}: ") and need.get in text
        assert needs.missing_name(f"Skipped: {text}") == name
    assert needs.missing_name("Skipped: mounting a tmpfs needs root") is None


def test_the_corpus_is_found_where_ptx_corpus_says(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PTX_CORPUS", str(tmp_path))
    assert needs.corpus_dir() == tmp_path.resolve()
    assert needs.NEEDS["corpus"].find() is None  # no schemas/ folder in it
    (tmp_path / "schemas").mkdir()
    assert needs.NEEDS["corpus"].find() == tmp_path.resolve()


def _run_probe(tmp_path: Path, ci: bool) -> subprocess.CompletedProcess[str]:
    """A small suite in the repository's tests folder, on a machine without xmlsec1 (empty PATH) or corpus."""
    probe = REPO / "tests" / f"test_probe_needs_{os.getpid()}_{int(ci)}.py"
    probe.write_text(PROBE)
    env = {key: value for key, value in os.environ.items() if key not in {"CI", "PYTEST_XDIST_WORKER"}}
    env.update({"PATH": str(tmp_path), "PTX_CORPUS": str(tmp_path / "no-corpus")})
    if ci:
        env["CI"] = "true"
    try:
        return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-q",
                               str(probe)], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    finally:
        probe.unlink()


def test_outside_ci_a_missing_tool_is_a_named_skip_and_summarised(tmp_path: Path) -> None:
    result = _run_probe(tmp_path, ci=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 2 skipped" in result.stdout
    assert "skipped because the machine lacks something" in result.stdout
    assert "1 test(s) need xmlsec1: the xmlsec1 command line is not on PATH; get it with `sudo make deps`" \
        in result.stdout
    assert "1 test(s) need corpus: the public test corpus is not at" in result.stdout


def test_under_ci_a_missing_tool_fails_the_run(tmp_path: Path) -> None:
    result = _run_probe(tmp_path, ci=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "CI=true and missing xmlsec1" in result.stdout
    assert "CI=true and missing corpus" in result.stdout
    assert "1 passed" in result.stdout
