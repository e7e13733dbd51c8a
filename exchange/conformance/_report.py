"""A conformance run as text, JSON, JUnit XML and one self-contained HTML page.

JSON and JUnit are for machines: keys, scenario ids, clause ids, outcomes and the English reasons never change
with the language. Text and HTML are for people: their frame (headings, labels, the summary) is in the language
chosen (``ptx --lang``), around the same scenario ids, clauses and reasons. The HTML page has inline style only,
no script and nothing loaded from elsewhere (``Content-Security-Policy: default-src 'none'``).
"""

from __future__ import annotations

import html
import json

from exchange import _i18n
from exchange._i18n import gettext as _
from exchange.conformance._model import Outcome, Report


def _label(outcome: Outcome) -> str:
    return {Outcome.PASS: _("pass"), Outcome.FAIL: _("FAIL"), Outcome.NOT_APPLICABLE: _("not applicable")}[outcome]


def summary(report: Report) -> str:
    return _("{passed} passed, {failed} failed, {na} not applicable").format(
        passed=report.count(Outcome.PASS), failed=report.count(Outcome.FAIL), na=report.count(Outcome.NOT_APPLICABLE))


def to_text(report: Report, *, verbose: bool = False) -> str:
    """One line per scenario (outcome, scenario, clauses, reason); with ``verbose`` every exchange below it."""
    title = _("Conformance of the node at {url}") if report.target.value == "node" else \
        _("Conformance of the gateway at {url}")
    lines = [title.format(url=report.url), ""]
    from rich.cells import cell_len

    width = max((len(result.name) for result in report.results), default=10)
    # the outcome column measured in terminal cells (a Chinese character takes two), never len()
    column = max([15, *(cell_len(_label(outcome)) for outcome in Outcome)])
    indent = " " * column
    for result in report.results:
        label = _label(result.outcome)
        lines.append(f"{label}{' ' * (column - cell_len(label))} {result.name:<{width}}  [{', '.join(result.clauses)}]")
        lines.append(f"{indent} {result.reason}")
        if verbose or result.outcome is Outcome.FAIL:
            for exchange in result.exchanges:
                lines.append(f"{indent}   > {exchange.request}")
                lines.extend(f"{indent}   < {line}" for line in exchange.response.splitlines()[:6])
    lines += ["", summary(report)]
    if not report.passed:
        lines.append(_("failed scenarios: {names}").format(names=", ".join(report.failed())))
    return "\n".join(lines) + "\n"


def to_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"


def to_junit(report: Report) -> bytes:
    """One test suite, one test case per scenario: a failure for fail, ``skipped`` for not applicable."""
    from lxml import etree

    seconds = sum(result.seconds for result in report.results)
    suite = etree.Element("testsuite", name=f"ptx conformance {report.target.value}",
                          tests=str(len(report.results)), failures=str(report.count(Outcome.FAIL)), errors="0",
                          skipped=str(report.count(Outcome.NOT_APPLICABLE)), time=f"{seconds:.3f}",
                          timestamp=report.started.isoformat())
    properties = etree.SubElement(suite, "properties")
    etree.SubElement(properties, "property", name="url", value=report.url)
    for result in report.results:
        case = etree.SubElement(suite, "testcase", classname=f"conformance.{report.target.value}", name=result.name,
                                time=f"{result.seconds:.3f}")
        detail = "\n".join([f"clauses: {', '.join(result.clauses)}", result.reason, *(
            f"> {exchange.request}\n< {exchange.response}" for exchange in result.exchanges)])
        if result.outcome is Outcome.FAIL:
            etree.SubElement(case, "failure", type=result.name, message=result.reason).text = detail
        elif result.outcome is Outcome.NOT_APPLICABLE:
            etree.SubElement(case, "skipped", message=result.reason)
        else:
            etree.SubElement(case, "system-out").text = detail
    suites = etree.Element("testsuites")
    suites.append(suite)
    return bytes(etree.tostring(suites, xml_declaration=True, encoding="UTF-8", pretty_print=True))


_STYLE = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans CJK SC",sans-serif;
margin:2em auto;max-width:78em;padding:0 1em;color:#1f2328}
h1{font-size:1.5em}table{border-collapse:collapse;width:100%}td,th{border:1px solid #d0d7de;padding:.3em .5em;
text-align:left;vertical-align:top}th{background:#f6f8fa}.pass{color:#1a7f37}.fail{color:#cf222e;font-weight:600}
.not-applicable{color:#57606a}code,pre{font:13px ui-monospace,SFMono-Regular,Menlo,monospace}
pre{white-space:pre-wrap;word-break:break-all;background:#f6f8fa;padding:.4em;margin:.2em 0}
details{margin:.2em 0}@media print{body{margin:0}details{display:block}}
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def to_html(report: Report) -> str:
    """The run as one self-contained page: a row per scenario, its exchanges folded below it."""
    rows = []
    for result in report.results:
        exchanges = "".join(
            f"<details><summary><code>{_e(exchange.request)}</code></summary><pre>{_e(exchange.response)}</pre>"
            "</details>" for exchange in result.exchanges)
        rows.append(
            f'<tr id="{_e(result.name)}" data-outcome="{_e(result.outcome.value)}">'
            f'<td class="{_e(result.outcome.value)}">{_e(_label(result.outcome))}</td>'
            f"<td><code>{_e(result.name)}</code><br>{_e(_(result.scenario.title))}</td>"
            f"<td>{_e(', '.join(result.clauses))}</td><td>{_e(result.reason)}{exchanges}</td></tr>")
    title = (_("Conformance of the node at {url}") if report.target.value == "node" else
             _("Conformance of the gateway at {url}")).format(url=report.url)
    language = _i18n.HTML_LANG.get(_i18n.current(), "en")
    started = _("Started {moment}; clauses are those of docs/protocol.md.").format(moment=report.started.isoformat())
    headings = "".join(f"<th>{_e(text)}</th>" for text in (
        _("outcome"), _("scenario"), _("clauses"), _("why, and what was sent and answered")))
    return f"""<!DOCTYPE html>
<html lang="{_e(language)}"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title><style>{_STYLE}</style></head>
<body><h1>{_e(title)}</h1>
<p class="summary" data-passed="{str(report.passed).lower()}">{_e(summary(report))}.
{_e(started)}</p>
<table><thead><tr>{headings}</tr></thead>
<tbody>{"".join(rows)}</tbody></table>
</body></html>
"""


FORMATS = ("text", "json", "junit", "html")


def render(report: Report, output_format: str, *, verbose: bool = False) -> bytes:
    """The report in one of :data:`FORMATS`."""
    if output_format == "json":
        return to_json(report).encode("utf-8")
    if output_format == "junit":
        return to_junit(report)
    if output_format == "html":
        return to_html(report).encode("utf-8")
    return to_text(report, verbose=verbose).encode("utf-8")


__all__ = ["FORMATS", "render", "summary", "to_html", "to_json", "to_junit", "to_text"]
