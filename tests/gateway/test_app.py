"""The gateway app in process (ASGI): HTTP statuses, durable store, delivery with verified receipts, audit."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from exchange._dsig import sign_document
from exchange._envelope import Party, ReceiptStatus, build_receipt, read_envelope
from exchange._findings import Finding
from exchange._transport import HEADER, verify_delivery
from exchange._workspace import Workspace
from exchange._xml import parse_xml
from gateway._app import create_app
from gateway._settings import load_settings
from tests.gateway.conftest import MOMENT, MessageFactory

XML = {"Content-Type": "application/xml"}


class Receiver:
    """BB's inbox, simulated: checks the gateway's delivery signature and answers a receipt signed by BB."""

    def __init__(self, workspace: Workspace, *, fail_first: int = 0, status: ReceiptStatus = ReceiptStatus.RECEIVED,
                 forge: Callable[[bytes], bytes] | None = None) -> None:
        self.workspace = workspace
        self.fail_first = fail_first
        self.status = status
        self.forge = forge
        self.calls = 0
        self.delivered: list[bytes] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.calls <= self.fail_first:
            return httpx.Response(503, text="busy")
        body = request.read()
        header = read_envelope(parse_xml(body))
        gateway_cert = self.workspace.gateway_signer().certificate
        problems = verify_delivery(request.headers.get(HEADER), body, header.message_id, gateway_cert, moment=MOMENT)
        if problems:
            return httpx.Response(401, json={"code": problems[0].code})
        self.delivered.append(body)
        reasons = [Finding.of(__import__("exchange").Code.SIG_DIGEST_MISMATCH, "document-signature", "changed")] \
            if self.status is ReceiptStatus.REJECTED else []
        receipt = build_receipt(ref_to_message_id=header.message_id, envelope=body, issuer=Party("BB"),
                                status=self.status, reasons=reasons, issued=MOMENT)
        node = self.workspace.node("BB")
        signed = sign_document(receipt, node.key, node.signing_chain)
        if self.forge is not None:
            signed = self.forge(signed)
        return httpx.Response(200, content=signed, headers=XML)


@pytest.fixture
def settings(workspace: Workspace, tmp_path: Path) -> Any:
    return load_settings(workspace=workspace.path, database_url=f"sqlite:///{tmp_path / 'gw.db'}",
                         node_urls={"BB": "http://bb.test", "AA": "http://aa.test"},
                         delivery={"base_delay": 0.01, "max_delay": 0.02, "request_timeout": 2, "lease": 5})


@pytest.fixture
def clock() -> list[Any]:
    return [MOMENT]


async def started(settings: Any, receiver: Receiver, clock: list[Any], *,
                  operator: bool = True) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """The gateway in process; its client carries the operator's token unless ``operator=False``."""
    delivery_client = httpx.AsyncClient(transport=httpx.MockTransport(receiver))
    app = create_app(settings, http_client=delivery_client, now=lambda: clock[0], run_worker=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {app.state.gateway.access.token}"} if operator else {}
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test", headers=headers) as client:
            yield client, app.state.gateway
    await delivery_client.aclose()


@pytest.fixture
async def gw(settings: Any, workspace: Workspace, clock: list[Any]) -> AsyncIterator[tuple[httpx.AsyncClient, Any, Receiver]]:
    receiver = Receiver(workspace)
    async for client, gateway in started(settings, receiver, clock):
        yield client, gateway, receiver


async def test_accept_deliver_acknowledge(gw: Any, make_message: MessageFactory) -> None:
    client, gateway, receiver = gw
    body = make_message()
    response = await client.post("/v1/messages", content=body, headers=XML)
    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["verdict"] == "ACCEPTED" and answer["message_id"] == "msg-0000000000000001"
    assert [c["status"] for c in answer["checks"]] == ["passed"] * 11
    # committed before the answer: visible straight away, ACCEPTED and due
    detail = (await client.get("/v1/messages/msg-0000000000000001")).json()
    assert detail["status"] == "ACCEPTED"
    await gateway.deliverer.run_once()
    assert receiver.delivered == [body]
    detail = (await client.get("/v1/messages/msg-0000000000000001")).json()
    assert detail["status"] == "ACKNOWLEDGED"
    assert [h["status"] for h in detail["history"]][:2] == ["RECEIVED", "ACCEPTED"]
    receipt = await client.get("/v1/messages/msg-0000000000000001/receipt")
    assert receipt.status_code == 200 and receipt.headers["content-type"].startswith("application/xml")
    assert b"<StatusCode>RECEIVED</StatusCode>" in receipt.content
    envelope = await client.get("/v1/messages/msg-0000000000000001/envelope")
    assert envelope.content == body


async def test_identical_resend_and_conflict(gw: Any, make_message: MessageFactory) -> None:
    client, gateway, receiver = gw
    body = make_message()
    first = await client.post("/v1/messages", content=body, headers=XML)
    again = await client.post("/v1/messages", content=body, headers=XML)
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json() == first.json()
    actions = [entry["action"] for entry in (await client.get("/v1/audit")).json()["entries"]]
    assert actions == ["message.accepted", "message.duplicate"]  # the resend is a decision too
    other = await client.post("/v1/messages", content=make_message("phytosanitary-certificate"), headers=XML)
    assert other.status_code == 409
    assert "GW-DUPLICATE-CONFLICT" in other.text
    await gateway.deliverer.run_once()
    await gateway.deliverer.run_once()
    assert len(receiver.delivered) == 1


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"signed_by_node": "BB"}, 403, "GW-SENDER-MISMATCH"),
        ({"sign_envelope": False}, 401, "GW-SENDER-NOT-AUTHENTICATED"),
        ({"issuer": "nppo"}, 422, "TRUST-ISSUER-NOT-AUTHORISED"),
        ({"receiver": "CC"}, 403, "GW-RECEIVER-UNKNOWN"),
    ],
)
async def test_rejections_are_never_forwarded(gw: Any, make_message: MessageFactory, change: dict[str, Any],
                                              status: int, code: str) -> None:
    client, gateway, receiver = gw
    response = await client.post("/v1/messages", content=make_message(**change), headers=XML)
    assert response.status_code == status
    body = response.json()
    assert body["verdict"] == "REJECTED"
    assert code in [f["code"] for c in body["checks"] for f in c["findings"]]
    await gateway.deliverer.run_once()
    assert receiver.calls == 0


async def test_media_type_and_size(gw: Any, settings: Any) -> None:
    client, _, _ = gw
    wrong = await client.post("/v1/messages", content=b"<a/>", headers={"Content-Type": "application/json"})
    assert wrong.status_code == 415 and wrong.json()["code"] == "GW-MEDIA-TYPE"
    big = await client.post("/v1/messages", content=b"<a>" + b"x" * settings.max_message_bytes + b"</a>", headers=XML)
    assert big.status_code == 413 and big.json()["checks"][0]["findings"][0]["code"] == "XML-TOO-LARGE"


async def test_retries_then_delivered(settings: Any, workspace: Workspace, make_message: MessageFactory,
                                      clock: list[Any]) -> None:
    receiver = Receiver(workspace, fail_first=2)
    async for client, gateway in started(settings, receiver, clock):
        assert (await client.post("/v1/messages", content=make_message(), headers=XML)).status_code == 202
        for _ in range(3):
            clock[0] += timedelta(seconds=1)
            await gateway.deliverer.run_once()
        detail = (await client.get("/v1/messages/msg-0000000000000001")).json()
        assert detail["status"] == "ACKNOWLEDGED"
        assert [a["outcome"] for a in detail["attempts"]] == ["retryable", "retryable", "acknowledged"]


async def test_receiver_rejection_is_recorded(settings: Any, workspace: Workspace, make_message: MessageFactory,
                                              clock: list[Any]) -> None:
    receiver = Receiver(workspace, status=ReceiptStatus.REJECTED)
    async for client, gateway in started(settings, receiver, clock):
        await client.post("/v1/messages", content=make_message(), headers=XML)
        await gateway.deliverer.run_once()
        detail = (await client.get("/v1/messages/msg-0000000000000001")).json()
        assert detail["status"] == "RECEIVER_REJECTED"
        assert "SIG-DIGEST-MISMATCH" in detail["receipts"][0]["reason"]


@pytest.mark.parametrize(
    "forge",
    [
        lambda r: r.replace(b"msg-0000000000000001", b"msg-0000000000000002"),  # signature breaks
        lambda r: r,  # placeholder replaced below: signed by the wrong node
    ],
    ids=["tampered", "wrong-signer"],
)
async def test_a_receipt_that_does_not_match_is_refused_and_kept(
    settings: Any, workspace: Workspace, make_message: MessageFactory, clock: list[Any],
    forge: Callable[[bytes], bytes], request: pytest.FixtureRequest,
) -> None:
    if request.node.callspec.id == "wrong-signer":
        aa = workspace.node("AA")

        def forge(signed: bytes) -> bytes:  # noqa: F811 - re-sign as AA's node
            unsigned = signed[: signed.index(b"<ds:Signature")] + b"</Receipt>\n"
            return sign_document(unsigned, aa.key, aa.signing_chain)

    receiver = Receiver(workspace, forge=forge)
    async for client, gateway in started(settings, receiver, clock):
        await client.post("/v1/messages", content=make_message(), headers=XML)
        await gateway.deliverer.run_once()
        detail = (await client.get("/v1/messages/msg-0000000000000001")).json()
        assert detail["status"] == "DELIVERED"
        [receipt] = detail["receipts"]
        assert receipt["verified"] is False and receipt["code"] == "GW-RECEIPT-INVALID"
        assert (await client.get("/v1/messages/msg-0000000000000001/receipt")).status_code == 404


async def test_listing_filters_and_paging(gw: Any, make_message: MessageFactory) -> None:
    client, _, _ = gw
    for index in range(5):
        body = make_message(message_id=f"msg-list-{index:010d}")
        assert (await client.post("/v1/messages", content=body, headers=XML)).status_code == 202
    await client.post("/v1/messages", content=make_message(message_id="msg-list-rejected", issuer="nppo"), headers=XML)
    page = (await client.get("/v1/messages", params={"limit": 2})).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = (await client.get("/v1/messages", params={"limit": 10, "cursor": page["next_cursor"]})).json()
    assert len(rest["items"]) == 4
    rejected = (await client.get("/v1/messages", params={"status": "REJECTED"})).json()
    assert [m["message_id"] for m in rejected["items"]] == ["msg-list-rejected"]
    by_type = (await client.get("/v1/messages", params={"type": "phytosanitary-certificate"})).json()
    assert by_type["items"] == []
    unknown = await client.get("/v1/messages/nope-000000")
    assert unknown.status_code == 404 and unknown.json()["code"] == "GW-MESSAGE-UNKNOWN"


async def test_retry_only_failed(gw: Any, make_message: MessageFactory) -> None:
    client, _, _ = gw
    await client.post("/v1/messages", content=make_message(), headers=XML)
    response = await client.post("/v1/messages/msg-0000000000000001/retry")
    assert response.status_code == 409 and response.json()["code"] == "GW-RETRY-NOT-ALLOWED"


async def test_audit_chain_verifies_and_detects_edits(gw: Any, make_message: MessageFactory, settings: Any) -> None:
    client, gateway, _ = gw
    await client.post("/v1/messages", content=make_message(), headers=XML)
    await client.post("/v1/messages", content=make_message(signed_by_node="BB", message_id="msg-spoofed-0001"),
                      headers=XML)
    await gateway.deliverer.run_once()
    entries = (await client.get("/v1/audit")).json()["entries"]
    actions = [e["action"] for e in entries]
    assert "message.accepted" in actions and "message.refused" in actions
    assert (await client.get("/v1/audit/verify")).json()["ok"] is True
    database = settings.store_url.removeprefix("sqlite:///")
    with sqlite3.connect(database) as conn:
        conn.execute("UPDATE audit_log SET detail = replace(detail, 'AA', 'XX') WHERE seq = 1")
    verdict = (await client.get("/v1/audit/verify")).json()
    assert verdict["ok"] is False and verdict["broken_seq"] == 1


async def test_health_readiness_metrics(gw: Any, make_message: MessageFactory) -> None:
    client, _, _ = gw
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).status_code == 200
    await client.post("/v1/messages", content=make_message(), headers=XML)
    metrics = (await client.get("/metrics")).text
    assert 'verdict="ACCEPTED"' in metrics and "check" in metrics
    assert "ptx_gateway_store_record_commits_total 1.0" in metrics
    assert "ptx_gateway_store_recorded_messages_total 1.0" in metrics
    openapi = (await client.get("/openapi.json")).json()
    assert "/v1/messages" in openapi["paths"]
