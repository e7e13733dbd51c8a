"""Who may read what at the gateway: each node its own messages, the operator everything.

================================================  ==============================================================
endpoint                                          who may call it
================================================  ==============================================================
``POST /v1/messages``                             anyone: the envelope's own signature is the sender's proof
``GET /v1/messages/{id}`` and ``/receipt``,       the sender's or the receiver's node, or the operator
``/rejection``, ``/envelope``
``GET /v1/messages`` (every party's messages),    the operator
``POST /v1/messages/{id}/retry``, ``/v1/audit``,
``/v1/audit/verify``
``/ui`` (pages, ``/ui/events``, ``/ui/audit``)    anyone when the gateway is bound to a loopback address
                                                  (``127.0.0.1``, ``::1``, ``localhost``: a trainer's machine);
                                                  bound to any other interface, the operator
``/healthz``, ``/readyz``, ``/metrics``,          anyone (no message content; put ``/metrics`` behind the proxy
``/openapi.json``, ``/hub/DeliveryService``       if its counters are sensitive; the hub has its own rule)
================================================  ==============================================================

**A node** is identified by its TLS client certificate when the gateway runs mutual TLS (the registered one,
:mod:`exchange._tls`, exactly as for submissions), or by a request signed with its node key: RFC 9421 HTTP
Message Signatures over method, authority, path and query, with a created time, a nonce and the tag
``ptx-gateway-read`` (:mod:`exchange._request_signing`). Why the node key: it is the key that already speaks for
the node (it signs its envelopes), the gateway already holds its certificate as the party's registered node and
decides on it with the same trust (chain, validity, revocation), it works over plain HTTP where there is no client
certificate, and nothing new has to be distributed. Why RFC 9421 rather than a scheme of our own: a published
standard with a maintained implementation that other systems can produce. A signature counts for 60 s after its
``created`` (30 s of clock difference tolerated either way) and each nonce once, so a captured request cannot be
replayed later. Under mutual TLS both may come together; they must then name the same party.

**The operator** presents ``Authorization: Bearer <token>``, the token in ``gateway/operator.token`` of the
gateway's folder (:mod:`exchange._operator`), compared in constant time. The dashboard also takes it through a login
form that sets an HttpOnly, SameSite=Strict cookie scoped to ``/ui`` holding an HMAC of the token (never the
token itself), Secure on HTTPS.

A credential that is presented and does not hold is refused; the gateway never falls back to another one.

==============================  ======  ==========================================================================
code                            HTTP    when
==============================  ======  ==========================================================================
``GW-READ-NOT-AUTHENTICATED``   401     a message read without a node identity or the operator token, or with
                                        one that does not hold: unsigned, badly signed, stale, replayed, signed for
                                        an unknown party or by a node certificate that cannot be relied on, a
                                        wrong token
``GW-READ-FORBIDDEN``           403     the node is neither sender nor receiver of a message with this id. An id
                                        that does not exist gets the same answer: a node learns nothing about
                                        messages that are not its own, not even whether they exist
``GW-OPERATOR-REQUIRED``        401     an operator endpoint (or a dashboard bound to another interface) without
                                        the operator token, or with a wrong one
==============================  ======  ==========================================================================
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from cryptography import x509

from exchange import (
    ENVELOPE_TYPE,
    Code,
    InputError,
    NonceMemory,
    Parties,
    TransportPolicy,
    peer_certificate,
    token_matches,
    verify_request,
)

#: the dashboard's session cookie: an HMAC of the operator token, never the token itself
DASHBOARD_COOKIE = "ptx_operator"
_COOKIE_CONTEXT = b"ptx-dashboard-session-v1"


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` (as given to ``--host``) is a loopback address: only this machine can connect."""
    if host is None:
        return False
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class Reader:
    """Who is reading: the operator, or the node of ``party``; ``via`` says how it was identified."""

    party: str | None = None
    operator: bool = False
    via: str = ""

    def may_read(self, sender: str, *receivers: str) -> bool:
        """The operator reads every message; a node those it sent or is a receiver of (any country on a route)."""
        return self.operator or (self.party is not None and self.party in (sender, *receivers))


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What identification needs of a request, taken on the event loop (the checks run in a worker thread)."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    authorization: str | None
    peer: Any  # the TLS client certificate, or None


def request_facts(request: Any) -> RequestFacts:
    """The facts of a Starlette request: the absolute URL as the client addressed it (its Host header, the raw
    path, the query), every header line, the TLS client certificate."""
    scope = request.scope
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else quote(scope.get("path", "/"))
    query = scope.get("query_string", b"").decode("latin-1")
    host = request.headers.get("host", "")
    url = f"{scope.get('scheme', 'http')}://{host}{path}" + (f"?{query}" if query else "")
    return RequestFacts(method=request.method, url=url, headers=tuple(request.headers.items()),
                        authorization=request.headers.get("authorization"), peer=peer_certificate(scope))


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header ('' for another scheme or a malformed one)."""
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class Access:
    """The gateway's read authorisation (see the module docstring). Safe to share between concurrent requests:
    configuration is immutable and the nonce memory is thread-safe."""

    def __init__(self, *, token: str, members: Parties, transport: Callable[[], TransportPolicy | None],
                 now: Callable[[], datetime], dashboard_open: bool) -> None:
        self.token = token
        self.members = members
        #: the registered TLS client certificates (mutual TLS), as the gateway holds them now; None: plain HTTP
        self.transport = transport
        self.now = now
        self.dashboard_open = dashboard_open
        self.nonces = NonceMemory()
        self.cookie_value = hmac.new(token.encode("ascii"), _COOKIE_CONTEXT, hashlib.sha256).hexdigest()

    # --- the API -------------------------------------------------------------------------------------------

    def reader(self, facts: RequestFacts) -> Reader:
        """The operator or the node that sends this request; ``GW-READ-NOT-AUTHENTICATED`` when neither holds."""
        presented = bearer(facts.authorization)
        if presented is not None:
            if token_matches(presented, self.token):
                return Reader(operator=True, via="operator token")
            raise _not_authenticated("the Authorization header does not carry the operator's token")
        moment = self.now()
        view = self.members.view(moment=moment)
        policy = self.transport()
        transport = policy.identify(facts.peer) if policy is not None else None
        tls_party = transport.party if transport is not None else None
        def in_force(party: str) -> list[x509.Certificate]:  # the current node certificate, and during a
            return [certificate for certificate, retires in view.node_certificates(party)  # renewal the old one
                    if retires is None or retires > moment]

        check = verify_request(facts.method, facts.url, facts.headers, certificate_of=in_force,
                               moment=moment, nonces=self.nonces)
        if check.present and not check.verified:
            raise _not_authenticated(f"the request signature does not hold: {check.problem}")
        if check.verified:
            assert check.party is not None and check.certificate is not None  # noqa: S101 - verified
            decision = view.node_trust(check.party).evaluate(check.certificate, (), document_type=ENVELOPE_TYPE)
            if not decision.trusted:
                codes = ", ".join(dict.fromkeys(finding.code for finding in decision.findings
                                                if finding.is_error)) or "untrusted"
                raise _not_authenticated(f"{check.party}'s node certificate cannot be relied on now ({codes})")
            if tls_party is not None and tls_party != check.party:
                raise _not_authenticated(f"the TLS client is {tls_party}, but the request is signed by "
                                         f"{check.party}'s node")
            return Reader(party=check.party, via="signed request")
        if tls_party is not None:
            return Reader(party=tls_party, via="TLS client certificate")
        detail = f" ({transport.message})" if transport is not None and transport.message else ""
        raise _not_authenticated("a message read needs the node's registered TLS client certificate, a request "
                                 f"signed with its node key (RFC 9421), or the operator's token{detail}")

    def require_operator(self, authorization: str | None) -> None:
        """``GW-OPERATOR-REQUIRED`` unless ``authorization`` carries the operator token."""
        presented = bearer(authorization)
        if presented is None:
            raise _operator_required("this endpoint is the operator's: present Authorization: Bearer <token> "
                                     "(gateway/operator.token in the gateway's folder)")
        if not token_matches(presented, self.token):
            raise _operator_required("the Authorization header does not carry the operator's token")

    # --- the dashboard -------------------------------------------------------------------------------------

    def dashboard_allowed(self, headers: Mapping[str, str], cookies: Mapping[str, str]) -> bool:
        """Open on loopback; elsewhere the operator token as a Bearer header, or the login cookie."""
        if self.dashboard_open:
            return True
        presented = bearer(headers.get("authorization"))
        if presented is not None:
            return token_matches(presented, self.token)
        return token_matches(cookies.get(DASHBOARD_COOKIE), self.cookie_value)


def forbidden(message_id: str) -> InputError:
    """The one answer for a message a node may not read, and for one that does not exist."""
    return InputError(f"no message {message_id!r} that this node sent or received", code=Code.GW_READ_FORBIDDEN)


def _not_authenticated(message: str) -> InputError:
    return InputError(message, code=Code.GW_READ_NOT_AUTHENTICATED)


def _operator_required(message: str) -> InputError:
    return InputError(message, code=Code.GW_OPERATOR_REQUIRED)


#: headers of a 401, by code: how to authenticate (RFC 9110 WWW-Authenticate, RFC 9421 Accept-Signature)
CHALLENGES: Mapping[Code, Mapping[str, str]] = {
    Code.GW_READ_NOT_AUTHENTICATED: {
        "WWW-Authenticate": 'Bearer realm="ptx gateway operator"',
        "Accept-Signature": 'ptx=("@method" "@authority" "@path" "@query");tag="ptx-gateway-read"',
    },
    Code.GW_OPERATOR_REQUIRED: {"WWW-Authenticate": 'Bearer realm="ptx gateway operator"'},
}


__all__ = ["CHALLENGES", "DASHBOARD_COOKIE", "Access", "Reader", "RequestFacts", "bearer", "forbidden",
           "is_loopback", "request_facts"]
