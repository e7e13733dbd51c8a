"""The hub interface meets a ptx node, in process: AA's NPPO delivers a certificate through /hub/DeliveryService to
BB, whose system is a ptx node; the gateway forwards it through its store and forward in an envelope it signs itself
(never as AA's node), BB's node checks it with its own trust and answers a signed receipt, and AA's hub client
tracks it to Delivered. BB's hub client sees nothing to pull: the certificate is delivered once."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from exchange._dsig import verify_signature
from exchange._pki import fingerprint
from exchange._tls import gateway_transport_policy
from exchange._workspace import Workspace
from tests.gateway.conftest import MOMENT
from tests.gateway.test_ephyto import AsNppo, call, envelope, fault, signed, text
from tests.support.inprocess import InProcessGateway, InProcessNode

MESSAGE_ID = "ephyto:AA:AA-EPHYTO-2026-004512"
NUMBER = "<hub:hubTrackingNumber>{}</hub:hubTrackingNumber>"


#: the hub client's TLS identity (AA's NPPO): it reads the message it sent, as any sender may
AS_AA = {"X-Test-NPPO": "AA"}


@pytest.fixture
def bb_node(workspace: Workspace, tmp_path: Path) -> Iterator[InProcessNode]:
    node = InProcessNode(workspace, "BB", tmp_path / "bb.db", MOMENT)
    yield node
    node.close()


@pytest.fixture
def hub(workspace: Workspace, tmp_path: Path, bb_node: InProcessNode) -> Iterator[InProcessGateway]:
    """The gateway with BB's node as BB's system (its inbox gets the deliveries) and mutual TLS identities."""
    gateway = InProcessGateway(workspace, tmp_path / "gateway.db", MOMENT, bb_node.app,
                               node_urls={"BB": "http://bb.test"})
    gateway.app.state.gateway.transport = gateway_transport_policy(workspace)
    gateway.run(gateway._client.aclose())
    gateway._client = httpx.AsyncClient(transport=httpx.ASGITransport(app=AsNppo(gateway.app, workspace)),
                                        base_url="http://gateway.test", timeout=60)
    yield gateway
    gateway.close()


def deliver_queue(hub: InProcessGateway) -> None:
    hub.run(hub.app.state.gateway.deliverer.run_once())


def test_a_hub_delivery_to_a_ptx_node_is_forwarded_checked_and_receipted(
    hub: InProcessGateway, bb_node: InProcessNode, workspace: Workspace
) -> None:
    document = signed(workspace)
    status, answer = call(hub, "DeliverEnvelope", f"<hub:env>{envelope(document)}</hub:env>")
    assert status == 200, fault(answer)
    (number,) = text(answer, "hubDeliveryNumber")
    assert text(answer, "HUBTrackingInfo") == ["PendingDelivery"]
    assert text(call(hub, "GetImportEnvelopeHeaders", nppo="BB")[1], "hubDeliveryNumber") == []  # not pulled too

    queued = hub.get(f"/v1/messages/{MESSAGE_ID}", headers=AS_AA).json()
    assert (queued["status"], queued["sender"], queued["receiver"]) == ("ACCEPTED", "AA", "BB")
    assert queued["report"]["hub_number"] == number
    sent = hub.get(f"/v1/messages/{MESSAGE_ID}/envelope", headers=AS_AA).content
    check = verify_signature(sent)
    assert check.signer is not None  # signed by the gateway, not by AA's node: nothing forged
    assert fingerprint(check.signer) == fingerprint(workspace.gateway_signer().certificate)
    assert fingerprint(check.signer) != fingerprint(workspace.node("AA").certificate)

    deliver_queue(hub)
    assert hub.get(f"/v1/messages/{MESSAGE_ID}", headers=AS_AA).json()["status"] == "ACKNOWLEDGED"  # BB's receipt, verified
    _, tracked = call(hub, "GetEnvelopeTrackingInfo", NUMBER.format(number))
    assert text(tracked, "HUBTrackingInfo") == ["Delivered"]

    received = bb_node.get(f"/v1/inbox/{MESSAGE_ID}").json()
    assert (received["verdict"], received["issuer"]) == ("RECEIVED", "AA NPPO")
    sender_check = next(c for c in received["checks"] if c["name"] == "sender-authentication")
    assert [f["code"] for f in sender_check["findings"]] == ["NODE-SENDER-RELAYED"]
    assert bb_node.get(f"/v1/documents/{MESSAGE_ID}").content == document  # byte for byte as AA's NPPO signed it

    status, settled = call(hub, "AcknowledgeEnvelopeReceipt", NUMBER.format(number), nppo="BB")
    assert status == 500 and fault(settled).startswith("GW-RETRY-NOT-ALLOWED")  # the node's receipt settled it
    status, again = call(hub, "DeliverEnvelope", f"<hub:env>{envelope(document)}</hub:env>")
    assert status == 200 and text(again, "hubDeliveryNumber") == [number]
    assert text(again, "HUBTrackingInfo") == ["Delivered"]


def test_a_certificate_bb_rejects_is_delivered_not_readable(
    hub: InProcessGateway, bb_node: InProcessNode, workspace: Workspace
) -> None:
    """BB's own trust decides: here BB no longer recognises AA's NPPO (its certificate is revoked after the gateway
    accepted the delivery), so BB's signed receipt is a rejection and AA's tracking says DeliveredNotReadable."""
    document = signed(workspace)
    _, answer = call(hub, "DeliverEnvelope", f"<hub:env>{envelope(document)}</hub:env>")
    (number,) = text(answer, "hubDeliveryNumber")
    workspace.revoke("AA/nppo", moment=MOMENT)
    deliver_queue(hub)
    assert hub.get(f"/v1/messages/{MESSAGE_ID}", headers=AS_AA).json()["status"] == "RECEIVER_REJECTED"
    _, tracked = call(hub, "GetEnvelopeTrackingInfo", NUMBER.format(number))
    assert text(tracked, "HUBTrackingInfo") == ["DeliveredNotReadable"]
    assert "TRUST-CERT-REVOKED" in " ".join(text(tracked, "hubDeliveryErrorMessage"))


def test_the_gateway_takes_no_relayed_envelope_on_its_own_submission_path(
    hub: InProcessGateway, workspace: Workspace
) -> None:
    """An envelope the gateway signed is no sender's: posted to /v1/messages it is refused like any spoof."""
    call(hub, "DeliverEnvelope", f"<hub:env>{envelope(signed(workspace))}</hub:env>")
    sent = hub.get(f"/v1/messages/{MESSAGE_ID}/envelope", headers=AS_AA).content
    response = hub.post("/v1/messages", content=sent, headers={"Content-Type": "application/xml",
                                                                 "X-Test-NPPO": "AA"})
    assert response.status_code == 403
    codes = [f["code"] for c in response.json()["checks"] for f in c["findings"]]
    assert "GW-SENDER-MISMATCH" in codes


def test_the_receiver_may_still_read_a_forwarded_certificate_by_its_number(hub: InProcessGateway,
                                                                            workspace: Workspace) -> None:
    """PULLSingleImportEnvelope reads it (nothing is settled by reading); it is never listed for pulling."""
    document = signed(workspace)
    _, answer = call(hub, "DeliverEnvelope", f"<hub:env>{envelope(document)}</hub:env>")
    (number,) = text(answer, "hubDeliveryNumber")
    _, pulled = call(hub, "PULLSingleImportEnvelope", NUMBER.format(number), nppo="BB")
    assert base64.b64decode(text(pulled, "Content")[0]) == document
    assert text(call(hub, "PULLImportEnvelope", nppo="BB")[1], "hubDeliveryNumber") == []
