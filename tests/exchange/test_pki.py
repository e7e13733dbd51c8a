"""The demo PKI (exchange._pki): shape of each country's hierarchy, extensions per role, CRLs, key files.

Everything is built at a pinned moment from the declarative spec in exchange._pki.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from exchange._errors import Code, ConfigurationError, TrustError
from exchange._pki import (
    TSL_SIGNING,
    AuthoritySpec,
    CountryPki,
    CountrySpec,
    KeyType,
    Role,
    build_country_pki,
    build_gateway_pki,
    crl_number,
    crl_signed_by,
    demo_country,
    generate_key,
    load_certificates,
    load_private_key,
    make_crl,
    renew_crl,
    revocations,
    revoke,
    write_private,
)

MOMENT = dt.datetime(2030, 1, 15, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def aa() -> CountryPki:
    return build_country_pki(demo_country("AA"), moment=MOMENT)


def _ext(certificate: x509.Certificate, kind: type[x509.ExtensionType]) -> x509.Extension[x509.ExtensionType]:
    return certificate.extensions.get_extension_for_class(kind)


def test_country_hierarchy_is_root_issuing_ca_then_authorities(aa: CountryPki) -> None:
    root, issuing = aa.root.certificate, aa.issuing_ca.certificate
    assert root.issuer == root.subject
    assert issuing.issuer == root.subject
    assert _ext(root, x509.BasicConstraints).value.path_length == 1
    assert _ext(issuing, x509.BasicConstraints).value.path_length == 0
    assert set(aa.authorities) == {"chamber-of-commerce", "nppo", "customs", "single-window"}
    for credential in aa.authorities.values():
        assert credential.certificate.issuer == issuing.subject
        assert credential.chain == (issuing,)
        assert credential.signing_chain == (credential.certificate, issuing)
    assert aa.trust_list_signer.certificate.issuer == root.subject
    assert aa.trust_list_signer.chain == ()
    assert aa.node.name == "AA Single Window"


def test_document_signers_have_critical_key_usage_and_are_not_cas(aa: CountryPki) -> None:
    for slug in ("chamber-of-commerce", "nppo", "customs"):
        certificate = aa.authority(slug).certificate
        usage = _ext(certificate, x509.KeyUsage)
        assert usage.critical
        assert usage.value.digital_signature and usage.value.content_commitment
        assert not usage.value.key_cert_sign and not usage.value.key_encipherment
        constraints = _ext(certificate, x509.BasicConstraints)
        assert constraints.critical and constraints.value.ca is False
        with pytest.raises(x509.ExtensionNotFound):
            _ext(certificate, x509.ExtendedKeyUsage)
    assert isinstance(aa.authority("nppo").key, ec.EllipticCurvePrivateKey)
    assert aa.authority("nppo").key.curve.name == "secp256r1"


def test_trust_list_signer_carries_the_etsi_usage(aa: CountryPki) -> None:
    assert list(_ext(aa.trust_list_signer.certificate, x509.ExtendedKeyUsage).value) == [TSL_SIGNING]


def test_tls_certificates_validate_as_web_pki_for_localhost(aa: CountryPki) -> None:
    store = Store([aa.root.certificate])
    server = aa.tls_server
    assert list(_ext(server.certificate, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.SERVER_AUTH]
    for subject in (x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))):
        path = PolicyBuilder().store(store).time(MOMENT).build_server_verifier(subject).verify(
            server.certificate, list(server.chain)
        )
        assert path[-1] == aa.root.certificate
    with pytest.raises(VerificationError):
        PolicyBuilder().store(store).time(MOMENT).build_server_verifier(x509.DNSName("example.org")).verify(
            server.certificate, list(server.chain)
        )
    client = PolicyBuilder().store(store).time(MOMENT).build_client_verifier().verify(
        aa.tls_client.certificate, list(aa.tls_client.chain)
    )
    assert client.chain[0] == aa.tls_client.certificate
    assert list(_ext(aa.tls_client.certificate, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_rsa_option() -> None:
    pki = build_country_pki(demo_country("BB", key_type=KeyType.RSA_2048), moment=MOMENT)
    key = pki.authority("customs").key
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    assert isinstance(pki.root.key, rsa.RSAPrivateKey)


def test_validity_offsets_build_expired_and_future_authorities_under_a_valid_ca() -> None:
    spec = CountrySpec(
        code="AA",
        name="Country AA",
        authorities=(
            AuthoritySpec("old", "AA Old", ("certificate-of-origin",), valid_from=dt.timedelta(days=-400),
                          valid_for=dt.timedelta(days=365)),
            AuthoritySpec("new", "AA New", ("certificate-of-origin",), valid_from=dt.timedelta(days=30)),
            AuthoritySpec("node", "AA Node", ("envelope",), role=Role.NODE),
        ),
    )
    pki = build_country_pki(spec, moment=MOMENT)
    old, new = pki.authority("old").certificate, pki.authority("new").certificate
    assert old.not_valid_after_utc < MOMENT
    assert new.not_valid_before_utc > MOMENT
    for ca in (pki.root.certificate, pki.issuing_ca.certificate):
        assert ca.not_valid_before_utc <= old.not_valid_before_utc
        assert ca.not_valid_after_utc >= new.not_valid_after_utc


def test_key_usage_override_for_a_misconfigured_signer() -> None:
    spec = CountrySpec(
        code="AA", name="Country AA",
        authorities=(
            AuthoritySpec("wrong", "AA Wrong", ("certificate-of-origin",), key_usage_bits=("key_encipherment",)),
            AuthoritySpec("node", "AA Node", ("envelope",), role=Role.NODE),
        ),
    )
    usage = _ext(build_country_pki(spec, moment=MOMENT).authority("wrong").certificate, x509.KeyUsage).value
    assert usage.key_encipherment and not usage.digital_signature


@pytest.mark.parametrize(
    ("code", "authorities"),
    [
        ("aa", None),
        ("AAA", None),
        ("AA", ()),  # no node
    ],
)
def test_spec_is_checked(code: str, authorities: tuple[AuthoritySpec, ...] | None) -> None:
    with pytest.raises(ConfigurationError) as raised:
        CountrySpec(code=code, name="x", authorities=authorities if authorities is not None else
                    demo_country("AA").authorities)
    assert raised.value.code is Code.PKI_INVALID


def test_naive_moment_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        build_country_pki(demo_country("AA"), moment=dt.datetime(2030, 1, 1))  # noqa: DTZ001


def test_crls_start_empty_and_revoke_adds_entry_with_next_number(aa: CountryPki) -> None:
    assert crl_signed_by(aa.issuing_ca_crl, aa.issuing_ca.certificate)
    assert not crl_signed_by(aa.issuing_ca_crl, aa.root.certificate)
    assert revocations(aa.issuing_ca_crl) == ()
    assert crl_number(aa.issuing_ca_crl) == 1
    victim = aa.authority("nppo").certificate
    later = MOMENT + dt.timedelta(hours=2)
    crl = revoke(aa.issuing_ca_crl, aa.issuing_ca, victim, moment=later, reason=x509.ReasonFlags.key_compromise)
    assert crl_number(crl) == 2
    assert crl.last_update_utc == later
    entry = crl.get_revoked_certificate_by_serial_number(victim.serial_number)
    assert entry is not None and entry.revocation_date_utc == later
    assert revocations(crl)[0].reason is x509.ReasonFlags.key_compromise
    again = revoke(crl, aa.issuing_ca, victim, moment=later + dt.timedelta(hours=1))
    assert len(revocations(again)) == 1 and crl_number(again) == 3
    renewed = renew_crl(again, aa.issuing_ca, moment=later + dt.timedelta(days=1))
    assert crl_number(renewed) == 4 and revocations(renewed) == revocations(again)


def test_revoke_refuses_a_certificate_of_another_ca(aa: CountryPki) -> None:
    with pytest.raises(TrustError) as raised:
        revoke(aa.root_crl, aa.root, aa.authority("nppo").certificate, moment=MOMENT)
    assert raised.value.code is Code.PKI_INVALID
    other = build_country_pki(demo_country("BB"), moment=MOMENT)
    forged = make_crl(other.issuing_ca, this_update=MOMENT, next_update=MOMENT + dt.timedelta(days=1), number=9)
    assert not crl_signed_by(forged, aa.issuing_ca.certificate)


def test_private_keys_are_written_0600_whatever_the_umask(tmp_path: Path, aa: CountryPki) -> None:
    previous = os.umask(0)
    try:
        aa.root.write(tmp_path / "keys" / "root.key", tmp_path / "certs" / "root.pem")
        write_private(tmp_path / "other.key", b"secret")
    finally:
        os.umask(previous)
    for name in ("keys/root.key", "other.key"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    assert load_certificates((tmp_path / "certs" / "root.pem").read_bytes()) == (aa.root.certificate,)
    loaded = load_private_key((tmp_path / "keys" / "root.key").read_bytes())
    assert loaded.public_key().public_numbers() == aa.root.key.public_key().public_numbers()


def test_credential_repr_never_shows_key_material(aa: CountryPki) -> None:
    text = repr(aa.authority("customs"))
    assert "key=" not in text and "PRIVATE" not in text
    assert "Credential(" in text


def test_unusable_material_is_a_pki_error() -> None:
    with pytest.raises(TrustError) as raised:
        load_certificates(b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    assert raised.value.code is Code.PKI_INVALID
    with pytest.raises(TrustError) as raised:
        load_private_key(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", source="k.pem")
    assert raised.value.code is Code.PKI_INVALID
    assert "AAAA" not in str(raised.value)


def test_gateway_identity_is_its_own_ca() -> None:
    gateway = build_gateway_pki(moment=MOMENT)
    assert gateway.ca.certificate.issuer == gateway.ca.certificate.subject
    assert gateway.signer.certificate.issuer == gateway.ca.certificate.subject
    path = PolicyBuilder().store(Store([gateway.ca.certificate])).time(MOMENT).build_server_verifier(
        x509.DNSName("localhost")
    ).verify(gateway.tls_server.certificate, [])
    assert path[-1] == gateway.ca.certificate
    assert crl_signed_by(gateway.crl, gateway.ca.certificate)


def test_generate_key_types() -> None:
    assert isinstance(generate_key(KeyType.EC_P256), ec.EllipticCurvePrivateKey)
    key = generate_key(KeyType.RSA_3072)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 3072
