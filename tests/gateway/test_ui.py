"""The gateway dashboard in process (ASGI): list, filters, counters, message page, audit page, events, static files."""

from __future__ import annotations

import asyncio
import html as htmllib
import json
import re
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from exchange._envelope import ReceiptStatus
from exchange._workspace import Workspace
from gateway._pipeline import CHECK_ORDER
from gateway._settings import load_settings
from gateway._ui import UI
from tests.gateway.conftest import MOMENT, MessageFactory, sample
from tests.gateway.test_app import XML, Receiver, started

TAMPER_TEXT = "Golden Harvest Foods"  # a text of the certificate-of-origin sample


def tamper(document: bytes) -> bytes:
    """Change one letter after signing: the issuer's digest no longer matches (SIG-DIGEST-MISMATCH)."""
    assert TAMPER_TEXT.encode() in document
    return document.replace(TAMPER_TEXT.encode(), TAMPER_TEXT.replace("G", "H", 1).encode(), 1)


@pytest.fixture
def settings(workspace: Workspace, tmp_path: Path) -> Any:
    return load_settings(workspace=workspace.path, database_url=f"sqlite:///{tmp_path / 'gw.db'}",
                         node_urls={"BB": "http://bb.test", "AA": "http://aa.test"},
                         delivery={"base_delay": 0.01, "max_delay": 0.02, "request_timeout": 2, "lease": 5})


@pytest.fixture
def clock() -> list[Any]:
    return [MOMENT]


@pytest.fixture
async def gw(settings: Any, workspace: Workspace, clock: list[Any]) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    async for client, gateway in started(settings, Receiver(workspace), clock):
        yield client, gateway


async def submit(client: httpx.AsyncClient, body: bytes, expected: int) -> str:
    response = await client.post("/v1/messages", content=body, headers=XML)
    assert response.status_code == expected, response.text
    message_id: str = response.json()["message_id"]
    return message_id


def rows(html: str) -> dict[str, str]:
    """message id -> status of each row of the list."""
    return dict(re.findall(r'data-message-id="([^"]+)" data-status="([^"]+)"', html))


def counter(html: str, name: str) -> int:
    found = re.search(rf'data-count="{name}">(\d+)<', html)
    assert found, f"no counter {name}"
    return int(found.group(1))


def events(body: str) -> list[dict[str, Any]]:
    """The ``snapshot`` events of a server-sent-events body."""
    return [json.loads(data) for data in re.findall(r"^event: snapshot\ndata: (.*)$", body, flags=re.MULTILINE)]


async def test_list_shows_messages_codes_and_counters(gw: Any, make_message: MessageFactory) -> None:
    client, _ = gw
    accepted = await submit(client, make_message(message_id="msg-accepted-0000001"), 202)
    rejected = await submit(client, make_message(message_id="msg-tampered-0000001", tamper_document=tamper), 422)
    page = await client.get(UI)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert rows(html) == {accepted: "ACCEPTED", rejected: "REJECTED"}
    assert counter(html, "total") == 2 and counter(html, "ACCEPTED") == 1 and counter(html, "REJECTED") == 1
    assert counter(html, "ACKNOWLEDGED") == 0
    # the rejected row names the code that rejected it
    rejected_row = html[html.index(f'data-message-id="{rejected}"'):].split("</tr>")[0]
    assert "SIG-DIGEST-MISMATCH" in rejected_row
    assert f'href="/ui/messages/{accepted}"' in html
    assert 'data-src="/ui/events"' in html


async def test_filters_by_status_type_and_party(gw: Any, make_message: MessageFactory) -> None:
    client, _ = gw
    coo = await submit(client, make_message(message_id="msg-coo-00000000001"), 202)
    phyto = await submit(client, make_message("phytosanitary-certificate", message_id="msg-phyto-000000001"), 202)
    back = await submit(client, make_message(message_id="msg-back-000000001", sender="BB", receiver="AA"), 202)
    bad = await submit(client, make_message(message_id="msg-bad-0000000001", tamper_document=tamper), 422)

    assert set(rows((await client.get(UI, params={"status": "REJECTED"})).text)) == {bad}
    assert set(rows((await client.get(UI, params={"type": "phytosanitary-certificate"})).text)) == {phyto}
    # a party matches the sender or the receiver
    assert set(rows((await client.get(UI, params={"party": "BB"})).text)) == {coo, phyto, back, bad}
    sent_by_bb = await client.get(UI, params={"party": "AA", "type": "certificate-of-origin", "status": "ACCEPTED"})
    assert set(rows(sent_by_bb.text)) == {coo, back}
    # the events URL keeps the filters; the counters stay global
    filtered = await client.get(UI, params={"status": "REJECTED"})
    assert 'data-src="/ui/events?status=REJECTED"' in filtered.text
    assert counter(filtered.text, "total") == 4
    # a value that is not an option is ignored, never echoed
    odd = await client.get(UI, params={"status": "<script>x</script>", "party": "ZZ"})
    assert set(rows(odd.text)) == {coo, phyto, back, bad}
    assert "<script>x" not in odd.text and "ZZ" not in odd.text


async def test_message_page_shows_checks_journey_xml_signers_and_receipt(
    gw: Any, make_message: MessageFactory, workspace: Workspace
) -> None:
    client, gateway = gw
    message_id = await submit(client, make_message(), 202)
    await gateway.deliverer.run_once()
    page = await client.get(f"{UI}/messages/{message_id}")
    assert page.status_code == 200
    html = page.text
    assert 'data-status="ACKNOWLEDGED"' in html
    # every check of the pipeline, each passed
    checks = re.findall(r'<tr class="check st-(\w+)" data-check="([\w-]+)"', html)
    assert [name for _, name in checks] == list(CHECK_ORDER)
    assert {state for state, _ in checks} == {"ok"}
    # the journey: six arrows, all done, drawn locally as SVG
    svg = html[html.index('<svg class="seq"'):html.index("</svg>")]
    assert svg.count("data-step=") == 6 and "st-pending" not in svg.split("</defs>")[1]
    assert "AA single window" in svg and "BB single window" in svg and "signed receipt: RECEIVED" in svg
    # timeline: delivery attempt and receipt
    assert "Delivery attempt 1: acknowledged" in html and "Signed receipt from BB: RECEIVED (verified)" in html
    # envelope, document and receipt, each with its signature marked and its signer chain
    assert html.count('class="sigsum"') == 3
    assert "covers the whole document (Envelope and everything in it) except this signature" in html
    assert 'class="xl sig"' in html and "◆ signature 1" in html
    assert workspace.node("AA").certificate.subject.rfc4514_string() in html
    assert workspace.authority("AA", "chamber-of-commerce").certificate.subject.rfc4514_string() in html
    assert workspace.node("BB").certificate.subject.rfc4514_string() in html
    for label in ("Envelope signature (AA&#39;s node)", "Document signature (issuing authority)",
                  "Receipt signature (BB&#39;s node)"):
        assert f"{label} verifies" in html
    assert "does not verify" not in html and "valid at" in html and "expired at" not in html
    # the receipt's own fields, its digest compared with what was delivered
    facts = html[html.index('id="receipt-facts"'):].split("</dl>")[0]
    assert "RECEIVED" in facts and "(matches what was delivered)" in facts and message_id in facts
    # a page that reloads itself when the message changes
    assert f'data-src="/ui/events?message={message_id}"' in html


async def test_tampered_message_page_shows_the_digest_mismatch(gw: Any, make_message: MessageFactory) -> None:
    client, _ = gw
    message_id = await submit(client, make_message(tamper_document=tamper), 422)
    html = (await client.get(f"{UI}/messages/{message_id}")).text
    assert 'data-status="REJECTED"' in html
    signature_row = re.search(r'<tr class="check st-fail" data-check="document-signature">(.*?)</tr>', html, re.S)
    assert signature_row and "SIG-DIGEST-MISMATCH" in signature_row.group(1)
    assert re.search(r'<tr class="check st-skip" data-check="issuer-trust">', html)
    assert "never delivered" in html and "checks: REJECTED" in html
    assert "Document signature (issuing authority) does not verify" in html
    assert "Envelope signature (AA&#39;s node) verifies" in html
    # the tampered text is there, shown as text inside the covered region
    assert TAMPER_TEXT.replace("G", "H", 1) in html


async def test_xml_from_a_document_is_shown_as_text_never_as_markup(gw: Any, make_message: MessageFactory) -> None:
    client, _ = gw
    hostile = sample("certificate-of-origin").replace(
        TAMPER_TEXT.encode(), b"&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot;", 1)
    message_id = await submit(client, make_message(document=hostile), 202)
    html = (await client.get(f"{UI}/messages/{message_id}")).text
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp;amp;" not in html  # not double-escaped either
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;x&#34;" in html


async def test_unknown_message_is_a_404_page(gw: Any) -> None:
    client, _ = gw
    page = await client.get(f"{UI}/messages/msg-nobody-knows-me")
    assert page.status_code == 404 and "GW-MESSAGE-UNKNOWN" in page.text
    assert page.headers["content-type"].startswith("text/html")


async def test_audit_page_says_whether_the_chain_verifies(
    gw: Any, make_message: MessageFactory, settings: Any
) -> None:
    client, _ = gw
    message_id = await submit(client, make_message(), 202)
    html = (await client.get(f"{UI}/audit")).text
    assert 'id="audit-verdict" data-ok="true"' in html and "The hash chain verifies" in html
    assert f'href="/ui/messages/{message_id}"' in html
    db = Path(settings.store_url.removeprefix("sqlite:///"))
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1")
    html = (await client.get(f"{UI}/audit")).text
    assert 'data-ok="false"' in html and "AUDIT-CHAIN-BROKEN" in html and "broken at entry #1" in html


async def test_events_send_a_snapshot_of_rows_and_counters(gw: Any, make_message: MessageFactory) -> None:
    client, _ = gw
    message_id = await submit(client, make_message(), 202)
    response = await client.get(f"{UI}/events", params={"seconds": 0})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.text.startswith("retry: ")
    (snapshot,) = events(response.text)
    assert rows(snapshot["html"]["rows"]) == {message_id: "ACCEPTED"}
    assert counter(snapshot["html"]["counters"], "ACCEPTED") == 1
    assert snapshot["total"] == 1 and snapshot["shown"] == 1 and snapshot["token"]
    # filters apply to the rows
    response = await client.get(f"{UI}/events", params={"seconds": 0, "status": "REJECTED"})
    (snapshot,) = events(response.text)
    assert rows(snapshot["html"]["rows"]) == {} and "No messages match these filters" in snapshot["html"]["rows"]


async def test_events_follow_new_messages_and_status_changes_without_reload(
    gw: Any, make_message: MessageFactory
) -> None:
    client, gateway = gw

    async def meanwhile() -> None:
        await asyncio.sleep(0.4)
        await submit(client, make_message(), 202)
        await asyncio.sleep(0.8)
        await gateway.deliverer.run_once()

    stream, _ = await asyncio.gather(client.get(f"{UI}/events", params={"seconds": 2.5}), meanwhile())
    snapshots = events(stream.text)
    seen = [rows(snapshot["html"]["rows"]) for snapshot in snapshots]
    assert seen[0] == {}
    assert {"msg-0000000000000001": "ACCEPTED"} in seen
    assert seen[-1] == {"msg-0000000000000001": "ACKNOWLEDGED"}
    # a snapshot only when something changed: never the same twice, and not one per poll
    tokens = [snapshot["token"] for snapshot in snapshots]
    assert len(set(tokens)) == len(tokens) and 3 <= len(tokens) <= 4  # 4 if a poll fell inside the delivery


async def test_message_events_carry_the_token_the_page_was_rendered_with(
    gw: Any, make_message: MessageFactory
) -> None:
    client, gateway = gw
    message_id = await submit(client, make_message(), 202)
    page = await client.get(f"{UI}/messages/{message_id}")
    token = re.search(r'data-token="([^"]+)"', page.text)
    assert token
    (first,) = events((await client.get(f"{UI}/events", params={"message": message_id, "seconds": 0})).text)
    assert first["token"] == htmllib.unescape(token.group(1))
    await gateway.deliverer.run_once()
    (after,) = events((await client.get(f"{UI}/events", params={"message": message_id, "seconds": 0})).text)
    assert after["token"] != first["token"] and after["token"].startswith("ACKNOWLEDGED|")


async def test_pages_load_nothing_from_elsewhere(gw: Any, make_message: MessageFactory) -> None:
    client, gateway = gw
    message_id = await submit(client, make_message(), 202)
    await gateway.deliverer.run_once()
    for path in (UI, f"{UI}/messages/{message_id}", f"{UI}/audit"):
        page = await client.get(path)
        assert page.status_code == 200
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert not re.search(r'(?:src|href)="(?:https?:)?//', page.text), path
        assert " on" + "click=" not in page.text and "<script>" not in page.text  # no inline script at all
        for asset in re.findall(r'(?:src|href)="(/ui/static/[^"]+)"', page.text):
            assert (await client.get(asset)).status_code == 200
    css = await client.get(f"{UI}/static/app.css")
    assert css.headers["content-type"].startswith("text/css")
    assert "@import" not in css.text and "url(http" not in css.text and "@font-face" not in css.text
    js = await client.get(f"{UI}/static/app.js")
    assert js.headers["content-type"].startswith("text/javascript") and "localStorage" in js.text
    assert not re.search(r"https?://", js.text)
    for bad in ("nope.css", "..%2F_ui.py", "%2E%2E%2Fapp.css"):
        assert (await client.get(f"{UI}/static/{bad}")).status_code == 404


async def test_large_text_toggle_is_on_every_page(gw: Any) -> None:
    client, _ = gw
    for path in (UI, f"{UI}/audit"):
        html = (await client.get(path)).text
        assert 'id="large-text"' in html and 'aria-pressed="false"' in html
    css = (await client.get(f"{UI}/static/app.css")).text
    assert re.search(r"html\.large \{ font-size: 2\dpx; \}", css)


async def test_a_failing_delivery_and_a_receiver_rejection_are_drawn(
    settings: Any, workspace: Workspace, clock: list[Any], make_message: MessageFactory
) -> None:
    async for client, gateway in started(settings, Receiver(workspace, fail_first=1), clock):
        message_id = await submit(client, make_message(), 202)
        await gateway.deliverer.run_once()
        html = (await client.get(f"{UI}/messages/{message_id}")).text
        assert 'data-status="WAITING_FOR_RETRY"' in html
        assert "Delivery attempt 1: retryable" in html and "HTTP 503" in html
        svg = html[html.index('<svg class="seq"'):html.index("</svg>")]
        assert "delivery #1: retryable" in svg and svg.count('class="step st-pending') >= 3
    async for client, gateway in started(settings, Receiver(workspace, status=ReceiptStatus.REJECTED), clock):
        message_id = await submit(client, make_message(message_id="msg-refused-by-bb-01"), 202)
        await gateway.deliverer.run_once()
        html = (await client.get(f"{UI}/messages/{message_id}")).text
        assert 'data-status="RECEIVER_REJECTED"' in html
        facts = html[html.index('id="receipt-facts"'):html.index("</dl>", html.index('id="receipt-facts"'))]
        assert 'data-status="REJECTED"' in facts
        assert "SIG-DIGEST-MISMATCH" in html[html.index('id="receipt-facts"'):]  # the receiver's reason
        assert "signed receipt: REJECTED" in html
