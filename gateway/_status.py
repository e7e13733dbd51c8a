"""Message statuses, the transitions between them, and what they are called elsewhere.

The main path is RECEIVED -> ACCEPTED -> DELIVERING -> DELIVERED -> ACKNOWLEDGED; every allowed move::

    from                 to
    RECEIVED             ACCEPTED, REJECTED
    ACCEPTED             DELIVERING
    DELIVERING           DELIVERED, ACKNOWLEDGED, RECEIVER_REJECTED, WAITING_FOR_RETRY, FAILED,
                         DELIVERING (lease expired: another worker reclaims it after a crash)
    WAITING_FOR_RETRY    DELIVERING, ACKNOWLEDGED, RECEIVER_REJECTED
    DELIVERED            ACKNOWLEDGED, RECEIVER_REJECTED
    FAILED               WAITING_FOR_RETRY (manual retry), ACKNOWLEDGED, RECEIVER_REJECTED
    REJECTED, ACKNOWLEDGED, RECEIVER_REJECTED: final

ACKNOWLEDGED and RECEIVER_REJECTED need a *verified* signed receipt. It may come in the answer to the delivery
(DELIVERING -> ...) or on its own, after the gateway gave up waiting for the answer: the receipt proves delivery,
so a waiting or failed message moves to the receipt's outcome instead of being sent again. A REJECTED message is
never delivered. Moving along any other edge is a programmer error (:func:`check_transition`).

How the statuses map onto the vocabularies people in the field know. The ePhyto hub reports ``HUBTrackingInfo``
per envelope; Domibus (AS4) reports a message status per user message. Neither has every step this gateway
distinguishes, so several of ours map onto one of theirs; "—" means the other system keeps no status for it.

=================  ====================  ====================  =============================================
ptx status         ePhyto hub            Domibus / AS4         notes
=================  ====================  ====================  =============================================
RECEIVED           —                     RECEIVED              checks running; the hub validates on submission
ACCEPTED           PendingDelivery       READY_TO_SEND         stored durably, queued for delivery
REJECTED           EnvelopeNotExists     —                     refused at submission (AS4: an ebMS Error signal)
DELIVERING         PendingDelivery       SEND_IN_PROGRESS      an attempt is in flight under a lease
WAITING_FOR_RETRY  PendingDelivery       WAITING_FOR_RETRY     an attempt failed; the next is scheduled
DELIVERED          Delivered             WAITING_FOR_RECEIPT   receiver took the bytes; no verified receipt yet
ACKNOWLEDGED       Delivered             ACKNOWLEDGED          verified signed receipt naming id and digest
RECEIVER_REJECTED  DeliveredNotReadable  SEND_FAILURE          verified signed rejection from the receiver
FAILED             FailedDelivery        SEND_FAILURE          dead letter: bound reached or refused
=================  ====================  ====================  =============================================

A message with several receivers (a transit declaration) has one delivery per receiver, each with its own
status along these edges, its own attempts, dead letter and receipt; the message's own status is derived from
theirs (:func:`overall_status`).

The same table is data: :data:`EPHYTO_EQUIVALENT` and :data:`AS4_EQUIVALENT` (``None`` where the table says "—").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType

from exchange import Code, StoreError
from exchange import MessageVerdict as Verdict


class MessageStatus(StrEnum):
    """Where a message is in its life at the gateway. Values are the upper-case names (API and database)."""

    RECEIVED = "RECEIVED"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    DELIVERING = "DELIVERING"
    WAITING_FOR_RETRY = "WAITING_FOR_RETRY"
    DELIVERED = "DELIVERED"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    RECEIVER_REJECTED = "RECEIVER_REJECTED"
    FAILED = "FAILED"

    @property
    def is_final(self) -> bool:
        """No transition leaves this status."""
        return not TRANSITIONS[self]

    @property
    def is_pending(self) -> bool:
        """The gateway still owes this message a delivery (the queue)."""
        return self in PENDING

    def can_become(self, new: MessageStatus) -> bool:
        return new in TRANSITIONS[self]


_S = MessageStatus

#: Allowed transitions. DELIVERING -> DELIVERING is a reclaim after an expired lease (crash recovery).
TRANSITIONS: Mapping[MessageStatus, frozenset[MessageStatus]] = MappingProxyType(
    {
        _S.RECEIVED: frozenset({_S.ACCEPTED, _S.REJECTED}),
        _S.ACCEPTED: frozenset({_S.DELIVERING}),
        _S.REJECTED: frozenset(),
        _S.DELIVERING: frozenset(
            {_S.DELIVERING, _S.DELIVERED, _S.ACKNOWLEDGED, _S.RECEIVER_REJECTED, _S.WAITING_FOR_RETRY, _S.FAILED}
        ),
        _S.WAITING_FOR_RETRY: frozenset({_S.DELIVERING, _S.ACKNOWLEDGED, _S.RECEIVER_REJECTED}),
        _S.DELIVERED: frozenset({_S.ACKNOWLEDGED, _S.RECEIVER_REJECTED}),
        _S.ACKNOWLEDGED: frozenset(),
        _S.RECEIVER_REJECTED: frozenset(),
        _S.FAILED: frozenset({_S.WAITING_FOR_RETRY, _S.ACKNOWLEDGED, _S.RECEIVER_REJECTED}),
    }
)

#: Statuses of messages the gateway still has to deliver: the delivery queue.
PENDING: frozenset[MessageStatus] = frozenset({_S.ACCEPTED, _S.DELIVERING, _S.WAITING_FOR_RETRY})

#: Statuses a delivery worker may claim (DELIVERING only once its lease has expired).
CLAIMABLE: frozenset[MessageStatus] = PENDING

#: Statuses a verified receipt may move to its outcome (see the module docstring).
RECEIPT_ACCEPTING: frozenset[MessageStatus] = frozenset(
    {_S.DELIVERING, _S.WAITING_FOR_RETRY, _S.DELIVERED, _S.FAILED}
)

#: ePhyto hub ``HUBTrackingInfo`` closest to each status (``None``: the hub keeps no status for it).
EPHYTO_EQUIVALENT: Mapping[MessageStatus, str | None] = MappingProxyType(
    {
        _S.RECEIVED: None,
        _S.ACCEPTED: "PendingDelivery",
        _S.REJECTED: "EnvelopeNotExists",
        _S.DELIVERING: "PendingDelivery",
        _S.WAITING_FOR_RETRY: "PendingDelivery",
        _S.DELIVERED: "Delivered",
        _S.ACKNOWLEDGED: "Delivered",
        _S.RECEIVER_REJECTED: "DeliveredNotReadable",
        _S.FAILED: "FailedDelivery",
    }
)

#: Domibus (AS4) message status closest to each status (``None``: no stored status; an ebMS Error is answered).
AS4_EQUIVALENT: Mapping[MessageStatus, str | None] = MappingProxyType(
    {
        _S.RECEIVED: "RECEIVED",
        _S.ACCEPTED: "READY_TO_SEND",
        _S.REJECTED: None,
        _S.DELIVERING: "SEND_IN_PROGRESS",
        _S.WAITING_FOR_RETRY: "WAITING_FOR_RETRY",
        _S.DELIVERED: "WAITING_FOR_RECEIPT",
        _S.ACKNOWLEDGED: "ACKNOWLEDGED",
        _S.RECEIVER_REJECTED: "SEND_FAILURE",
        _S.FAILED: "SEND_FAILURE",
    }
)


def overall_status(statuses: Iterable[MessageStatus]) -> MessageStatus:
    """The status of a message from the statuses of its deliveries, one per receiver (a transit declaration has
    one for every country on its route). One delivery: its status. Several: while any is still owed, the busiest of
    them (DELIVERING, then WAITING_FOR_RETRY; ACCEPTED only while none has been taken); once none is owed, the worst
    outcome (FAILED, then RECEIVER_REJECTED, then DELIVERED without a receipt), ACKNOWLEDGED only when every
    receiver acknowledged. The overall status is derived, so it is not held to :data:`TRANSITIONS`; each
    delivery is."""
    owned = list(statuses)
    if not owned:
        raise ValueError("a message with deliveries has at least one")
    if len(owned) == 1:
        return owned[0]
    present = set(owned)
    if present & PENDING:
        if _S.DELIVERING in present:
            return _S.DELIVERING
        if _S.WAITING_FOR_RETRY in present:
            return _S.WAITING_FOR_RETRY
        return _S.DELIVERING if present - PENDING else _S.ACCEPTED  # some delivered, the rest not yet taken
    for worst in (_S.FAILED, _S.RECEIVER_REJECTED, _S.DELIVERED):
        if worst in present:
            return worst
    return _S.ACKNOWLEDGED


def check_transition(old: MessageStatus, new: MessageStatus) -> None:
    """Raise :class:`~exchange.StoreError` (``GW-STATUS-TRANSITION``) unless ``old -> new`` is allowed.

    Callers that act on a request (a manual retry, a receipt) check the status themselves and answer with a
    code of their own; reaching this error means the gateway's own code tried an impossible move.
    """
    if new not in TRANSITIONS[old]:
        raise StoreError(f"status {old.value} cannot become {new.value}", code=Code.GW_STATUS_TRANSITION)


__all__ = [
    "AS4_EQUIVALENT",
    "CLAIMABLE",
    "EPHYTO_EQUIVALENT",
    "PENDING",
    "RECEIPT_ACCEPTING",
    "TRANSITIONS",
    "MessageStatus",
    "Verdict",
    "check_transition",
    "overall_status",
]
