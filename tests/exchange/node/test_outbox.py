"""The outbox against a fake gateway (httpx.MockTransport) that runs the real gateway checks and delivers to BB."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from exchange._builder import load_input
from exchange._catalogue import default_catalogue
from exchange._dsig import sign_document, verify_signature
from exchange._envelope import read_envelope
from exchange._pki import fingerprint
from exchange._receipts import sign_rejection_answer
from exchange._transport import HEADER
from exchange._verify import verify_document
from exchange._workspace import Workspace
from exchange._xml import parse_xml
from exchange.node._checks import ENVELOPE_POLICY
from exchange.node._outbox import tamper
from gateway._pipeline import Pipeline, Previous, WorkspaceMembers
from tests.exchange.node.conftest import MOMENT, AppClient, NodeFactory, delivery_header, sample, services

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

COO_INPUT = Path(default_catalogue().get("certificate-of-origin").folder) / "input.yaml"
_MESSAGE = re.compile(r"^/v1/messages/([^/]+)(/receipt)?$")


class FakeGateway:
    """Enough of the gateway: the real pipeline on submission, delivery to BB's inbox, tracking and receipts."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.pipeline = Pipeline(
            catalogue=default_catalogue(), members=WorkspaceMembers(workspace), max_bytes=1024 * 1024
        )
        self.receiver: AppClient | None = None
        self.submitted: list[bytes] = []
        self.calls: list[str] = []
        self.answers: dict[str, Previous] = {}
        self.status: dict[str, str] = {}
        self.receipts: dict[str, bytes] = {}
        self.down = False
        self.lenient = False
        #: changes the signed rejection report before it is sent (to show the node refuses a forged one)
        self.forge_rejection: Callable[[bytes], bytes] | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(f"{request.method} {request.url.path}")
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if request.method == "POST" and request.url.path == "/v1/messages":
            return self.submit(request)
        match = _MESSAGE.match(request.url.path)
        if request.method == "GET" and match is not None:
            message_id = match.group(1)
            if message_id not in self.status:
                return httpx.Response(404, json={"code": "GW-MESSAGE-UNKNOWN", "message": "no such message"})
            if match.group(2):
                receipt = self.receipts.get(message_id)
                if receipt is None:
                    return httpx.Response(404, json={"code": "GW-MESSAGE-UNKNOWN", "message": "no receipt yet"})
                return httpx.Response(200, content=receipt, headers={"Content-Type": "application/xml"})
            status = self.status[message_id]
            return httpx.Response(200, json={"message_id": message_id, "status": status,
                                             "history": [{"status": status, "at": MOMENT.isoformat()}]})
        return httpx.Response(404, json={"code": "NOT-FOUND", "message": request.url.path})

    def submit(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["content-type"] == "application/xml"
        body = request.content
        self.submitted.append(body)
        if self.lenient:
            message_id = read_envelope(parse_xml(body)).message_id
            self.status[message_id] = "ACCEPTED"
            if self.receiver is not None:
                self.deliver(message_id, body)
            return httpx.Response(202, json={"message_id": message_id, "verdict": "ACCEPTED", "status": "ACCEPTED",
                                             "checks": [], "received_at": MOMENT.isoformat()})
        outcome = self.pipeline.run(body, moment=MOMENT, duplicates=self.answers.get)
        if outcome.previous is not None and outcome.http_status == 200:
            return httpx.Response(200, json=outcome.previous.answer)
        answer = outcome.to_dict()
        if outcome.http_status in (202, 422, 403) and outcome.message_id is not None:
            self.answers[outcome.message_id] = Previous(outcome.digest, answer)
        if outcome.accepted and outcome.message_id is not None:
            self.status[outcome.message_id] = "ACCEPTED"
            if self.receiver is not None:
                self.deliver(outcome.message_id, body)
        if outcome.http_status >= 400:  # as the gateway does: the signed report beside the JSON answer
            report = sign_rejection_answer(signer=self.workspace.gateway_signer(), issuer="ptx gateway",
                                           submitted=body, answer=answer, http_status=outcome.http_status,
                                           issued=MOMENT)
            if self.forge_rejection is not None:
                report = self.forge_rejection(report)
            answer = {**answer, "rejection_report": base64.b64encode(report).decode("ascii")}
        return httpx.Response(outcome.http_status, json=answer)

    def deliver(self, message_id: str, envelope: bytes) -> None:
        assert self.receiver is not None
        header = delivery_header(self.workspace, envelope, message_id)[HEADER]
        answer = services(self.receiver).inbox.receive(envelope, delivery=header, content_type="application/xml")
        self.receipts[message_id] = answer.receipt
        self.status[message_id] = "ACKNOWLEDGED" if answer.entry.verdict.value == "RECEIVED" else "RECEIVER_REJECTED"


@pytest.fixture
def gateway(workspace: Workspace) -> FakeGateway:
    return FakeGateway(workspace)


@pytest.fixture
def aa(node_app: NodeFactory, gateway: FakeGateway) -> AppClient:
    """AA's node in demo mode (``tamper`` is accepted), sending to BB's through the fake gateway."""
    gateway.receiver = node_app("BB")
    return node_app("AA", gateway=gateway, demo=True)


def coo_request(**extra: Any) -> dict[str, Any]:
    return {"type": "certificate-of-origin", "data": load_input(COO_INPUT), "to": "BB", **extra}


def test_issue_sign_wrap_and_submit(aa: AppClient, gateway: FakeGateway, workspace: Workspace) -> None:
    response = aa.post("/v1/outbox", json=coo_request())
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "ACCEPTED" and body["gateway"]["http_status"] == 202
    assert body["gateway"]["answer"]["verdict"] == "ACCEPTED" and body["issuer"] == "AA/chamber-of-commerce"

    [submitted] = gateway.submitted
    envelope_check = verify_signature(submitted, policy=ENVELOPE_POLICY)
    assert envelope_check.valid and envelope_check.signer is not None and envelope_check.signed_content is not None
    assert fingerprint(envelope_check.signer) == fingerprint(workspace.node("AA").certificate)
    header = read_envelope(parse_xml(envelope_check.signed_content))
    assert (header.sender.identifier, header.receiver.identifier) == ("AA", "BB")
    assert header.message_id == body["message_id"] and header.document_type == "certificate-of-origin"
    assert header.agreement_ref == "AA-BB"

    document = verify_document(header.payload, trust=workspace.trust_context("BB", moment=MOMENT))
    assert document.valid, document.findings
    assert document.signer_name == "AA Chamber of Commerce" and document.document_type == "certificate-of-origin"


def test_reading_a_message_tracks_it_to_the_verified_receipt(aa: AppClient, gateway: FakeGateway) -> None:
    message_id = aa.post("/v1/outbox", json=coo_request()).json()["message_id"]
    body = aa.get(f"/v1/outbox/{message_id}").json()
    assert body["status"] == "ACKNOWLEDGED" and body["refresh_error"] is None
    assert body["receipt"]["verified"] is True and body["receipt"]["status"] == "RECEIVED"
    assert body["receipt"]["xml"].encode() == gateway.receipts[message_id]
    assert [change["status"] for change in body["history"]] == ["NEW", "ACCEPTED", "ACKNOWLEDGED"]
    assert body["gateway"]["history"] == [{"status": "ACKNOWLEDGED", "at": MOMENT.isoformat()}]

    calls = len(gateway.calls)
    again = aa.get(f"/v1/outbox/{message_id}").json()
    assert again["status"] == "ACKNOWLEDGED" and len(gateway.calls) == calls, "a verified receipt is final"
    [item] = aa.get("/v1/outbox").json()["items"]
    assert item["message_id"] == message_id and item["receipt"]["verified"] is True


def test_tampered_document_is_rejected_by_the_gateway(aa: AppClient, gateway: FakeGateway) -> None:
    response = aa.post("/v1/outbox", json=coo_request(tamper=True))
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "REJECTED" and body["tampered"] is True and body["gateway"]["http_status"] == 422
    codes = {f["code"] for check in body["gateway"]["answer"]["checks"] for f in check["findings"]}
    assert codes == {"SIG-DIGEST-MISMATCH"}
    assert "SIG-DIGEST-MISMATCH" in body["history"][-1]["detail"]
    calls = len(gateway.calls)
    assert aa.get(f"/v1/outbox/{body['message_id']}").json()["status"] == "REJECTED"
    assert len(gateway.calls) == calls, "a message refused at submission is not tracked"


def test_a_refusal_comes_with_the_gateways_signed_report_which_the_node_verifies(
    aa: AppClient, gateway: FakeGateway
) -> None:
    body = aa.post("/v1/outbox", json=coo_request(tamper=True)).json()
    assert body["status"] == "REJECTED"
    assert body["rejection"]["verified"] is True and body["rejection"]["findings"] == []
    detail = aa.get(f"/v1/outbox/{body['message_id']}").json()
    assert "SIG-DIGEST-MISMATCH" in detail["rejection"]["xml"] and "rejection_report" not in detail["gateway"]["answer"]


@pytest.mark.parametrize("forge", [
    pytest.param(lambda report: report.replace(b"SIG-DIGEST-MISMATCH", b"SIG-DIGEST-MISMATCX"), id="changed"),
    pytest.param(lambda report: b"", id="missing"),
])
def test_a_rejection_report_that_does_not_verify_is_kept_and_flagged(
    aa: AppClient, gateway: FakeGateway, forge: Callable[[bytes], bytes]
) -> None:
    gateway.forge_rejection = forge
    body = aa.post("/v1/outbox", json=coo_request(tamper=True)).json()
    assert body["status"] == "REJECTED" and body["rejection"]["verified"] is False
    assert "NODE-REJECTION-INVALID" in [finding["code"] for finding in body["rejection"]["findings"]]


def test_tamper_is_refused_by_a_node_not_started_in_demo_mode(node_app: NodeFactory, gateway: FakeGateway) -> None:
    """``tamper`` breaks a signature on purpose: a production node refuses it before anything is built or sent."""
    gateway.receiver = node_app("BB")
    production = node_app("AA", gateway=gateway)
    response = production.post("/v1/outbox", json=coo_request(tamper=True, message_id="msg-tamper-prod-01"))
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "NODE-DEMO-ONLY" and "PTX_NODE_DEMO" in response.json()["message"]
    assert gateway.submitted == [] and production.get("/v1/outbox").json()["items"] == []
    assert production.post("/v1/outbox", json=coo_request(tamper=False)).status_code == 201  # the rest works


def test_receiver_rejection_comes_back_as_a_verified_signed_rejection(aa: AppClient, gateway: FakeGateway) -> None:
    gateway.lenient = True  # a gateway that waves everything through: BB's own checks must still catch it
    body = aa.post("/v1/outbox", json=coo_request(tamper=True)).json()
    assert body["status"] == "ACCEPTED"
    tracked = aa.get(f"/v1/outbox/{body['message_id']}").json()
    assert tracked["status"] == "RECEIVER_REJECTED"
    assert tracked["receipt"]["verified"] is True and tracked["receipt"]["status"] == "REJECTED"
    assert "SIG-DIGEST-MISMATCH" in {finding["code"] for finding in tracked["receipt"]["findings"]}


def test_a_given_signed_document_is_sent_exactly(aa: AppClient, gateway: FakeGateway, workspace: Workspace) -> None:
    authority = workspace.authority("AA", "nppo")
    signed = sign_document(sample("phytosanitary-certificate"), authority.key, authority.signing_chain)
    response = aa.post("/v1/outbox", json={"document": signed.decode("utf-8"), "to": "BB"})
    assert response.status_code == 201 and response.json()["document_type"] == "phytosanitary-certificate"
    check = verify_signature(gateway.submitted[0], policy=ENVELOPE_POLICY)
    assert check.signed_content is not None
    assert read_envelope(parse_xml(check.signed_content)).payload == signed
    assert response.json()["status"] == "ACCEPTED" and response.json()["issuer"] is None


def test_a_document_of_an_unknown_type_is_sent_for_the_gateway_to_refuse(
    aa: AppClient, gateway: FakeGateway, workspace: Workspace
) -> None:
    chamber = workspace.authority("AA", "chamber-of-commerce")
    signed = sign_document(b'<PackingList xmlns="urn:example:packing:1"><ID>PL-1</ID></PackingList>',
                           chamber.key, chamber.signing_chain)
    body = aa.post("/v1/outbox", json={"type": "packing-list", "document": signed.decode(), "to": "BB"}).json()
    assert body["document_type"] == "packing-list" and body["status"] == "REJECTED"
    codes = {f["code"] for check in body["gateway"]["answer"]["checks"] for f in check["findings"]}
    assert "DOCTYPE-UNKNOWN" in codes


def test_issuer_of_another_country_is_refused(aa: AppClient, gateway: FakeGateway) -> None:
    response = aa.post("/v1/outbox", json=coo_request(issuer="BB/chamber-of-commerce"))
    assert response.status_code == 403 and response.json()["code"] == "NODE-ISSUER-FOREIGN"
    assert gateway.submitted == [] and aa.get("/v1/outbox").json()["items"] == []


def test_issuer_without_authorisation_is_signed_and_caught_by_the_gateway(aa: AppClient, gateway: FakeGateway) -> None:
    body = aa.post("/v1/outbox", json=coo_request(issuer="customs")).json()
    assert body["issuer"] == "AA/customs" and body["status"] == "REJECTED"
    codes = {f["code"] for check in body["gateway"]["answer"]["checks"] for f in check["findings"]}
    assert "TRUST-ISSUER-NOT-AUTHORISED" in codes


def test_invalid_data_is_refused_with_every_finding_and_nothing_is_sent(aa: AppClient, gateway: FakeGateway) -> None:
    data = load_input(COO_INPUT)
    data["CertificateOfOrigin"]["ExchangedDocument"].pop("ID")
    data["CertificateOfOrigin"]["Unexpected"] = "x"
    response = aa.post("/v1/outbox", json={"type": "certificate-of-origin", "data": data, "to": "BB"})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "INPUT-INVALID" and len(body["findings"]) >= 2
    assert {finding["code"] for finding in body["findings"]} >= {"INPUT-FIELD-UNKNOWN"}
    assert gateway.submitted == []


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"type": "certificate-of-origin", "to": "BB"}, 422, "INPUT-INVALID"),
        ({**{"document": "<a/>"}, "data": {}, "type": "certificate-of-origin", "to": "BB"}, 422, "INPUT-INVALID"),
        ({"type": "certificate-of-origin", "data": {}, "to": "BB", "colour": "red"}, 422, "INPUT-INVALID"),
        ({"type": "no-such-type", "data": {"X": 1}, "to": "BB"}, 422, "DOCTYPE-UNKNOWN"),
        ({"document": "<!DOCTYPE x [<!ENTITY e 'x'>]><x>&e;</x>", "to": "BB"}, 422, "XML-ENTITY-FORBIDDEN"),
        ({"document": "<x xmlns='urn:nobody'/>", "to": "BB"}, 422, "DOCTYPE-UNKNOWN"),
    ],
    ids=["no-source", "two-sources", "unknown-key", "unknown-type", "hostile-document", "undetectable-type"],
)
def test_bad_requests(aa: AppClient, gateway: FakeGateway, payload: dict[str, Any], status: int, code: str) -> None:
    response = aa.post("/v1/outbox", json=payload)
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert gateway.submitted == []


def test_unreachable_gateway_keeps_the_message_and_a_resend_sends_the_same_bytes(
    aa: AppClient, gateway: FakeGateway
) -> None:
    gateway.down = True
    request = coo_request(message_id="msg-retry-00000001")
    response = aa.post("/v1/outbox", json=request)
    assert response.status_code == 502 and response.json()["code"] == "NODE-GATEWAY-UNREACHABLE"
    assert "msg-retry-00000001" in response.json()["message"]
    stored = aa.get("/v1/outbox/msg-retry-00000001").json()
    assert stored["status"] == "SUBMIT_FAILED" and stored["error"]["code"] == "NODE-GATEWAY-UNREACHABLE"
    first_envelope = services(aa).store.outbox_get("msg-retry-00000001").envelope

    gateway.down = False
    again = aa.post("/v1/outbox", json=request)
    assert again.status_code == 200 and again.json()["status"] == "ACCEPTED" and again.json()["error"] is None
    assert gateway.submitted == [first_envelope], "the resend carries exactly the stored envelope"
    assert [c["status"] for c in again.json()["history"]] == ["NEW", "SUBMIT_FAILED", "ACCEPTED"]


def test_resending_an_answered_message_does_not_submit_again(aa: AppClient, gateway: FakeGateway) -> None:
    request = coo_request(message_id="msg-once-00000001")
    assert aa.post("/v1/outbox", json=request).status_code == 201
    again = aa.post("/v1/outbox", json=request)
    assert again.status_code == 200 and again.json()["status"] == "ACCEPTED" and len(gateway.submitted) == 1


def test_message_id_used_for_another_request_is_a_conflict(aa: AppClient, gateway: FakeGateway) -> None:
    assert aa.post("/v1/outbox", json=coo_request(message_id="msg-conflict-001")).status_code == 201
    response = aa.post("/v1/outbox", json=coo_request(message_id="msg-conflict-001", tamper=True))
    assert response.status_code == 409 and response.json()["code"] == "NODE-DUPLICATE-CONFLICT"
    assert len(gateway.submitted) == 1


def test_gateway_server_error_is_reported_and_retryable(node_app: NodeFactory) -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, text="internal error")

    aa = node_app("AA", gateway=broken)
    response = aa.post("/v1/outbox", json=coo_request())
    assert response.status_code == 502 and response.json()["code"] == "NODE-GATEWAY-ERROR"
    [item] = aa.get("/v1/outbox").json()["items"]
    assert item["status"] == "SUBMIT_FAILED"


def test_receipt_that_does_not_verify_is_kept_but_not_trusted(
    aa: AppClient, gateway: FakeGateway, workspace: Workspace
) -> None:
    message_id = aa.post("/v1/outbox", json=coo_request()).json()["message_id"]
    genuine = gateway.receipts[message_id]
    forged_by = workspace.node("AA")  # a receipt "from BB" signed with another node's key
    unsigned = genuine[: genuine.index(b"<ds:Signature")] + b"</Receipt>\n"
    gateway.receipts[message_id] = sign_document(unsigned, forged_by.key, forged_by.signing_chain)

    body = aa.get(f"/v1/outbox/{message_id}").json()
    assert body["status"] == "ACKNOWLEDGED" and body["receipt"]["verified"] is False
    assert "NODE-RECEIPT-INVALID" in {finding["code"] for finding in body["receipt"]["findings"]}

    gateway.receipts[message_id] = genuine  # not final: the next read fetches and verifies again
    assert aa.get(f"/v1/outbox/{message_id}").json()["receipt"]["verified"] is True


def test_refresh_failure_is_reported_beside_the_stored_message(aa: AppClient, gateway: FakeGateway) -> None:
    message_id = aa.post("/v1/outbox", json=coo_request()).json()["message_id"]
    gateway.down = True
    response = aa.get(f"/v1/outbox/{message_id}")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ACCEPTED" and body["refresh_error"]["code"] == "NODE-GATEWAY-UNREACHABLE"
    assert aa.get(f"/v1/outbox/{message_id}?refresh=false").json()["refresh_error"] is None


def test_unknown_outbox_message(aa: AppClient) -> None:
    response = aa.get("/v1/outbox/msg-unknown-0001")
    assert response.status_code == 404 and response.json()["code"] == "NODE-MESSAGE-UNKNOWN"


def test_tamper_changes_one_letter_and_keeps_the_document_well_formed(workspace: Workspace) -> None:
    authority = workspace.authority("AA", "chamber-of-commerce")
    signed = sign_document(sample("certificate-of-origin"), authority.key, authority.signing_chain)
    changed = tamper(signed)
    assert len(changed) == len(signed)
    assert sum(a != b for a, b in zip(signed, changed, strict=True)) == 1
    parse_xml(changed)  # still well-formed
    assert "SIG-DIGEST-MISMATCH" in verify_signature(changed).codes


def test_outbox_answers_are_json_serialisable_records(aa: AppClient) -> None:
    body = aa.post("/v1/outbox", json=coo_request()).json()
    assert set(body) >= {"message_id", "status", "gateway", "history", "receipt", "envelope_digest", "document_type"}
    json.dumps(body)


def test_both_nodes_count_what_they_did_on_metrics(aa: AppClient, gateway: FakeGateway) -> None:
    message_id = aa.post("/v1/outbox", json=coo_request()).json()["message_id"]
    aa.get(f"/v1/outbox/{message_id}")  # tracked to the verified receipt
    aa.post("/v1/outbox", json=coo_request(tamper=True))
    sent = aa.get("/metrics")
    assert sent.status_code == 200 and sent.headers["content-type"].startswith("text/plain")
    assert 'ptx_node_outbox_submissions_total{status="ACCEPTED"} 1.0' in sent.text
    assert 'ptx_node_outbox_submissions_total{status="REJECTED"} 1.0' in sent.text
    assert 'ptx_node_rejection_reports_total{verified="true"} 1.0' in sent.text
    assert 'ptx_node_receipts_total{verified="true"}' in sent.text
    assert gateway.receiver is not None
    received = gateway.receiver.get("/metrics").text
    assert 'ptx_node_inbox_messages_total{verdict="RECEIVED"} 1.0' in received
