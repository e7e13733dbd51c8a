"""`ptx demo`: the README's first command plays eleven scenarios against real services and every outcome matches."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from exchange.testing.processes import PTX

pytestmark = pytest.mark.slow


def test_list() -> None:
    result = subprocess.run([PTX, "demo", "--list"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 13 and lines[2].startswith(" 3. One byte changed after signing")


def test_the_whole_demo_matches_every_expectation() -> None:
    result = subprocess.run([PTX, "demo", "--json"], capture_output=True, text=True, timeout=180)
    summary = json.loads(result.stdout)
    mismatched = [row for row in summary["scenarios"] if not row["matched"]]
    assert result.returncode == 0 and not mismatched, mismatched
    assert summary["matched"] == summary["total"] == 13
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


_CJK = re.compile(r"[\u4e00-\u9fff]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_FINDING = re.compile(r"^\s*> [a-z-]+: [A-Z][A-Z0-9-]+: ")  # check: CODE: message (the English detail beside)


def play(lang: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PTX, "demo", "--lang", lang, *extra], capture_output=True, text=True, timeout=240,
                          env={"COLUMNS": "1000", "PATH": "/usr/bin:/bin"})


@pytest.mark.parametrize(("lang", "script", "summary", "exporter"), [
    ("zh", _CJK, "13 个结果中有 13 个符合预期", "金穗食品有限公司"),
    ("ru", _CYRILLIC, "совпало 13 из 13 результатов", "ООО «Золотая нива»"),
])
def test_the_whole_demo_in_chinese_and_russian(lang: str, script: re.Pattern[str], summary: str,
                                               exporter: str) -> None:
    """Every scenario plays and matches; every line a person reads is in the language (ids, URLs, codes and
    outcomes inside it stay as they are); the result table keeps its columns aligned with wide characters."""
    result = play(lang)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    lines = [line for line in result.stdout.splitlines() if re.search(r"[A-Za-z]{3,}", line)]
    english = [line for line in lines if not script.search(line) and not re.fullmatch(r"[\s│┃┏┓┗┛━─┡┩╇┳┻┠┨┼═]*", line)]
    assert not english, english[:5]
    assert summary in result.stdout
    # the first certificate carries the exporter's name in the room's language, and BB holds it as signed
    assert re.search(rf"> .*[:：] ?{re.escape(exporter)}$", result.stdout, flags=re.MULTILINE)
    rows = [line for line in result.stdout.splitlines() if line.startswith("│")]
    assert len(rows) == 13
    widths = {wcswidth(row) for row in rows}
    assert len(widths) == 1, "the table's rows differ in display width"
    assert {len(row.split("│")) for row in rows} == {7}


def test_the_demo_in_the_pseudo_locale_has_no_untranslated_english() -> None:
    """In ``qps`` every translated text is ⟦wrapped⟧: English left outside is narration that bypassed the
    catalogue. Allowed outside: ids, URLs, codes, statuses, outcomes, and the English detail of a finding."""
    result = play("qps")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    left = []
    for line in result.stdout.splitlines():
        if _FINDING.match(line):
            continue
        outside, previous = line, None
        while outside != previous:
            previous, outside = outside, re.sub(r"⟦[^⟦⟧]*⟧", " ", outside)
        words = [token for token in outside.split() if re.fullmatch(r"[A-Za-z]{3,}[,.:;]?", token)]
        allowed = {"then", "receipt", "verified"}  # parts of outcome tokens split by the table's wrapping
        if [w for w in words if w.strip(",.:;") not in allowed and not w.isupper()
                and w.strip(",.:;") not in {"Delivered", "PendingDelivery", "DeliverEnvelope", "ptx"}]:
            left.append(line)
    assert not left, left[:8]


def wcswidth(text: str) -> int:
    from rich.cells import cell_len

    return cell_len(text)
