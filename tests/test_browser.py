"""The web pages in a real headless browser (Playwright driving Debian's chromium) against real processes.

The gateway and both single windows run as ``ptx serve`` processes on free loopback ports in a fresh workspace.
A trainer's flows: issue and send from AA's page -> the message appears in the gateway's list without a reload
-> its page shows every check -> BB's inbox shows it -> AA's outbox shows the verified receipt; a tampered send
is REJECTED with SIG-DIGEST-MISMATCH everywhere. Screenshots go to the test's tmp folder; with
``PTX_DOCS_SCREENSHOTS=1`` the dashboard screenshot is also written to ``docs/dashboard.png``.

Needs the ``playwright`` package and ``/usr/bin/chromium`` (``.ci/browser.sh`` installs it); never downloads a
browser. Without them the tests are skipped, except under CI where that is a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from exchange._builder import load_input
from exchange._catalogue import default_catalogue
from exchange._workspace import init_workspace
from exchange.testing.processes import PTX, free_port, running
from tests.support.needs import require

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]  # one room per worker at most

CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
FAST = {"PTX_DELIVERY__POLL_INTERVAL": "0.05", "PTX_DELIVERY__BASE_DELAY": "0.05", "PTX_DELIVERY__MAX_DELAY": "0.5"}
DOCS = Path(__file__).resolve().parent.parent / "docs"
TIMEOUT = 20_000  # ms: every wait for something the page shows by itself

try:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None  # type: ignore[assignment]


def _require_browser() -> Path:
    if sync_playwright is None:  # a dev dependency: a venv without it is broken, not a machine that lacks a tool
        pytest.fail("the playwright package is not installed (make venv installs the dev dependencies)")
    return require("chromium")


@dataclass(frozen=True)
class Room:
    gateway: str
    aa: str
    bb: str
    shots: Path


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Room]:
    _require_browser()
    base = tmp_path_factory.mktemp("browser")
    workspace = base / "workspace"
    init_workspace(workspace, moment=datetime.now(UTC) - timedelta(minutes=5))
    ports = {name: free_port() for name in ("gateway", "AA", "BB")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    ws = str(workspace)
    gateway = [PTX, "serve", "gateway", "--workspace", ws, "--port", str(ports["gateway"]),
               "--node", f"AA={urls['AA']}", "--node", f"BB={urls['BB']}", "--log-level", "warning"]

    def node(country: str) -> list[str]:
        return [PTX, "serve", "node", "--country", country, "--workspace", ws, "--port", str(ports[country]),
                "--gateway", urls["gateway"], "--log-level", "warning", "--demo"]  # a tampered send is shown

    shots = base / "screenshots"
    shots.mkdir()
    with ExitStack() as stack:
        stack.enter_context(running(gateway, health_url=f"{urls['gateway']}/readyz", env=FAST,
                                    log=base / "gateway.log"))
        for country in ("AA", "BB"):
            stack.enter_context(running(node(country), health_url=f"{urls[country]}/readyz",
                                        log=base / f"{country}.log"))
        yield Room(urls["gateway"], urls["AA"], urls["BB"], shots)


@pytest.fixture(scope="module")
def browser(room: Room) -> Iterator[Browser]:
    chromium = _require_browser()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def pages(browser: Browser) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.set_default_timeout(TIMEOUT)
    # Nothing may leave the machine: any request that is not to the loopback services fails the test.
    outside: list[str] = []
    context.route(re.compile(r"^(?!http://127\.0\.0\.1:\d+/).*"),
                  lambda route: (outside.append(route.request.url), route.abort()))
    yield context
    context.close()
    assert outside == [], f"pages tried to load from elsewhere: {outside}"


def shoot(page: Page, room: Room, name: str, *, full_page: bool = False) -> Path:
    path = room.shots / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    assert path.stat().st_size > 10_000  # a real picture, not a blank page
    return path


def issue(page: Page, room: Room, *, tamper: bool = False) -> str:
    """Issue a certificate of origin for BB from AA's form; the message id from the page it lands on."""
    page.goto(f"{room.aa}/ui/issue")
    expect(page.locator("select[name=type]")).to_have_value("certificate-of-origin")
    expect(page.locator("textarea[name=data]")).to_contain_text('"CertificateOfOrigin"')
    expect(page.locator("select[name=to]")).to_have_value("BB")
    if tamper:
        page.locator("#tamper").check()
    page.locator("#send").click()
    page.wait_for_url(re.compile(r"/ui/outbox/[^/]+$"))
    return page.url.rsplit("/", 1)[1]


def test_a_certificate_crosses_the_border_and_comes_back_with_a_receipt(pages: Any, room: Room) -> None:
    dashboard = pages.new_page()
    dashboard.goto(f"{room.gateway}/ui")
    expect(dashboard.locator("#live-state")).to_have_attribute("data-state", "live")
    dashboard.evaluate("window.__notReloaded = true")
    total_before = int(dashboard.locator('[data-count="total"]').inner_text())

    aa = pages.new_page()
    message_id = issue(aa, room)
    expect(aa.locator("h1 .badge")).to_have_text(re.compile("ACCEPTED|DELIVERING|DELIVERED|ACKNOWLEDGED"))

    # the gateway's list shows it without a reload, and follows it to ACKNOWLEDGED
    row = dashboard.locator(f'tr[data-message-id="{message_id}"]')
    expect(row).to_be_visible()
    expect(row).to_have_attribute("data-status", "ACKNOWLEDGED")
    assert dashboard.evaluate("window.__notReloaded") is True
    expect(dashboard.locator('[data-count="total"]')).to_have_text(str(total_before + 1))
    expect(dashboard.locator('[data-count="ACKNOWLEDGED"]')).not_to_have_text("0")

    # its page shows every check, the journey, the signatures and the receipt
    row.locator("a").click()
    dashboard.wait_for_url(f"**/ui/messages/{message_id}")
    checks = dashboard.locator("#checks tr.check")
    expect(checks).to_have_count(11)
    assert set(dashboard.locator("#checks tr.check .badge").all_inner_texts()) == {"passed"}
    expect(dashboard.locator("#sequence [data-step]")).to_have_count(6)
    expect(dashboard.locator("#sequence")).to_contain_text("signed receipt: RECEIVED")
    expect(dashboard.locator("#receipt-facts")).to_contain_text("matches what was delivered")
    expect(dashboard.locator(".signature.ok")).to_have_count(3)
    expect(dashboard.locator("pre.xml .xl.sig").first).to_be_visible()
    shoot(dashboard, room, "message")
    shoot(dashboard, room, "gateway-message", full_page=True)
    if os.environ.get("PTX_DOCS_SCREENSHOTS"):
        DOCS.mkdir(exist_ok=True)
        shutil.copyfile(room.shots / "message.png", DOCS / "message.png")

    # BB's inbox holds it, checked again by BB
    bb = pages.new_page()
    bb.goto(f"{room.bb}/ui")
    inbox_row = bb.locator(f'#inbox-rows tr[data-message-id="{message_id}"]')
    expect(inbox_row).to_have_attribute("data-verdict", "RECEIVED")
    inbox_row.locator("a").click()
    bb.wait_for_url(f"**/ui/inbox/{message_id}")
    assert set(bb.locator("#checks tr.check .badge").all_inner_texts()) == {"passed"}
    expect(bb.locator("body")).to_contain_text("Golden Harvest Foods Co., Ltd.")
    shoot(bb, room, "bb-inbox-message", full_page=True)

    # AA's outbox shows BB's receipt, verified by AA
    expect(aa.locator("h1 .badge")).to_have_text("ACKNOWLEDGED")
    expect(aa.locator("#receipt")).to_contain_text("✓ yes")
    expect(aa.locator("#receipt")).to_contain_text("matches the envelope sent")
    shoot(aa, room, "aa-outbox-receipt", full_page=True)
    aa.goto(f"{room.aa}/ui")
    expect(aa.locator(f'#outbox-rows tr[data-message-id="{message_id}"] td.receipt')).to_contain_text("RECEIVED")
    shoot(aa, room, "aa-home")


def test_a_tampered_send_is_rejected_with_the_code(pages: Any, room: Room) -> None:
    dashboard = pages.new_page()
    dashboard.goto(f"{room.gateway}/ui")
    expect(dashboard.locator("#live-state")).to_have_attribute("data-state", "live")
    dashboard.evaluate("window.__notReloaded = true")

    aa = pages.new_page()
    message_id = issue(aa, room, tamper=True)
    expect(aa.locator("h1 .badge")).to_have_text("REJECTED")
    expect(aa.locator("h1")).to_contain_text("SIG-DIGEST-MISMATCH")
    expect(aa.locator('#checks tr[data-check="document-signature"]')).to_contain_text("SIG-DIGEST-MISMATCH")
    expect(aa.locator("#receipt")).to_contain_text("never delivered")

    row = dashboard.locator(f'tr[data-message-id="{message_id}"]')
    expect(row).to_have_attribute("data-status", "REJECTED")
    expect(row.locator("td.codes")).to_contain_text("SIG-DIGEST-MISMATCH")
    assert dashboard.evaluate("window.__notReloaded") is True
    shoot(dashboard, room, "dashboard-tampered")

    row.locator("a").click()
    dashboard.wait_for_url(f"**/ui/messages/{message_id}")
    signature = dashboard.locator('#checks tr[data-check="document-signature"]')
    expect(signature).to_have_class(re.compile("st-fail"))
    expect(signature).to_contain_text("SIG-DIGEST-MISMATCH")
    expect(dashboard.locator("#sequence")).to_contain_text("never delivered")
    expect(dashboard.locator(".signature.fail")).to_contain_text("Document signature (issuing authority) does not verify")
    shoot(dashboard, room, "gateway-tampered", full_page=True)

    bb = pages.new_page()
    bb.goto(f"{room.bb}/ui")
    expect(bb.locator(f'tr[data-message-id="{message_id}"]')).to_have_count(0)


def test_the_issue_form_follows_the_type_and_keeps_bad_input(pages: Any, room: Room) -> None:
    page = pages.new_page()
    page.goto(f"{room.aa}/ui/issue")
    page.locator("select[name=type]").select_option("phytosanitary-certificate")
    page.wait_for_url(re.compile(r"type=phytosanitary-certificate"))
    expect(page.locator("select[name=type]")).to_have_value("phytosanitary-certificate")
    expected = load_input(default_catalogue().get("phytosanitary-certificate").input_example)  # type: ignore[arg-type]
    assert json.loads(page.locator("textarea[name=data]").input_value()) == expected

    page.locator("textarea[name=data]").fill('{"PhytosanitaryCertificate": ')
    page.locator("#send").click()
    expect(page.locator("#issue-error")).to_contain_text("INPUT-INVALID")
    expect(page.locator("#issue-error")).to_contain_text("the data is not JSON")
    assert page.locator("textarea[name=data]").input_value() == '{"PhytosanitaryCertificate": '
    expect(page.locator("select[name=type]")).to_have_value("phytosanitary-certificate")
    shoot(page, room, "issue-error")


def test_a_busy_dashboard_filters_audit_and_large_text(pages: Any, room: Room) -> None:
    sent = {}
    for type_id, origin, target, tamper in (
        ("phytosanitary-certificate", "aa", "BB", False),
        ("commercial-invoice", "aa", "BB", False),
        ("certificate-of-origin", "bb", "AA", False),
        ("customs-declaration", "aa", "BB", True),
    ):
        data = load_input(default_catalogue().get(type_id).input_example)  # type: ignore[arg-type]
        answer = httpx.post(f"{getattr(room, origin)}/v1/outbox", timeout=30,
                            json={"type": type_id, "data": data, "to": target, "tamper": tamper})
        assert answer.status_code == 201, answer.text
        sent[type_id] = answer.json()["message_id"]

    page = pages.new_page()
    page.set_viewport_size({"width": 1440, "height": 720})
    page.goto(f"{room.gateway}/ui")
    for type_id, message_id in sent.items():
        final = "REJECTED" if type_id == "customs-declaration" else "ACKNOWLEDGED"
        expect(page.locator(f'tr[data-message-id="{message_id}"]')).to_have_attribute("data-status", final)
    expect(page.locator(f'tr[data-message-id="{sent["certificate-of-origin"]}"]')).to_contain_text("BB → AA")
    shoot(page, room, "dashboard")
    if os.environ.get("PTX_DOCS_SCREENSHOTS"):
        DOCS.mkdir(exist_ok=True)
        shutil.copyfile(room.shots / "dashboard.png", DOCS / "dashboard.png")

    page.locator("select[name=type]").select_option("phytosanitary-certificate")
    page.wait_for_url(re.compile(r"type=phytosanitary-certificate"))
    expect(page.locator("#rows tr[data-message-id]")).to_have_count(1)
    expect(page.locator(f'tr[data-message-id="{sent["phytosanitary-certificate"]}"]')).to_be_visible()
    page.goto(f"{room.gateway}/ui?status=REJECTED")
    statuses = page.locator("#rows tr[data-status]").evaluate_all("rows => rows.map(r => r.dataset.status)")
    assert statuses and set(statuses) == {"REJECTED"}

    page.goto(f"{room.gateway}/ui/audit")
    expect(page.locator("#audit-verdict")).to_have_attribute("data-ok", "true")
    expect(page.locator("#audit-verdict")).to_contain_text("The hash chain verifies")

    small = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    page.locator("#large-text").click()
    expect(page.locator("html")).to_have_class(re.compile("large"))
    page.reload()  # remembered in this browser
    expect(page.locator("html")).to_have_class(re.compile("large"))
    expect(page.locator("#large-text")).to_have_attribute("aria-pressed", "true")
    large = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert large >= small * 1.35
    page.goto(f"{room.aa}/ui/issue")  # another app on another port: its own setting
    expect(page.locator("#large-text")).to_have_attribute("aria-pressed", "false")
    page.goto(f"{room.gateway}/ui")
    shoot(page, room, "dashboard-large")
    page.locator("#large-text").click()
    expect(page.locator("html")).not_to_have_class(re.compile("large"))
