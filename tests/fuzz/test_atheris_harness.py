"""The coverage-guided harness (``fuzz/run.py``, atheris/libFuzzer) at a CI-sized budget: every target runs and
nothing crashes. Longer runs: ``python fuzz/run.py --seconds 600 --keep fuzz-out``."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris", reason="atheris is a dev dependency (Linux, CPython 3.11)")

RUN = Path(__file__).resolve().parents[2] / "fuzz" / "run.py"


def test_ci_sized_fuzz_run_finds_nothing(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(RUN), "--seconds", "10", "--keep", str(tmp_path)],
                            capture_output=True, text=True, timeout=300)
    summary = re.search(r"parse\+verify\+validate\+envelope\+inbox: (\d+) runs in \d+ s .*, (\d+) crashes",
                        result.stdout)
    log = (tmp_path / "fuzz.log").read_text(encoding="utf-8", errors="replace") if (tmp_path / "fuzz.log").exists() else ""
    assert result.returncode == 0 and summary is not None, result.stdout + result.stderr + log[-3000:]
    assert int(summary.group(1)) > 100 and summary.group(2) == "0"
    assert not list((tmp_path / "crashes").iterdir())
    # a kept run replays against its own workspace (the seeds were signed with its keys), and only against one
    seed = next((tmp_path / "corpus").glob("seed-envelope-envelope.xml"))
    replay = subprocess.run([sys.executable, str(RUN), "--replay", str(seed), "--workspace", str(tmp_path / "workspace")],
                            capture_output=True, text=True, timeout=300)
    assert replay.returncode == 0 and "no property violated" in replay.stdout, replay.stdout + replay.stderr
    missing = subprocess.run([sys.executable, str(RUN), "--replay", str(seed), "--workspace", str(tmp_path / "nope")],
                             capture_output=True, text=True, timeout=300)
    assert missing.returncode == 2 and "no kept workspace there" in missing.stderr
