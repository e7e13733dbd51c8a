"""Requests signed with a node's key (RFC 9421 HTTP Message Signatures): how a node proves who reads.

A node reads the gateway's record of the messages it sent or received (status, receipt, rejection, envelope). With
mutual TLS its TLS client certificate says who it is; over plain HTTP (the demo, ``ptx up`` without ``--tls``)
nothing on the connection does, so the node signs each read with its node key, the key that signs its envelopes
and whose certificate the gateway already holds as the party's registered node. No new secret is distributed, and
the gateway decides on the same certificate (and its trust, revocation included) as for the envelopes it submits.

The standard is RFC 9421, through ``http-message-signatures`` (pyauth, by the author of signxml; maintained,
strict parsing of the structured fields, "see what is signed" results). This module fixes the profile:

==================  ============================================================================================
covered             ``@method``, ``@authority`` (host and port the node called), ``@path``, ``@query``
``keyid``           the party whose registered node key signed (``AA``)
``alg``             from the key: ``ecdsa-p256-sha256``, ``ecdsa-p384-sha384``, ``rsa-pss-sha512``, ``ed25519``;
                    the verifier takes the algorithm from the registered certificate, never from the request
``tag``             ``ptx-gateway-read`` (:data:`READ_TAG`): a signature made for something else does not count
``created``         the signer's clock in whole seconds; the verifier's clock is an explicit input
``nonce``           128 random bits, remembered by the verifier until the signature is stale
==================  ============================================================================================

Freshness: a signature counts from ``created - skew`` to ``created + max_age + skew`` (:data:`MAX_AGE` 60 s,
:data:`SKEW` 30 s for two machines whose clocks differ a little), so a captured request cannot be replayed later;
inside that window a :class:`NonceMemory` refuses the same nonce twice (per process: gateways sharing one database
do not share their memories, so a replay to another process inside the window would be answered; it reveals
nothing that the captured answer did not). The body is not covered: reads have none.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from http_message_signatures import (
    HTTPMessageSignaturesException,
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureAlgorithm,
    HTTPSignatureKeyResolver,
    algorithms,
)

from exchange._errors import Code, ConfigurationError

#: the application tag every read signature carries (RFC 9421 section 2.3)
READ_TAG = "ptx-gateway-read"
#: the components a read signature must cover
COVERED: tuple[str, ...] = ("@method", "@authority", "@path", "@query")
#: how long after ``created`` a signature still counts
MAX_AGE = timedelta(seconds=60)
#: how far the signer's clock may be ahead of or behind the verifier's
SKEW = timedelta(seconds=30)
#: the signature's label in Signature-Input and Signature (not covered by the signature; the tag is)
LABEL = "ptx"

SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey


def algorithm_for(key: Any) -> type[HTTPSignatureAlgorithm]:
    """The RFC 9421 algorithm of a node key (private or public); ``CONFIG-INVALID`` for any other kind of key."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if isinstance(key.curve, ec.SECP256R1):
            return algorithms.ECDSA_P256_SHA256
        if isinstance(key.curve, ec.SECP384R1):
            return algorithms.ECDSA_P384_SHA384
    elif isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return algorithms.RSA_PSS_SHA512
    elif isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return algorithms.ED25519
    raise ConfigurationError(f"a {type(key).__name__} cannot sign requests (RFC 9421 profile: ECDSA P-256/P-384, "
                             "RSA-PSS, Ed25519)", code=Code.CONFIG_INVALID)


class _Message:
    """What the library reads of a request: method, absolute URL, header field lines."""

    def __init__(self, method: str, url: str, headers: Iterable[tuple[str, str]]) -> None:
        self.method = method.upper()
        self.url = url
        self.headers = _Fields(headers)


class _Fields(dict[str, str]):
    """Header fields as the library wants them: ``items()`` gives every field line, repeated names included."""

    def __init__(self, lines: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__()
        self.lines = list(lines)

    def items(self) -> Any:
        return [*self.lines, *super().items()]


class _Keys(HTTPSignatureKeyResolver):
    """One key, for one call (no state shared between calls)."""

    def __init__(self, key_id: str, *, private: SigningKey | None = None, public: PublicKey | None = None) -> None:
        self.key_id = key_id
        self.private = private
        self.public = public

    def resolve_private_key(self, key_id: str) -> Any:
        if key_id != self.key_id or self.private is None:  # pragma: no cover - the signer asks for the one key
            raise KeyError(key_id)
        return self.private

    def resolve_public_key(self, key_id: str) -> Any:
        return self.public if key_id == self.key_id else None


class _Verifier(HTTPMessageVerifier):
    """The library's verifier with the time checks left to :func:`verify_request` (an explicit clock)."""

    require_created = True

    def validate_created_and_expires(self, sig_input: Any, max_age: Any = None) -> None:
        return None


def sign_request(method: str, url: str, *, party: str, key: SigningKey, moment: datetime,
                 nonce: str | None = None) -> dict[str, str]:
    """The ``Signature-Input`` and ``Signature`` headers of a read of ``url`` signed as ``party`` at ``moment``."""
    message = _Message(method, url, ())
    signer = HTTPMessageSigner(signature_algorithm=algorithm_for(key), key_resolver=_Keys(party, private=key))
    try:
        signer.sign(message, key_id=party, created=moment, nonce=nonce or secrets.token_urlsafe(16), label=LABEL,
                    tag=READ_TAG, covered_component_ids=COVERED)
    except HTTPMessageSignaturesException as exc:
        raise ConfigurationError(f"cannot sign a request to {url!r}: {exc}", code=Code.CONFIG_INVALID) from exc
    return {name: value for name, value in message.headers.items() if name.lower() in ("signature-input", "signature")}


@dataclass(frozen=True, slots=True)
class RequestSignatureCheck:
    """What a request's signature proves: the party whose registered node key signed it, or why it proves nothing.

    ``present`` says whether the request carried a signature at all (a request without one may still be
    identified otherwise, by its TLS client certificate); ``party`` and ``certificate`` are set only when it
    verified, fresh and unseen, with the key registered for ``party``.
    """

    present: bool
    party: str | None = None
    certificate: x509.Certificate | None = None
    problem: str | None = None

    @property
    def verified(self) -> bool:
        return self.party is not None


class NonceMemory:
    """The nonces of signatures seen, each kept until its signature is stale. Thread-safe.

    Only verified signatures are remembered, so its size is bounded by the honest nodes' request rate over
    ``MAX_AGE + SKEW``; ``limit`` bounds it anyway (the oldest are forgotten first; a forgotten nonce's signature
    is then refused only by its age).
    """

    def __init__(self, *, limit: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._until: dict[tuple[str, str], datetime] = {}
        self._limit = limit

    def first_use(self, party: str, nonce: str, *, until: datetime, moment: datetime) -> bool:
        """Remember ``nonce`` of ``party`` until ``until``; False when it was seen before."""
        with self._lock:
            for seen, expiry in list(self._until.items()):
                if expiry >= moment:
                    break  # insertion order: roughly oldest first
                del self._until[seen]
            key = (party, nonce)
            if key in self._until:
                return False
            if len(self._until) >= self._limit:
                del self._until[next(iter(self._until))]
            self._until[key] = until
            return True


def verify_request(
    method: str,
    url: str,
    headers: Iterable[tuple[str, str]],
    *,
    certificate_of: Callable[[str], x509.Certificate | Sequence[x509.Certificate] | None],
    moment: datetime,
    nonces: NonceMemory,
    max_age: timedelta = MAX_AGE,
    skew: timedelta = SKEW,
) -> RequestSignatureCheck:
    """Check the read signature of a request (``url`` absolute, as the server received it) at ``moment``.

    ``certificate_of`` gives the registered node certificate of a party, or the certificates in force during a
    renewal's overlap (None or empty: no such party); the one whose key verifies is answered. The caller decides
    whether that certificate can still be relied on (its trust, revocation): this checks the signature only.
    """
    lines = list(headers)
    names = {name.lower() for name, _ in lines}
    if "signature-input" not in names and "signature" not in names:
        return RequestSignatureCheck(present=False, problem="the request is not signed")

    def refused(problem: str, party: str | None = None) -> RequestSignatureCheck:
        return RequestSignatureCheck(present=True, problem=problem if party is None else f"{party}: {problem}")

    key_id = _key_id(lines)
    if key_id is None:
        return refused(f"the request carries no signature tagged {READ_TAG!r} with a keyid")
    registered = certificate_of(key_id)
    candidates = (registered,) if isinstance(registered, x509.Certificate) else tuple(registered or ())
    if not candidates:
        return refused(f"no single-window node is registered for keyid {key_id!r}")
    results: Any = None
    problem = "the signature value does not match"
    for certificate in candidates:  # a renewal overlaps the old and the new node key: either may have signed
        public_key = certificate.public_key()
        try:
            algorithm = algorithm_for(public_key)
        except ConfigurationError as exc:
            return refused(exc.message, key_id)
        verifier = _Verifier(signature_algorithm=algorithm, key_resolver=_Keys(key_id, public=public_key))  # type: ignore[arg-type]
        try:
            results = verifier.verify(_Message(method, url, lines), max_age=None, expect_tag=READ_TAG,
                                      require_components=COVERED)
            break
        except HTTPMessageSignaturesException as exc:
            problem = str(exc) or problem
    else:
        return refused(f"the signature does not verify with the registered node key: {problem}", key_id)
    if len(results) != 1:
        return refused(f"expected one signature tagged {READ_TAG!r}, found {len(results)}", key_id)
    parameters = results[0].parameters
    created, nonce = parameters.get("created"), parameters.get("nonce")
    if parameters.get("keyid") != key_id or not isinstance(created, int) or not isinstance(nonce, str) or not nonce:
        return refused("the signature must carry keyid, created and a nonce", key_id)
    signed_at = _moment(created)
    if signed_at is None:
        return refused(f"created {created} is not a moment", key_id)
    if signed_at > moment + skew:
        return refused(f"the signature was made at {signed_at.isoformat()}, after {moment.isoformat()} "
                       f"(more than {int(skew.total_seconds())} s ahead)", key_id)
    stale_at = signed_at + max_age + skew
    if moment > stale_at:
        return refused(f"the signature was made at {signed_at.isoformat()}: stale after "
                       f"{int((max_age + skew).total_seconds())} s (a captured request is not replayed)", key_id)
    expires = parameters.get("expires")
    if isinstance(expires, int) and ((ends := _moment(expires)) is None or ends + skew < moment):
        return refused("the signature has expired", key_id)
    if not nonces.first_use(key_id, nonce, until=stale_at, moment=moment):
        return refused("this signature's nonce was used before: a replayed request", key_id)
    return RequestSignatureCheck(present=True, party=key_id, certificate=certificate)


def _moment(seconds: int) -> datetime | None:
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _key_id(lines: list[tuple[str, str]]) -> str | None:
    """The keyid of the read signature (tag :data:`READ_TAG`) in Signature-Input, to choose the key by; the
    library verifies that the signature covers it. None when there is no single such signature."""
    import http_sf

    value = ", ".join(field for name, field in lines if name.lower() == "signature-input")
    try:
        parsed: Any = http_sf.parse(value.encode("latin-1"), tltype="dictionary")
    except (ValueError, TypeError, UnicodeEncodeError):
        return None
    found = [params.get("keyid") for member, params in dict(parsed).values()
             if isinstance(member, list) and isinstance(params, dict) and params.get("tag") == READ_TAG]
    if len(found) != 1 or not isinstance(found[0], str) or not found[0]:
        return None
    return found[0]


__all__ = [
    "COVERED",
    "MAX_AGE",
    "READ_TAG",
    "SKEW",
    "NonceMemory",
    "RequestSignatureCheck",
    "algorithm_for",
    "sign_request",
    "verify_request",
]
