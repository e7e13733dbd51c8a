"""`ptx verify` says which trust it used: the workspace view, one receiving country, or what the command line gave.

Without trust options ``ptx verify FILE`` trusts every country's own trust list in ``$PTX_WORKSPACE`` or
``./workspace``; that is the workshop's habit, so it stays, but never silently: the text output and the JSON name
the folder, the view and each recognised list (and what it is recognised for), so a reader sees what "valid" rests on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from exchange.cli import app

runner = CliRunner()
AT = "2030-01-15T12:00:00Z"
SOON = "2030-01-15T13:00:00Z"
SAMPLE = Path(__file__).resolve().parents[3] / "schemas" / "certificate-of-origin" / "samples" / "valid" / "basic.xml"


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("verify-trust") / "workspace"
    result = runner.invoke(app, ["init", "--workspace", str(path), "--at", AT, "--countries", "AA,BB,CC",
                                 "--agreements", "AA-BB"])
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture(scope="module")
def signed(ws: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    document = tmp_path_factory.mktemp("verify-trust-doc") / "coo.xml"
    document.write_bytes(SAMPLE.read_bytes())
    result = runner.invoke(app, ["sign", str(document), "--as", "AA Chamber of Commerce", "--workspace", str(ws)])
    assert result.exit_code == 0, result.output
    return document.with_name("coo.signed.xml")


def verify_json(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["verify", *args, "--as-of", SOON, "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_without_trust_options_the_workspace_view_is_named(
    ws: Path, signed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ws.parent)  # ./workspace, as a trainee types it
    monkeypatch.delenv("PTX_WORKSPACE", raising=False)
    report = verify_json(str(signed))
    assert report["verdict"] == "valid"
    trust = report["trust"]
    assert trust["source"] == "workspace" and trust["folder"] == str(ws.resolve())
    assert trust["view"] == "workspace" and trust["receiver"] is None
    assert [(r["country"], r["basis"], r["document_types"]) for r in trust["recognised"]] == [
        ("AA", "workspace (AA)", None), ("BB", "workspace (BB)", None), ("CC", "workspace (CC)", None)
    ]
    assert trust["anchors"] == [] and trust["require_revocation"] is True

    text = runner.invoke(app, ["verify", str(signed), "--as-of", SOON])
    assert text.exit_code == 0, text.output
    line = next(line for line in text.stdout.splitlines() if line.strip().startswith("trust "))
    assert str(ws.resolve()) in line and "every country's own trust list" in line and "AA, BB, CC" in line
    assert "--receiver" in text.stdout  # how to narrow it


def test_as_one_receiving_country(ws: Path, signed: Path) -> None:
    trust = verify_json(str(signed), "--workspace", str(ws), "--receiver", "BB")["trust"]
    assert (trust["source"], trust["view"], trust["receiver"]) == ("workspace", "receiver", "BB")
    recognised = {r["country"]: r for r in trust["recognised"]}
    assert recognised["BB"]["basis"] == "BB's own trust list" and recognised["BB"]["document_types"] is None
    assert recognised["AA"]["basis"] == "agreement AA-BB" and "certificate-of-origin" in recognised["AA"]["document_types"]
    assert "CC" not in recognised and trust["known"] == ["CC"]


def test_from_the_command_line(ws: Path, signed: Path) -> None:
    listing, anchor = ws / "AA" / "trust-list.xml", ws / "AA" / "pki" / "root.pem"
    trust = verify_json(str(signed), "--trust-list", str(listing), "--trust-anchor", str(anchor))["trust"]
    assert (trust["source"], trust["folder"], trust["view"]) == ("command line", None, "given")
    [recognised] = trust["recognised"]
    assert recognised["country"] == "AA" and recognised["basis"] == "trust list trust-list.xml"
    assert trust["anchors"] == []  # the anchor signs the list given, so it is not a bare anchor
    bare = verify_json(str(signed), "--trust-anchor", str(anchor), "--allow-unknown-revocation")["trust"]
    assert bare["recognised"] == [] and [a["subject"] for a in bare["anchors"]] == ["CN=AA Root CA,O=Country AA trust scheme,C=AA"]
    assert bare["require_revocation"] is False
