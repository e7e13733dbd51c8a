"""Envelopes the gateway relays from its ePhyto hub interface: signed by the gateway (it never signs as a node), taken
by the node only for the ePhyto certificate, whose own signature and issuer the node checks with its own trust."""

from __future__ import annotations

import pytest

from exchange._catalogue import default_catalogue
from exchange._dsig import sign_document
from exchange._envelope import Party, build_envelope
from exchange._workspace import Workspace
from tests.exchange.node.conftest import MOMENT, AppClient, NodeFactory, delivery_header, sample
from tests.exchange.node.test_inbox import check_as_sender

MESSAGE_ID = "ephyto:AA:AA-EPHYTO-2026-004512"
EPHYTO = "ephyto-sps-certificate"


@pytest.fixture
def bb(node_app: NodeFactory) -> AppClient:
    return node_app("BB")


def relayed(workspace: Workspace, type_id: str = EPHYTO, *, issuer: str = "nppo",
            name: str = "three-lines-attachment-languages.xml", signer: str = "gateway",
            importing: str | None = None) -> bytes:
    """What the gateway forwards: the NPPO-signed certificate in an envelope the gateway (or ``signer``) signs;
    ``importing``: the certificate names this importing country instead of BB."""
    authority = workspace.authority("AA", issuer)
    data = sample(type_id, name)
    if importing is not None:
        before = b"<ram:ImportSPSCountry>\n      <ram:ID>BB</ram:ID>"
        assert before in data
        data = data.replace(before, before.replace(b">BB<", f">{importing}<".encode()))
    document = sign_document(data, authority.key, authority.signing_chain)
    doc_type = default_catalogue().get(type_id)
    envelope = build_envelope(document, sender=Party("AA"), receiver=Party("BB"), document_type=type_id,
                              type_version=doc_type.version, standard=doc_type.namespace, message_id=MESSAGE_ID,
                              created=MOMENT)
    credential = workspace.gateway_signer() if signer == "gateway" else workspace.node(signer)
    return sign_document(envelope, credential.key, credential.signing_chain)


def deliver(bb: AppClient, workspace: Workspace, envelope: bytes) -> dict[str, object]:
    response = bb.post("/v1/inbox", content=envelope, headers=delivery_header(workspace, envelope, MESSAGE_ID))
    assert response.status_code == 200, response.text
    check = check_as_sender(workspace, response.content, envelope, MESSAGE_ID)
    assert check.verified, check.findings  # a receipt the gateway can verify, as for any delivery
    detail: dict[str, object] = bb.get(f"/v1/inbox/{MESSAGE_ID}").json()
    return detail


def codes(detail: dict[str, object], check: str) -> list[str]:
    checks = detail["checks"]
    assert isinstance(checks, list)
    found = next(c for c in checks if c["name"] == check)
    return [f["code"] for f in found["findings"]]


def test_a_relayed_ephyto_certificate_is_received_with_the_nodes_own_checks(bb: AppClient,
                                                                           workspace: Workspace) -> None:
    detail = deliver(bb, workspace, relayed(workspace))
    assert detail["verdict"] == "RECEIVED"
    assert (detail["sender"], detail["document_type"], detail["issuer"]) == ("AA", EPHYTO, "AA NPPO")
    assert codes(detail, "sender-authentication") == ["NODE-SENDER-RELAYED"]
    checks = detail["checks"]
    assert isinstance(checks, list)
    assert {c["name"]: c["status"] for c in checks}["issuer-trust"] == "passed"


def test_the_gateway_relays_no_other_type(bb: AppClient, workspace: Workspace) -> None:
    detail = deliver(bb, workspace, relayed(workspace, "certificate-of-origin", issuer="chamber-of-commerce",
                                            name="basic.xml"))
    assert detail["verdict"] == "REJECTED"
    assert codes(detail, "sender-authentication") == ["NODE-SENDER-MISMATCH"]


def test_a_relayed_certificate_from_an_unauthorised_issuer_is_rejected(bb: AppClient, workspace: Workspace) -> None:
    detail = deliver(bb, workspace, relayed(workspace, issuer="chamber-of-commerce"))
    assert detail["verdict"] == "REJECTED"
    assert "TRUST-ISSUER-NOT-AUTHORISED" in codes(detail, "issuer-trust")


def test_another_node_cannot_sign_for_the_sender(bb: AppClient, workspace: Workspace) -> None:
    """BB's own node key is not the relay: the sender is still authenticated strictly."""
    detail = deliver(bb, workspace, relayed(workspace, signer="BB"))
    assert detail["verdict"] == "REJECTED"
    assert codes(detail, "sender-authentication") == ["NODE-SENDER-MISMATCH"]


def test_a_certificate_for_another_importing_country_is_rejected(bb: AppClient, workspace: Workspace) -> None:
    """A relay (or a sender) cannot redirect a certificate the NPPO issued for CC to BB: the certificate names its
    importing country, and only that country's node takes it."""
    detail = deliver(bb, workspace, relayed(workspace, importing="CC"))
    assert detail["verdict"] == "REJECTED"
    assert codes(detail, "document-type") == ["NODE-PAYLOAD-MISMATCH"]
