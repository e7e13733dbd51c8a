"""A single window's pages in process (ASGI), wired to the real gateway app and the other country's node."""

from __future__ import annotations

import html as htmllib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from exchange._builder import load_input
from exchange._catalogue import default_catalogue
from exchange._workspace import Workspace
from exchange.node import create_app, load_settings
from gateway._app import create_app as create_gateway
from gateway._settings import load_settings as gateway_settings
from tests.exchange.node.conftest import MOMENT

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

COO = "certificate-of-origin"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class Hosts(httpx.AsyncBaseTransport):
    """Routes each request to the in-process app named by its host (the gateway delivers to the nodes this way)."""

    def __init__(self, apps: dict[str, FastAPI]) -> None:
        self.transports = {host: httpx.ASGITransport(app=app) for host, app in apps.items()}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        transport = self.transports.get(request.url.host)
        if transport is None:
            raise httpx.ConnectError(f"no app at {request.url.host}", request=request)
        return await transport.handle_async_request(request)


@dataclass
class Room:
    """The gateway and both single windows, in process, each with a client for its pages."""

    aa: httpx.AsyncClient
    bb: httpx.AsyncClient
    gateway: Any  # gateway._app.Gateway
    gw: httpx.AsyncClient | None = None  # the gateway's own pages

    async def deliver(self) -> None:
        assert self.gateway.deliverer is not None
        await self.gateway.deliverer.run_once()


@pytest.fixture
async def room(workspace: Workspace, tmp_path: Path) -> AsyncIterator[Room]:
    gateway_client = httpx.AsyncClient(transport=Hosts({}))
    gateway_app = create_gateway(
        gateway_settings(workspace=workspace.path, database_url=f"sqlite:///{tmp_path / 'gw.db'}",
                         node_urls={"AA": "http://aa.test", "BB": "http://bb.test"}),
        http_client=gateway_client, now=lambda: MOMENT, run_worker=False,
    )
    to_gateway = [httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway_app)) for _ in range(2)]
    nodes = {
        country: create_app(load_settings(country=country, workspace=workspace.path, gateway_url="http://gateway.test",
                                          database_url=f"sqlite:///{tmp_path / f'{country}.db'}", demo=True),
                            client=client, clock=lambda: MOMENT)
        for country, client in zip(("AA", "BB"), to_gateway, strict=True)
    }
    gateway_client._transport = Hosts({"aa.test": nodes["AA"], "bb.test": nodes["BB"]})
    async with gateway_app.router.lifespan_context(gateway_app):
        pages = {country: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{country}.ui")
                 for country, app in {**nodes, "gateway": gateway_app}.items()}
        pages["gateway"].headers["Authorization"] = f"Bearer {gateway_app.state.gateway.access.token}"
        yield Room(pages["AA"], pages["BB"], gateway_app.state.gateway, pages["gateway"])
        for client in (*pages.values(), *to_gateway, gateway_client):
            await client.aclose()
    for app in nodes.values():
        app.state.node.store.close()


def example(type_id: str = COO) -> dict[str, Any]:
    doc_type = default_catalogue().get(type_id)
    assert doc_type.input_example is not None
    return load_input(doc_type.input_example)


async def send(client: httpx.AsyncClient, data: Any = None, **fields: str) -> httpx.Response:
    form = {"type": COO, "to": "BB", "issuer": "", "data": json.dumps(example() if data is None else data), **fields}
    return await client.post("/ui/issue", data=form, headers={**FORM, "Origin": str(client.base_url).rstrip("/")})


def textarea(html: str) -> str:
    found = re.search(r'<textarea name="data"[^>]*>(.*?)</textarea>', html, re.S)
    assert found, "no data textarea"
    return htmllib.unescape(found.group(1))


def snapshots(body: str) -> list[dict[str, Any]]:
    return [json.loads(data) for data in re.findall(r"^event: snapshot\ndata: (.*)$", body, flags=re.MULTILINE)]


async def test_the_issue_form_is_prefilled_from_the_type_example(room: Room) -> None:
    page = await room.aa.get("/ui/issue")
    assert page.status_code == 200
    html = page.text
    options = re.findall(r'<option value="([a-z-]+)"(?: selected)?>\1</option>', html)
    assert {COO, "phytosanitary-certificate", "commercial-invoice", "customs-declaration"} <= set(options)
    assert json.loads(textarea(html)) == example(COO)
    assert re.search(r'<option value="BB" selected>BB</option>', html)
    assert 'name="tamper"' in html and "SIG-DIGEST-MISMATCH" in html
    other = await room.aa.get("/ui/issue", params={"type": "phytosanitary-certificate"})
    assert '<option value="phytosanitary-certificate" selected>' in other.text
    assert json.loads(textarea(other.text)) == example("phytosanitary-certificate")
    # an unknown type falls back to the first one, never echoed
    odd = await room.aa.get("/ui/issue", params={"type": "<b>nope</b>"})
    assert odd.status_code == 200 and "<b>nope" not in odd.text


async def test_issue_send_deliver_and_see_the_receipt_on_both_sides(room: Room) -> None:
    sent = await send(room.aa)
    assert sent.status_code == 303
    location = sent.headers["location"]
    assert location.startswith("/ui/outbox/")
    message_id = location.rsplit("/", 1)[1]

    page = await room.aa.get(location)
    assert 'data-status="ACCEPTED"' in page.text
    checks = re.findall(r'<tr class="check st-(\w+)" data-check="([\w-]+)"', page.text)
    assert len(checks) == 11 and {state for state, _ in checks} == {"ok"}
    assert "Not yet: this page updates by itself" in page.text
    assert f'http://gateway.test/ui/messages/{message_id}' in page.text

    await room.deliver()
    page = await room.aa.get(location)  # refreshed from the gateway, receipt fetched and verified here
    html = page.text
    assert 'data-status="ACKNOWLEDGED"' in html
    receipt = html[html.index('id="receipt"'):].split("</dl>")[0]
    assert "✓ yes" in receipt and 'data-status="RECEIVED"' in receipt and "(matches the envelope sent)" in receipt
    assert "Receipt signature (BB&#39;s node) verifies" in html and "Issuer&#39;s signature verifies" in html

    home = (await room.aa.get("/ui")).text
    row = home[home.index(f'data-message-id="{message_id}"'):].split("</tr>")[0]
    assert 'data-status="ACKNOWLEDGED"' in row and "✓ RECEIVED" in row

    inbox = (await room.bb.get("/ui")).text
    row = inbox[inbox.index(f'data-message-id="{message_id}"'):].split("</tr>")[0]
    assert 'data-verdict="RECEIVED"' in row and ">AA<" in row and COO in row
    detail = (await room.bb.get(f"/ui/inbox/{message_id}")).text
    checks = re.findall(r'<tr class="check st-(\w+)" data-check="([\w-]+)"', detail)
    assert checks and {state for state, _ in checks} == {"ok"}
    assert "Document received (certificate-of-origin)" in detail and "Receipt answered" in detail
    assert "Golden Harvest Foods Co., Ltd." in detail and "◆ signature 1" in detail


async def test_a_tampered_send_is_rejected_with_the_code(room: Room) -> None:
    sent = await send(room.aa, tamper="on")
    assert sent.status_code == 303
    html = (await room.aa.get(sent.headers["location"])).text
    assert 'data-status="REJECTED"' in html and "SIG-DIGEST-MISMATCH" in html
    assert re.search(r'<tr class="check st-fail" data-check="document-signature">.*?SIG-DIGEST-MISMATCH', html, re.S)
    assert "yes — one letter changed after signing" in html and "Issuer&#39;s signature does not verify" in html
    assert "None: the gateway rejected the message" in html
    home = (await room.aa.get("/ui")).text
    assert ">tampered<" in home and "SIG-DIGEST-MISMATCH" in home
    await room.deliver()
    assert "Nothing received yet." in (await room.bb.get("/ui")).text


async def test_bad_input_comes_back_to_the_form_with_the_problem(room: Room) -> None:
    not_json = await room.aa.post("/ui/issue", data={"type": COO, "to": "BB", "data": "{oops"},
                                  headers={**FORM, "Origin": "http://AA.ui"})
    assert not_json.status_code == 422
    assert "INPUT-INVALID" in not_json.text and "the data is not JSON" in not_json.text
    assert textarea(not_json.text) == "{oops"  # kept for editing

    data = example()
    del data["CertificateOfOrigin"]["ExchangedDocument"]["ID"]
    invalid = await send(room.aa, data)
    assert invalid.status_code == 422 and "INPUT-INVALID" in invalid.text
    assert '<table class="findings">' in invalid.text and "ExchangedDocument" in invalid.text
    assert "Nothing sent yet." in (await room.aa.get("/ui")).text

    foreign = await send(room.aa, issuer="no-such-authority")
    assert foreign.status_code in (403, 422) and 'class="code"' in foreign.text


async def test_a_form_post_from_another_site_is_refused(room: Room) -> None:
    for headers in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        refused = await room.aa.post("/ui/issue", data={"type": COO, "to": "BB", "data": json.dumps(example())},
                                     headers={**FORM, **headers})
        assert refused.status_code == 403
    assert "Nothing sent yet." in (await room.aa.get("/ui")).text


async def test_an_unreachable_gateway_keeps_the_message_and_says_so(workspace: Workspace, tmp_path: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    gateway = httpx.AsyncClient(transport=httpx.MockTransport(refuse))
    app = create_app(load_settings(country="AA", workspace=workspace.path, gateway_url="http://gateway.test",
                                   database_url=f"sqlite:///{tmp_path / 'aa.db'}"), client=gateway, clock=lambda: MOMENT)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://aa.ui") as client:
        answer = await send(client)
        assert answer.status_code == 502 and "NODE-GATEWAY-UNREACHABLE" in answer.text
        link = re.search(r'<a href="(/ui/outbox/[^"]+)">the message stays in the outbox</a>', answer.text)
        assert link
        page = await client.get(link.group(1))
        assert 'data-status="SUBMIT_FAILED"' in page.text
    await gateway.aclose()
    app.state.node.store.close()


async def test_a_node_not_in_demo_mode_offers_no_tamper_switch(workspace: Workspace, tmp_path: Path) -> None:
    gateway = httpx.AsyncClient(transport=httpx.MockTransport(lambda request: httpx.Response(500)))
    app = create_app(load_settings(country="AA", workspace=workspace.path, gateway_url="http://gateway.test",
                                   database_url=f"sqlite:///{tmp_path / 'aa.db'}"), client=gateway, clock=lambda: MOMENT)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://aa.ui") as client:
        form = await client.get("/ui/issue")
        assert form.status_code == 200 and 'name="tamper"' not in form.text
        forged = await send(client, tamper="on")  # the field posted anyway: refused, nothing signed or sent
        assert forged.status_code == 403 and "NODE-DEMO-ONLY" in forged.text
        assert (await client.get("/v1/outbox")).json()["items"] == []
    await gateway.aclose()
    app.state.node.store.close()


async def test_events_carry_the_rows_and_follow_a_sent_message(room: Room) -> None:
    sent = await send(room.aa)
    message_id = sent.headers["location"].rsplit("/", 1)[1]
    stream = await room.aa.get("/ui/events", params={"seconds": 0})
    assert stream.headers["content-type"].startswith("text/event-stream")
    (snapshot,) = snapshots(stream.text)
    assert f'data-message-id="{message_id}" data-status="ACCEPTED"' in snapshot["html"]["outbox-rows"]
    assert "Nothing received yet." in snapshot["html"]["inbox-rows"]

    page = (await room.aa.get(sent.headers["location"])).text
    token = htmllib.unescape(re.search(r'data-token="([^"]+)"', page).group(1))  # type: ignore[union-attr]
    (same,) = snapshots((await room.aa.get("/ui/events", params={"outbox": message_id, "seconds": 0})).text)
    assert same["token"] == token
    await room.deliver()
    (moved,) = snapshots((await room.aa.get("/ui/events", params={"outbox": message_id, "seconds": 0})).text)
    assert moved["token"].startswith("ACKNOWLEDGED|True|")
    # the list follows the message at the gateway too
    (after,) = snapshots((await room.aa.get("/ui/events", params={"seconds": 0})).text)
    assert f'data-message-id="{message_id}" data-status="ACKNOWLEDGED"' in after["html"]["outbox-rows"]
    (bb,) = snapshots((await room.bb.get("/ui/events", params={"seconds": 0})).text)
    assert f'data-message-id="{message_id}" data-verdict="RECEIVED"' in bb["html"]["inbox-rows"]


async def test_unknown_messages_are_404_pages(room: Room) -> None:
    for path in ("/ui/outbox/msg-nobody-knows", "/ui/inbox/msg-nobody-knows"):
        page = await room.aa.get(path)
        assert page.status_code == 404 and "NODE-MESSAGE-UNKNOWN" in page.text


async def test_node_pages_load_nothing_from_elsewhere(room: Room) -> None:
    sent = await send(room.aa)
    for path in ("/ui", "/ui/issue", sent.headers["location"]):
        page = await room.aa.get(path)
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert not re.search(r'(?:src)="(?:https?:)?//', page.text)
        assert not re.search(r'<link[^>]+href="(?:https?:)?//', page.text)
        assert "<script>" not in page.text and 'id="large-text"' in page.text
    assert (await room.aa.get("/ui/static/app.js")).status_code == 200
    assert (await room.aa.get("/ui/static/secret.key")).status_code == 404
