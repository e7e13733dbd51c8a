"""The attack suite against a node's inbox (node BB in process): the node trusts nothing the gateway decided.

Every attack of the catalogue is delivered as the gateway would deliver it (``PTX-Delivery`` signed by the
gateway), so it reaches the node's own checks: the node answers with its signed receipt REJECTED, naming the
code and the check, or refuses before its checks with an HTTP error and ``{"code"}``. Never a 5xx; the next
valid delivery is RECEIVED. Then the attacks on delivery authentication itself.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from exchange._dsig import verify_signature
from exchange._envelope import ReceiptStatus, read_receipt
from exchange._pki import fingerprint
from exchange._transport import HEADER, sign_delivery
from exchange._xml import parse_xml
from tests.attacks.catalogue import ATTACKS, Attack, Expect
from tests.attacks.forge import Forge, World
from tests.support.inprocess import SyncClient


def deliver(node: SyncClient, world: World, body: bytes, message_id: str, **signing: object) -> httpx.Response:
    key = signing.get("key", world.workspace.gateway_signer().key)
    moment = signing.get("moment", world.moment)
    header = sign_delivery(body, message_id, key, moment=moment)  # type: ignore[arg-type]
    return node.post("/v1/inbox", content=body, headers={"Content-Type": "application/xml", HEADER: header})


def assert_refused(response: httpx.Response, expect: Expect, world: World) -> None:
    assert response.status_code < 500, response.text[:2000]
    assert response.status_code == expect.status, response.text[:2000]
    if expect.status != 200:
        assert response.json()["code"] == expect.code
        return
    check = verify_signature(response.content, check="receipt")
    assert check.valid and check.signer is not None
    assert fingerprint(check.signer) == world.node("BB").fingerprint  # a rejection signed by the node itself
    receipt = read_receipt(parse_xml(check.signed_content or b""))
    assert receipt.status is ReceiptStatus.REJECTED and response.headers["PTX-Receipt-Status"] == "REJECTED"
    reasons = [(reason.check, reason.code) for reason in receipt.reasons]
    assert (expect.check, expect.code) in reasons, reasons


def assert_received(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text[:2000]
    assert response.headers["PTX-Receipt-Status"] == ReceiptStatus.RECEIVED.value


@pytest.mark.parametrize("attack", ATTACKS, ids=str)
def test_node_refuses(attack: Attack, node: SyncClient, forge: Forge, world: World) -> None:
    message_id = f"atk-{attack.name}"
    if attack.prelude is not None:
        assert_received(deliver(node, world, attack.prelude(forge, message_id), message_id))
    body = attack.build(forge, message_id)
    assert_refused(deliver(node, world, body, message_id), attack.node, world)
    if attack.network:
        assert not forge.canary.contacted(), "the node contacted an address named in hostile input"
    assert node.get("/healthz").status_code == 200
    valid_id = f"ok-after-{attack.name}"
    assert_received(deliver(node, world, forge.message(valid_id), valid_id))
    document = node.get(f"/v1/documents/{message_id}")
    if attack.prelude is None:  # nothing of a refused message is served as a document
        assert document.status_code == 404 and document.json()["code"] in ("NODE-DOCUMENT-REJECTED",
                                                                             "NODE-MESSAGE-UNKNOWN")


DELIVERY_ATTACKS = {
    "no-delivery-header": lambda world, body, mid: {"Content-Type": "application/xml"},
    "delivery-signed-by-impostor": lambda world, body, mid: {
        "Content-Type": "application/xml",
        HEADER: sign_delivery(body, mid, world.impostor_node.key, moment=world.moment),
    },
    "delivery-header-for-other-body": lambda world, body, mid: {
        "Content-Type": "application/xml",
        HEADER: sign_delivery(body + b"\n", mid, world.workspace.gateway_signer().key, moment=world.moment),
    },
    "delivery-header-replayed-a-day-later": lambda world, body, mid: {
        "Content-Type": "application/xml",
        HEADER: sign_delivery(body, mid, world.workspace.gateway_signer().key, moment=world.moment - timedelta(days=1)),
    },
}


@pytest.mark.parametrize("name", DELIVERY_ATTACKS)
def test_node_refuses_deliveries_not_from_the_gateway(name: str, node: SyncClient, forge: Forge, world: World) -> None:
    message_id = f"atk-{name}"
    body = forge.message(message_id)
    response = node.post("/v1/inbox", content=body, headers=DELIVERY_ATTACKS[name](world, body, message_id))
    assert (response.status_code, response.json()["code"]) == (401, "GW-DELIVERY-NOT-AUTHENTICATED")
    assert node.get(f"/v1/inbox/{message_id}").status_code == 404  # not even recorded
    assert_received(deliver(node, world, body, message_id))  # the same message, delivered by the gateway


def test_node_refuses_an_envelope_the_gateway_signed_for_another_message_id(
    node: SyncClient, forge: Forge, world: World
) -> None:
    """The gateway's signature names message X but the envelope inside is message Y: REJECTED, not stored as Y."""
    body = forge.message("atk-envelope-y")
    response = deliver(node, world, body, "atk-delivery-x")
    assert_refused(response, Expect("routing", "NODE-DELIVERY-MISMATCH", 200), world)
    assert node.get("/v1/documents/atk-envelope-y").status_code == 404
    assert_received(deliver(node, world, body, "atk-envelope-y"))
