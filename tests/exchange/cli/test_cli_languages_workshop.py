"""The commands a workshop participant runs first (init, validate, sign, verify, schemas list) in every language:
in ``qps`` each translated text is ⟦wrapped⟧, so English prose left outside is a string that bypassed the
catalogue; in zh and ru a known header is translated while codes, ids and JSON stay English."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from exchange import _i18n
from exchange.cli import app

runner = CliRunner()
AT = "2030-01-15T12:00:00Z"
SOON = "2030-01-15T13:00:00Z"
SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"
VALID = SCHEMAS / "certificate-of-origin" / "samples" / "valid" / "basic.xml"
INVALID = SCHEMAS / "commercial-invoice" / "samples" / "invalid" / "line-amount-mismatch.xml"

#: what machines read may stand outside ⟦…⟧: paths, URLs, file names, codes and statuses (upper case), numbers
#: and times, ids (certificate-of-origin), element names (CertificateOfOrigin), options and the commands of a hint
_MACHINE = re.compile(r"(\S*[/\\]\S*|https?://\S+|\S*\.(xml|json|pem|toml|html)\S*|[A-Z0-9_:-]{2,}\S*|\S*\d\S*"
                      r"|[a-z]+(-[a-z0-9]+)+|[A-Z][a-z]+[A-Z]\w*|--[a-z-]+|ptx [a-z]+( [a-z]+)?)")
#: data, not the CLI's text: the demo PKI's issuer and CA names, and (in a table's body) the catalogue's titles,
#: which schemas/*/manifest.yaml holds in English
_NAMES = {"Chamber", "Commerce", "Customs", "Single", "Window", "Issuing", "Root"}
_TITLES = {word for manifest in SCHEMAS.glob("*/manifest.yaml")
           for line in manifest.read_text(encoding="utf-8").splitlines() if line.startswith("title:")
           for word in re.findall(r"[A-Za-z]+", line.removeprefix("title:").lower())}


def _ptx(language: str, *args: str) -> str:
    result = runner.invoke(app, ["--lang", language, *args], env={"COLUMNS": "200", "PTX_LANG": None})
    assert result.exit_code in (0, 1), result.output
    return result.output


def _outputs(language: str, tmp_path: Path) -> dict[str, str]:
    """The commands' output in ``language``, offline."""
    ws = tmp_path / f"ws-{language}"
    out = {"init": _ptx(language, "init", "--workspace", str(ws), "--at", AT, "--countries", "AA,BB",
                        "--agreements", "AA-BB")}
    out["validate valid"] = _ptx(language, "validate", str(VALID))
    out["validate invalid"] = _ptx(language, "validate", str(INVALID))
    document = tmp_path / f"doc-{language}.xml"
    document.write_bytes(VALID.read_bytes())
    out["sign"] = _ptx(language, "sign", str(document), "--as", "AA Chamber of Commerce", "--workspace", str(ws))
    signed = document.with_name(document.name.removesuffix(".xml") + ".signed.xml")
    out["verify"] = _ptx(language, "verify", str(signed), "--workspace", str(ws), "--receiver", "BB",
                         "--as-of", SOON)
    out["schemas list"] = _ptx(language, "schemas", "list")
    return out


def _untranslated(text: str) -> list[str]:
    """Lines holding English words outside every ⟦…⟧, once what machines read is taken away."""
    left = []
    for line in text.splitlines():
        outside, previous = line, None
        while previous != outside:  # a translated text may hold another one in a placeholder
            previous, outside = outside, re.sub(r"⟦[^⟦⟧]*⟧", " ", outside)
        outside = re.sub(r"\([^()]*\)", " ", outside)  # the English detail beside a finding's translated message
        # a Schematron rule's assertion (its id is no project code) is the schema's own English text, after [step]
        outside = re.sub(r"\[[a-z-]+\] [^⟦]*", " ", outside)
        outside = _MACHINE.sub(" ", outside)
        titles = _TITLES if line.lstrip().startswith("│") else set()
        words = [w for w in re.findall(r"[A-Za-z]{3,}", outside)
                 if not w.isupper() and w not in _NAMES and w.lower() not in titles]
        if words:
            left.append(f"{line!r}: {words}")
    return left


def test_pseudo_locale_leaves_no_english_prose(tmp_path: Path) -> None:
    outputs = _outputs(_i18n.PSEUDO, tmp_path)
    left = {name: found for name, text in outputs.items() if (found := _untranslated(text))}
    assert not left, json.dumps(left, ensure_ascii=False, indent=1)
    assert all("⟦" in text for text in outputs.values())


def test_the_check_finds_english(tmp_path: Path) -> None:
    assert _untranslated("⟦šígñéd⟧ doc.xml as issuer")
    assert not _untranslated("⟦šígñéd⟧ doc.xml -> /tmp/x.signed.xml AA-BB SIG-DIGEST-MISMATCH 2030-01-15T13:00:00Z")


@pytest.mark.parametrize(("language", "title", "header"),
                         [("zh", "单证目录", "版本"), ("ru", "Каталог документов", "версия")])
def test_schemas_list_translated_ids_kept(language: str, title: str, header: str) -> None:
    text = _ptx(language, "schemas", "list")
    assert title in text and header in text
    assert "certificate-of-origin" in text and "urn:ptx:trade:CertificateOfOrigin:1" in text


@pytest.mark.parametrize("language", ["zh", "ru"])
def test_validate_translated_codes_and_json_kept(language: str) -> None:
    english = _ptx("en", "validate", str(INVALID))
    text = _ptx(language, "validate", str(INVALID))
    assert text != english and "INV-LINE-01 [rules]" in text and "(commercial-invoice)" in text
    as_json = json.loads(_ptx(language, "validate", str(INVALID), "--format", "json"))
    reference = json.loads(_ptx("en", "validate", str(INVALID), "--format", "json"))
    assert _codes(as_json) == _codes(reference) and sorted(as_json) == sorted(reference)


def _codes(report: object) -> list[str]:
    return re.findall(r'"code": "([^"]+)"', json.dumps(report))
