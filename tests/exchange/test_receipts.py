"""Receipt verification from the sender's side: only BB's node, for this message and these exact bytes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from exchange._catalogue import default_catalogue
from exchange._envelope import Party, ReceiptStatus
from exchange._errors import Code
from exchange._findings import Finding
from exchange._parties import WorkspaceParties
from exchange._receipts import ReceiptCheck, sign_receipt, verify_receipt
from exchange._validation import Validator
from exchange._workspace import Workspace
from exchange._xml import DEFAULT_LIMITS
from tests.exchange.node import conftest as node_fixtures
from tests.exchange.node.conftest import MOMENT

# the node tests' demo workspace, shared (fixtures, used by name)
workspace_template = node_fixtures.workspace_template
workspace = node_fixtures.workspace

ENVELOPE = b"<Envelope>the exact bytes AA sent</Envelope>\n"
MESSAGE_ID = "msg-0000000000000001"


def receipt(workspace: Workspace, **changes: object) -> bytes:
    values: dict[str, object] = {
        "node": workspace.node("BB"), "issuer": Party("BB"), "message_id": MESSAGE_ID, "envelope": ENVELOPE,
        "status": ReceiptStatus.RECEIVED, "reasons": (), "issued": MOMENT,
    }
    values.update(changes)
    return sign_receipt(**values)  # type: ignore[arg-type]


def check(workspace: Workspace, body: bytes) -> ReceiptCheck:
    catalogue = default_catalogue()
    return verify_receipt(
        body, envelope=ENVELOPE, message_id=MESSAGE_ID, receiver="BB",
        receiver_node=workspace.node("BB").certificate, trust=workspace.trust_context("AA", moment=MOMENT),
        validator=Validator(catalogue), receipt_type=catalogue.get("receipt"), limits=DEFAULT_LIMITS,
    )


def test_genuine_receipt_verifies(workspace: Workspace) -> None:
    result = check(workspace, receipt(workspace))
    assert result.verified and result.findings == ()
    assert result.status is ReceiptStatus.RECEIVED and result.receipt is not None
    assert result.receipt.ref_to_message_id == MESSAGE_ID


def test_signed_rejection_verifies_and_carries_its_reasons(workspace: Workspace) -> None:
    reason = Finding.of(Code.SIG_DIGEST_MISMATCH, "document-signature", "signed content changed")
    result = check(workspace, receipt(workspace, status=ReceiptStatus.REJECTED, reasons=(reason,)))
    assert result.verified and result.status is ReceiptStatus.REJECTED
    assert [finding["code"] for finding in result.findings_list()] == ["SIG-DIGEST-MISMATCH"]


@pytest.mark.parametrize(
    ("make", "codes"),
    [
        pytest.param(lambda ws: receipt(ws, node=ws.node("AA")), {"NODE-RECEIPT-INVALID"}, id="signed-by-another-node"),
        pytest.param(lambda ws: receipt(ws, message_id="msg-0000000000000002"), {"NODE-RECEIPT-INVALID"},
                     id="other-message"),
        pytest.param(lambda ws: receipt(ws, envelope=ENVELOPE + b" "), {"NODE-RECEIPT-INVALID"}, id="other-bytes"),
        pytest.param(lambda ws: receipt(ws, issuer=Party("AA")), {"NODE-RECEIPT-INVALID"}, id="other-issuer"),
        pytest.param(lambda ws: receipt(ws).replace(b"RECEIVED", b"REJECTED"), {"SIG-DIGEST-MISMATCH",
                     "NODE-RECEIPT-INVALID"}, id="status-changed"),
        pytest.param(lambda ws: receipt(ws, node=ws.authority("BB", "customs")), {"NODE-RECEIPT-INVALID"},
                     id="signed-by-an-authority"),
        pytest.param(lambda ws: b"<Receipt/>", {"SIG-MISSING", "NODE-RECEIPT-INVALID"}, id="unsigned"),
    ],
)
def test_receipts_that_prove_nothing_are_refused(
    workspace: Workspace, make: Callable[[Workspace], bytes], codes: set[str]
) -> None:
    result = check(workspace, make(workspace))
    assert not result.verified and result.receipt is None and result.status is None
    assert codes <= set(result.codes)


def test_receipt_from_a_revoked_node_is_refused(workspace: Workspace) -> None:
    body = receipt(workspace)
    workspace.revoke("BB/single-window", moment=MOMENT)
    result = check(workspace, body)
    assert not result.verified and {"TRUST-CERT-REVOKED", "NODE-RECEIPT-INVALID"} <= set(result.codes)


def test_the_gateway_verifies_receipts_with_the_same_code_and_its_own_trust(workspace: Workspace) -> None:
    """One verifier: the gateway evaluates the receipt's signer in its own view too (was: signature and signer only,
    so a receipt from a revoked node made a message ACKNOWLEDGED at the gateway)."""
    catalogue = default_catalogue()
    body = receipt(workspace)

    def at_gateway() -> ReceiptCheck:
        view = WorkspaceParties(workspace).view(moment=MOMENT)
        return verify_receipt(
            body, envelope=ENVELOPE, message_id=MESSAGE_ID, receiver="BB", receiver_node=view.node_certificate("BB"),
            trust=view.node_trust("BB"), validator=Validator(catalogue), receipt_type=catalogue.get("receipt"),
            limits=DEFAULT_LIMITS, invalid=Code.GW_RECEIPT_INVALID,
        )

    assert at_gateway().verified
    workspace.revoke("BB/single-window", moment=MOMENT)
    refused = at_gateway()
    assert not refused.verified and {"TRUST-CERT-REVOKED", "GW-RECEIPT-INVALID"} <= set(refused.codes)
