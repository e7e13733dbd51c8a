"""Private keys at rest (exchange._keystore): plain and encrypted PKCS#8 files through one key-store interface, the
passphrase from PTX_KEY_PASSPHRASE or a prompt, the refusals with their codes, and TLS with encrypted keys."""

from __future__ import annotations

import base64
import datetime as dt
import os
import ssl
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from asn1crypto import keys as asn1_keys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from exchange._errors import Code, ConfigurationError, TrustError
from exchange._keystore import (
    SCRYPT_N,
    SCRYPT_P,
    SCRYPT_R,
    STORES,
    FileKeyStore,
    KeyReference,
    KeyStore,
    PrivateKey,
    encode_private_key,
    is_encrypted,
    key_store,
    protect_files,
    unprotect_files,
)
from exchange._passphrase import PASSPHRASE_ENV, no_passphrase, use_prompt
from exchange._pki import GatewayPki, build_gateway_pki, load_private_key_file
from exchange._tls import TlsMaterial

MOMENT = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)  # TLS handshakes below run on the real clock
SECRET = "correct horse battery staple"


@pytest.fixture(scope="module")
def pki() -> GatewayPki:
    return build_gateway_pki(moment=MOMENT)


@pytest.fixture(autouse=True)
def no_ambient_passphrase(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(PASSPHRASE_ENV, raising=False)
    monkeypatch.delenv("PTX_KEY_STORE", raising=False)
    use_prompt(None)
    yield
    use_prompt(None)


def same(first: PrivateKey, second: PrivateKey) -> bool:
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    return bool(first.public_key().public_bytes(serialization.Encoding.DER, fmt)
                == second.public_key().public_bytes(serialization.Encoding.DER, fmt))


def encrypted_file(tmp_path: Path, key: PrivateKey, name: str = "k.key", secret: str = SECRET) -> Path:
    path = tmp_path / name
    FileKeyStore(passphrase=lambda: secret.encode()).store(path, key)
    return path


# --- round trips --------------------------------------------------------------------------------------------


def test_a_plain_key_round_trips_as_pkcs8_mode_0600_whatever_the_umask(tmp_path: Path, pki: GatewayPki) -> None:
    previous = os.umask(0)
    try:
        FileKeyStore(passphrase=no_passphrase).store(tmp_path / "keys" / "signer.key", pki.signer.key)
    finally:
        os.umask(previous)
    path = tmp_path / "keys" / "signer.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert same(FileKeyStore().load(path), pki.signer.key)
    assert not FileKeyStore().is_encrypted(path)


def test_an_encrypted_key_is_pbes2_scrypt_aes256_and_opens_with_its_passphrase(tmp_path: Path, pki: GatewayPki,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    previous = os.umask(0)
    try:
        path = encrypted_file(tmp_path, pki.signer.key)
    finally:
        os.umask(previous)
    data = path.read_bytes()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----") and is_encrypted(data)
    plain = pki.signer.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption())
    der = base64.b64decode(b"".join(data.splitlines()[1:-1]))
    assert plain not in der and SECRET.encode() not in data
    info = asn1_keys.EncryptedPrivateKeyInfo.load(der)
    algorithm = info["encryption_algorithm"]
    assert algorithm["algorithm"].dotted == "1.2.840.113549.1.5.13"  # PBES2
    kdf = algorithm["parameters"]["key_derivation_func"]
    assert kdf["algorithm"].dotted == "1.3.6.1.4.1.11591.4.11"  # scrypt, not 2,048 rounds of PBKDF2
    scrypt = kdf["parameters"].parse()  # asn1crypto knows no scrypt: read the parameters by position
    assert [scrypt[1].native, scrypt[2].native, scrypt[3].native] == [SCRYPT_N, SCRYPT_R, SCRYPT_P]
    assert len(scrypt[0].native) == 16
    assert algorithm["parameters"]["encryption_scheme"]["algorithm"].native == "aes256_cbc"
    monkeypatch.setenv(PASSPHRASE_ENV, SECRET)
    assert same(load_private_key_file(path), pki.signer.key), "the callers' function opens it"
    assert encrypted_file(tmp_path, pki.signer.key, "again.key").read_bytes() != data, "a fresh salt each time"


def test_keys_encrypted_elsewhere_load_too(tmp_path: Path, pki: GatewayPki, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "best.key"
    path.write_bytes(pki.ca.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.BestAvailableEncryption(SECRET.encode())))
    monkeypatch.setenv(PASSPHRASE_ENV, SECRET)
    assert same(load_private_key_file(path), pki.ca.key)


# --- refusals ------------------------------------------------------------------------------------------------


def test_an_encrypted_key_without_a_passphrase_is_refused_naming_the_file(tmp_path: Path, pki: GatewayPki) -> None:
    path = encrypted_file(tmp_path, pki.signer.key)
    with pytest.raises(ConfigurationError) as raised:
        load_private_key_file(path)
    assert raised.value.code is Code.KEY_PASSPHRASE_REQUIRED
    assert str(path) in raised.value.message and PASSPHRASE_ENV in raised.value.message


def test_an_empty_passphrase_is_no_passphrase(tmp_path: Path, pki: GatewayPki, monkeypatch: pytest.MonkeyPatch) -> None:
    path = encrypted_file(tmp_path, pki.signer.key)
    monkeypatch.setenv(PASSPHRASE_ENV, "")
    with pytest.raises(ConfigurationError) as raised:
        load_private_key_file(path)
    assert raised.value.code is Code.KEY_PASSPHRASE_REQUIRED


def test_a_wrong_passphrase_is_refused_and_never_shown(tmp_path: Path, pki: GatewayPki,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path = encrypted_file(tmp_path, pki.signer.key)
    monkeypatch.setenv(PASSPHRASE_ENV, SECRET)
    assert same(load_private_key_file(path), pki.signer.key)  # opened once: remembered for this passphrase only
    monkeypatch.setenv(PASSPHRASE_ENV, "Tr0ub4dor&3")
    with pytest.raises(ConfigurationError) as raised:
        load_private_key_file(path)
    assert raised.value.code is Code.KEY_PASSPHRASE_WRONG
    assert str(path) in str(raised.value)
    assert "Tr0ub4dor" not in str(raised.value) and SECRET not in str(raised.value)


def test_a_damaged_encrypted_key_does_not_open(tmp_path: Path, pki: GatewayPki, monkeypatch: pytest.MonkeyPatch) -> None:
    path = encrypted_file(tmp_path, pki.signer.key)
    lines = path.read_bytes().splitlines()
    der = bytearray(base64.b64decode(b"".join(lines[1:-1])))
    der[-5] ^= 0x01  # inside the ciphertext
    body = base64.encodebytes(bytes(der))
    path.write_bytes(lines[0] + b"\n" + body + lines[-1] + b"\n")
    monkeypatch.setenv(PASSPHRASE_ENV, SECRET)
    with pytest.raises(ConfigurationError) as raised:
        load_private_key_file(path)
    assert raised.value.code is Code.KEY_PASSPHRASE_WRONG


def test_a_key_file_that_cannot_be_read_is_key_unreadable(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_private_key_file(tmp_path / "missing.key")
    assert raised.value.code is Code.KEY_UNREADABLE and "missing.key" in raised.value.message


def test_a_file_that_is_no_key_stays_pki_invalid(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    path.write_bytes(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(TrustError) as raised:
        load_private_key_file(path)
    assert raised.value.code is Code.PKI_INVALID


# --- where the passphrase comes from ---------------------------------------------------------------------------


def test_the_prompt_is_asked_once_and_only_for_an_encrypted_key(tmp_path: Path, pki: GatewayPki) -> None:
    plain = tmp_path / "plain.key"
    FileKeyStore(passphrase=no_passphrase).store(plain, pki.ca.key)
    first, second = encrypted_file(tmp_path, pki.signer.key, "a.key"), encrypted_file(tmp_path, pki.ca.key, "b.key")
    asked: list[int] = []

    def ask() -> str:
        asked.append(1)
        return SECRET

    use_prompt(ask)
    load_private_key_file(plain)
    assert asked == [], "a plain key asks for nothing"
    assert same(load_private_key_file(first), pki.signer.key)
    assert same(load_private_key_file(second), pki.ca.key)
    assert asked == [1]


def test_the_environment_wins_over_the_prompt(tmp_path: Path, pki: GatewayPki, monkeypatch: pytest.MonkeyPatch) -> None:
    path = encrypted_file(tmp_path, pki.signer.key)
    use_prompt(lambda: pytest.fail("asked although PTX_KEY_PASSPHRASE is set"))
    monkeypatch.setenv(PASSPHRASE_ENV, SECRET)
    assert same(load_private_key_file(path), pki.signer.key)


# --- one interface, stores by setting ------------------------------------------------------------------------------


class MemoryStore:
    """A stand-in for a later PKCS#11 store: what the callers open goes through it."""

    scheme: ClassVar[str] = "memory"
    held: ClassVar[dict[str, PrivateKey]] = {}
    opened: ClassVar[list[str]] = []

    def load(self, reference: KeyReference) -> PrivateKey:
        self.opened.append(Path(reference).name)
        return self.held[Path(reference).name]

    def store(self, reference: KeyReference, key: PrivateKey) -> None:
        self.held[Path(reference).name] = key

    def load_cert_chain(self, context: ssl.SSLContext, certificate: Path, reference: KeyReference) -> None:
        raise NotImplementedError


def test_the_store_is_chosen_by_setting_and_callers_go_through_it(monkeypatch: pytest.MonkeyPatch,
                                                                  pki: GatewayPki) -> None:
    store: KeyStore = FileKeyStore()
    assert isinstance(key_store(), FileKeyStore) and store.scheme == "file"
    monkeypatch.setitem(STORES, "memory", MemoryStore)
    monkeypatch.setenv("PTX_KEY_STORE", "memory:slot=1")
    MemoryStore().store("/nowhere/signer.key", pki.signer.key)
    assert same(load_private_key_file("/nowhere/signer.key"), pki.signer.key)
    assert MemoryStore.opened == ["signer.key"]


def test_an_unknown_store_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PTX_KEY_STORE", "pkcs11:token=ptx")
    with pytest.raises(ConfigurationError) as raised:
        load_private_key_file(tmp_path / "k.key")
    assert raised.value.code is Code.CONFIG_INVALID and "'pkcs11'" in raised.value.message


# --- protecting files in place -------------------------------------------------------------------------------


def test_protect_then_unprotect_in_place(tmp_path: Path, pki: GatewayPki) -> None:
    paths = []
    for name, credential in (("ca.key", pki.ca), ("signer.key", pki.signer), ("tls.key", pki.tls_server)):
        path = tmp_path / name
        credential.write_key(path)
        paths.append(path)
    assert protect_files(paths[:1], SECRET.encode()) == (paths[0],)
    assert protect_files(paths, SECRET.encode()) == tuple(paths[1:]), "an encrypted key is left as it is"
    assert all(is_encrypted(path.read_bytes()) and stat.S_IMODE(path.stat().st_mode) == 0o600 for path in paths)
    assert unprotect_files(paths, lambda: SECRET.encode()) == tuple(paths)
    assert [same(FileKeyStore(passphrase=no_passphrase).load(path), credential.key)
            for path, credential in zip(paths, (pki.ca, pki.signer, pki.tls_server), strict=True)] == [True] * 3
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in paths)


def test_protect_writes_nothing_when_one_key_does_not_open(tmp_path: Path, pki: GatewayPki) -> None:
    plain = tmp_path / "plain.key"
    pki.ca.write_key(plain)
    other = encrypted_file(tmp_path, pki.signer.key, "other.key", secret="another passphrase")
    before = plain.read_bytes(), other.read_bytes()
    with pytest.raises(ConfigurationError) as raised:
        protect_files([plain, other], SECRET.encode())
    assert raised.value.code is Code.KEY_PASSPHRASE_WRONG, "one passphrase per folder"
    assert (plain.read_bytes(), other.read_bytes()) == before
    with pytest.raises(ConfigurationError) as raised:
        unprotect_files([plain, other], lambda: SECRET.encode())
    assert raised.value.code is Code.KEY_PASSPHRASE_WRONG
    assert (plain.read_bytes(), other.read_bytes()) == before


def test_encoding_checks_what_it_wrote(pki: GatewayPki) -> None:
    data = encode_private_key(pki.signer.key, SECRET.encode())
    assert is_encrypted(data)
    assert not is_encrypted(encode_private_key(pki.signer.key, None))
    assert not is_encrypted(b"not a key at all")


# --- TLS with encrypted keys ---------------------------------------------------------------------------------------


def tls_material(tmp_path: Path, pki: GatewayPki, *, encrypted: bool) -> TlsMaterial:
    """The gateway's server and client certificates; keys encrypted under SECRET when ``encrypted``."""
    store = FileKeyStore(passphrase=(lambda: SECRET.encode()) if encrypted else no_passphrase)
    for name, credential in (("server", pki.tls_server), ("client", pki.tls_client)):
        credential.write(tmp_path / f"{name}.key", tmp_path / f"{name}.pem", keys=store)
    ca = pki.ca.certificate_pem().decode()
    return TlsMaterial(cert=tmp_path / "server.pem", key=tmp_path / "server.key", client_ca=ca,
                       client_cert=tmp_path / "client.pem", client_key=tmp_path / "client.key", server_ca=ca)


def handshake(server: ssl.SSLContext, client: ssl.SSLContext) -> bytes:
    """A full TLS handshake in memory; the DER certificate the server saw from the client."""
    server_in, server_out, client_in, client_out = (ssl.MemoryBIO() for _ in range(4))
    tls_server = server.wrap_bio(server_in, server_out, server_side=True)
    tls_client = client.wrap_bio(client_in, client_out, server_hostname="localhost")
    done = {"server": False, "client": False}
    for _ in range(20):
        for name, side in (("client", tls_client), ("server", tls_server)):
            if not done[name]:
                try:
                    side.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        server_in.write(client_out.read())
        client_in.write(server_out.read())
        if all(done.values()):
            break
    assert all(done.values()), done
    return tls_server.getpeercert(binary_form=True) or b""


def test_mutual_tls_with_encrypted_keys_on_both_sides(tmp_path: Path, pki: GatewayPki,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    material = tls_material(tmp_path, pki, encrypted=True)
    assert is_encrypted((tmp_path / "server.key").read_bytes()) and is_encrypted((tmp_path / "client.key").read_bytes())
    monkeypatch.setenv(PASSPHRASE_ENV, SECRET)
    client = material.client_context()
    assert client is not None
    seen = handshake(material.server_context(), client)
    assert seen == pki.tls_client.certificate.public_bytes(serialization.Encoding.DER)


def test_tls_with_an_encrypted_key_and_no_or_a_wrong_passphrase_is_refused(tmp_path: Path, pki: GatewayPki,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    material = tls_material(tmp_path, pki, encrypted=True)
    with pytest.raises(ConfigurationError) as raised:
        material.server_context()
    assert raised.value.code is Code.KEY_PASSPHRASE_REQUIRED and "server.key" in raised.value.message
    monkeypatch.setenv(PASSPHRASE_ENV, "not it")
    with pytest.raises(ConfigurationError) as raised:
        material.client_context()
    assert raised.value.code is Code.KEY_PASSPHRASE_WRONG and "client.key" in raised.value.message


def test_plain_tls_keys_need_no_passphrase(tmp_path: Path, pki: GatewayPki) -> None:
    material = tls_material(tmp_path, pki, encrypted=False)
    client = material.client_context()
    assert client is not None
    assert handshake(material.server_context(), client)


def test_openssl_itself_opens_what_the_store_wrote(tmp_path: Path, pki: GatewayPki) -> None:
    """ssl (OpenSSL) reads the file, not the store: the encoding is standard PKCS#8 that OpenSSL decrypts."""
    tls_material(tmp_path, pki, encrypted=True)
    cert, key = tmp_path / "server.pem", tmp_path / "server.key"
    ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key, password=SECRET)
    with pytest.raises(ssl.SSLError):
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key, password="wrong")


def test_a_generated_key_is_not_confused_with_another(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    path = encrypted_file(tmp_path, key)
    assert same(FileKeyStore(passphrase=lambda: SECRET.encode()).load(path), key)
    assert not same(FileKeyStore(passphrase=lambda: SECRET.encode()).load(path), ec.generate_private_key(ec.SECP256R1()))
