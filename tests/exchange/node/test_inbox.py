"""The inbox matrix, in process: deliveries from the gateway are re-checked with the node's own trust."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from datetime import timedelta

import pytest

from exchange._catalogue import default_catalogue
from exchange._dsig import sign_document, verify_signature
from exchange._envelope import ReceiptStatus
from exchange._errors import Code, StoreError
from exchange._receipts import ReceiptCheck, verify_receipt
from exchange._transport import HEADER, sign_delivery
from exchange._validation import Validator
from exchange._verify import verify_document
from exchange._workspace import Workspace
from exchange._xml import DEFAULT_LIMITS
from exchange.node._inbox import InboxAnswer
from tests.exchange.node.conftest import (
    MOMENT,
    AppClient,
    EnvelopeFactory,
    NodeFactory,
    delivery_header,
    sample,
    services,
)

MESSAGE_ID = "msg-0000000000000001"


@pytest.fixture
def bb(node_app: NodeFactory) -> AppClient:
    return node_app("BB")


def deliver(client: AppClient, workspace: Workspace, body: bytes, message_id: str = MESSAGE_ID) -> bytes:
    response = client.post("/v1/inbox", content=body, headers=delivery_header(workspace, body, message_id))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    return response.content


def check_as_sender(workspace: Workspace, receipt: bytes, envelope: bytes, message_id: str = MESSAGE_ID) -> ReceiptCheck:
    """Verify BB's receipt the way AA does: BB's registered node, AA's own trust, the exact envelope sent."""
    catalogue = default_catalogue()
    return verify_receipt(
        receipt, envelope=envelope, message_id=message_id, receiver="BB",
        receiver_node=workspace.node("BB").certificate, trust=workspace.trust_context("AA", moment=MOMENT),
        validator=Validator(catalogue), receipt_type=catalogue.get("receipt"), limits=DEFAULT_LIMITS,
    )


def reason_codes(check: ReceiptCheck) -> set[str]:
    assert check.receipt is not None
    return {reason.code for reason in check.receipt.reasons}


def test_authentic_delivery_of_a_valid_certificate_is_received(
    bb: AppClient, workspace: Workspace, make_envelope: EnvelopeFactory
) -> None:
    envelope = make_envelope()
    response = bb.post("/v1/inbox", content=envelope, headers=delivery_header(workspace, envelope))
    assert response.status_code == 200 and response.headers["PTX-Receipt-Status"] == "RECEIVED"

    check = check_as_sender(workspace, response.content, envelope)
    assert check.verified, check.findings
    assert check.receipt is not None and check.receipt.status is ReceiptStatus.RECEIVED
    assert check.receipt.ref_to_message_id == MESSAGE_ID
    assert check.receipt.envelope_digest == hashlib.sha256(envelope).digest()
    assert check.receipt.issuer.identifier == "BB" and not check.receipt.reasons

    [item] = bb.get("/v1/inbox").json()["items"]
    assert item["message_id"] == MESSAGE_ID and item["verdict"] == "RECEIVED"
    assert (item["sender"], item["receiver"], item["document_type"]) == ("AA", "BB", "certificate-of-origin")
    assert item["issuer"] == "AA Chamber of Commerce" and item["digest"] == hashlib.sha256(envelope).hexdigest()
    detail = bb.get(f"/v1/inbox/{MESSAGE_ID}").json()
    assert all(check["status"] == "passed" for check in detail["checks"])
    assert detail["receipt"].encode() == response.content and detail["document_url"] == f"/v1/documents/{MESSAGE_ID}"
    assert bb.get(f"/v1/inbox/{MESSAGE_ID}/envelope").content == envelope


def test_document_is_served_byte_for_byte_and_still_verifies(
    bb: AppClient, workspace: Workspace, make_envelope: EnvelopeFactory
) -> None:
    authority = workspace.authority("AA", "chamber-of-commerce")
    signed = sign_document(sample("certificate-of-origin"), authority.key, authority.signing_chain)
    envelope = make_envelope(document=signed)
    deliver(bb, workspace, envelope)

    response = bb.get(f"/v1/documents/{MESSAGE_ID}")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/xml")
    assert response.content == signed
    result = verify_document(response.content, trust=workspace.trust_context("BB", moment=MOMENT))
    assert result.valid and result.signer_name == "AA Chamber of Commerce"


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda ws, body: {"Content-Type": "application/xml"}, id="missing"),
        pytest.param(lambda ws, body: {"Content-Type": "application/xml", HEADER: "t=x; m=y"}, id="malformed"),
        pytest.param(lambda ws, body: {**delivery_header(ws, body), HEADER: delivery_header(ws, body)[HEADER][:-8]
                                       + "AAAAAAA="}, id="bad-signature"),
        pytest.param(lambda ws, body: delivery_header(ws, body + b" "), id="other-body"),
        pytest.param(lambda ws, body: delivery_header(ws, body, moment=MOMENT - timedelta(minutes=30)), id="stale"),
    ],
)
def test_delivery_not_from_the_gateway_is_refused(
    bb: AppClient, workspace: Workspace, make_envelope: EnvelopeFactory,
    headers: Callable[[Workspace, bytes], dict[str, str]],
) -> None:
    envelope = make_envelope()
    response = bb.post("/v1/inbox", content=envelope, headers=headers(workspace, envelope))
    assert response.status_code == 401
    assert response.json()["code"] == "GW-DELIVERY-NOT-AUTHENTICATED" and response.json()["message"]
    assert bb.get("/v1/inbox").json()["items"] == []


def test_delivery_signed_by_someone_else_is_refused(
    bb: AppClient, workspace: Workspace, make_envelope: EnvelopeFactory
) -> None:
    envelope = make_envelope()
    forged = sign_delivery(envelope, MESSAGE_ID, workspace.node("AA").key, moment=MOMENT)
    response = bb.post("/v1/inbox", content=envelope, headers={"Content-Type": "application/xml", HEADER: forged})
    assert response.status_code == 401 and response.json()["code"] == "GW-DELIVERY-NOT-AUTHENTICATED"


def test_tampered_document_gets_a_signed_rejection(
    bb: AppClient, workspace: Workspace, make_envelope: EnvelopeFactory
) -> None:
    envelope = make_envelope(tamper_document=lambda doc: doc.replace(b"Golden Harvest", b"Golden Harvesx", 1))
    receipt = deliver(bb, workspace, envelope)
    check = check_as_sender(workspace, receipt, envelope)
    assert check.verified and check.status is ReceiptStatus.REJECTED
    assert "SIG-DIGEST-MISMATCH" in reason_codes(check)
    detail = bb.get(f"/v1/inbox/{MESSAGE_ID}").json()
    assert detail["verdict"] == "REJECTED" and "SIG-DIGEST-MISMATCH" in detail["codes"]
    assert "document_url" not in detail
    refused = bb.get(f"/v1/documents/{MESSAGE_ID}")
    assert refused.status_code == 404 and refused.json()["code"] == "NODE-DOCUMENT-REJECTED"


def test_issuer_not_authorised_for_the_type_is_rejected(
    bb: AppClient, workspace: Workspace, make_envelope: EnvelopeFactory
) -> None:
    envelope = make_envelope(issuer="customs")  # AA Customs may sign customs declarations, not certificates of origin
    check = check_as_sender(workspace, deliver(bb, workspace, envelope), envelope)
    assert check.status is ReceiptStatus.REJECTED
    assert "TRUST-ISSUER-NOT-AUTHORISED" in reason_codes(check)
    assert check.receipt is not None
    assert {r.check for r in check.receipt.reasons if r.code == "TRUST-ISSUER-NOT-AUTHORISED"} == {"issuer-trust"}


def test_revoked_issuer_is_rejected_with_the_nodes_own_trust(
    bb: AppClient, workspace: Workspace, make_envelope: EnvelopeFactory
) -> None:
    envelope = make_envelope()
    workspace.revoke("AA/chamber-of-commerce", moment=MOMENT - timedelta(hours=1))
    check = check_as_sender(workspace, deliver(bb, workspace, envelope), envelope)
    assert check.status is ReceiptStatus.REJECTED and "TRUST-CERT-REVOKED" in reason_codes(check)


def test_envelope_addressed_to_another_country_is_rejected(
    bb: AppClient, workspace: Workspace, make_envelope: EnvelopeFactory
) -> None:
    envelope = make_envelope(receiver="CC")
    check = check_as_sender(workspace, deliver(bb, workspace, envelope), envelope)
    assert check.status is ReceiptStatus.REJECTED and "NODE-NOT-ADDRESSEE" in reason_codes(check)
    assert bb.get(f"/v1/inbox/{MESSAGE_ID}").json()["receiver"] == "CC"


@pytest.mark.parametrize(
    ("kwargs", "codes"),
    [
        ({"sign_envelope": False}, {"SIG-MISSING", "NODE-SENDER-NOT-AUTHENTICATED"}),
        ({"signed_by_node": "BB"}, {"NODE-SENDER-MISMATCH"}),
        ({"sender": "AA", "type_id": "packing-list-unknown", "document": sample("certificate-of-origin")},
         {"DOCTYPE-UNKNOWN"}),
    ],
    ids=["unsigned-envelope", "spoofed-sender", "unknown-type"],
)
def test_other_faults_are_rejected_with_their_codes(
    bb: AppClient, workspace: Workspace, make_envelope: EnvelopeFactory, kwargs: dict[str, object], codes: set[str]
) -> None:
    envelope = make_envelope(**kwargs)
    check = check_as_sender(workspace, deliver(bb, workspace, envelope), envelope)
    assert check.verified and check.status is ReceiptStatus.REJECTED
    assert codes <= reason_codes(check)


def test_unreadable_envelope_from_the_gateway_gets_a_valid_signed_rejection(
    bb: AppClient, workspace: Workspace
) -> None:
    body = b"<Envelope><not-closed></Envelope>"
    check = check_as_sender(workspace, deliver(bb, workspace, body), body)
    assert check.verified, check.findings  # the rejection itself is a schema-valid, signed receipt
    assert check.status is ReceiptStatus.REJECTED and reason_codes(check) == {"XML-MALFORMED"}


def test_envelope_must_be_the_message_the_gateway_delivers(
    bb: AppClient, workspace: Workspace, make_envelope: EnvelopeFactory
) -> None:
    envelope = make_envelope(message_id="msg-0000000000000009")
    check = check_as_sender(workspace, deliver(bb, workspace, envelope, MESSAGE_ID), envelope)
    assert check.status is ReceiptStatus.REJECTED and "NODE-DELIVERY-MISMATCH" in reason_codes(check)


def test_redelivery_gets_the_same_receipt_and_the_inbox_holds_one_document(
    bb: AppClient, workspace: Workspace, make_envelope: EnvelopeFactory
) -> None:
    envelope = make_envelope()
    first = deliver(bb, workspace, envelope)
    again = deliver(bb, workspace, envelope)
    assert again == first
    assert [item["message_id"] for item in bb.get("/v1/inbox").json()["items"]] == [MESSAGE_ID]
    assert services(bb).store.inbox_count() == 1


def test_same_id_with_other_bytes_is_a_conflict(
    bb: AppClient, workspace: Workspace, make_envelope: EnvelopeFactory
) -> None:
    deliver(bb, workspace, make_envelope())
    other = make_envelope("commercial-invoice")
    response = bb.post("/v1/inbox", content=other, headers=delivery_header(workspace, other))
    assert response.status_code == 409 and response.json()["code"] == "NODE-DUPLICATE-CONFLICT"
    assert bb.get(f"/v1/inbox/{MESSAGE_ID}").json()["document_type"] == "certificate-of-origin"


def test_concurrent_deliveries_of_one_message_store_one_entry_and_answer_one_receipt(
    bb: AppClient, workspace: Workspace, make_envelope: EnvelopeFactory
) -> None:
    envelope = make_envelope()
    header = delivery_header(workspace, envelope)[HEADER]
    inbox = services(bb).inbox
    barrier = threading.Barrier(4)
    answers: list[InboxAnswer] = []

    def receive() -> None:
        barrier.wait()
        answers.append(inbox.receive(envelope, delivery=header, content_type="application/xml"))

    threads = [threading.Thread(target=receive) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 4 and len({answer.receipt for answer in answers}) == 1
    assert sum(not answer.redelivery for answer in answers) == 1
    assert services(bb).store.inbox_count() == 1


def test_not_xml_is_refused(bb: AppClient, workspace: Workspace, make_envelope: EnvelopeFactory) -> None:
    envelope = make_envelope()
    headers = {**delivery_header(workspace, envelope), "Content-Type": "application/json"}
    response = bb.post("/v1/inbox", content=envelope, headers=headers)
    assert response.status_code == 415 and response.json()["code"] == "GW-MEDIA-TYPE"


def test_too_large_is_refused_before_anything_else(node_app: NodeFactory, workspace: Workspace) -> None:
    small = node_app("BB", max_message_bytes=1024)
    body = b"<Envelope>" + b"x" * 2000 + b"</Envelope>"
    response = small.post("/v1/inbox", content=body, headers=delivery_header(workspace, body))
    assert response.status_code == 413 and response.json()["code"] == "XML-TOO-LARGE"


def test_store_unavailable_means_try_again_later(
    bb: AppClient, workspace: Workspace, make_envelope: EnvelopeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    def locked(message_id: str) -> None:
        raise StoreError("database is locked", code=Code.STORE_LOCKED)

    monkeypatch.setattr(services(bb).store, "inbox_lookup", locked)
    envelope = make_envelope()
    response = bb.post("/v1/inbox", content=envelope, headers=delivery_header(workspace, envelope))
    assert response.status_code == 503 and response.json()["code"] == "STORE-LOCKED"


def test_unknown_message(bb: AppClient) -> None:
    for path in ("/v1/inbox/msg-unknown-000", "/v1/documents/msg-unknown-000", "/v1/inbox/msg-unknown-000/receipt"):
        response = bb.get(path)
        assert response.status_code == 404 and response.json()["code"] == "NODE-MESSAGE-UNKNOWN"


def test_receipt_signature_is_the_nodes(bb: AppClient, workspace: Workspace, make_envelope: EnvelopeFactory) -> None:
    receipt = deliver(bb, workspace, make_envelope())
    check = verify_signature(receipt)
    assert check.valid and check.signer == workspace.node("BB").certificate
    assert bb.get(f"/v1/inbox/{MESSAGE_ID}/receipt").content == receipt
