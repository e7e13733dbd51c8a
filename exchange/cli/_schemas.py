"""``ptx schemas list | show TYPE | add FOLDER``: the document catalogue."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer

from exchange.cli._app import EXIT_INVALID, EXIT_USAGE, app
from exchange.cli._console import console

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

    table = Table(title="Document catalogue")
    for column in ("id", "title", "version", "root", "namespace"):
        table.add_column(column, no_wrap=column in ("id", "root", "namespace"))
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
    out.print(f"  root        {{{doc_type.namespace}}}{doc_type.root}")
    out.print(f"  folder      {escape(str(doc_type.folder))}")
    out.print(f"  schema      {doc_type.schema_path.name}")
    out.print(f"  rules       {doc_type.rules_path.name if doc_type.rules_path else '-'}")
    out.print(f"  input       {doc_type.input_example.name if doc_type.input_example else '-'}")
    out.print(f"  origin      {escape(doc_type.origin)}")
    if doc_type.rules_path:
        table = Table(title="Business rules")
        for column in ("code", "severity", "rule"):
            table.add_column(column, no_wrap=column == "code")
        for rule_id, role, message in rule_summaries(doc_type.rules_path):
            table.add_row(escape(rule_id), escape(role), escape(message))
        out.print(table)
    samples = Table(title="Samples")
    for column in ("file", "expect", "codes"):
        samples.add_column(column)
    for sample in doc_type.samples:
        samples.add_row(escape(str(sample.path.relative_to(doc_type.folder))), sample.expect, escape(", ".join(sample.codes)))
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
        typer.echo(f"{doc_type.id}: the folder is not sound:", err=True)
        for problem in problems:
            typer.echo(f"  - {problem}", err=True)
        raise typer.Exit(EXIT_INVALID)
    if target.exists():
        if not force:
            typer.echo(f"ptx: {target} exists; use --force to replace it", err=True)
            raise typer.Exit(EXIT_USAGE)
        shutil.rmtree(target)
    target_root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(doc_type.folder, target)
    typer.echo(
        f"added {doc_type.id} ({doc_type.title}, root {doc_type.root}) to {target}; "
        f"{len(doc_type.samples)} sample(s) checked"
    )


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
            })
    failed = [row for row in rows if not row["matched"]]
    if as_json:
        print(json.dumps({"samples": rows, "matched": len(rows) - len(failed), "total": len(rows)}, indent=2,
                         ensure_ascii=False))
    else:
        table = Table(title="Catalogue samples: expected versus actual")
        for column in ("type", "sample", "expected", "actual", "ok", "first finding"):
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*(escape(str(row[key])) for key in ("type", "sample", "expected", "actual")),
                          "[green]yes[/green]" if row["matched"] else "[red]NO[/red]", escape(str(row["why"])))
        out = console()
        out.print(table)
        out.print(f"{len(rows) - len(failed)} of {len(rows)} samples behave as labelled")
    raise typer.Exit(EXIT_INVALID if failed or not rows else 0)
