"""`ptx init`, `ptx trust show|export|import|anchor|renew`, `ptx pki revoke`: the CLI contract, in process."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cryptography import x509
from typer.testing import CliRunner

from exchange._pki import fingerprint
from exchange._workspace import Workspace
from exchange.cli import app

runner = CliRunner()
AT = "2030-01-15T12:00:00Z"
LATER = "2030-01-15T14:00:00Z"
COO = b"<CertificateOfOrigin xmlns='urn:ptx:trade:CertificateOfOrigin:1'><ID>CO-1</ID></CertificateOfOrigin>"


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    result = runner.invoke(app, ["init", "--workspace", str(path), "--at", AT, "--countries", "AA,BB,CC",
                                 "--agreements", "AA-BB"])
    assert result.exit_code == 0, result.output
    return path


def test_init_reports_and_is_idempotent(ws: Path) -> None:
    index = Workspace.open(ws).index
    assert list(index.countries) == ["AA", "BB", "CC"]
    assert index.agreements == ("agreements/AA-BB.json",)
    assert stat.S_IMODE((ws / "AA" / "authorities" / "nppo.key").stat().st_mode) == 0o600
    before = (ws / "AA" / "trust-list.xml").read_bytes()
    again = runner.invoke(app, ["init", "--workspace", str(ws), "--at", LATER, "--countries", "AA,BB,CC"])
    assert again.exit_code == 0
    assert "nothing changed" in again.output
    assert (ws / "AA" / "trust-list.xml").read_bytes() == before
    forced = runner.invoke(app, ["init", "--workspace", str(ws), "--at", LATER, "--force"])
    assert forced.exit_code == 0 and "regenerated" in forced.output
    assert (ws / "AA" / "trust-list.xml").read_bytes() != before
    assert not (ws / "CC").exists()


def test_init_uses_ptx_workspace_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTX_WORKSPACE", str(tmp_path / "env-ws"))
    result = runner.invoke(app, ["init", "--at", AT])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "env-ws" / "workspace.yaml").is_file()


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["init", "--at", "2030-01-15T12:00:00"], "INPUT-INVALID"),  # no offset: time must be unambiguous
        (["init", "--at", "yesterday"], "INPUT-INVALID"),
        (["init", "--key-type", "dsa"], "INPUT-INVALID"),
        (["init", "--countries", "AA"], "INPUT-INVALID"),
        (["init", "--agreements", "AA+BB"], "INPUT-INVALID"),
    ],
)
def test_init_usage_errors_exit_2(tmp_path: Path, args: list[str], code: str) -> None:
    result = runner.invoke(app, [*args, "--workspace", str(tmp_path / "w")])
    assert result.exit_code == 2
    assert f"ptx: {code}:" in result.stderr


def test_trust_anchor_prints_the_root_pem(ws: Path) -> None:
    result = runner.invoke(app, ["trust", "anchor", "AA", "--workspace", str(ws)])
    assert result.exit_code == 0
    certificate = x509.load_pem_x509_certificate(result.stdout.encode())
    assert certificate == Workspace.open(ws).root("AA")
    assert fingerprint(certificate) in result.stderr
    assert "PRIVATE" not in result.output


def test_trust_export_is_byte_for_byte(ws: Path, tmp_path: Path) -> None:
    out = tmp_path / "aa.xml"
    result = runner.invoke(app, ["trust", "export", "aa", "--workspace", str(ws), "--out", str(out)])
    assert result.exit_code == 0
    assert out.read_bytes() == (ws / "AA" / "trust-list.xml").read_bytes()


def test_trust_show_json(ws: Path) -> None:
    result = runner.invoke(app, ["trust", "show", "AA", "--workspace", str(ws), "--as-of", LATER, "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    (aa,) = data["trust_lists"]
    assert aa["country"] == "AA" and aa["sequence_number"] == 1 and aa["current"] is True
    issuers = {issuer["name"]: issuer for issuer in aa["issuers"]}
    assert issuers["AA NPPO"]["granted"] == ["phytosanitary-certificate", "ephyto-sps-certificate"]
    assert issuers["AA Chamber of Commerce"]["revoked"] is False
    assert [crl["number"] for crl in aa["crls"]] == [1, 1]
    text = runner.invoke(app, ["trust", "show", "--workspace", str(ws), "--as-of", LATER], env={"COLUMNS": "200"})
    assert text.exit_code == 0 and "AA Chamber of Commerce" in text.stdout and "CC Customs" in text.stdout


def test_revoke_reissues_crl_and_trust_list(ws: Path) -> None:
    result = runner.invoke(app, ["pki", "revoke", "AA Chamber of Commerce", "--reason", "key-compromise",
                                 "--workspace", str(ws), "--at", LATER])
    assert result.exit_code == 0, result.output
    assert "CRL number 2" in result.stdout and "sequence 2" in result.stdout
    shown = json.loads(runner.invoke(app, ["trust", "show", "AA", "--workspace", str(ws), "--as-of", LATER,
                                           "--format", "json"]).stdout)
    issuers = {issuer["name"]: issuer for issuer in shown["trust_lists"][0]["issuers"]}
    assert issuers["AA Chamber of Commerce"]["revoked"] is True and issuers["AA NPPO"]["revoked"] is False
    assert shown["trust_lists"][0]["sequence_number"] == 2
    again = runner.invoke(app, ["pki", "revoke", "AA/chamber-of-commerce", "--workspace", str(ws), "--at", LATER])
    assert again.exit_code == 0 and "already revoked" in again.stdout


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["pki", "revoke", "DD Customs"], "INPUT-INVALID"),
        (["pki", "revoke", "nppo"], "INPUT-INVALID"),  # ambiguous: AA, BB and CC have one
        (["pki", "revoke", "AA NPPO", "--reason", "bored"], "INPUT-INVALID"),
        (["trust", "anchor", "ZZ"], "INPUT-INVALID"),
    ],
)
def test_pki_usage_errors_exit_2(ws: Path, args: list[str], code: str) -> None:
    result = runner.invoke(app, [*args, "--workspace", str(ws)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"ptx: {code}:")


def test_missing_workspace_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["trust", "show", "--workspace", str(tmp_path / "none")])
    assert result.exit_code == 2 and "run `ptx init` first" in result.stderr


def test_trust_import_needs_the_right_anchor(ws: Path, tmp_path: Path) -> None:
    far = tmp_path / "far"
    assert runner.invoke(app, ["init", "--workspace", str(far), "--at", AT, "--countries", "DD,EE"]).exit_code == 0
    listing = far / "DD" / "trust-list.xml"
    wrong = runner.invoke(app, ["trust", "import", str(listing), "--anchor", str(ws / "AA" / "pki" / "root.pem"),
                                "--workspace", str(ws), "--at", LATER])
    assert wrong.exit_code == 2 and "TRUST-NOT-RECOGNISED" in wrong.stderr
    right = runner.invoke(app, ["trust", "import", str(listing), "--anchor", str(far / "DD" / "pki" / "root.pem"),
                                "--workspace", str(ws), "--at", LATER])
    assert right.exit_code == 0, right.output
    assert "not recognised until an agreement names it" in right.stdout
    assert (ws / "trust" / "DD.xml").read_bytes() == listing.read_bytes()
    assert "DD" in Workspace.open(ws).index.imported


def test_trust_renew(ws: Path) -> None:
    result = runner.invoke(app, ["trust", "renew", "BB", "--workspace", str(ws), "--at", LATER])
    assert result.exit_code == 0 and "sequence 2" in result.stdout
