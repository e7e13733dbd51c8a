"""``ptx demo``: the README's first command.

For now it plays the catalogue: every bundled sample of every document type is validated and its outcome is
compared with the label in the type's manifest (valid, or invalid with the codes it must produce). It exits 0
only when every outcome matched. Later issues turn this into the full narrated exchange demo.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from exchange.cli._app import EXIT_INVALID, EXIT_OK, app
from exchange.cli._console import console


@app.command()
def demo(
    as_json: Annotated[bool, typer.Option("--json", help="Print a machine-readable summary.")] = False,
) -> None:
    """Validate every bundled sample and compare with what its manifest expects."""
    import json

    from rich.markup import escape
    from rich.table import Table

    from exchange._catalogue import default_catalogue
    from exchange._validation import Validator

    catalogue = default_catalogue()
    validator = Validator(catalogue)
    rows: list[dict[str, Any]] = []
    for doc_type in catalogue:
        for sample in doc_type.samples:
            report = validator.validate_file(sample.path, document_type=doc_type)
            if sample.expect == "valid":
                matched = report.valid and set(sample.codes) <= set(report.codes)
            else:
                matched = not report.valid and set(sample.codes) <= set(report.codes)
            first = next((f for f in report.findings if f.is_error), None)
            rows.append(
                {
                    "type": doc_type.id,
                    "sample": str(sample.path.relative_to(doc_type.folder)),
                    "expected": sample.expect + (" " + ",".join(sample.codes) if sample.codes else ""),
                    "actual": report.verdict.value + (" " + ",".join(dict.fromkeys(report.codes)) if report.codes else ""),
                    "matched": matched,
                    "why": (
                        f"line {first.line}: {first.message}" if first is not None and first.line else
                        (first.message if first is not None else "")
                    ),
                }
            )
    failed = [row for row in rows if not row["matched"]]
    if as_json:
        print(json.dumps({"scenarios": rows, "matched": len(rows) - len(failed), "total": len(rows)}, indent=2,
                         ensure_ascii=False))
    else:
        out = console()
        table = Table(title="Catalogue samples: expected versus actual")
        for column in ("type", "sample", "expected", "actual", "ok", "first finding"):
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(
                *(escape(row[key]) for key in ("type", "sample", "expected", "actual")),
                "[green]yes[/green]" if row["matched"] else "[red]NO[/red]", escape(row["why"]),
            )
        out.print(table)
        out.print(f"{len(rows) - len(failed)} of {len(rows)} outcomes matched")
    raise typer.Exit(EXIT_INVALID if failed or not rows else EXIT_OK)
