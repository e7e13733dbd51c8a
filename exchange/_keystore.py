"""Private keys at rest: the one key-store interface every key the project opens or writes goes through.

A key is named by a *reference*. The one store implemented, :class:`FileKeyStore`, takes the path of a PEM file
(what the workspace index names, ``AA/authorities/single-window.key``). Callers use it without knowing it:
``load_private_key_file`` (:mod:`exchange._pki`; the workspace's credentials, ``ptx sign --key``) is
``key_store().load(path)``, :meth:`Credential.write <exchange._pki.Credential.write>` stores through it, and the
TLS keys go to ``ssl`` through :meth:`KeyStore.load_cert_chain` (the services' HTTPS servers and their httpx
clients, :mod:`exchange._tls`).

**Encrypted keys.** A file key is PKCS#8 PEM, plain (``PRIVATE KEY``, mode 0600: the demo's) or encrypted
(``ENCRYPTED PRIVATE KEY``): PBES2 (RFC 8018) with scrypt (RFC 7914 section 7: N = 2^14, r = 8, p = 1, a fresh
16-byte salt) and AES-256-CBC. Not cryptography's ``BestAvailableEncryption``: for PKCS#8 it derives the key with
2,048 rounds of PBKDF2-SHA256 (cryptography 50), cheap to guess, and it offers no encryption builder for PKCS#8.
Not a costlier scrypt: OpenSSL 3.0 (the ``ssl`` module, ``openssl pkcs8``) refuses to open a PKCS#8 key whose
scrypt needs more than 32 MiB, and TLS keys are opened by OpenSSL; these are OpenSSL's own ``-scrypt`` costs
(16 MiB and about 60 ms a guess here). The encoding is ours, the primitives are cryptography's, and the result
is checked by decrypting it before anything is written; loading accepts any encryption cryptography reads.
A passphrase is only as strong as it is long: use a long random one.

**The passphrase** (:mod:`exchange._passphrase`) comes from ``PTX_KEY_PASSPHRASE``, else from the prompt a
command line installed (``use_prompt``; ``ptx`` does when stdin is a terminal), asked once per process and only
when an encrypted key is opened; else there is none, and an encrypted key is refused with
``KEY-PASSPHRASE-REQUIRED``. It is never read from a file, never logged, never part of an error message. A
wrong one is ``KEY-PASSPHRASE-WRONG``, a key file that cannot be read ``KEY-UNREADABLE`` (the message names the
file, always).

**Stores.** ``PTX_KEY_STORE`` chooses the store by scheme: ``file`` (the default, and the only one). A PKCS#11
(HSM) store would register in :data:`STORES` under ``pkcs11`` (its setting an RFC 7512 URI naming the module and
the token), map the same references to token objects and implement the three methods: ``load`` returning a key
object whose ``sign`` runs in the token, ``store`` importing or generating in it, ``load_cert_chain`` through an
OpenSSL provider. The callers above would not change.
"""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol

from asn1crypto import core
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import padding, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from exchange._errors import Code, ConfigurationError, TrustError
from exchange._passphrase import PASSPHRASE_ENV, Passphrase, configured_passphrase, no_passphrase

if TYPE_CHECKING:
    import ssl

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
#: A reference to a key: for the file store, its path.
KeyReference = str | os.PathLike[str]

STORE_ENV = "PTX_KEY_STORE"

#: scrypt costs of the keys this store encrypts (see the module docstring for why not more).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
_ENCRYPTED_LABEL = b"ENCRYPTED PRIVATE KEY"


def _required(source: str) -> ConfigurationError:
    return ConfigurationError(
        f"{source} is encrypted and no passphrase is set: set {PASSPHRASE_ENV} (or run the command on a terminal "
        "to be asked for it)", code=Code.KEY_PASSPHRASE_REQUIRED,
    )


# --- encoding and decoding ---------------------------------------------------------------------------------


class _AlgorithmIdentifier(core.Sequence):
    _fields = [("algorithm", core.ObjectIdentifier), ("parameters", core.Any, {"optional": True})]


class _ScryptParams(core.Sequence):
    """RFC 7914 section 7.1 scrypt-params."""

    _fields = [
        ("salt", core.OctetString), ("cost_parameter", core.Integer), ("block_size", core.Integer),
        ("parallelization_parameter", core.Integer), ("key_length", core.Integer, {"optional": True}),
    ]


class _Pbes2Params(core.Sequence):
    _fields = [("key_derivation_func", _AlgorithmIdentifier), ("encryption_scheme", _AlgorithmIdentifier)]


class _EncryptedPrivateKeyInfo(core.Sequence):
    _fields = [("encryption_algorithm", _AlgorithmIdentifier), ("encrypted_data", core.OctetString)]


_PBES2 = "1.2.840.113549.1.5.13"
_SCRYPT = "1.3.6.1.4.1.11591.4.11"
_AES256_CBC = "2.16.840.1.101.3.4.1.42"


def _encrypt(key: PrivateKey, passphrase: bytes) -> bytes:
    """``key`` as an encrypted PKCS#8 PEM: PBES2, scrypt, AES-256-CBC."""
    salt, iv = os.urandom(16), os.urandom(16)
    derived = Scrypt(salt=salt, length=32, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P).derive(passphrase)
    padder = padding.PKCS7(128).padder()
    plain = padder.update(
        key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    ) + padder.finalize()
    encryptor = Cipher(algorithms.AES(derived), modes.CBC(iv)).encryptor()
    scheme = _Pbes2Params({
        "key_derivation_func": {"algorithm": _SCRYPT, "parameters": _ScryptParams({
            "salt": salt, "cost_parameter": SCRYPT_N, "block_size": SCRYPT_R, "parallelization_parameter": SCRYPT_P,
            "key_length": 32,
        })},
        "encryption_scheme": {"algorithm": _AES256_CBC, "parameters": core.OctetString(iv)},
    })
    info = _EncryptedPrivateKeyInfo({
        "encryption_algorithm": {"algorithm": _PBES2, "parameters": scheme},
        "encrypted_data": encryptor.update(plain) + encryptor.finalize(),
    })
    body = base64.encodebytes(info.dump()).replace(b"\n", b"")
    lines = [body[index:index + 64] for index in range(0, len(body), 64)]
    return b"\n".join([b"-----BEGIN " + _ENCRYPTED_LABEL + b"-----", *lines, b"-----END " + _ENCRYPTED_LABEL + b"-----", b""])


def encode_private_key(key: PrivateKey, passphrase: bytes | None) -> bytes:
    """PKCS#8 PEM of ``key``: encrypted under ``passphrase`` (decrypted again and compared before it is returned),
    plain without one."""
    if passphrase is None:
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    data = _encrypt(key, passphrase)
    if not _same_key(_decrypt(data, passphrase), key):  # pragma: no cover - a fault of the encoder itself
        raise ConfigurationError("an encrypted key did not decrypt to itself; nothing written", code=Code.PKI_INVALID)
    return data


def _same_key(first: PrivateKey, second: PrivateKey) -> bool:
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    encoding = serialization.Encoding.DER
    return bool(first.public_key().public_bytes(encoding, fmt) == second.public_key().public_bytes(encoding, fmt))


def _deserialize(data: bytes, password: bytes | None) -> object:
    if b"-----BEGIN" in data:
        return serialization.load_pem_private_key(data, password=password)
    return serialization.load_der_private_key(data, password=password)


@lru_cache(maxsize=128)
def _decrypt(data: bytes, passphrase: bytes) -> PrivateKey:
    """An encrypted key opened (remembered: a service opens its keys again and again, scrypt is slow on purpose).
    ``ValueError`` for a wrong passphrase; errors are not remembered."""
    key = _deserialize(data, passphrase)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise TypeError(type(key).__name__)
    return key


def is_encrypted(data: bytes) -> bool:
    """Whether ``data`` (PEM or DER) is a private key that needs a passphrase."""
    try:
        _deserialize(data, None)
    except TypeError:  # cryptography: "Password was not given but private key is encrypted"
        return True
    except (ValueError, UnsupportedAlgorithm):
        return False
    return False


def load_private_key(data: bytes, *, source: str = "input", passphrase: Passphrase = no_passphrase) -> PrivateKey:
    """A PEM (PKCS#8 or traditional) or DER private key; ECDSA and RSA only. An encrypted one is opened with
    ``passphrase`` (asked only then)."""
    try:
        if is_encrypted(data):
            secret = passphrase()
            if secret is None:
                raise _required(source)
            try:
                return _decrypt(data, secret)
            except ValueError as exc:
                raise ConfigurationError(
                    f"{source}: the passphrase does not open this encrypted key (wrong passphrase, or a damaged file)",
                    code=Code.KEY_PASSPHRASE_WRONG,
                ) from exc
        key = _deserialize(data, None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        # the message of these exceptions never contains key material
        raise TrustError(f"{source}: not a usable private key ({type(exc).__name__})", code=Code.PKI_INVALID) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise TrustError(f"{source}: only ECDSA and RSA keys are supported", code=Code.PKI_INVALID)
    return key


def write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` with secret bytes in one step, mode 0600 from the first byte on (not chmod after the fact):
    a reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read the key file {path}: {exc.strerror}", code=Code.KEY_UNREADABLE) from exc


# --- stores ------------------------------------------------------------------------------------------------


class KeyStore(Protocol):
    """Where private keys live. Every caller loads and stores keys through one of these (see the module docstring)."""

    scheme: ClassVar[str]

    def load(self, reference: KeyReference) -> PrivateKey:
        """The key ``reference`` names."""
        ...

    def store(self, reference: KeyReference, key: PrivateKey) -> None:
        """Keep ``key`` under ``reference``, replacing what was there in one step."""
        ...

    def load_cert_chain(self, context: ssl.SSLContext, certificate: Path, reference: KeyReference) -> None:
        """Give ``context`` the certificate chain (a PEM file) and the key ``reference`` names, for TLS."""
        ...


@dataclass(frozen=True, slots=True)
class FileKeyStore:
    """Keys as PKCS#8 PEM files, mode 0600. ``passphrase`` opens encrypted keys, and :meth:`store` encrypts under it
    when it gives one (plain otherwise). Immutable, safe to share."""

    passphrase: Passphrase = configured_passphrase
    scheme: ClassVar[str] = "file"

    def load(self, reference: KeyReference) -> PrivateKey:
        path = Path(reference)
        return load_private_key(_read(path), source=str(path), passphrase=self.passphrase)

    def store(self, reference: KeyReference, key: PrivateKey) -> None:
        write_private(Path(reference), encode_private_key(key, self.passphrase()))

    def is_encrypted(self, reference: KeyReference) -> bool:
        return is_encrypted(_read(Path(reference)))

    def load_cert_chain(self, context: ssl.SSLContext, certificate: Path, reference: KeyReference) -> None:
        """``ssl`` opens the file itself; the key is opened here first, so a missing or wrong passphrase is refused
        with its code and the file named, before OpenSSL sees it (``ssl.SSLError`` still for a bad chain)."""
        path = Path(reference)
        data = _read(path)
        secret = self.passphrase() if is_encrypted(data) else None
        load_private_key(data, source=str(path), passphrase=lambda: secret)
        context.load_cert_chain(certificate, path, password=secret)


#: The stores by scheme (the part of ``PTX_KEY_STORE`` before ``:``).
STORES: dict[str, Callable[[], KeyStore]] = {"file": FileKeyStore}


def key_store(setting: str | None = None) -> KeyStore:
    """The store ``setting`` (default ``$PTX_KEY_STORE``, else ``file``) names."""
    value = (setting if setting is not None else os.environ.get(STORE_ENV, "")).strip() or "file"
    scheme = value.split(":", 1)[0].lower()
    factory = STORES.get(scheme)
    if factory is None:
        raise ConfigurationError(
            f"{STORE_ENV}: no key store {scheme!r} (available: {', '.join(sorted(STORES))})", code=Code.CONFIG_INVALID
        )
    return factory()


def load_private_key_file(path: KeyReference) -> PrivateKey:
    """The private key at ``path``, through the configured key store."""
    return key_store().load(path)


# --- protecting and unprotecting files in place ----------------------------------------------------------


def protect_files(paths: Iterable[Path], passphrase: bytes) -> tuple[Path, ...]:
    """Encrypt each plain key file under ``passphrase``, in place. Every file is read first and nothing is written
    if one fails (an encrypted one must open with ``passphrase``: one passphrase per folder); then each plain one
    is replaced in one step, mode 0600. The files changed."""
    files = list(paths)
    plain = _open_all(files, lambda: passphrase, want_encrypted=False)
    encrypting = FileKeyStore(passphrase=lambda: passphrase)
    for path, key in plain:
        encrypting.store(path, key)
    return tuple(path for path, _ in plain)


def unprotect_files(paths: Iterable[Path], passphrase: Passphrase) -> tuple[Path, ...]:
    """Decrypt each encrypted key file, in place, as :func:`protect_files` (all opened first). The files changed."""
    encrypted = _open_all(list(paths), passphrase, want_encrypted=True)
    plain = FileKeyStore(passphrase=no_passphrase)
    for path, key in encrypted:
        plain.store(path, key)
    return tuple(path for path, _ in encrypted)


def _open_all(paths: Sequence[Path], passphrase: Passphrase, *, want_encrypted: bool) -> list[tuple[Path, PrivateKey]]:
    """Open every key (so a bad one stops everything before a write); those whose encryption is ``want_encrypted``."""
    chosen = []
    for path in paths:
        data = _read(path)
        key = load_private_key(data, source=str(path), passphrase=passphrase)
        if is_encrypted(data) == want_encrypted:
            chosen.append((path, key))
    return chosen


__all__ = [
    "SCRYPT_N",
    "SCRYPT_P",
    "SCRYPT_R",
    "STORES",
    "STORE_ENV",
    "FileKeyStore",
    "KeyReference",
    "KeyStore",
    "PrivateKey",
    "encode_private_key",
    "is_encrypted",
    "key_store",
    "load_private_key",
    "load_private_key_file",
    "protect_files",
    "unprotect_files",
    "write_private",
]
