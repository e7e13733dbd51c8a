"""`ptx schemas list | show | add` and `ptx demo` (for now: the catalogue samples, expected vs actual)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from exchange.cli import app

REPO = Path(__file__).resolve().parents[3]
EXTRA = REPO / "tests" / "data" / "extra-types"
runner = CliRunner()


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PTX_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.delenv("PTX_CATALOGUE", raising=False)
    return tmp_path / "ws"


def extra_type() -> Path:
    return next(p for p in sorted(EXTRA.iterdir()) if (p / "manifest.yaml").is_file())


def test_list_shows_the_trade_documents() -> None:
    result = runner.invoke(app, ["schemas", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for type_id in ("certificate-of-origin", "phytosanitary-certificate", "commercial-invoice", "customs-declaration"):
        assert type_id in result.output


def test_show_lists_rules_and_samples() -> None:
    result = runner.invoke(app, ["schemas", "show", "certificate-of-origin"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "urn:ptx:trade:CertificateOfOrigin:1" in result.output
    assert "Business rules" in result.output and "COO-" in result.output
    assert "samples/valid/basic.xml" in result.output


def test_show_unknown_type_exits_2() -> None:
    result = runner.invoke(app, ["schemas", "show", "nope"])
    assert result.exit_code == 2
    assert "DOCTYPE-UNKNOWN" in result.output


def test_add_checks_and_installs_a_type(workspace: Path) -> None:
    folder = extra_type()
    result = runner.invoke(app, ["schemas", "add", str(folder)])
    assert result.exit_code == 0, result.output
    installed = workspace / "schemas"
    [target] = [p for p in installed.iterdir()]
    assert (target / "manifest.yaml").is_file()
    listed = runner.invoke(app, ["schemas", "list"], env={"COLUMNS": "200"})
    assert target.name in listed.output
    sample = next((target / "samples" / "valid").glob("*.xml"))
    validated = runner.invoke(app, ["validate", str(sample), "--format", "json"])
    assert validated.exit_code == 0, validated.output
    assert json.loads(validated.stdout)["results"][0]["document_type"] == target.name
    again = runner.invoke(app, ["schemas", "add", str(folder)])
    assert again.exit_code == 2 and "--force" in again.output
    assert runner.invoke(app, ["schemas", "add", str(folder), "--force"]).exit_code == 0


def test_add_refuses_a_folder_whose_samples_lie(workspace: Path, tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    shutil.copytree(extra_type(), folder)
    manifest = (folder / "manifest.yaml").read_text()
    (folder / "manifest.yaml").write_text(manifest.replace("expect: invalid", "expect: valid"))
    result = runner.invoke(app, ["schemas", "add", str(folder)])
    assert result.exit_code == 1
    assert "expected valid" in result.output
    assert not (workspace / "schemas").exists()


def test_add_refuses_a_clash_with_a_builtin_type(workspace: Path, tmp_path: Path) -> None:
    folder = tmp_path / "clash"
    shutil.copytree(REPO / "schemas" / "certificate-of-origin", folder)
    result = runner.invoke(app, ["schemas", "add", str(folder)])
    assert result.exit_code == 2 and "CATALOGUE-DUPLICATE" in result.output


def test_add_reports_a_bad_manifest(tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "manifest.yaml").write_text("id: x\n")
    result = runner.invoke(app, ["schemas", "add", str(folder)])
    assert result.exit_code == 2 and "CATALOGUE-MANIFEST-INVALID" in result.output


def test_check_plays_every_sample_and_all_match(workspace: Path) -> None:
    result = runner.invoke(app, ["schemas", "check", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["matched"] == summary["total"] >= 24
    invalid = [row for row in summary["samples"] if row["expected"].startswith("invalid")]
    assert all(row["actual"].startswith("invalid") and row["why"] for row in invalid)
