"""A bad trust list on the gateway's disk is the gateway's fault: 503 with its own code, logged; never a 400 that
blames the sender, and never a verdict recorded against the message."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from exchange._workspace import Workspace
from gateway._app import create_app
from gateway._settings import load_settings
from tests.gateway.conftest import MOMENT, MessageFactory

XML = {"Content-Type": "application/xml"}


@pytest.fixture
async def client(workspace: Workspace, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = load_settings(workspace=workspace.path, database_url=f"sqlite:///{tmp_path / 'gw.db'}",
                             node_urls={"BB": "http://bb.test", "AA": "http://aa.test"})
    delivery = httpx.AsyncClient(transport=httpx.MockTransport(lambda request: httpx.Response(503)))
    app = create_app(settings, http_client=delivery, now=lambda: MOMENT, run_worker=False)
    async with app.router.lifespan_context(app):
        operator = {"Authorization": f"Bearer {app.state.gateway.access.token}"}  # it reads every message
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test",
                                     headers=operator) as c:
            yield c
    await delivery.aclose()


def break_trust_list(workspace: Workspace, country: str) -> Path:
    """Change one signed word of a country's trust list on disk: its signature no longer verifies."""
    path = workspace.file(workspace.country(country).trust_list)
    data = path.read_bytes()
    assert data.count(b"Chamber of Commerce") >= 1
    path.write_bytes(data.replace(b"Chamber of Commerce", b"Chamber of Commerse", 1))
    return path


@pytest.mark.parametrize("country", ["BB", "AA"], ids=["receiver's list", "sender's list"])
async def test_a_bad_trust_list_is_a_503_with_its_own_code(
    client: httpx.AsyncClient, workspace: Workspace, make_message: MessageFactory, caplog: pytest.LogCaptureFixture,
    country: str,
) -> None:
    good = make_message(message_id="msg-config-ok-000001")
    assert (await client.post("/v1/messages", content=good, headers=XML)).status_code == 202
    broken = break_trust_list(workspace, country)
    caplog.set_level(logging.ERROR, logger="ptx.gateway")
    caplog.set_level(logging.ERROR, logger="exchange.workspace")
    response = await client.post("/v1/messages", content=make_message(message_id="msg-config-bad-00001"), headers=XML)
    assert response.status_code == 503, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == "GW-CONFIG-FAULT" and body["cause"] == "TRUST-LIST-SIGNATURE"
    assert "sender" not in body["message"].split(":")[0]  # not the sender's fault, and it says so
    assert str(broken) not in body["message"], "the gateway's file layout stays in its log"
    [record] = [r for r in caplog.records if getattr(r, "code", None) == "GW-CONFIG-FAULT"]
    assert record.levelno == logging.ERROR and "TRUST-LIST-SIGNATURE" in record.getMessage()
    assert getattr(record, "cause", None) == "TRUST-LIST-SIGNATURE"
    # the log says which file to repair (once per trust context it keeps from being built: AA's recognises BB's list)
    which = [r for r in caplog.records if r.name == "exchange.workspace"]
    assert which and {(getattr(r, "country", None), getattr(r, "path", None)) for r in which} == {(country, str(broken))}
    # nothing was decided: the message is not recorded, a resend after the repair is judged afresh
    assert (await client.get("/v1/messages/msg-config-bad-00001")).status_code == 404
