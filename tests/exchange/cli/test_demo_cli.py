"""`ptx demo`: the README's first command plays eleven scenarios against real services and every outcome matches."""

from __future__ import annotations

import json
import subprocess

import pytest

from exchange.testing.processes import PTX

pytestmark = pytest.mark.slow


def test_list() -> None:
    result = subprocess.run([PTX, "demo", "--list"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 11 and lines[2].startswith(" 3. One byte changed after signing")


def test_the_whole_demo_matches_every_expectation() -> None:
    result = subprocess.run([PTX, "demo", "--json"], capture_output=True, text=True, timeout=180)
    summary = json.loads(result.stdout)
    mismatched = [row for row in summary["scenarios"] if not row["matched"]]
    assert result.returncode == 0 and not mismatched, mismatched
    assert summary["matched"] == summary["total"] == 11
    print(f"demo took {summary['seconds']} s")  # the issue asks for at most 60 s; bench-like figure, not asserted


def test_one_scenario_narrated() -> None:
    result = subprocess.run([PTX, "demo", "--scenario", "3"], capture_output=True, text=True, timeout=120,
                            env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "What happens:" in result.stdout and "Why it matters:" in result.stdout
    assert "document-signature: SIG-DIGEST-MISMATCH" in result.stdout
    assert "1 of 1 outcomes matched" in result.stdout


def test_unknown_scenario_is_a_usage_error() -> None:
    result = subprocess.run([PTX, "demo", "--scenario", "99"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
