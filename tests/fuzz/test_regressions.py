"""Inputs the fuzzers once crashed on, replayed on every run: each must give findings, never an exception.

``tests/data/fuzz-regressions/<name>.xml``: the input as the target saw it (the harness's first byte, which picks
the target, removed).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from exchange._dsig import verify_signature

REGRESSIONS = Path(__file__).resolve().parents[1] / "data" / "fuzz-regressions"


def test_a_keyinfo_certificate_whose_name_cryptography_refuses_is_keyinfo_invalid() -> None:
    """A trust list whose KeyInfo certificate has a BitString name attribute under another OID: cryptography raises
    TypeError (not ValueError) when the name is read; found by fuzz/run.py on a fresh machine."""
    data = (REGRESSIONS / "keyinfo-name-bitstring.xml").read_bytes()
    result = verify_signature(data)
    assert not result.valid and result.signed_content is None
    assert "SIG-KEYINFO-INVALID" in result.codes


@pytest.mark.parametrize("path", sorted(REGRESSIONS.glob("*.xml")), ids=lambda p: p.name)
def test_every_regression_input_is_refused_with_codes(path: Path) -> None:
    result = verify_signature(path.read_bytes())
    assert not result.valid and result.codes


def test_a_keyinfo_certificate_with_an_impossible_version_is_keyinfo_invalid() -> None:
    """An envelope whose KeyInfo certificate says version 10: cryptography raises InvalidVersion (not ValueError);
    found by fuzz/run.py in CI."""
    result = verify_signature((REGRESSIONS / "keyinfo-certificate-version-10.xml").read_bytes())
    assert not result.valid and "SIG-KEYINFO-INVALID" in result.codes


def test_a_keyinfo_certificate_with_an_unknown_signature_algorithm_is_keyinfo_invalid() -> None:
    """An envelope whose KeyInfo carries AA's issuing CA with 1.2.840.10232.4.3.2 for its signature algorithm:
    cryptography loads it, asn1crypto (path validation) raised ValueError in sender authentication; found by
    fuzz/run.py in CI. KeyInfo now refuses a certificate that path validation cannot read."""
    result = verify_signature((REGRESSIONS / "keyinfo-certificate-unknown-signature-algorithm.xml").read_bytes())
    assert not result.valid and result.signed_content is None
    assert "SIG-KEYINFO-INVALID" in result.codes
