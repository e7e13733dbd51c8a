"""Stored cross-site scripting through the dashboards: markup carried in a legitimately signed document (a CDATA
section) and in the envelope header (a party name) reaches the gateway's and the node's pages only escaped."""

from __future__ import annotations

import pytest

from exchange._catalogue import default_catalogue
from exchange._dsig import sign_document
from exchange._envelope import Party, build_envelope
from exchange._transport import HEADER, sign_delivery
from tests.attacks.forge import COO, XML, Forge, sample
from tests.support.inprocess import InProcessGateway, InProcessNode

SCRIPT = "<script>alert('ptx')</script><img src=x onerror=alert(1)>"
RAW = ("<script>alert(", "<img src=x")


def hostile_message(forge: Forge, message_id: str, where: str) -> bytes:
    if where == "document":
        document = sample().replace(b"<Name>CERTIFICATE OF ORIGIN</Name>",
                                    b"<Name><![CDATA[" + SCRIPT.encode() + b"]]></Name>")
        return forge.envelope(forge.document(data=document), message_id)
    doc_type = default_catalogue().get(COO)
    envelope = build_envelope(forge.document(), sender=Party("AA", name=SCRIPT), receiver=Party("BB"),
                              document_type=COO, type_version=doc_type.version, standard=doc_type.namespace,
                              message_id=message_id, created=forge.world.moment)
    node = forge.world.node("AA")
    return sign_document(envelope, node.key, node.signing_chain)


@pytest.mark.parametrize("where", ["document", "header"])
def test_markup_in_messages_is_escaped_on_every_page(where: str, gateway: InProcessGateway, node: InProcessNode,
                                                     forge: Forge) -> None:
    message_id = f"msg-xss-in-{where}"
    body = hostile_message(forge, message_id, where)
    assert gateway.post("/v1/messages", content=body, headers=XML).status_code == 202
    gateway.run(gateway.app.state.gateway.deliverer.run_once())
    delivery = sign_delivery(body, message_id, forge.world.workspace.gateway_signer().key, moment=forge.world.moment)
    delivered = node.post("/v1/inbox", content=body, headers={**XML, HEADER: delivery})
    assert delivered.headers["PTX-Receipt-Status"] == "RECEIVED"

    pages = [gateway.get(f"/ui/messages/{message_id}"), gateway.get("/ui"), gateway.get("/ui/events?seconds=1"),
             node.get(f"/ui/inbox/{message_id}"), node.get("/ui")]
    for page in pages:
        assert page.status_code == 200, page.request.url
        assert not any(raw in page.text for raw in RAW), page.request.url
    assert "&lt;script&gt;" in pages[0].text  # shown, as text
