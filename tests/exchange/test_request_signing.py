"""Reads signed with a node key (exchange/_request_signing.py): RFC 9421 round trips, what each change breaks,
freshness on an explicit clock, one use per nonce, and each kind of node key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from exchange._errors import ConfigurationError
from exchange._request_signing import MAX_AGE, SKEW, NonceMemory, algorithm_for, sign_request, verify_request

MOMENT = datetime(2026, 11, 4, 9, 0, tzinfo=UTC)
URL = "http://gateway.test:8000/v1/messages/ephyto%3AAA%3A42?view=full"


def certificate_for(key: object) -> x509.Certificate:
    """A self-issued certificate carrying ``key``'s public half (only the public key matters here)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "AA Single Window")])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
               .public_key(key.public_key()).serial_number(1)  # type: ignore[attr-defined]
               .not_valid_before(MOMENT - timedelta(days=1)).not_valid_after(MOMENT + timedelta(days=1)))
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(key, algorithm)  # type: ignore[arg-type]


KEYS = {
    "ec-p256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "ec-p384": lambda: ec.generate_private_key(ec.SECP384R1()),
    "rsa-2048": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "ed25519": ed25519.Ed25519PrivateKey.generate,
}


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def check(headers: dict[str, str], key: object, *, method: str = "GET", url: str = URL, moment: datetime = MOMENT,
          nonces: NonceMemory | None = None, registered: str = "AA") -> object:
    certificate = certificate_for(key)
    return verify_request(method, url, list(headers.items()),
                          certificate_of=lambda party: certificate if party == registered else None,
                          moment=moment, nonces=nonces or NonceMemory())


@pytest.mark.parametrize("kind", list(KEYS))
def test_each_kind_of_node_key_signs_and_verifies(kind: str) -> None:
    key = KEYS[kind]()
    headers = sign_request("GET", URL, party="AA", key=key, moment=MOMENT)  # type: ignore[arg-type]
    assert 'tag="ptx-gateway-read"' in headers["Signature-Input"] and 'keyid="AA"' in headers["Signature-Input"]
    result = check(headers, key)
    assert result.verified and result.party == "AA", result  # type: ignore[attr-defined]


def test_the_algorithm_comes_from_the_key() -> None:
    assert algorithm_for(KEYS["ec-p256"]()).algorithm_id == "ecdsa-p256-sha256"
    assert algorithm_for(KEYS["rsa-2048"]().public_key()).algorithm_id == "rsa-pss-sha512"
    with pytest.raises(ConfigurationError):
        algorithm_for(ec.generate_private_key(ec.SECP521R1()))


CHANGES = {
    "method": {"method": "DELETE"},
    "path": {"url": URL.replace("%3A42", "%3A43")},
    "query": {"url": URL.replace("view=full", "view=all")},
    "authority": {"url": URL.replace("gateway.test:8000", "gateway.test:8001")},
}


@pytest.mark.parametrize("what", list(CHANGES))
def test_every_covered_component_counts(key: ec.EllipticCurvePrivateKey, what: str) -> None:
    headers = sign_request("GET", URL, party="AA", key=key, moment=MOMENT)
    result = check(headers, key, **CHANGES[what])  # type: ignore[arg-type]
    assert result.present and not result.verified and "does not verify" in result.problem  # type: ignore[attr-defined]


def test_a_request_without_a_signature_is_not_present(key: ec.EllipticCurvePrivateKey) -> None:
    result = check({}, key)
    assert not result.present and not result.verified  # type: ignore[attr-defined]


def test_an_unregistered_keyid_and_a_missing_tag_are_refused(key: ec.EllipticCurvePrivateKey) -> None:
    headers = sign_request("GET", URL, party="ZZ", key=key, moment=MOMENT)
    assert "no single-window node" in check(headers, key).problem  # type: ignore[attr-defined]
    untagged = {name: value.replace(';tag="ptx-gateway-read"', "") for name, value in
                sign_request("GET", URL, party="AA", key=key, moment=MOMENT).items()}
    assert "tagged" in check(untagged, key).problem  # type: ignore[attr-defined]
    garbage = {"Signature-Input": "ptx=(((", "Signature": "ptx=:AAAA:"}
    assert check(garbage, key).present and not check(garbage, key).verified  # type: ignore[attr-defined]


@pytest.mark.parametrize(("offset", "fresh"), [
    (timedelta(0), True), (MAX_AGE + SKEW, True), (MAX_AGE + SKEW + timedelta(seconds=1), False),
    (-SKEW, True), (-SKEW - timedelta(seconds=1), False),
])
def test_freshness_on_the_verifiers_clock(key: ec.EllipticCurvePrivateKey, offset: timedelta, fresh: bool) -> None:
    headers = sign_request("GET", URL, party="AA", key=key, moment=MOMENT)
    result = check(headers, key, moment=MOMENT + offset)
    assert result.verified is fresh, result  # type: ignore[attr-defined]


def test_a_nonce_counts_once_until_its_signature_is_stale(key: ec.EllipticCurvePrivateKey) -> None:
    memory = NonceMemory()
    headers = sign_request("GET", URL, party="AA", key=key, moment=MOMENT, nonce="n-1")
    assert check(headers, key, nonces=memory).verified  # type: ignore[attr-defined]
    assert "replayed" in check(headers, key, nonces=memory, moment=MOMENT + timedelta(seconds=5)).problem  # type: ignore[attr-defined]
    later = sign_request("GET", URL, party="AA", key=key, moment=MOMENT + timedelta(minutes=5), nonce="n-2")
    assert check(later, key, nonces=memory, moment=MOMENT + timedelta(minutes=5)).verified  # type: ignore[attr-defined]
    assert len(memory._until) == 1, "the stale nonce was forgotten"


def test_nonce_memory_stays_bounded() -> None:
    memory = NonceMemory(limit=3)
    for index in range(10):
        assert memory.first_use("AA", f"n-{index}", until=MOMENT + timedelta(minutes=1), moment=MOMENT)
    assert len(memory._until) == 3
