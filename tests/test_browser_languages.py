"""The dashboards in Chinese and Russian in a real browser (Debian's chromium, CJK fonts from fonts-noto-cjk): the
language switch on every page, remembered across pages; statuses and labels translated while data-* attributes keep
the machine values; and no text overflowing its box in the message list, the message page and the large-text mode
(the longer Russian labels and the wider Chinese glyphs are what would break a layout made for English).

Screenshots are kept in ``test-artifacts/languages/`` at the top of the checkout (ignored by git) for a person to
look at; CI can publish that folder."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from exchange._builder import load_input
from exchange._catalogue import default_catalogue
from tests.test_browser import Room, browser, pages, room  # noqa: F401 - fixtures

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]
ARTEFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "languages"
_ = (browser, pages, room)

#: For every element a person reads, whether its text is wider than its box (clipped or spilling over a neighbour);
#: and for the sequence diagram, whether each label stays inside the drawing and each lane title inside its lane.
OVERFLOW = """() => {
  const bad = [];
  const boxes = document.querySelectorAll(
    "main td, main th, main dt, main dd, .badge, .counter .label, h1, h2, header nav a, button, label, .crumbs, .t-title");
  for (const el of boxes) {
    if (!el.offsetParent && el.tagName !== "BODY") continue;  // hidden
    if (el.closest("pre, details:not([open])")) continue;
    if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== "auto") {
      bad.push(`${el.tagName.toLowerCase()}.${el.className}: "${el.textContent.trim().slice(0, 60)}" ${el.scrollWidth}>${el.clientWidth}`);
    }
  }
  const svg = document.querySelector("svg.seq");
  if (svg) {
    const width = svg.viewBox.baseVal.width;
    for (const text of svg.querySelectorAll("text")) {
      const box = text.getBBox();
      const limit = text.classList.contains("lane-title") || text.classList.contains("lane-sub") ? 200 : width;
      if (box.x < -1 || box.x + box.width > width + 1 || box.width > limit + 1) {
        bad.push(`svg text "${text.textContent.trim().slice(0, 60)}" x=${box.x.toFixed(0)} w=${box.width.toFixed(0)}`);
      }
    }
  }
  if (document.documentElement.scrollWidth > window.innerWidth + 1) bad.push(`page wider than the window: ${document.documentElement.scrollWidth}`);
  return bad;
}"""


def fits(page: Any, name: str) -> None:
    """Keep a screenshot of the page (first, so a failure can be looked at), then check nothing overflows."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTEFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    assert page.evaluate(OVERFLOW) == [], name


def send(room: Room, type_id: str, *, tamper: bool = False, language: str = "en") -> str:
    example = default_catalogue().get(type_id).input_example
    assert example is not None
    localised = example.with_name(f"input.{language}.yaml")  # names and goods in the room's language
    data = load_input(localised if localised.is_file() else example)
    answer = httpx.post(f"{room.aa}/v1/outbox", timeout=30,
                        json={"type": type_id, "data": data, "to": "BB", "tamper": tamper})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["message_id"])


@pytest.mark.parametrize(("language", "html_lang", "messages", "acknowledged", "rejected", "exporter"), [
    ("zh", "zh-Hans", "报文", "已确认", "已拒绝", "金穗食品有限公司"),
    ("ru", "ru", "Сообщения", "подтверждено", "отклонено", "ООО «Золотая нива»"),
])
def test_the_dashboards_in_chinese_and_russian(pages: Any, room: Room, language: str, html_lang: str,  # noqa: F811
                                               messages: str, acknowledged: str, rejected: str,
                                               exporter: str) -> None:
    from playwright.sync_api import expect

    good = send(room, "certificate-of-origin", language=language)
    bad = send(room, "certificate-of-origin", tamper=True)
    page = pages.new_page()
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{room.gateway}/ui?lang={language}")
    expect(page.locator("html")).to_have_attribute("lang", html_lang)
    expect(page.locator(f'tr[data-message-id="{good}"]')).to_have_attribute("data-status", "ACKNOWLEDGED")
    expect(page.locator(f'tr[data-message-id="{bad}"]')).to_have_attribute("data-status", "REJECTED")
    expect(page.locator(f'tr[data-message-id="{good}"] .badge')).to_have_text(acknowledged)
    expect(page.locator(f'tr[data-message-id="{bad}"] .badge')).to_have_text(rejected)
    expect(page.locator(f'tr[data-message-id="{bad}"] .codes')).to_contain_text("SIG-DIGEST-MISMATCH")  # codes stay
    expect(page.locator("header nav a").first).to_have_text(messages)
    fits(page, f"{language}-gateway-list")

    # remembered: the next page, without ?lang=, is in the same language
    page.goto(f"{room.gateway}/ui/messages/{good}")
    expect(page.locator("html")).to_have_attribute("lang", html_lang)
    expect(page.locator("#sequence")).to_be_visible()
    expect(page.locator("#xml-2")).to_contain_text(exporter)  # the document in the participants' language
    fits(page, f"{language}-gateway-message")
    page.goto(f"{room.gateway}/ui/messages/{bad}")
    expect(page.locator('tr[data-check="document-signature"]')).to_contain_text("SIG-DIGEST-MISMATCH")
    fits(page, f"{language}-gateway-rejected")

    # large text, on a projector-sized window
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(f"{room.gateway}/ui")
    page.locator("#large-text").click()
    expect(page.locator("html")).to_have_class(re.compile("large"))
    fits(page, f"{language}-gateway-list-large")
    page.goto(f"{room.gateway}/ui/messages/{good}")
    fits(page, f"{language}-gateway-message-large")
    page.locator("#large-text").click()

    # the single windows: each app its own cookie (another port), so the switch is used there
    for country, url in (("AA", room.aa), ("BB", room.bb)):
        page.goto(f"{url}/ui")
        page.locator(f'#languages a[data-lang="{language}"]').click()
        expect(page.locator("html")).to_have_attribute("lang", html_lang)
        expect(page.locator(f'#languages a[data-lang="{language}"]')).to_have_attribute("aria-current", "true")
        fits(page, f"{language}-{country}-home")
    page.goto(f"{room.bb}/ui/inbox/{good}")  # the receiving side shows the same names, as signed
    expect(page.locator("pre.xml").first).to_contain_text(exporter)
    fits(page, f"{language}-BB-received")
    page.goto(f"{room.aa}/ui/outbox/{good}")
    expect(page.locator("#receipt")).to_contain_text("✓")
    fits(page, f"{language}-AA-sent")
    page.goto(f"{room.aa}/ui/issue")
    fits(page, f"{language}-AA-issue")
    # and back to English with the switch
    page.locator('#languages a[data-lang="en"]').click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
