"""The HTML report: one self-contained file (no script, no external asset) that a browser renders and a person reads.

Rendered in Debian's chromium through Playwright, as tests/test_browser.py does (never ``playwright install``);
every request the page makes is recorded, and there must be none besides the file itself.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from exchange._reports import file_report, to_html, to_svrl
from exchange._validation import Validator
from tests.support.needs import require

SCH = """<schema xmlns="http://purl.oclc.org/dsdl/schematron" queryBinding="xslt2"><ns prefix="t" uri="urn:t"/>
<pattern><rule context="t:Order"><assert id="ORD-01" flag="fatal" test="xs:integer(t:Qty) le 100">At most 100
units &lt;per&gt; order, not <value-of select="t:Qty"/>.</assert></rule></pattern></schema>"""
XSD = """<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t" xmlns="urn:t"
  elementFormDefault="qualified"><xs:element name="Order"><xs:complexType><xs:sequence>
  <xs:element name="Qty" type="xs:integer"/></xs:sequence></xs:complexType></xs:element></xs:schema>"""
MOMENT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list:  # type: ignore[type-arg]
    monkeypatch.setenv("PTX_RULES_CACHE", str(tmp_path / "cache"))
    (tmp_path / "o.sch").write_text(SCH)
    (tmp_path / "o.xsd").write_text(XSD)
    validator = Validator()
    common = {"schema": tmp_path / "o.xsd", "rules": tmp_path / "o.sch"}
    good = validator.validate(b'<Order xmlns="urn:t"><Qty>5</Qty></Order>', source="good.xml", **common)
    bad = validator.validate(b'<Order xmlns="urn:t">\n  <Qty>500</Qty>\n</Order>', source="<bad>.xml", **common)
    broken = validator.validate(b"<Order", source="broken.xml", **common)
    return [file_report(report, at=MOMENT) for report in (good, bad, broken)]


def test_the_html_report_is_one_escaped_file_with_no_script_and_no_external_asset(reports: list) -> None:  # type: ignore[type-arg]
    page = to_html(reports)
    assert "<script" not in page and "http://" not in page.replace("http://purl", "") and "https://" not in page
    assert "&lt;bad&gt;.xml" in page and "<bad>" not in page
    assert "At most 100 units &lt;per&gt; order, not 500." in page
    assert page.count('data-recommendation="accept"') == 1 and page.count('data-recommendation="reject"') == 2
    assert reports[1].validation.sha256 in page and "2026-03-01T12:00:00+00:00" in page
    assert [r.outcome.value for r in reports] == ["acceptable", "not-acceptable", "cannot-be-processed"]


def test_svrl_passthrough_is_the_rules_output(reports: list) -> None:  # type: ignore[type-arg]
    single = to_svrl([reports[1]])
    assert single.startswith(b"<?xml") and b"schematron-output" in single and b'id="ORD-01"' in single
    wrapped = to_svrl(reports)
    assert wrapped.count(b"<ptx:report ") == 2  # the broken document never reached the rules


@pytest.mark.slow
def test_the_html_report_renders_in_the_browser(reports: list, tmp_path: Path) -> None:  # type: ignore[type-arg]
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        pytest.fail("the playwright package is not installed (make venv installs the dev dependencies)")
    chromium = require("chromium")
    from tests.test_browser import CHROMIUM_ARGS

    report = tmp_path / "report.html"
    report.write_text(to_html(reports, title="EN 16931 check"), encoding="utf-8")
    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("request", lambda request: requests.append(request.url))
            page.goto(report.as_uri())
            expect(page).to_have_title("EN 16931 check")
            expect(page.locator("section")).to_have_count(3)
            bad = page.locator("#doc-2")
            expect(bad.locator(".badge")).to_have_text("REJECT")
            expect(bad.locator("table.findings")).to_contain_text("ORD-01")
            expect(bad.locator("table.findings")).to_contain_text("At most 100 units <per> order, not 500.")
            expect(bad.locator("table.findings")).to_contain_text("1:1")
            expect(page.locator("#doc-1 .badge")).to_have_text("ACCEPT")
            expect(page.locator("#doc-3 .badge")).to_have_attribute("data-outcome", "cannot-be-processed")
            colour = page.locator("#doc-2 .badge").evaluate("e => getComputedStyle(e).backgroundColor")
            assert colour == "rgb(207, 34, 46)"  # the inline style applied: nothing else was loaded
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()
    assert requests == [report.as_uri()]
