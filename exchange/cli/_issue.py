"""``ptx issue TYPE --data FILE [--out FILE] [--format text|json]``: build a document and validate it.

Standard output (or ``--out``) carries only the document; the summary and any findings go to standard error,
so ``ptx issue ... > doc.xml`` never mixes the two. An invalid document is not written anywhere: its
findings are printed with the input path of each offending field, and the exit code is 1. Usage and
configuration errors (unknown type, unreadable input, a top level that is not the type's root) exit 2.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from exchange._errors import Code, ExchangeError, InputError
from exchange.cli._app import EXIT_INVALID, EXIT_USAGE, app, error_text

if TYPE_CHECKING:
    from exchange._builder import BuildResult
    from exchange._catalogue import DocumentType
    from exchange._findings import Finding

STDIN = "-"


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


_TYPE_HELP = "Document type id, e.g. certificate-of-origin (see ptx schemas list)."
_DATA_HELP = "Structured input: a JSON or YAML file, or - for standard input."
_OUT_HELP = "Write the XML to this file instead of standard output."
_FORMAT_HELP = "Summary and findings (on standard error) as text or JSON."


@app.command("issue")
def issue_command(
    type_id: Annotated[str, typer.Argument(metavar="TYPE", help=_TYPE_HELP)],
    data: Annotated[str, typer.Option("--data", "-d", metavar="FILE", help=_DATA_HELP)],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", metavar="FILE", dir_okay=False, help=_OUT_HELP)
    ] = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help=_FORMAT_HELP)
    ] = OutputFormat.TEXT,
    as_issuer: Annotated[
        str | None,
        typer.Option("--as", metavar="ISSUER", help='Sign as this workspace issuer, e.g. AA/chamber-of-commerce.'),
    ] = None,
    workspace: Annotated[
        Path | None, typer.Option("--workspace", "-w", help="Workspace folder (default ./workspace or $PTX_WORKSPACE).")
    ] = None,
) -> None:
    """Build a document from structured input (JSON/YAML), validate it, and write the XML.

    Exit 0: valid, written. Exit 1: invalid, nothing written, findings name the input fields. Exit 2: usage.
    """
    try:
        doc_type, result = _build(type_id, data)
        if result.report is not None and not result.report.valid:
            _print_report(doc_type, result, None, output_format)
            raise typer.Exit(EXIT_INVALID)
        xml = result.xml
        if as_issuer is not None:
            # After validation (an invalid document is never signed), before writing (what is written is
            # exactly what was signed).
            from exchange._dsig import sign_document
            from exchange._workspace import Workspace

            signer = Workspace.open(workspace).signer(as_issuer)
            xml = sign_document(xml, signer.key, list(signer.signing_chain))
        _write(xml, out)
        written, signed_as = len(xml), (as_issuer if as_issuer is not None else None)
    except ExchangeError as exc:
        typer.echo(error_text(exc), err=True)
        raise typer.Exit(EXIT_USAGE) from exc
    _print_report(doc_type, result, out, output_format, written=written, signed_as=signed_as)


def _build(type_id: str, data: str) -> tuple[DocumentType, BuildResult]:
    from exchange._builder import build_document, load_input, parse_input
    from exchange._catalogue import default_catalogue

    doc_type = default_catalogue().get(type_id)
    if data == STDIN:
        values = parse_input(sys.stdin.buffer.read(), source="standard input")
    else:
        values = load_input(data)
    return doc_type, build_document(doc_type, values)


def _write(xml: bytes, out: Path | None) -> None:
    if out is None:
        sys.stdout.buffer.write(xml)
        sys.stdout.buffer.flush()
        return
    try:
        out.write_bytes(xml)
    except OSError as exc:
        raise InputError(f"cannot write {out}: {exc.strerror}", code=Code.INPUT_INVALID) from exc


def _finding_line(finding: Finding) -> str:
    from exchange._i18n import _, code_message, current, status_label

    where = finding.path or _("(document)")
    message = finding.message
    if current() != "en" and code_message(finding.code):
        message = f"{code_message(finding.code)} ({message})"  # the code's message, the English detail beside
    return f"  {status_label(finding.severity)} {finding.code} {where}: {message}"


def _print_report(
    doc_type: DocumentType, result: BuildResult, out: Path | None, output_format: OutputFormat,
    *, written: int | None = None, signed_as: str | None = None,
) -> None:
    report = result.report
    findings = report.findings if report is not None else ()
    valid = report is None or report.valid
    if output_format is OutputFormat.JSON:
        summary = {
            "document_type": doc_type.id,
            "verdict": "valid" if valid else "invalid",
            "bytes": (written if written is not None else len(result.xml)) if valid else None,
            "signed_as": signed_as,
            "out": (str(out) if out is not None else "-") if valid else None,
            "findings": [finding.to_dict() for finding in findings],
            "checks": [check.to_dict() for check in report.checks] if report is not None else [],
        }
        typer.echo(json.dumps(summary, ensure_ascii=False, indent=2), err=True)
        return
    from exchange._i18n import _

    if valid:
        target = f" -> {out}" if out is not None else ""
        size = written if written is not None else len(result.xml)
        signed = _(", signed as {issuer}").format(issuer=signed_as) if signed_as else ""
        typer.echo(_("issued {type}: {size} bytes, valid").format(type=doc_type.id, size=f"{size:,}")
                   + signed + target, err=True)
    else:
        errors = sum(1 for finding in findings if finding.is_error)
        typer.echo(_("{type}: input is invalid ({errors} error(s)); nothing written").format(
            type=doc_type.id, errors=errors), err=True)
    for finding in findings:
        typer.echo(_finding_line(finding), err=True)
