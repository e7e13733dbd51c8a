"""Signed rejections: every refused submission comes with the gateway's signed rejection report (every finding of
every check, the message id it claimed, the digest of exactly the bytes submitted), inline in the JSON answer, as
the XML answer with ``Accept: application/xml``, and later from ``/v1/messages/{id}/rejection``."""

from __future__ import annotations

import base64
from typing import Any

from exchange._catalogue import default_catalogue
from exchange._receipts import verify_rejection
from exchange._validation import Validator
from exchange._workspace import Workspace
from exchange._xml import DEFAULT_LIMITS
from tests.gateway import test_app
from tests.gateway.conftest import MessageFactory, sample
from tests.gateway.test_app import XML

# the in-process gateway of the app tests (fixtures, used by name)
settings = test_app.settings
clock = test_app.clock
gw = test_app.gw

CATALOGUE = default_catalogue()


def verify(workspace: Workspace, report: bytes, submitted: bytes, message_id: str) -> Any:
    return verify_rejection(report, submitted=submitted, message_id=message_id,
                            gateway=workspace.gateway_signer().certificate, validator=Validator(CATALOGUE),
                            rejection_type=CATALOGUE.get("rejection"), limits=DEFAULT_LIMITS)


def findings_of(answer: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return [(f["code"], f["check"], f["path"]) for c in answer["checks"] for f in c["findings"]]


async def test_a_rule_failure_comes_with_a_signed_report_of_every_finding(gw: Any, make_message: MessageFactory,
                                                                          workspace: Workspace) -> None:
    client, gateway, receiver = gw
    body = make_message(document=sample("certificate-of-origin", "gross-below-net.xml"))
    response = await client.post("/v1/messages", content=body, headers=XML)
    assert response.status_code == 422
    answer = response.json()
    report = base64.b64decode(answer["rejection_report"])
    check = verify(workspace, report, body, "msg-0000000000000001")
    assert check.verified, check.findings
    assert check.rejection is not None and check.rejection.http_status == 422
    assert [(f.code, f.check, f.path) for f in check.rejection.findings] == findings_of(answer)
    assert "COO-MASS-01" in [f.code for f in check.rejection.findings]

    stored = await client.get("/v1/messages/msg-0000000000000001/rejection")
    assert stored.status_code == 200 and stored.headers["content-type"].startswith("application/xml")
    assert verify(workspace, stored.content, body, "msg-0000000000000001").verified

    as_xml = await client.post("/v1/messages", content=make_message(
        document=sample("certificate-of-origin", "gross-below-net.xml"), message_id="msg-0000000000000002"),
        headers={**XML, "Accept": "application/xml"})
    assert as_xml.status_code == 422 and as_xml.content.startswith(b"<?xml")
    assert b"COO-MASS-01" in as_xml.content


async def test_an_unauthenticated_submission_gets_a_report_too(gw: Any, make_message: MessageFactory,
                                                               workspace: Workspace) -> None:
    client, gateway, receiver = gw
    body = make_message(sign_envelope=False)
    response = await client.post("/v1/messages", content=body, headers=XML)
    assert response.status_code == 401
    check = verify(workspace, base64.b64decode(response.json()["rejection_report"]), body, "msg-0000000000000001")
    assert check.verified and check.rejection is not None
    assert check.rejection.ref_to_message_id == "msg-0000000000000001"  # the id it claimed
    assert {"SIG-MISSING", "GW-SENDER-NOT-AUTHENTICATED"} <= {f.code for f in check.rejection.findings}


async def test_a_report_that_does_not_answer_what_was_sent_is_refused(gw: Any, make_message: MessageFactory,
                                                                      workspace: Workspace) -> None:
    client, gateway, receiver = gw
    body = make_message(receiver="CC")
    report = base64.b64decode((await client.post("/v1/messages", content=body, headers=XML)).json()["rejection_report"])
    assert verify(workspace, report, body, "msg-0000000000000001").verified
    other_bytes = verify(workspace, report, body + b"\n", "msg-0000000000000001")
    other_id = verify(workspace, report, body, "msg-0000000000000009")
    changed = verify(workspace, report.replace(b"GW-RECEIVER-UNKNOWN", b"GW-RECEIVER-UNKNOWX"), body,
                     "msg-0000000000000001")
    by_a_node = verify_rejection(report, submitted=body, message_id="msg-0000000000000001",
                                 gateway=workspace.node("AA").certificate, validator=Validator(CATALOGUE),
                                 rejection_type=CATALOGUE.get("rejection"), limits=DEFAULT_LIMITS)
    for refused in (other_bytes, other_id, changed, by_a_node):
        assert not refused.verified and "NODE-REJECTION-INVALID" in refused.codes
    assert "SIG-DIGEST-MISMATCH" in changed.codes


async def test_no_report_for_a_message_that_was_not_rejected(gw: Any, make_message: MessageFactory) -> None:
    client, gateway, receiver = gw
    assert (await client.post("/v1/messages", content=make_message(), headers=XML)).status_code == 202
    answer = await client.get("/v1/messages/msg-0000000000000001/rejection")
    assert answer.status_code == 404 and answer.json()["code"] == "GW-REJECTION-MISSING"
    assert (await client.get("/v1/messages/msg-0000000000000404/rejection")).json()["code"] == "GW-MESSAGE-UNKNOWN"
