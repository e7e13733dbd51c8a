"""The node's calls to the gateway, on an injected ``httpx.AsyncClient``.

==========================================  =========================================================
call                                        gateway contract
==========================================  =========================================================
:meth:`GatewayClient.submit`                ``POST /v1/messages`` (application/xml), JSON answer
:meth:`GatewayClient.track`                 ``GET /v1/messages/{id}``: JSON with ``status``, ``history``
:meth:`GatewayClient.receipt`               ``GET /v1/messages/{id}/receipt``: XML, 404 until there is one
==========================================  =========================================================

The reads (``track``, ``receipt``) are signed with the node key (RFC 9421 HTTP Message Signatures, see
:mod:`exchange._request_signing`) when the client has a :class:`ReadSigner`: the gateway lets a node read only
the messages it sent or received, and over plain HTTP this signature is how it knows which node asks (under
mutual TLS the client certificate says it too; both must name this country).

httpx exceptions never leave this module: a timeout or a connection failure is ``NODE-GATEWAY-UNREACHABLE``,
an answer that breaks the contract (unexpected status, not JSON, too large) is ``NODE-GATEWAY-ERROR``. Bodies
are read up to a bound. Redirects are not followed: the node talks to the gateway it was configured with.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from exchange import Code, ExchangeError, redact_url, sign_request

#: The most of a gateway answer read into memory (reports and receipts are kilobytes).
MAX_ANSWER_BYTES = 4 * 1024 * 1024
#: Statuses at which the gateway answers a submission with a JSON report.
SUBMIT_ANSWERS = frozenset({200, 202, 401, 403, 409, 413, 415, 422})


#: The codes a gateway call fails with (an ``ExchangeError`` carrying one of these came from this module).
GATEWAY_CODES = frozenset({Code.NODE_GATEWAY_UNREACHABLE, Code.NODE_GATEWAY_ERROR})


def _failure(message: str, *, code: Code = Code.NODE_GATEWAY_ERROR) -> ExchangeError:
    """A failed gateway call: an :class:`ExchangeError` with one of :data:`GATEWAY_CODES`."""
    return ExchangeError(message, code=code)


@dataclass(frozen=True, slots=True)
class GatewayAnswer:
    """One HTTP answer of the gateway (body cut at the bound)."""

    http_status: int
    body: bytes
    content_type: str | None

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise _failure(
                f"the gateway answered HTTP {self.http_status} with a body that is not JSON", code=Code.NODE_GATEWAY_ERROR
            ) from exc


@dataclass(frozen=True, slots=True)
class ReadSigner:
    """Signs this node's reads at the gateway as ``party`` with its node key, at the time ``clock`` gives."""

    party: str
    key: Any = field(repr=False)
    clock: Callable[[], datetime]

    def headers(self, method: str, url: str) -> dict[str, str]:
        return sign_request(method, url, party=self.party, key=self.key, moment=self.clock())


class GatewayClient:
    """Calls to one gateway. Holds no per-call state: safe to share between concurrent requests."""

    def __init__(self, client: httpx.AsyncClient, base_url: str, *, timeout: float,
                 signer: ReadSigner | None = None) -> None:
        self._client = client
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._signer = signer

    async def _call(self, method: str, path: str, *, content: bytes | None = None,
                    headers: dict[str, str] | None = None, signed: bool = False) -> GatewayAnswer:
        url = f"{self.base_url}{path}"
        if signed and self._signer is not None:
            headers = {**(headers or {}), **self._signer.headers(method, url)}
        try:
            async with self._client.stream(
                method, url, content=content, headers=headers, timeout=httpx.Timeout(self._timeout),
                follow_redirects=False,
            ) as response:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body.extend(chunk)
                    if len(body) > MAX_ANSWER_BYTES:
                        raise _failure(
                            f"the gateway's answer to {method} {path} exceeds {MAX_ANSWER_BYTES:,} bytes",
                            code=Code.NODE_GATEWAY_ERROR,
                        )
                return GatewayAnswer(response.status_code, bytes(body), response.headers.get("content-type"))
        except httpx.TimeoutException as exc:
            raise _failure(
                f"the gateway at {redact_url(self.base_url)} did not answer {method} {path} within {self._timeout:g} s",
                code=Code.NODE_GATEWAY_UNREACHABLE,
            ) from exc
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise _failure(f"gateway URL {redact_url(url)!r} is unusable: {exc}", code=Code.NODE_GATEWAY_ERROR) from exc
        except httpx.HTTPError as exc:
            raise _failure(
                f"could not reach the gateway at {redact_url(self.base_url)}: {type(exc).__name__}: {exc}",
                code=Code.NODE_GATEWAY_UNREACHABLE,
            ) from exc

    async def submit(self, envelope: bytes) -> tuple[GatewayAnswer, Any]:
        """Submit a signed envelope; the answer and its JSON report (any verdict).

        ``ExchangeError`` when the gateway is unreachable (``NODE-GATEWAY-UNREACHABLE``) or answers with a
        status outside the contract, e.g. 5xx (``NODE-GATEWAY-ERROR``): the message was not taken, try again.
        """
        answer = await self._call(
            "POST", "/v1/messages", content=envelope, headers={"Content-Type": "application/xml"}
        )
        if answer.http_status not in SUBMIT_ANSWERS:
            raise _failure(
                f"the gateway answered the submission with HTTP {answer.http_status}: {_snippet(answer.body)}",
                code=Code.NODE_GATEWAY_ERROR,
            )
        return answer, answer.json()

    async def track(self, message_id: str) -> dict[str, Any]:
        """The gateway's status record of a message (``status``, ``history``, ...)."""
        answer = await self._call("GET", f"/v1/messages/{quote(message_id, safe='')}", signed=True)
        if answer.http_status != 200:
            raise _failure(
                f"the gateway answered HTTP {answer.http_status} for message {message_id!r}: {_snippet(answer.body)}",
                code=Code.NODE_GATEWAY_ERROR,
            )
        record = answer.json()
        if not isinstance(record, dict) or not isinstance(record.get("status"), str):
            raise _failure(
                f"the gateway's record of {message_id!r} has no status", code=Code.NODE_GATEWAY_ERROR
            )
        return record

    async def receipt(self, message_id: str, *, receiver: str | None = None) -> bytes | None:
        """The receiver's signed receipt as the gateway holds it (``receiver``'s, for a message with several), or
        None while there is none (404)."""
        query = f"?receiver={quote(receiver, safe='')}" if receiver is not None else ""
        answer = await self._call("GET", f"/v1/messages/{quote(message_id, safe='')}/receipt{query}", signed=True)
        if answer.http_status == 404:
            return None
        if answer.http_status != 200:
            raise _failure(
                f"the gateway answered HTTP {answer.http_status} for the receipt of {message_id!r}: "
                f"{_snippet(answer.body)}",
                code=Code.NODE_GATEWAY_ERROR,
            )
        return answer.body


def _snippet(body: bytes, limit: int = 200) -> str:
    return " ".join(body[:limit].decode("utf-8", errors="replace").split()) or "(empty)"


__all__ = ["GATEWAY_CODES", "MAX_ANSWER_BYTES", "GatewayAnswer", "GatewayClient", "ReadSigner"]
