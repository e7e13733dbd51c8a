"""Signed JSON documents (exchange._signed): structure refusals with their codes."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest

from exchange._errors import Code, TrustError
from exchange._pki import build_country_pki, demo_country
from exchange._signed import AGREEMENT_CODES, COUNTRY_HEADER, parse
from tests.support.certificates import with_version

KIND = "ptx-agreement+json"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_an_x5c_certificate_cryptography_cannot_load_is_refused_with_the_documents_code() -> None:
    """A version-9 certificate in x5c: cryptography raises InvalidVersion, not ValueError (found in review)."""
    pki = build_country_pki(demo_country("CC"), moment=dt.datetime(2030, 1, 15, tzinfo=dt.UTC))
    der = with_version(pki.node.certificate, 9)
    protected = {"alg": "ES256", "typ": KIND, COUNTRY_HEADER: "CC", "x5c": [base64.b64encode(der).decode()]}
    data = json.dumps({"payload": _b64url(b"{}"), "signatures": [
        {"protected": _b64url(json.dumps(protected).encode()), "signature": _b64url(b"\0" * 64)}]}).encode()
    with pytest.raises(TrustError) as raised:
        parse(data, kind=KIND, codes=AGREEMENT_CODES)
    assert raised.value.code is Code.AGREEMENT_INVALID
    assert "readable x5c" in raised.value.message
