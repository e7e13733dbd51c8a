"""``ptx schemas list | show TYPE | add FOLDER``: the document catalogue."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer

from exchange._i18n import _, status_label
from exchange.cli._app import EXIT_INVALID, EXIT_USAGE, app
from exchange.cli._console import console, pad

schemas_app = typer.Typer(help="The document catalogue: list, show and add document types.", no_args_is_help=True)
app.add_typer(schemas_app, name="schemas")

SCH_NS = "http://purl.oclc.org/dsdl/schematron"


def rule_summaries(rules_path: Path) -> list[tuple[str, str, str]]:
    """(id, role, message) of every assert and report in a Schematron file."""
    from exchange._xml import load_trusted_xml

    tree = load_trusted_xml(rules_path)
    summaries = []
    for node in tree.getroot().iter(f"{{{SCH_NS}}}assert", f"{{{SCH_NS}}}report"):
        message = " ".join(_message_text(node).split())
        summaries.append((node.get("id") or "-", node.get("role") or "error", message))
    return summaries


def _message_text(node: object) -> str:
    """A rule's message with its dynamic parts shown as ``{expression}`` (value-of, name)."""
    from lxml import etree

    assert isinstance(node, etree._Element)  # noqa: S101
    parts = [node.text or ""]
    for child in node:
        if isinstance(child.tag, str) and etree.QName(child).localname in ("value-of", "name"):
            parts.append("{" + (child.get("select") or child.get("path") or "name()") + "}")
        parts.append(child.tail or "")
    return "".join(parts)


@schemas_app.command("list")
def list_types() -> None:
    """List the document types the catalogue knows."""
    from rich.markup import escape
    from rich.table import Table

    from exchange._catalogue import default_catalogue

    table = Table(title=_("Document catalogue"))
    for column, header in (("id", "id"), ("title", _("title")), ("version", _("version")), ("root", _("root")),
                           ("namespace", _("namespace"))):
        table.add_column(header, no_wrap=column in ("id", "root", "namespace"))
    for doc_type in default_catalogue():
        table.add_row(*map(escape, (doc_type.id, doc_type.title, doc_type.version, doc_type.root, doc_type.namespace)))
    console().print(table)


@schemas_app.command("show")
def show_type(type_id: Annotated[str, typer.Argument(help="Document type id.")]) -> None:
    """Show one type: manifest, files, business rules and samples."""
    from rich.markup import escape
    from rich.table import Table

    from exchange._catalogue import default_catalogue

    doc_type = default_catalogue().get(type_id)
    out = console()
    out.print(f"[bold]{escape(doc_type.title)}[/bold] ({doc_type.id} {escape(doc_type.version)})")
    fields = [
        (_("root"), f"{{{doc_type.namespace}}}{doc_type.root}"),
        (_("folder"), escape(str(doc_type.folder))),
        (_("schema"), doc_type.schema_path.name),
        (_("rules"), doc_type.rules_path.name if doc_type.rules_path else "-"),
        (_("input"), doc_type.input_example.name if doc_type.input_example else "-"),
        (_("origin"), escape(doc_type.origin)),
    ]
    from rich.cells import cell_len

    width = max(12, *(cell_len(label) + 2 for label, _value in fields))
    for label, value in fields:
        out.print(f"  {pad(label, width)}{value}")
    if doc_type.rules_path:
        table = Table(title=_("Business rules"))
        for column, header in (("code", _("code")), ("severity", _("severity")), ("rule", _("rule"))):
            table.add_column(header, no_wrap=column == "code")
        for rule_id, role, message in rule_summaries(doc_type.rules_path):
            table.add_row(escape(rule_id), escape(status_label(role)), escape(message))
        out.print(table)
    samples = Table(title=_("Samples"))
    for header in (_("file"), _("expect"), _("codes")):
        samples.add_column(header)
    for sample in doc_type.samples:
        samples.add_row(escape(str(sample.path.relative_to(doc_type.folder))), status_label(sample.expect),
                        escape(", ".join(sample.codes)))
    out.print(samples)


@schemas_app.command("add")
def add_type(
    folder: Annotated[Path, typer.Argument(help="A type folder with manifest.yaml, XSD, rules and samples.")],
    into: Annotated[
        Path | None, typer.Option("--into", help="Catalogue folder to install into (default: workspace/schemas).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a type with the same id.")] = False,
) -> None:
    """Check a type folder (schema and rules compile, samples behave as labelled) and install it."""
    from exchange._catalogue import default_catalogue, load_document_type, user_catalogue_dir
    from exchange._validation import check_type_folder

    doc_type = load_document_type(folder)
    catalogue = default_catalogue()
    target_root = (into or user_catalogue_dir()).resolve()
    target = target_root / doc_type.id
    clash = next(
        (t for t in catalogue if (t.id == doc_type.id or t.qname == doc_type.qname) and t.folder != target), None
    )
    if clash is not None:
        typer.echo(f"ptx: CATALOGUE-DUPLICATE: {clash.id!r} in {clash.folder} already has this id or root", err=True)
        raise typer.Exit(EXIT_USAGE)
    problems = check_type_folder(doc_type)
    if problems:
        typer.echo(_("{type}: the folder is not sound:").format(type=doc_type.id), err=True)
        for problem in problems:
            typer.echo(f"  - {problem}", err=True)
        raise typer.Exit(EXIT_INVALID)
    if target.exists():
        if not force:
            typer.echo("ptx: " + _("{target} exists; use --force to replace it").format(target=target), err=True)
            raise typer.Exit(EXIT_USAGE)
        shutil.rmtree(target)
    target_root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(doc_type.folder, target)
    typer.echo(_("added {type} ({title}, root {root}) to {target}; {samples} sample(s) checked").format(
        type=doc_type.id, title=doc_type.title, root=doc_type.root, target=target, samples=len(doc_type.samples)))


def _why(row: dict[str, object]) -> str:
    """The first finding of a sample's row for people: English as in the JSON; otherwise the code's message."""
    from exchange._i18n import code_message, current

    if current() == "en" or not row.get("first_code"):
        return str(row["why"])
    message = code_message(row["first_code"]) or str(row["first_message"])  # a rule's own text (no project code)
    return (_("line {line}: ").format(line=row["first_line"]) if row.get("first_line") else "") + message


@schemas_app.command("check")
def check_samples(
    type_ids: Annotated[list[str] | None, typer.Argument(help="Types to check (default: every type).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a machine-readable summary.")] = False,
) -> None:
    """Validate every labelled sample and compare with what its manifest expects (valid, or the codes)."""
    import json

    from rich.markup import escape
    from rich.table import Table

    from exchange._catalogue import default_catalogue
    from exchange._validation import Validator

    catalogue = default_catalogue()
    validator = Validator(catalogue)
    types = [catalogue.get(type_id) for type_id in type_ids] if type_ids else list(catalogue)
    rows: list[dict[str, object]] = []
    for doc_type in types:
        for sample in doc_type.samples:
            report = validator.validate_file(sample.path, document_type=doc_type)
            if sample.expect == "valid":
                matched = report.valid and set(sample.codes) <= set(report.codes)
            else:
                matched = not report.valid and set(sample.codes) <= set(report.codes)
            first = next((f for f in report.findings if f.is_error), None)
            rows.append({
                "type": doc_type.id,
                "sample": str(sample.path.relative_to(doc_type.folder)),
                "expected": sample.expect + (" " + ",".join(sample.codes) if sample.codes else ""),
                "actual": report.verdict.value + (" " + ",".join(dict.fromkeys(report.codes)) if report.codes else ""),
                "matched": matched,
                "why": "" if first is None else (f"line {first.line}: " if first.line else "") + first.message,
                "first_code": None if first is None else first.code,
                "first_line": None if first is None else first.line,
                "first_message": None if first is None else first.message,
            })
    failed = [row for row in rows if not row["matched"]]
    if as_json:
        shown = [{key: value for key, value in row.items() if key not in ("first_code", "first_line", "first_message")} for row in rows]
        print(json.dumps({"samples": shown, "matched": len(rows) - len(failed), "total": len(rows)}, indent=2,
                         ensure_ascii=False))
    else:
        table = Table(title=_("Catalogue samples: expected versus actual"))
        for header in (_("type"), _("sample"), _("expected"), _("actual"), _("ok"), _("first finding")):
            table.add_column(header, overflow="fold")
        for row in rows:
            table.add_row(*(escape(str(row[key])) for key in ("type", "sample", "expected", "actual")),
                          "[green]" + _("yes") + "[/green]" if row["matched"] else "[red]" + _("NO") + "[/red]",
                          escape(_why(row)))
        out = console()
        out.print(table)
        out.print(_("{matched} of {total} samples behave as labelled").format(matched=len(rows) - len(failed),
                                                                               total=len(rows)))
    raise typer.Exit(EXIT_INVALID if failed or not rows else 0)
