"""Message statuses: the transition graph, and the documented mapping to the ePhyto hub and Domibus/AS4."""

from __future__ import annotations

import re
from collections import deque

import pytest

from exchange._errors import Code, StoreError
from gateway import _status
from gateway._status import (
    AS4_EQUIVALENT,
    EPHYTO_EQUIVALENT,
    PENDING,
    TRANSITIONS,
    MessageStatus,
    check_transition,
)

S = MessageStatus

# The vocabularies as the reference facts list them.
HUB_TRACKING_INFO = {
    "PendingDelivery", "Delivered", "FailedDelivery", "EnvelopeNotExists", "DeliveredWithWarnings",
    "DeliveredNotReadable",
}
DOMIBUS_STATUSES = {
    "READY_TO_SEND", "SEND_ENQUEUED", "SEND_IN_PROGRESS", "WAITING_FOR_RECEIPT", "ACKNOWLEDGED",
    "ACKNOWLEDGED_WITH_WARNING", "SEND_ATTEMPT_FAILED", "SEND_FAILURE", "WAITING_FOR_RETRY", "RECEIVED",
    "RECEIVED_WITH_WARNINGS", "DELETED",
}


def test_every_status_has_transitions_and_both_equivalents() -> None:
    assert set(TRANSITIONS) == set(S)
    assert set(EPHYTO_EQUIVALENT) == set(S)
    assert set(AS4_EQUIVALENT) == set(S)


def test_equivalents_use_the_real_vocabularies() -> None:
    assert {v for v in EPHYTO_EQUIVALENT.values() if v is not None} <= HUB_TRACKING_INFO
    assert {v for v in AS4_EQUIVALENT.values() if v is not None} <= DOMIBUS_STATUSES


def _doc_table() -> dict[str, tuple[str, str]]:
    doc = _status.__doc__ or ""
    rows = {}
    for line in doc.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if cells and cells[0] in S.__members__ and len(cells) >= 3:
            rows[cells[0]] = (cells[1], cells[2])
    return rows


def test_docstring_table_matches_the_data() -> None:
    """The lead copies the docstring table into the docs; it must say what the code does."""
    table = _doc_table()
    assert set(table) == {s.value for s in S}

    def shown(value: str | None) -> str:
        return "—" if value is None else value

    for status in S:
        assert table[status.value] == (shown(EPHYTO_EQUIVALENT[status]), shown(AS4_EQUIVALENT[status])), status


def test_docstring_transition_list_matches_the_data() -> None:
    doc = _status.__doc__ or ""
    block = doc.split("every allowed move::", 1)[1].split("\n\n", 2)[1]
    listed: dict[MessageStatus, set[MessageStatus]] = {}
    current: MessageStatus | None = None
    for line in block.splitlines()[1:]:  # after the "from  to" heading
        stripped = line.strip()
        if stripped.endswith(": final"):
            for name in stripped.removesuffix(": final").split(", "):
                listed[S(name)] = set()
            continue
        first, _, rest = stripped.partition(" ")
        if first in S.__members__ and line.startswith("    " + first):
            current = S(first)
            listed[current] = set()
        else:
            rest = stripped
        assert current is not None
        listed[current] |= {S(name) for name in re.findall(r"\b[A-Z_]{6,}\b", rest) if name in S.__members__}
    assert listed == {status: set(targets) for status, targets in TRANSITIONS.items()}


def test_final_statuses() -> None:
    assert {s for s in S if s.is_final} == {S.REJECTED, S.ACKNOWLEDGED, S.RECEIVER_REJECTED}


def test_every_status_is_reachable_and_can_end() -> None:
    seen = {S.RECEIVED}
    queue = deque([S.RECEIVED])
    while queue:
        for target in TRANSITIONS[queue.popleft()]:
            if target not in seen:
                seen.add(target)
                queue.append(target)
    assert seen == set(S)
    for status in S:
        # FAILED can always be retried by hand or closed by a late receipt; nothing is stuck.
        reachable, frontier = {status}, [status]
        while frontier:
            for target in TRANSITIONS[frontier.pop()]:
                if target not in reachable:
                    reachable.add(target)
                    frontier.append(target)
        assert any(s.is_final for s in reachable), status


def test_rejected_is_never_delivered() -> None:
    assert not S.REJECTED.can_become(S.DELIVERING)
    assert S.REJECTED not in PENDING


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (S.REJECTED, S.DELIVERING),
        (S.ACKNOWLEDGED, S.FAILED),
        (S.ACCEPTED, S.DELIVERED),
        (S.DELIVERED, S.DELIVERING),
        (S.FAILED, S.DELIVERING),
        (S.RECEIVED, S.DELIVERING),
    ],
)
def test_illegal_transition_is_a_programmer_error(old: MessageStatus, new: MessageStatus) -> None:
    with pytest.raises(StoreError) as caught:
        check_transition(old, new)
    assert caught.value.code is Code.GW_STATUS_TRANSITION


def test_allowed_transitions_pass() -> None:
    for old, targets in TRANSITIONS.items():
        for new in targets:
            check_transition(old, new)
    assert S.DELIVERING.can_become(S.DELIVERING)  # reclaim after an expired lease
    assert S.FAILED.can_become(S.WAITING_FOR_RETRY)  # manual retry
