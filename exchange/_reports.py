"""Reports an integrator can file: a recommendation, the document's SHA-256, the time, the scenario, each step.

One :class:`FiledReport` per document, built from a :class:`~exchange._validation.ValidationReport` at an explicit
moment, and written as text, JSON, SVRL (the rules' own output, passed through) or one self-contained HTML file
(inline style, no script, no external asset) that a person can open and read.

The outcome follows the KoSIT validator's daemon: **acceptable** (recommendation accept: no error finding),
**not acceptable** (reject: an error finding), **cannot be processed** (reject: the document could not be checked
to the end: not well-formed XML, no scenario or type applies, or a rules file failed to run). The validation
service answers them 200, 406 and 422.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from exchange._errors import Code
from exchange._findings import CheckStatus
from exchange._i18n import HTML_LANG, N_, _, code_message, current, ngettext, status_label
from exchange._validation import CHECK_PARSE, SVRL_NS, ValidationReport

#: codes that mean the document could not be checked to the end
UNPROCESSABLE = frozenset({
    Code.SCENARIO_NO_MATCH.value, Code.DOCTYPE_UNKNOWN.value, Code.RULES_RUN_FAILED.value,
    Code.RULES_LIMIT_EXCEEDED.value,
})


class Outcome(StrEnum):
    ACCEPTABLE = "acceptable"
    NOT_ACCEPTABLE = "not-acceptable"
    CANNOT_BE_PROCESSED = "cannot-be-processed"

    @property
    def http_status(self) -> int:
        return {"acceptable": 200, "not-acceptable": 406, "cannot-be-processed": 422}[self.value]


class Recommendation(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class FiledReport:
    """One document's report as it is filed."""

    validation: ValidationReport
    validated_at: datetime

    @property
    def outcome(self) -> Outcome:
        parse = self.validation.check(CHECK_PARSE)
        if parse is not None and parse.status is CheckStatus.FAILED:
            return Outcome.CANNOT_BE_PROCESSED
        if any(finding.code in UNPROCESSABLE for finding in self.validation.findings):
            return Outcome.CANNOT_BE_PROCESSED
        return Outcome.ACCEPTABLE if self.validation.valid else Outcome.NOT_ACCEPTABLE

    @property
    def recommendation(self) -> Recommendation:
        return Recommendation.ACCEPT if self.outcome is Outcome.ACCEPTABLE else Recommendation.REJECT

    def to_dict(self) -> dict[str, Any]:
        v = self.validation
        errors = sum(1 for f in v.findings if f.is_error)
        return {
            "path": v.source,
            "recommendation": self.recommendation.value,
            "outcome": self.outcome.value,
            "verdict": v.verdict.value,
            "sha256": v.sha256,
            "validated_at": self.validated_at.isoformat(),
            "scenario": v.scenario,
            "document_type": v.document_type,
            "counts": {"errors": errors, "warnings": len(v.findings) - errors},
            "steps": [check.to_dict() for check in v.checks],
            "findings": [finding.to_dict() for finding in v.findings],
        }


def file_report(validation: ValidationReport, *, at: datetime) -> FiledReport:
    """A report to file, stamped with ``at`` (the caller's clock: the command line's or the service's)."""
    return FiledReport(validation, at)


def to_json(reports: Sequence[FiledReport]) -> str:
    accepted = sum(1 for r in reports if r.recommendation is Recommendation.ACCEPT)
    document = {
        "summary": {"files": len(reports), "valid": sum(1 for r in reports if r.validation.valid),
                    "invalid": sum(1 for r in reports if not r.validation.valid), "accept": accepted,
                    "reject": len(reports) - accepted},
        "results": [r.to_dict() for r in reports],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def to_svrl(reports: Sequence[FiledReport]) -> bytes:
    """The rules' SVRL as produced. One document with one rules file: that SVRL unchanged. Otherwise every
    report in a ``ptx:svrl-reports`` wrapper naming the document, its SHA-256 and the rules file."""
    outputs = [(r, name, svrl) for r in reports for name, svrl in r.validation.svrl]
    if len(reports) == 1 and len(outputs) == 1:
        return outputs[0][2]
    from lxml import etree

    from exchange._xml import parse_xml

    wrapper = etree.Element("{urn:ptx:reports}svrl-reports", nsmap={"ptx": "urn:ptx:reports", "svrl": SVRL_NS})
    for report, name, svrl in outputs:
        item = etree.SubElement(wrapper, "{urn:ptx:reports}report", path=str(report.validation.source),
                                rules=name, sha256=report.validation.sha256 or "")
        item.append(parse_xml(svrl).getroot())
    return bytes(etree.tostring(wrapper, xml_declaration=True, encoding="UTF-8", pretty_print=True))


# --- HTML --------------------------------------------------------------------------------------------------

_STYLE = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;margin:2rem auto;max-width:72rem;
padding:0 1rem;color:#1b1f24;background:#fff}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.15rem;margin:2rem 0 .5rem;word-break:break-all}
.summary{color:#57606a;margin-bottom:1.5rem}
.badge{display:inline-block;padding:.15rem .6rem;border-radius:1rem;font-weight:600;color:#fff}
.accept{background:#1a7f37}.reject{background:#cf222e}.cannot{background:#9a6700}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #d0d7de;padding:.3rem .5rem;
text-align:left;vertical-align:top}th{background:#f6f8fa}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.5rem 0}dt{color:#57606a}dd{margin:0;
word-break:break-all}
.error{color:#cf222e;font-weight:600}.warning{color:#9a6700;font-weight:600}.info{color:#0969da}
.passed{color:#1a7f37}.failed{color:#cf222e;font-weight:600}.skipped{color:#57606a}
code{font:13px ui-monospace,SFMono-Regular,Menlo,monospace}
@media print{body{margin:0}}
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _document_html(report: FiledReport, index: int) -> str:
    v = report.validation
    outcome = report.outcome
    css = {"acceptable": "accept", "not-acceptable": "reject", "cannot-be-processed": "cannot"}[outcome.value]
    rows = []
    for check in v.checks:
        rows.append(f'<tr><td>{_e(check.name)}</td><td>{_e(check.subject or "")}</td>'
                    f'<td class="{_e(check.status.value)}">{_e(status_label(check.status))}</td>'
                    f"<td>{len(check.findings)}</td></tr>")
    findings = []
    for finding in v.findings:
        where = "" if finding.line is None else f"{finding.line}" + (
            f":{finding.column}" if finding.column is not None else "")
        findings.append(
            f'<tr><td class="{_e(finding.severity.value)}">{_e(status_label(finding.severity))}</td>'
            f"<td><code>{_e(finding.code)}</code></td><td>{_e(finding.check)}</td><td>{_e(_message(finding))}</td>"
            f"<td>{_e(where)}</td><td><code>{_e(finding.path or '')}</code></td></tr>"
        )
    # what people read (outside the f-strings, so the extractor sees every msgid)
    label = {key: _e(text) for key, text in (
        ("severity", _("severity")), ("code", _("code")), ("step", _("step")), ("message", _("message")),
        ("line:col", _("line:col")), ("path", _("path")), ("validated at", _("validated at")),
        ("scenario", _("scenario")), ("document type", _("document type")), ("ran", _("ran")),
        ("status", _("status")), ("findings", _("findings")))}
    heading = _e(v.source or _("document"))
    sha256 = _e(v.sha256 or _("(a parsed tree was given)"))
    scenario = _e(v.scenario or _("none"))
    findings_html = (
        f'<table class="findings"><thead><tr><th>{label["severity"]}</th><th>{label["code"]}</th>'
        f'<th>{label["step"]}</th><th>{label["message"]}</th><th>{label["line:col"]}</th><th>{label["path"]}</th>'
        f"</tr></thead><tbody>{''.join(findings)}</tbody></table>"
        if findings else "<p>" + _e(_("No findings.")) + "</p>"
    )
    return f"""<section id="doc-{index}" data-recommendation="{_e(report.recommendation.value)}">
<h2>{heading}</h2>
<p><span class="badge {css}" data-outcome="{_e(outcome.value)}">{_e(_(_RECOMMENDATIONS[report.recommendation]))}</span>
 {_e(_(_OUTCOMES[outcome]))}</p>
<dl><dt>SHA-256</dt><dd><code>{sha256}</code></dd>
<dt>{label["validated at"]}</dt><dd>{_e(report.validated_at.isoformat())}</dd>
<dt>{label["scenario"]}</dt><dd>{scenario}</dd>
<dt>{label["document type"]}</dt><dd>{_e(v.document_type or "-")}</dd></dl>
<table class="steps"><thead><tr><th>{label["step"]}</th><th>{label["ran"]}</th><th>{label["status"]}</th>
<th>{label["findings"]}</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table>
{findings_html}
</section>"""


#: what people read for an outcome and a recommendation (the values stay in ``data-`` attributes and JSON)
_OUTCOMES = {Outcome.ACCEPTABLE: N_("acceptable"), Outcome.NOT_ACCEPTABLE: N_("not acceptable"),
             Outcome.CANNOT_BE_PROCESSED: N_("cannot be processed")}
_RECOMMENDATIONS = {Recommendation.ACCEPT: N_("ACCEPT"), Recommendation.REJECT: N_("REJECT")}


def _message(finding: Any) -> str:
    """A finding's message for people: in another language the code's message, the English detail beside."""
    if current() != "en" and code_message(finding.code):
        return f"{code_message(finding.code)} ({finding.message})"
    return str(finding.message)


def to_html(reports: Sequence[FiledReport], *, title: str | None = None) -> str:
    """One self-contained HTML page for all reports: inline CSS, no script, nothing loaded from elsewhere; in
    the current language (codes, ids and the ``data-`` attributes stay)."""
    title = title or _("Validation report")
    accepted = sum(1 for r in reports if r.recommendation is Recommendation.ACCEPT)
    sections = "\n".join(_document_html(report, index) for index, report in enumerate(reports, start=1))
    return f"""<!DOCTYPE html>
<html lang="{HTML_LANG.get(current(), "en")}"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title><style>{_STYLE}</style></head>
<body><h1>{_e(title)}</h1>
<p class="summary">{_e(_summary(len(reports), accepted))}</p>
{sections}
</body></html>
"""


def _summary(documents: int, accepted: int) -> str:
    if current() == "en":
        return (f"{documents} document(s): {accepted} accept, {documents - accepted} reject. Made by ptx validate; "
                "each finding has a stable code.")
    return ngettext("{count} document: {accept} accept, {reject} reject.",
                    "{count} documents: {accept} accept, {reject} reject.", documents).format(
        count=documents, accept=accepted, reject=documents - accepted) + " " + _(
        "Made by ptx validate; each finding has a stable code.")


#: the names the library's public API gives them (``from exchange import report_html``)
report_html = to_html
report_svrl = to_svrl


def text_lines(v: ValidationReport) -> list[str]:
    """A validation as text: one line for the document, one per finding (``line:column severity code [step]``)."""
    english = current() == "en"  # English keeps the exact lines the exercises and scripts read
    mark = ("valid  " if v.valid else "INVALID") if english else status_label("valid" if v.valid else "invalid")
    kind = f" ({v.scenario})" if v.scenario else (f" ({v.document_type})" if v.document_type else "")
    lines = [f"{mark} {v.source}{kind}"]
    for finding in v.findings:
        where = ""
        if finding.line is not None:
            where = f"{finding.line}" + (f":{finding.column}" if finding.column is not None else "") + " "
        at = "  " + _("at {path}").format(path=finding.path) if finding.path else ""
        lines.append(f"  {where}{status_label(finding.severity)} {finding.code} [{finding.check}] "
                     f"{_message(finding)}{at}")
    return lines


__all__ = ["FiledReport", "Outcome", "Recommendation", "file_report", "text_lines", "to_html", "to_json", "to_svrl"]
