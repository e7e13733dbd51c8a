"""The CLI's output for people in every language: in the pseudo-locale ``qps`` every translated text is ⟦wrapped⟧,
so English prose left outside is output that bypassed the catalogue; in Chinese and Russian a known header is
translated while codes, ids and statuses stay as they are."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from exchange.cli import app

runner = CliRunner()
SAMPLES = Path(__file__).resolve().parents[3] / "schemas" / "certificate-of-origin" / "samples"
VALID = SAMPLES / "valid"
INVALID = SAMPLES / "invalid" / "gross-below-net.xml"


def ptx(lang: str, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--lang", lang, *args], env={"COLUMNS": "1000", "PTX_LANG": None})
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace and a signed and a tampered certificate of origin, made once (in English)."""
    folder = tmp_path_factory.mktemp("languages")
    assert ptx("en", "init", "--workspace", str(folder / "ws"))[0] == 0
    document = folder / "coo.xml"
    shutil.copy(sorted(VALID.glob("*.xml"))[0], document)
    assert ptx("en", "sign", str(document), "--as", "AA/chamber-of-commerce", "--workspace", str(folder / "ws"))[0] == 0
    signed = (folder / "coo.signed.xml").read_bytes()
    (folder / "tampered.xml").write_bytes(signed.replace(b"KGM", b"KGX", 1))
    return folder


def commands(room: Path) -> list[tuple[str, ...]]:
    ws = str(room / "ws")
    return [
        ("validate", str(room / "coo.xml"), str(INVALID)),
        ("verify", str(room / "coo.signed.xml"), "--workspace", ws),
        ("verify", str(room / "tampered.xml"), "--workspace", ws),
        ("inspect", str(room / "coo.signed.xml")),
        ("keys", "status", ws),
        ("trust", "show", "AA", "--workspace", ws),
    ]


#: English that may stay outside ⟦…⟧: a finding's English detail beside its translated message, and data
_DETAIL = re.compile(r"⟧ \([^⟦⟧]*\)")
_DATA = re.compile(r"(?:[A-Z]{2} )?(?:Chamber of Commerce|NPPO|Customs|Single Window|Issuing CA|Root CA|"
                   r"Country [A-Z]{2} trust scheme(?: operator)?|Trust List Signer|"
                   r"\bnode\b|\benvelope\b|\breceipt\b)")  # issuer names, a trust list's roles, document type ids


_RULE = re.compile(r"^\s+(?:\d+:\d+ )?⟦[^⟧]*⟧ [A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+ \[rules\] ")


def english_left(output: str) -> list[str]:
    left = []
    for line in output.splitlines():
        if _RULE.match(line):
            continue  # a business rule's message is the type's data (its Schematron), English as written
        outside = _DATA.sub(" ", _DETAIL.sub("⟧", line))
        previous = None
        while outside != previous:
            previous, outside = outside, re.sub(r"⟦[^⟦⟧]*⟧", " ", outside)
        outside = re.sub(r"\S*[/:=.@_-]\S*", " ", outside)  # paths, URLs, ids, codes, times, algorithms
        words = [w for w in outside.split() if re.fullmatch(r"[A-Za-z]{3,}[,.:;)]?", w) and not w.isupper()]
        if words:
            left.append(line)
    return left


def test_pseudo_locale_leaves_no_english_prose(room: Path) -> None:
    for args in commands(room):
        code, output = ptx("qps", *args)
        assert code in (0, 1), (args, output)
        assert "⟦" in output, args
        left = english_left(output)
        assert not left, (args, left[:5])


def test_validate_finding_lines_wrap_the_code_message_in_pseudo_locale(room: Path) -> None:
    code, output = ptx("qps", "validate", str(INVALID))
    assert code == 1 and "COO-MASS-01" in output and "⟦" in output


@pytest.mark.parametrize(("lang", "header", "summary"), [
    ("zh", "严重程度", "2 个文件：1 个有效，1 个无效"),
    ("ru", "важность", "2 файла: действительных 1, недействительных 1"),
])
def test_chinese_and_russian_keep_codes(room: Path, lang: str, header: str, summary: str) -> None:
    code, output = ptx(lang, "validate", str(room / "coo.xml"), str(INVALID))
    assert code == 1 and summary in output
    assert "COO-MASS-01 [rules]" in output and "(certificate-of-origin)" in output
    code, output = ptx(lang, "verify", str(room / "tampered.xml"), "--workspace", str(room / "ws"))
    assert code == 1 and header in output
    assert "INVALID" in output and "SIG-DIGEST-MISMATCH" in output and "document-signature" in output


def test_chinese_table_columns_stay_aligned(room: Path) -> None:
    from rich.cells import cell_len

    code, output = ptx("zh", "verify", str(room / "tampered.xml"), "--workspace", str(room / "ws"))
    rows = [line for line in output.splitlines() if line[:1] in "┏┃┡│└"]
    assert rows and len({cell_len(row) for row in rows}) == 1


def test_english_output_is_unchanged(room: Path) -> None:
    code, output = ptx("en", "validate", str(room / "coo.xml"))
    assert code == 0 and "valid   " in output and re.search(r"1 file\(s\): 1 valid, 0 invalid", output)
