"""The attack suite against the gateway's HTTP API (in process, ASGI): every attack refused by its check with
its code and HTTP status, never a 5xx, nothing refused ever forwarded, and the next valid message accepted and
delivered. The same catalogue runs against a real uvicorn process in ``test_gateway_process_attacks.py``."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest

from tests.attacks.catalogue import ATTACKS, Attack, Expect
from tests.attacks.forge import XML, Forge
from tests.support.inprocess import RecordingReceiver, SyncClient


def assert_refused(response: httpx.Response, expect: Expect) -> dict[str, Any]:
    """The gateway's answer refuses with ``expect``: status, verdict, the named check failed with the code."""
    assert response.status_code < 500, response.text[:2000]
    assert response.status_code == expect.status, response.text[:2000]
    answer: dict[str, Any] = response.json()
    assert answer["verdict"] == "REJECTED" and answer["status"] == "REJECTED"
    checks = {check["name"]: check for check in answer["checks"]}
    assert expect.check is not None
    check = checks[expect.check]
    codes = [finding["code"] for finding in check["findings"]]
    assert check["status"] == "failed" and expect.code in codes, (expect, check)
    assert all(finding["check"] == expect.check for finding in check["findings"])
    return answer


@pytest.mark.parametrize("attack", ATTACKS, ids=str)
def test_gateway_refuses(attack: Attack, gateway: SyncClient, forge: Forge, receiver: RecordingReceiver) -> None:
    message_id = f"atk-{attack.name}"
    if attack.prelude is not None:
        first = gateway.post("/v1/messages", content=attack.prelude(forge, message_id), headers=XML)
        assert first.status_code == 202, first.text
    body = attack.build(forge, message_id)
    assert_refused(gateway.post("/v1/messages", content=body, headers=XML), attack.gateway)
    if attack.network:
        assert not forge.canary.contacted(), "the gateway contacted an address named in hostile input"

    # still alive, still accepting, still delivering; what it refused never leaves
    assert gateway.get("/healthz").status_code == 200
    assert gateway.get("/readyz").status_code == 200
    valid = forge.message(f"ok-after-{attack.name}")
    accepted = gateway.post("/v1/messages", content=valid, headers=XML)
    assert accepted.status_code == 202, accepted.text
    gateway.run(gateway.app.state.gateway.deliverer.run_once())
    assert hashlib.sha256(valid).hexdigest() in receiver.digests
    assert hashlib.sha256(body).hexdigest() not in receiver.digests
    detail = gateway.get(f"/v1/messages/ok-after-{attack.name}").json()
    assert detail["status"] == "ACKNOWLEDGED", detail
    assert gateway.get("/v1/audit/verify").json()["ok"] is True
