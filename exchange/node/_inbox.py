"""The inbox: what the node does with one delivery from the gateway.

::

    delivery authentication (PTX-Delivery header, gateway's certificate, this node's clock)   401 if not
    media type                                                                                415 if not XML
    duplicate: same message id and same bytes -> the SAME signed receipt again;               200
               same message id, other bytes -> conflict                                       409
    the node's own checks (:mod:`exchange.node._checks`) with its own trust
    signed receipt: RECEIVED, or REJECTED with every coded reason; stored with the message   200

The size bound is enforced by the HTTP layer before the body is read (413). Store failures surface as
``STORE-*`` errors (HTTP 503): the gateway tries again later, and the redelivery is answered as if it were the
first. The application sees each message id once: the inbox holds one row per id, decided by the store's
unique constraint, so even two concurrent deliveries of the same message leave one entry and one receipt.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from datetime import timedelta

from cryptography import x509

from exchange import DELIVERY_HEADER as HEADER
from exchange import (
    Code,
    Credential,
    Finding,
    InputError,
    Party,
    ReceiptStatus,
    Severity,
    about_message,
    sign_receipt,
    verify_delivery,
)
from exchange.node._checks import InboxChecks, InboxOutcome
from exchange.node._metrics import NodeMetrics
from exchange.node._store import Clock, InboxEntry, NewInboxMessage, NodeStore

#: The message id a receipt can name (the receipt schema's IdType).
MESSAGE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@\-]{7,127}$")
_HEADER_MESSAGE_ID = re.compile(r"(?:^|;)\s*m=([^;]*)")
XML_MEDIA_TYPES = frozenset({"application/xml", "text/xml"})


@dataclass(frozen=True, slots=True)
class InboxAnswer:
    """The node's answer to one delivery: its signed receipt and the stored entry."""

    receipt: bytes
    entry: InboxEntry
    redelivery: bool


def _not_authenticated(message: str) -> InputError:
    return InputError(message, code=Code.GW_DELIVERY_NOT_AUTHENTICATED)


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


class Inbox:
    """Receives deliveries for one country. Holds only shared, immutable collaborators: safe across requests."""

    def __init__(
        self,
        *,
        country: str,
        country_name: str | None,
        node: Credential,
        gateway_certificate: x509.Certificate,
        checks: InboxChecks,
        store: NodeStore,
        clock: Clock,
        skew: timedelta,
        metrics: NodeMetrics | None = None,
    ) -> None:
        self.metrics = metrics or NodeMetrics()
        self.country = country
        self.party = Party(country, name=country_name)
        self._node = node
        self._gateway_certificate = gateway_certificate
        self._checks = checks
        self._store = store
        self._clock = clock
        self._skew = skew

    def authenticate(self, body: bytes, delivery: str | None) -> str:
        """The message id the gateway signed this delivery for, or ``GW-DELIVERY-NOT-AUTHENTICATED``."""
        if not delivery:
            raise _not_authenticated(f"no {HEADER} header: deliveries are accepted only from the gateway")
        match = _HEADER_MESSAGE_ID.search(delivery)
        if match is None:
            raise _not_authenticated(f"the {HEADER} header names no message id")
        message_id = match.group(1).strip()
        findings = verify_delivery(
            delivery, body, message_id, self._gateway_certificate, moment=self._clock(), skew=self._skew
        )
        if findings:
            raise _not_authenticated(findings[0].message)
        if not MESSAGE_ID.match(message_id):
            raise InputError(
                f"the delivery names message id {message_id!r}, which no receipt can answer",
                code=Code.INPUT_FIELD_INVALID,
            )
        return message_id

    def receive(self, body: bytes, *, delivery: str | None, content_type: str | None) -> InboxAnswer:
        """Authenticate, deduplicate, check, answer and store one delivery (blocking: run in a worker thread)."""
        message_id = self.authenticate(body, delivery)
        about_message(message_id)
        if media_type(content_type) not in XML_MEDIA_TYPES:
            raise InputError(
                f"a delivery must be application/xml, not {content_type or 'untyped'}", code=Code.GW_MEDIA_TYPE
            )
        digest = hashlib.sha256(body).hexdigest()
        earlier = self._store.inbox_lookup(message_id)
        if earlier is not None:
            return self._again(earlier, message_id, digest)

        moment = self._clock()
        started = time.perf_counter()
        outcome = self._checks.run(body, delivery_id=message_id, moment=moment)
        self.metrics.observe_delivery("RECEIVED" if outcome.accepted else "REJECTED", outcome.error_codes,
                                      time.perf_counter() - started)
        named = outcome.header or outcome.claimed
        if named is not None:
            about_message(message_id, named.conversation_id)
        receipt = self._receipt(outcome, message_id, body)
        header = outcome.header or outcome.claimed
        entry, created = self._store.inbox_record(NewInboxMessage(
            message_id=message_id,
            envelope=body,
            digest=digest,
            verdict=ReceiptStatus.RECEIVED if outcome.accepted else ReceiptStatus.REJECTED,
            checks=outcome.checks_list(),
            receipt=receipt,
            received_at=moment,
            sender=header.sender.identifier if header is not None else None,
            receiver=header.receiver.identifier if header is not None else None,
            document_type=outcome.document_type or (header.document_type if header is not None else None),
            conversation_id=header.conversation_id if header is not None else None,
            document=outcome.document,
            issuer=outcome.issuer,
        ))
        if not created:  # a concurrent delivery of the same id was stored first
            return self._again(entry, message_id, digest)
        return InboxAnswer(receipt=receipt, entry=entry, redelivery=False)

    def _again(self, earlier: InboxEntry, message_id: str, digest: str) -> InboxAnswer:
        if earlier.digest != digest:
            raise InputError(
                f"message id {message_id!r} was already received with other bytes (digest {earlier.digest}); "
                "the earlier message stands",
                code=Code.NODE_DUPLICATE_CONFLICT,
            )
        self.metrics.redeliveries.inc()
        return InboxAnswer(receipt=earlier.receipt, entry=earlier, redelivery=True)

    def _receipt(self, outcome: InboxOutcome, message_id: str, body: bytes) -> bytes:
        reasons: list[Finding] = [finding for finding in outcome.findings if finding.severity is not Severity.INFO]
        if outcome.accepted:
            status = ReceiptStatus.RECEIVED
        else:
            status = ReceiptStatus.REJECTED
            if not any(finding.is_error for finding in reasons):  # pragma: no cover - a rejection always has one
                raise AssertionError(f"message {message_id} rejected without an error finding")
        return sign_receipt(
            node=self._node, issuer=self.party, message_id=message_id, envelope=body, status=status,
            reasons=reasons, issued=self._clock(),
        )


__all__ = ["MESSAGE_ID", "XML_MEDIA_TYPES", "Inbox", "InboxAnswer", "media_type"]
