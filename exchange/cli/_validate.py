"""``ptx validate``: files or folders against the catalogue, a scenario file or an XSD (+ rules), as text, JSON,
JUnit, ePhyto, SVRL or one self-contained HTML report."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from exchange._i18n import _, ngettext
from exchange.cli._app import EXIT_INVALID, EXIT_OK, EXIT_USAGE, app

if TYPE_CHECKING:
    from exchange._validation import ValidationReport


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"
    JUNIT = "junit"
    EPHYTO = "ephyto"  # the ePhyto hub's validation result (exchange/_ephyto.py)
    SVRL = "svrl"  # the rules' own SVRL, passed through (exchange/_reports.py)
    HTML = "html"  # one self-contained HTML report (exchange/_reports.py)


# --- workers -----------------------------------------------------------------------------------------------

_worker_options: dict[str, Any] = {}


def _init_worker(options: dict[str, Any]) -> None:
    _worker_options.clear()
    _worker_options.update(options)
    from exchange._scenarios import load_scenarios
    from exchange._validation import Validator

    scenarios = load_scenarios(options["scenarios"]) if options.get("scenarios") is not None else None
    # the rules' SVRL is made only when it is the output: other formats read the findings alone
    _worker_options["validator"] = Validator(scenarios=scenarios, svrl=bool(options.get("svrl", True)))


def _validate_one(path: str) -> ValidationReport:
    validator = _worker_options["validator"]
    return validator.validate_file(
        path,
        document_type=_worker_options.get("document_type"),
        schema=_worker_options.get("schema"),
        rules=_worker_options.get("rules"),
    )


def _run(files: Sequence[Path], options: dict[str, Any], jobs: int, progress: bool) -> Iterator[ValidationReport]:
    names = [str(path) for path in files]
    if jobs <= 1 or len(names) < 2 * jobs:
        _init_worker(options)
        iterator: Iterator[ValidationReport] = map(_validate_one, names)
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        executor = ProcessPoolExecutor(
            max_workers=jobs,
            mp_context=multiprocessing.get_context(method),
            initializer=_init_worker,
            initargs=(options,),
        )
        chunk = max(1, min(64, len(names) // (jobs * 4)))
        iterator = executor.map(_validate_one, names, chunksize=chunk)
    if not progress:
        yield from iterator
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn(_("validating")), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=True
    ) as bar:
        task = bar.add_task("validate", total=len(names))
        for report in iterator:
            bar.advance(task)
            yield report


# --- output ------------------------------------------------------------------------------------------------


def _text_lines(report: ValidationReport) -> list[str]:
    from exchange._reports import text_lines

    return text_lines(report)


def _junit(reports: Sequence[ValidationReport], seconds: float) -> bytes:
    """JUnit XML for CI tools: machine-readable, English whatever the language."""
    from lxml import etree

    from exchange._i18n import using

    with using("en"):
        return _junit_english(reports, seconds, etree)


def _junit_english(reports: Sequence[ValidationReport], seconds: float, etree: Any) -> bytes:
    failures = sum(1 for report in reports if not report.valid)
    suite = etree.Element(
        "testsuite", name="ptx validate", tests=str(len(reports)), failures=str(failures), errors="0",
        time=f"{seconds:.3f}",
    )
    for report in reports:
        case = etree.SubElement(
            suite, "testcase", classname=report.document_type or "xml", name=str(report.source)
        )
        errors = [f for f in report.findings if f.is_error]
        if errors:
            failure = etree.SubElement(
                case, "failure", type=errors[0].code, message=f"{len(errors)} error(s): {errors[0].message}"
            )
            failure.text = "\n".join(_text_lines(report)[1:])
        warnings = [f for f in report.findings if not f.is_error]
        if warnings:
            out = etree.SubElement(case, "system-out")
            out.text = "\n".join(f"{f.severity.value} {f.code}: {f.message}" for f in warnings)
    suites = etree.Element("testsuites")
    suites.append(suite)
    return bytes(etree.tostring(suites, xml_declaration=True, encoding="UTF-8", pretty_print=True))


@app.command()
def validate(
    paths: Annotated[list[Path], typer.Argument(help="XML files or folders (all *.xml below them).")],
    type_id: Annotated[
        str | None, typer.Option("--type", "-t", help="Catalogue type id (default: detected from the root).")
    ] = None,
    schema: Annotated[
        Path | None, typer.Option("--schema", help="Validate against this XSD instead of the catalogue.")
    ] = None,
    rules: Annotated[Path | None, typer.Option(
        "--rules", help="Rules to run instead: ISO Schematron (.sch) or compiled rules (.xsl/.xslt); the query "
        "binding picks the engine (xslt1: lxml, xslt2/xslt3: SaxonC-HE).")] = None,
    scenarios: Annotated[Path | None, typer.Option(
        "--scenarios", help="A scenario file (YAML): schema and rules picked per document.")] = None,
    output: Annotated[OutputFormat, typer.Option("--format", "-f", help="Report format.")] = OutputFormat.TEXT,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Parallel workers (0: one per CPU).", min=0)] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Text: list only invalid files.")] = False,
) -> None:
    """Validate documents; exit 0 when all are valid, 1 when any is invalid, 2 on a usage error."""
    import time

    from exchange._catalogue import default_catalogue
    from exchange._validation import compiled_rules, compiled_schema, iter_xml_files

    if type_id and schema:
        raise typer.BadParameter("give either --type or --schema, not both")
    if scenarios is not None and (type_id or schema):
        raise typer.BadParameter("give either --scenarios or --type/--schema, not both")
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        raise typer.BadParameter(f"no such file or folder: {', '.join(missing)}")
    # Fail on configuration before touching documents (exit 2 via the ExchangeError handler).
    if schema is not None:
        compiled_schema(schema)
    if rules is not None:
        compiled_rules(rules)
    if type_id is not None:
        default_catalogue().get(type_id)
    if scenarios is not None:
        from exchange._scenarios import load_scenarios

        for rules_file in load_scenarios(scenarios).rules_files:  # every rules file compiles before any document
            compiled_rules(rules_file)

    files = iter_xml_files(paths)
    if not files:
        print("ptx: " + _("no XML files found"), file=sys.stderr)
        raise typer.Exit(EXIT_USAGE)
    if jobs == 0:
        jobs = min(os.cpu_count() or 1, 8) if len(files) >= 64 else 1
    options = {"document_type": type_id, "schema": schema, "rules": rules, "scenarios": scenarios,
               "svrl": output is OutputFormat.SVRL}
    progress = sys.stderr.isatty() and len(files) >= 50 and output is OutputFormat.TEXT
    started = time.perf_counter()

    reports: list[ValidationReport] = []  # only the formats that write every report at the end keep them
    keep = output is not OutputFormat.TEXT
    count = invalid = 0
    out = sys.stdout
    for report in _run(files, options, jobs, progress):
        count += 1
        if not report.valid:
            invalid += 1
        if keep:
            reports.append(report)
        elif not (quiet and report.valid):
            out.write("\n".join(_text_lines(report)) + "\n")
    seconds = time.perf_counter() - started

    if output in (OutputFormat.JSON, OutputFormat.HTML, OutputFormat.SVRL):
        from datetime import UTC, datetime

        from exchange import _reports

        filed = [_reports.file_report(report, at=datetime.now(UTC)) for report in reports]
        if output is OutputFormat.JSON:
            out.write(_reports.to_json(filed))
        elif output is OutputFormat.HTML:
            out.write(_reports.to_html(filed))
        else:
            sys.stdout.buffer.write(_reports.to_svrl(filed))
    elif output is OutputFormat.EPHYTO:
        from exchange._ephyto import hub_results

        results = [{"path": report.source, "document_type": report.document_type,
                    "ValidationResult": [r.to_dict() for r in hub_results(report.findings)]} for report in reports]
        out.write(json.dumps({"results": results}, indent=2, ensure_ascii=False) + "\n")
    elif output is OutputFormat.JUNIT:
        sys.stdout.buffer.write(_junit(reports, seconds))
    else:
        out.write(_summary(count, invalid, seconds) + "\n")
    raise typer.Exit(EXIT_INVALID if invalid else EXIT_OK)


def _summary(count: int, invalid: int, seconds: float) -> str:
    """``3 file(s): 2 valid, 1 invalid (0.12 s)``; English keeps that exact line (the exercises read it)."""
    from exchange._i18n import current

    if current() == "en":
        return f"{count} file(s): {count - invalid} valid, {invalid} invalid ({seconds:.2f} s)"
    return ngettext("{count} file: {valid} valid, {invalid} invalid ({seconds} s)",
                    "{count} files: {valid} valid, {invalid} invalid ({seconds} s)", count).format(
        count=count, valid=count - invalid, invalid=invalid, seconds=f"{seconds:.2f}")


# --- ptx serve validator ------------------------------------------------------------------------------------

from exchange.cli._serve import bind_socket, serve_app  # noqa: E402  the serve group, shared with the services


@serve_app.command("validator")
def serve_validator(
    scenarios: Annotated[Path | None, typer.Option(
        "--scenarios", help="A scenario file (YAML); default: the catalogue's document types.")] = None,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", min=1, max=65535, help="Port to listen on.")] = 8080,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
) -> None:
    """Run the validation service: POST a document, get the report (200 acceptable, 406 not, 422 cannot be
    processed); compiled rules are kept warm."""
    import uvicorn

    from exchange._tls import TlsMaterial
    from exchange.services._server import server_config
    from exchange.validator import ValidatorSettings, create_app

    app = create_app(ValidatorSettings(scenarios=scenarios))
    config = server_config(app, TlsMaterial(), log_level=log_level, service="validator")
    sock = bind_socket(host, port)
    rules = len(app.state.scenarios.rules_files)
    typer.echo(_("validator on {url} ({scenarios} scenario(s), {rules} rules file(s) compiled)").format(
        url=f"http://{host}:{port}", scenarios=len(app.state.scenarios.scenarios), rules=rules), err=True)
    uvicorn.Server(config).run(sockets=[sock])
