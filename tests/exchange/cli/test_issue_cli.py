"""`ptx issue`: the document on stdout or --out, findings by input path on stderr, exit codes 0/1/2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from typer.testing import CliRunner

from exchange._builder import load_input
from exchange._catalogue import default_catalogue
from exchange._xml import parse_xml
from exchange.cli import app

runner = CliRunner()

TYPE = "certificate-of-origin"
ROOT = "{urn:ptx:trade:CertificateOfOrigin:1}CertificateOfOrigin"


@pytest.fixture
def example() -> dict[str, Any]:
    """The catalogue's own input example for the certificate of origin, freshly loaded."""
    doc_type = default_catalogue().get(TYPE)
    assert doc_type.input_example is not None
    return load_input(doc_type.input_example)


def write_json(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def line_items(data: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = data["CertificateOfOrigin"]["SupplyChainConsignment"][
        "IncludedSupplyChainTradeLineItem"
    ]
    return items


def test_valid_input_writes_xml_to_stdout_and_a_summary_to_stderr(tmp_path: Path, example: dict[str, Any]) -> None:
    data = write_json(tmp_path / "input.json", example)

    result = runner.invoke(app, ["issue", TYPE, "--data", str(data)])

    assert result.exit_code == 0, result.stderr
    root = parse_xml(result.stdout_bytes).getroot()
    assert root.tag == ROOT
    assert f"issued {TYPE}: {len(result.stdout_bytes):,} bytes, valid" in result.stderr
    assert "<?xml" not in result.stderr


def test_out_writes_the_file_and_leaves_stdout_empty(tmp_path: Path, example: dict[str, Any]) -> None:
    out = tmp_path / "coo.xml"
    doc_type = default_catalogue().get(TYPE)
    assert doc_type.input_example is not None

    result = runner.invoke(app, ["issue", TYPE, "--data", str(doc_type.input_example), "--out", str(out)])

    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert f"-> {out}" in result.stderr
    assert parse_xml(out.read_bytes()).getroot().tag == ROOT


def test_standard_input(example: dict[str, Any]) -> None:
    result = runner.invoke(app, ["issue", TYPE, "--data", "-"], input=json.dumps(example))

    assert result.exit_code == 0, result.stderr
    assert parse_xml(result.stdout_bytes).getroot().tag == ROOT


def test_invalid_input_exits_1_naming_the_fields_and_writes_nothing(
    tmp_path: Path, example: dict[str, Any]
) -> None:
    item = line_items(example)[1]
    item["NetWieght"] = item.pop("NetWeightMeasure")
    del item["GrossWeightMeasure"]["@unitCode"]
    data = write_json(tmp_path / "input.json", example)
    out = tmp_path / "coo.xml"

    result = runner.invoke(app, ["issue", TYPE, "--data", str(data), "--out", str(out)])

    assert result.exit_code == 1
    assert not out.exists()
    assert result.stdout == ""
    item_path = "CertificateOfOrigin.SupplyChainConsignment.IncludedSupplyChainTradeLineItem[1]"
    assert f"INPUT-FIELD-UNKNOWN {item_path}.NetWieght: " in result.stderr
    assert "did you mean 'NetWeightMeasure'?" in result.stderr
    assert f"INPUT-FIELD-MISSING {item_path}.GrossWeightMeasure.@unitCode: " in result.stderr
    assert "input is invalid (2 error(s)); nothing written" in result.stderr


def test_bad_value_is_reported_at_its_input_path_as_json(tmp_path: Path, example: dict[str, Any]) -> None:
    example["CertificateOfOrigin"]["ExchangedDocument"]["IssueDateTime"] = "2026-11-03 10:15"
    data = write_json(tmp_path / "input.json", example)

    result = runner.invoke(app, ["issue", TYPE, "--data", str(data), "--format", "json"])

    assert result.exit_code == 1
    report = json.loads(result.stderr)
    assert report["verdict"] == "invalid" and report["document_type"] == TYPE
    [finding] = report["findings"]
    assert finding["code"] == "INPUT-FIELD-INVALID"
    assert finding["path"] == "CertificateOfOrigin.ExchangedDocument.IssueDateTime"
    assert finding["check"] == "schema"
    assert [check["status"] for check in report["checks"]][0] == "passed"


def test_business_rule_failure_exits_1_with_its_code(tmp_path: Path, example: dict[str, Any]) -> None:
    weight = line_items(example)[0]["GrossWeightMeasure"]
    weight["#text"] = "1"  # below the net weight
    data = write_json(tmp_path / "input.json", example)

    result = runner.invoke(app, ["issue", TYPE, "--data", str(data)])

    assert result.exit_code == 1
    assert "COO-MASS-01 CertificateOfOrigin.SupplyChainConsignment.IncludedSupplyChainTradeLineItem[0]" in (
        result.stderr
    )


def test_json_summary_on_success(tmp_path: Path, example: dict[str, Any]) -> None:
    data = write_json(tmp_path / "input.json", example)
    out = tmp_path / "coo.xml"

    result = runner.invoke(app, ["issue", TYPE, "--data", str(data), "--out", str(out), "--format", "json"])

    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stderr)
    assert summary["verdict"] == "valid"
    assert summary["bytes"] == out.stat().st_size
    assert summary["out"] == str(out)
    assert summary["findings"] == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["issue", "no-such-type", "--data", "input.yaml"], "ptx: DOCTYPE-UNKNOWN: unknown document type"),
        (["issue", TYPE, "--data", "absent.yaml"], "ptx: INPUT-UNREADABLE: cannot read absent.yaml"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], expected: str) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "input.yaml").write_text("CertificateOfOrigin: {}\n", encoding="utf-8")

    result = runner.invoke(app, args)

    assert result.exit_code == 2
    assert expected in result.stderr
    assert result.stdout == ""


def test_malformed_yaml_exits_2_with_its_line(tmp_path: Path) -> None:
    data = tmp_path / "input.yaml"
    data.write_text("CertificateOfOrigin:\n  ExchangedDocument:\n    ID: [AA-1\n  Other: x\n", encoding="utf-8")

    result = runner.invoke(app, ["issue", TYPE, "--data", str(data)])

    assert result.exit_code == 2
    assert "ptx: INPUT-UNREADABLE: " in result.stderr
    assert "(line 4, column 8)" in result.stderr


def test_wrong_root_key_exits_2(tmp_path: Path, example: dict[str, Any]) -> None:
    data = write_json(tmp_path / "input.json", {"CertificateOfOrigen": example["CertificateOfOrigin"]})

    result = runner.invoke(app, ["issue", TYPE, "--data", str(data)])

    assert result.exit_code == 2
    assert "ptx: INPUT-INVALID: " in result.stderr
    assert "did you mean 'CertificateOfOrigin'?" in result.stderr


def test_written_document_validates_with_ptx_validate(tmp_path: Path, example: dict[str, Any]) -> None:
    out = tmp_path / "coo.xml"
    data = write_json(tmp_path / "input.json", example)
    assert runner.invoke(app, ["issue", TYPE, "--data", str(data), "--out", str(out)]).exit_code == 0

    result = runner.invoke(app, ["validate", str(out), "--format", "json"])

    assert result.exit_code == 0, result.output
    assert etree.QName(parse_xml(out.read_bytes()).getroot()).localname == "CertificateOfOrigin"


def test_issue_as_issuer_signs_what_it_builds(tmp_path: Path) -> None:
    """`ptx issue TYPE --data F --as ISSUER` signs the validated document; `ptx verify` accepts it."""
    workspace = tmp_path / "ws"
    assert runner.invoke(app, ["init", "--workspace", str(workspace)]).exit_code == 0
    doc_type = default_catalogue().get("certificate-of-origin")
    assert doc_type.input_example is not None
    out = tmp_path / "coo.xml"
    result = runner.invoke(app, ["issue", doc_type.id, "--data", str(doc_type.input_example), "--as",
                                 "AA/chamber-of-commerce", "--workspace", str(workspace), "--out", str(out)])
    assert result.exit_code == 0, result.output
    root = parse_xml(out.read_bytes()).getroot()
    assert etree.QName(root[-1]).localname == "Signature"
    verified = runner.invoke(app, ["verify", str(out), "--workspace", str(workspace), "--format", "json"])
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.stdout)["verdict"] == "valid"
    wrong = runner.invoke(app, ["issue", doc_type.id, "--data", str(doc_type.input_example), "--as", "AA/nobody",
                                "--workspace", str(workspace)])
    assert wrong.exit_code == 2
