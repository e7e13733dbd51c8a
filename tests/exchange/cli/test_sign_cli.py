"""`ptx sign`, `ptx verify`, `ptx inspect`: exit codes 0/1/2, JSON shape, every trust source, one real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from exchange.cli import app
from tests.support.needs import require

runner = CliRunner()
AT = "2030-01-15T12:00:00Z"
SOON = "2030-01-15T13:00:00Z"
AFTER_REVOCATION = "2030-01-15T15:00:00Z"
SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"
COO_SAMPLE = SCHEMAS / "certificate-of-origin" / "samples" / "valid" / "basic.xml"
DECLARATION = b"<CustomsDeclaration xmlns='urn:ptx:trade:CustomsDeclaration:1'><ID>D-1</ID></CustomsDeclaration>"


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sign-cli") / "ws"
    result = runner.invoke(app, ["init", "--workspace", str(path), "--at", AT, "--countries", "AA,BB,CC",
                                 "--agreements", "AA-BB"])
    assert result.exit_code == 0, result.output
    return path


def _sign(ws: Path, tmp_path: Path, issuer: str, source: Path = COO_SAMPLE, name: str = "doc.xml") -> Path:
    document = tmp_path / name
    document.write_bytes(source.read_bytes() if source.exists() else DECLARATION)
    result = runner.invoke(app, ["sign", str(document), "--as", issuer, "--workspace", str(ws)])
    assert result.exit_code == 0, result.output
    signed = document.with_name(document.name.removesuffix(".xml") + ".signed.xml")
    assert signed.is_file() and f"-> {signed}" in result.stdout
    return signed


def _verify(*args: str) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(app, ["verify", *args, "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


def _codes(report: dict[str, Any], severity: str = "error") -> list[str]:
    return [finding["code"] for finding in report["findings"] if finding["severity"] == severity]


def test_sign_as_issuer_then_verify_as_the_receiver(ws: Path, tmp_path: Path) -> None:
    signed = _sign(ws, tmp_path, "AA Chamber of Commerce")
    code, report = _verify(str(signed), "--workspace", str(ws), "--receiver", "BB", "--as-of", SOON)
    assert code == 0
    assert report["verdict"] == "valid" and report["findings"] == []
    assert report["document_type"] == "certificate-of-origin" and report["scheme"] == "AA"
    assert report["signer"]["subject"].startswith("CN=AA Chamber of Commerce")
    assert [c["subject"].split(",")[0] for c in report["chain"]] == [
        "CN=AA Chamber of Commerce", "CN=AA Issuing CA", "CN=AA Root CA"
    ]
    text = runner.invoke(app, ["verify", str(signed), "--workspace", str(ws), "--receiver", "BB", "--as-of", SOON])
    assert text.exit_code == 0 and "VALID" in text.stdout and "ECDSA_SHA256" in text.stdout


def test_sign_with_key_and_certificate_files(ws: Path, tmp_path: Path) -> None:
    document = tmp_path / "declaration.xml"
    document.write_bytes(DECLARATION)
    customs = ws / "AA" / "authorities"
    out = tmp_path / "declaration-signed.xml"
    leaf_only = tmp_path / "leaf.pem"
    leaf_only.write_bytes((customs / "customs.pem").read_bytes().split(b"-----END CERTIFICATE-----")[0]
                          + b"-----END CERTIFICATE-----\n")
    result = runner.invoke(app, ["sign", str(document), "--key", str(customs / "customs.key"), "--cert",
                                 str(leaf_only), "--chain", str(ws / "AA" / "pki" / "issuing-ca.pem"),
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().count(b"<ds:X509Certificate>") == 2
    code, report = _verify(str(out), "--workspace", str(ws), "--receiver", "BB", "--as-of", SOON)
    assert code == 0 and report["document_type"] == "customs-declaration"


def test_sign_usage_errors(ws: Path, tmp_path: Path) -> None:
    document = tmp_path / "d.xml"
    document.write_bytes(DECLARATION)
    for args in (
        ["sign", str(document)],
        ["sign", str(document), "--as", "AA Customs", "--key", "k.pem", "--workspace", str(ws)],
        ["sign", str(tmp_path / "absent.xml"), "--as", "AA Customs", "--workspace", str(ws)],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, args
        assert result.stderr.startswith("ptx: ")


def test_sign_to_stdout(ws: Path, tmp_path: Path) -> None:
    document = tmp_path / "d.xml"
    document.write_bytes(DECLARATION)
    result = runner.invoke(app, ["sign", str(document), "--as", "BB/customs", "--workspace", str(ws), "--out", "-"])
    assert result.exit_code == 0
    assert result.stdout_bytes.startswith(b"<?xml") and b"<ds:Signature" in result.stdout_bytes


# --- refusals through the command line -----------------------------------------------------------------


def test_tampered_document_exits_1(ws: Path, tmp_path: Path) -> None:
    signed = _sign(ws, tmp_path, "AA Chamber of Commerce")
    original = signed.read_bytes()
    signed.write_bytes(original.replace(b"<ID>AA-COO-2026-000184</ID>", b"<ID>AA-COO-2026-000185</ID>"))
    assert signed.read_bytes() != original
    code, report = _verify(str(signed), "--workspace", str(ws), "--receiver", "BB", "--as-of", SOON)
    assert code == 1 and report["verdict"] == "invalid"
    assert _codes(report) == ["SIG-DIGEST-MISMATCH"]


def test_plant_protection_issuer_cannot_issue_a_certificate_of_origin(ws: Path, tmp_path: Path) -> None:
    signed = _sign(ws, tmp_path, "AA NPPO")
    code, report = _verify(str(signed), "--workspace", str(ws), "--receiver", "BB", "--as-of", SOON)
    assert code == 1 and _codes(report) == ["TRUST-ISSUER-NOT-AUTHORISED"]


def test_third_country_nobody_recognises(ws: Path, tmp_path: Path) -> None:
    signed = _sign(ws, tmp_path, "CC Customs", source=tmp_path / "none", name="cc.xml")
    code, report = _verify(str(signed), "--workspace", str(ws), "--receiver", "BB", "--as-of", SOON)
    assert code == 1 and _codes(report) == ["TRUST-NOT-RECOGNISED"]


def test_declared_type_is_checked_against_the_issuer(ws: Path, tmp_path: Path) -> None:
    signed = _sign(ws, tmp_path, "AA Chamber of Commerce")
    code, report = _verify(str(signed), "--workspace", str(ws), "--receiver", "BB", "--as-of", SOON,
                           "--type", "phytosanitary-certificate")
    assert code == 1 and _codes(report) == ["DOCTYPE-MISMATCH", "TRUST-ISSUER-NOT-AUTHORISED"]


def test_revoked_issuer_after_ptx_pki_revoke(tmp_path: Path) -> None:
    ws = tmp_path / "revoking"
    assert runner.invoke(app, ["init", "--workspace", str(ws), "--at", AT]).exit_code == 0
    signed = _sign(ws, tmp_path, "AA Chamber of Commerce")
    assert _verify(str(signed), "--workspace", str(ws), "--receiver", "BB", "--as-of", SOON)[0] == 0
    revoked = runner.invoke(app, ["pki", "revoke", "AA Chamber of Commerce", "--workspace", str(ws),
                                  "--at", "2030-01-15T14:00:00Z"])
    assert revoked.exit_code == 0, revoked.output
    code, report = _verify(str(signed), "--workspace", str(ws), "--receiver", "BB", "--as-of", AFTER_REVOCATION)
    assert code == 1 and _codes(report) == ["TRUST-CERT-REVOKED"]
    code, report = _verify(str(signed), "--workspace", str(ws), "--receiver", "BB", "--as-of", SOON)
    assert code == 0 and _codes(report, "warning") == ["TRUST-CERT-REVOKED"]  # before the revocation


def test_trust_list_and_anchor_from_the_command_line(ws: Path, tmp_path: Path) -> None:
    signed = _sign(ws, tmp_path, "AA Chamber of Commerce")
    listing, anchor = ws / "AA" / "trust-list.xml", ws / "AA" / "pki" / "root.pem"
    code, report = _verify(str(signed), "--trust-list", str(listing), "--trust-anchor", str(anchor), "--as-of", SOON)
    assert code == 0 and report["scheme"] == "AA"
    # a trust list needs the anchor it must be signed under
    result = runner.invoke(app, ["verify", str(signed), "--trust-list", str(listing), "--as-of", SOON])
    assert result.exit_code == 2 and "--trust-anchor" in result.stderr
    # and trust comes from one place only
    result = runner.invoke(app, ["verify", str(signed), "--trust-anchor", str(anchor), "--workspace", str(ws)])
    assert result.exit_code == 2


def test_expired_trust_list_exits_1(ws: Path, tmp_path: Path) -> None:
    signed = _sign(ws, tmp_path, "AA Chamber of Commerce")
    listing, anchor = ws / "AA" / "trust-list.xml", ws / "AA" / "pki" / "root.pem"
    code, report = _verify(str(signed), "--trust-list", str(listing), "--trust-anchor", str(anchor),
                           "--as-of", "2030-06-01T00:00:00Z")
    assert code == 1 and "TRUST-LIST-EXPIRED" in _codes(report)


def test_badly_signed_trust_list_exits_2(ws: Path, tmp_path: Path) -> None:
    signed = _sign(ws, tmp_path, "AA Chamber of Commerce")
    forged = tmp_path / "forged.xml"
    forged.write_bytes((ws / "AA" / "trust-list.xml").read_bytes().replace(b"phytosanitary-certificate",
                                                                          b"certificate-of-origin"))
    result = runner.invoke(app, ["verify", str(signed), "--trust-list", str(forged), "--trust-anchor",
                                 str(ws / "AA" / "pki" / "root.pem"), "--as-of", SOON])
    assert result.exit_code == 2
    assert result.stderr.startswith("ptx: TRUST-LIST-SIGNATURE:")


def test_bare_anchor_for_integrators(ws: Path, tmp_path: Path) -> None:
    signed = _sign(ws, tmp_path, "AA NPPO")
    anchor = ws / "AA" / "pki" / "root.pem"
    code, report = _verify(str(signed), "--trust-anchor", str(anchor), "--as-of", SOON)
    assert code == 1 and _codes(report) == ["TRUST-REVOCATION-UNKNOWN", "TRUST-REVOCATION-UNKNOWN"]
    code, report = _verify(str(signed), "--trust-anchor", str(anchor), "--crl", str(ws / "AA" / "pki" / "root.crl"),
                           "--crl", str(ws / "AA" / "pki" / "issuing-ca.crl"), "--as-of", SOON)
    assert code == 0 and _codes(report, "info") == ["TRUST-AUTHORISATION-UNCHECKED"]
    code, report = _verify(str(signed), "--trust-anchor", str(anchor), "--allow-unknown-revocation", "--as-of", SOON)
    assert code == 0
    code, report = _verify(str(signed), "--trust-anchor", str(ws / "BB" / "pki" / "root.pem"), "--as-of", SOON)
    assert code == 1 and _codes(report) == ["TRUST-CHAIN-UNTRUSTED"]


def test_inspect_describes_without_trusting(ws: Path, tmp_path: Path) -> None:
    signed = _sign(ws, tmp_path, "AA Chamber of Commerce")
    result = runner.invoke(app, ["inspect", str(signed), "--as-of", "2035-01-01T00:00:00Z", "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["document_type"] == "certificate-of-origin"
    (signature,) = report["signatures"]
    assert signature["position"].startswith("last child of the root")
    assert signature["signature_method"].endswith("#ecdsa-sha256")
    assert signature["covers"] == ["the whole document except this signature element"]
    assert signature["references"][0]["transforms"] == [
        "http://www.w3.org/2000/09/xmldsig#enveloped-signature", "http://www.w3.org/2001/10/xml-exc-c14n#"
    ]
    assert report["signature_check"]["valid"] is True
    assert [(c["name"], c["validity_at_moment"]) for c in report["keyinfo_chain"]] == [
        ("AA Chamber of Commerce", "expired"), ("AA Issuing CA", "valid")
    ]
    text = runner.invoke(app, ["inspect", str(signed)])
    assert text.exit_code == 0 and "KeyInfo chain (untrusted until `ptx verify`" in text.stdout


def test_inspect_unsigned_and_malformed(tmp_path: Path) -> None:
    result = runner.invoke(app, ["inspect", str(COO_SAMPLE), "--format", "json"])
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["signatures"] == [] and report["signature_check"]["findings"][0]["code"] == "SIG-MISSING"
    broken = tmp_path / "broken.xml"
    broken.write_bytes(b"<a><b></a>")
    result = runner.invoke(app, ["inspect", str(broken)])
    assert result.exit_code == 2 and result.stderr.startswith("ptx: XML-MALFORMED:")


def test_the_real_ptx_command(ws: Path, tmp_path: Path) -> None:
    signed = _sign(ws, tmp_path, "AA NPPO")
    ptx = Path(sys.executable).parent / "ptx"
    common = [str(signed), "--workspace", str(ws), "--receiver", "BB", "--as-of", SOON, "--format", "json"]
    refused = subprocess.run([str(ptx), "verify", *common], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1
    assert [f["code"] for f in json.loads(refused.stdout)["findings"]] == ["TRUST-ISSUER-NOT-AUTHORISED"]
    claimed = subprocess.run([str(ptx), "verify", *common, "--type", "phytosanitary-certificate"],
                             capture_output=True, text=True, timeout=60)
    assert claimed.returncode == 1  # the signed root is a certificate of origin, whatever the claim
    assert [f["code"] for f in json.loads(claimed.stdout)["findings"]] == ["DOCTYPE-MISMATCH"]
    usage = subprocess.run([str(ptx), "verify", str(signed), "--as-of", "soon"], capture_output=True, text=True,
                           timeout=60)
    assert usage.returncode == 2 and usage.stderr.startswith("ptx: INPUT-INVALID:")


@pytest.mark.parametrize("key_type", ["ec-p256", "rsa-2048"])
def test_xmlsec1_verifies_with_the_anchor_ptx_prints(tmp_path: Path, key_type: str) -> None:
    """The integrator story: `ptx trust anchor AA` is all xmlsec1 needs to verify AA's documents."""
    executable = str(require("xmlsec1"))
    ws = tmp_path / "ws"
    assert runner.invoke(app, ["init", "--workspace", str(ws), "--key-type", key_type]).exit_code == 0
    signed = _sign(ws, tmp_path, "AA Customs", source=tmp_path / "none", name="declaration.xml")
    anchors = {}
    for country in ("AA", "BB"):
        anchors[country] = tmp_path / f"{country}.pem"
        assert runner.invoke(app, ["trust", "anchor", country, "--workspace", str(ws), "--out",
                                   str(anchors[country])]).exit_code == 0
    empty = tmp_path / "empty-bundle.pem"
    empty.write_bytes(b"")
    environment = {**os.environ, "SSL_CERT_FILE": str(empty), "SSL_CERT_DIR": str(tmp_path)}

    def xmlsec1(anchor: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([executable, "--verify", "--trusted-pem", str(anchor), str(signed)],
                              capture_output=True, text=True, timeout=60, env=environment)

    assert xmlsec1(anchors["AA"]).returncode == 0
    assert xmlsec1(anchors["BB"]).returncode != 0
