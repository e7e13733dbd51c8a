"""Validation benchmark: ptx against xmllint like with like, verdicts checked; documents/s by size; peak memory for
a 10 MB document.

Run: ``.venv/bin/python bench/validate.py`` (about 4 min; ``--quick``: smaller batches, about 1 min). Prints
figures; exits 1 if a command's exit code or a verdict is not what the files say (the figures of such a run mean
nothing).

1. Batches of 1,000 and 10,000 certificates of origin of about 10 KB (``--quick``: 200 and 2,000), 5 % of them
   invalid against the XSD (an unexpected element, a bad date, a truncated file) and 5 % valid against the XSD but
   breaking a Schematron rule. Like with like, start-up included, best of the interleaved rounds:

   - one process: ``ptx validate --schema XSD --jobs 1`` and the library alone (``exchange.validate_file`` in a
     loop in a fresh interpreter, timed from its first call: no start-up) against one ``xmllint --noout --schema
     XSD`` process given every file;
   - N workers (N = CPUs): ``ptx validate --schema XSD --jobs N`` against ``xargs -P N xmllint --noout --schema``
     (each xmllint given 1/N of the files, so both compile the schema N times);
   - the full catalogue check, XSD + Schematron (``ptx validate --type``), with 1 and N workers: no reference
     (xmllint's ``--schematron`` is the pre-ISO Schematron 1.5, not the same rules).

   Each command's exit code is checked (ptx 1, xmllint 3 or 1, xargs 123: some file is invalid) and its list of
   invalid files compared with the one the files were made to have. Ratio = xmllint time / ptx time (>= 1.0:
   ptx is at least as fast).
2. Documents/s for 10 KB, 100 KB and 1 MB documents, each size in its own process: the lxml floor (parse + XSD,
   no hardening), ptx's hardened parse + XSD, and the full check (+ Schematron); peak RSS of that process.
3. A 10 MB signed certificate of origin validated (XSD + Schematron) and verified (signature and issuer trust) in
   a fresh process: the peak resident memory above the warmed-up process (``VmHWM`` after resetting it, so
   libxml2's own allocations count), as a multiple of the document's size; the Python objects' share
   (tracemalloc) from a second pass. Goal: at most 5x the size.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import TYPE_ID, banner, certificate_of_origin, finished, resident_kib  # noqa: E402

from exchange import XmlLimits, default_catalogue, parse_xml, validate, validate_file  # noqa: E402
from exchange._validation import compiled_rules, compiled_schema  # noqa: E402

PTX = str(Path(sys.executable).parent / "ptx")
SIZES = {"10 KB": 10 * 1024, "100 KB": 100 * 1024, "1 MB": 1024 * 1024}


# --- the batch: files that are valid, invalid against the XSD, invalid against the rules ---------------------------


def _replaced(data: bytes, old: bytes, new: bytes) -> bytes:
    changed = data.replace(old, new, 1)
    if changed == data:
        raise SystemExit(f"the generated document has no {old!r} to break")
    return changed


def _break_schema(data: bytes, index: int) -> bytes:
    """Invalid against the XSD (and so also for the full check), three ways in turn."""
    kind = index % 3
    if kind == 0:  # an unexpected element
        return _replaced(data, b"<Name>CERTIFICATE OF ORIGIN</Name>", b"<Nmae>CERTIFICATE OF ORIGIN</Nmae>")
    if kind == 1:  # a value outside its type
        return _replaced(data, b"<DepartureDate>2026-11-05<", b"<DepartureDate>2026-13-45<")
    return data[: len(data) // 2]  # not well-formed


def _break_rules(data: bytes) -> bytes:
    """Valid against the XSD, invalid for the rules: a country code that is not ISO 3166 (COO-COUNTRY-01)."""
    return _replaced(data, b"<CountryID>AA</CountryID>", b"<CountryID>UK</CountryID>")


@dataclass(frozen=True)
class Batch:
    folder: Path
    names: list[str]
    schema_invalid: frozenset[str]  # invalid against the XSD
    rules_invalid: frozenset[str]  # valid against the XSD, invalid for the Schematron rules
    size: int


def make_batch(folder: Path, count: int, document: bytes) -> Batch:
    folder.mkdir()
    names, schema_invalid, rules_invalid = [], set(), set()
    for index in range(count):
        name = f"d{index:05d}.xml"
        data = _replaced(document, b"<ID>AA-COO-2026-000184</ID>", f"<ID>AA-COO-{index:06d}</ID>".encode())
        if index % 20 == 7:
            data = _break_schema(data, index // 20)
            schema_invalid.add(name)
        elif index % 20 == 13:
            data = _break_rules(data)
            rules_invalid.add(name)
        (folder / name).write_bytes(data)
        names.append(name)
    return Batch(folder, names, frozenset(schema_invalid), frozenset(rules_invalid), len(document))


# --- the commands and what they say ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Contender:
    label: str
    command: list[str]
    expected_exit: frozenset[int]
    invalid_from: Callable[[str, str], set[str]]  # (stdout, stderr) -> names it found invalid
    full_check: bool = False  # XSD + Schematron
    stdin: bytes | None = None
    timed_inside: bool = False  # the command prints its own time (no start-up) as the last stdout line


def _ptx_invalid(stdout: str, stderr: str) -> set[str]:
    return {Path(line.split()[1]).name for line in stdout.splitlines() if line.startswith("INVALID ")}


def _xmllint_invalid(names: list[str]) -> Callable[[str, str], set[str]]:
    def invalid(stdout: str, stderr: str) -> set[str]:
        valid = {line[: -len(" validates")] for line in stderr.splitlines() if line.endswith(" validates")}
        return {Path(name).name for name in names} - {Path(name).name for name in valid}

    return invalid


def _xmllint_files_invalid(folder: Path, names: list[str]) -> Callable[[str, str], set[str]]:
    def invalid(stdout: str, stderr: str) -> set[str]:
        outputs = sorted(folder.glob("xmllint-*.err"))
        text = "".join(path.read_text(errors="replace") for path in outputs)
        for path in outputs:
            path.unlink()
        return _xmllint_invalid(names)(stdout, text)

    return invalid


def _library_invalid(stdout: str, stderr: str) -> set[str]:
    return set(json.loads(stdout.splitlines()[-1])["invalid"])


def contenders(batch: Batch, workers: int) -> list[Contender]:
    schema = str(default_catalogue().get(TYPE_ID).schema_path)
    xmllint = shutil.which("xmllint")
    some_invalid = bool(batch.schema_invalid)
    ptx_exit = frozenset({1 if some_invalid else 0})
    rows = [
        Contender("library, 1 process (validate_file loop)",
                  [sys.executable, __file__, "--library-batch", str(batch.folder), "--schema", schema],
                  frozenset({0}), _library_invalid, timed_inside=True),
        Contender("ptx validate --schema --jobs 1", [PTX, "validate", ".", "--schema", schema, "--quiet", "--jobs", "1"],
                  ptx_exit, _ptx_invalid),
    ]
    if xmllint:
        rows.append(Contender("xmllint --noout --schema, 1 process", [xmllint, "--noout", "--schema", schema,
                                                                       *batch.names],
                              frozenset({1, 3}) if some_invalid else frozenset({0}), _xmllint_invalid(batch.names)))
    rows.append(Contender(f"ptx validate --schema --jobs {workers}",
                          [PTX, "validate", ".", "--schema", schema, "--quiet", "--jobs", str(workers)],
                          ptx_exit, _ptx_invalid))
    if xmllint:
        per_process = -(-len(batch.names) // workers)
        # each xmllint writes its own file: lines from processes sharing one stderr pipe interleave mid-line
        script = f'exec "$0" --noout --schema {shlex.quote(schema)} "$@" 2> "xmllint-$$.err"'
        rows.append(Contender(f"xargs -P {workers} xmllint --noout --schema",
                              ["xargs", "-0", "-P", str(workers), "-n", str(per_process), "sh", "-c", script, xmllint],
                              frozenset({123}) if some_invalid else frozenset({0}),
                              _xmllint_files_invalid(batch.folder, batch.names),
                              stdin=b"\0".join(name.encode() for name in batch.names)))
    full_exit = frozenset({1 if batch.schema_invalid | batch.rules_invalid else 0})
    for jobs in (1, workers):
        rows.append(Contender(f"ptx validate --type (XSD+Schematron) --jobs {jobs}",
                              [PTX, "validate", ".", "--type", TYPE_ID, "--quiet", "--jobs", str(jobs)],
                              full_exit, _ptx_invalid, full_check=True))
    return rows


def run_batch(batch: Batch, workers: int, rounds: int, problems: list[str]) -> None:
    rows = contenders(batch, workers)
    best: dict[str, float] = {}
    cpu: dict[str, float] = {}  # CPU seconds of the command and every process it waited for, least of the rounds
    for _ in range(rounds):  # interleaved: background load hits every contender alike
        for row in rows:
            used = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            result = subprocess.run(row.command, cwd=batch.folder, input=row.stdin, capture_output=True)
            seconds = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            spent = after.ru_utime + after.ru_stime - used.ru_utime - used.ru_stime
            stdout, stderr = result.stdout.decode(errors="replace"), result.stderr.decode(errors="replace")
            if row.timed_inside and result.returncode == 0:
                inside = json.loads(stdout.splitlines()[-1])
                seconds, spent = inside["seconds"], inside["cpu"]
            best[row.label] = min(best.get(row.label, float("inf")), seconds)
            cpu[row.label] = min(cpu.get(row.label, float("inf")), spent)
            if result.returncode not in row.expected_exit:
                problems.append(f"{row.label}: exit {result.returncode}, expected {sorted(row.expected_exit)}: "
                                f"{stderr.strip()[-300:]}")
                continue
            expected = batch.schema_invalid | (batch.rules_invalid if row.full_check else frozenset())
            found = row.invalid_from(stdout, stderr)
            if found != expected:
                problems.append(f"{row.label}: {len(found)} invalid files, expected {len(expected)}; differing: "
                                f"{sorted(found ^ expected)[:5]}")
    count = len(batch.names)
    print(f"\nBatch of {count:,} files of about {batch.size:,} bytes: {len(batch.schema_invalid)} invalid against the "
          f"XSD, {len(batch.rules_invalid)} more against the rules (best of {rounds}, start-up included)")
    print(f"  {'command':56} {'seconds':>8} {'ms/file':>8} {'files/s':>8} {'CPU s':>7}  {'ratio xmllint/ptx':>17}")
    references = {1: "xmllint --noout --schema, 1 process", workers: f"xargs -P {workers} xmllint --noout --schema"}
    for row in rows:
        seconds = best[row.label]
        jobs = workers if f"--jobs {workers}" in row.label or row.label.startswith("xargs") else 1
        reference = references.get(jobs)
        if row.full_check:
            ratio = "no reference"
        elif "xmllint" in row.label:
            ratio = "reference"
        elif reference in best:
            ratio = f"{best[reference] / seconds:.2f}"
        else:
            ratio = "xmllint missing"
        note = " (no start-up)" if row.timed_inside else ""
        print(f"  {row.label + note:56} {seconds:8.3f} {seconds / count * 1000:8.3f} {count / seconds:8,.0f} "
              f"{cpu[row.label]:7.2f}  {ratio:>17}")
    print("  seconds: wall clock, the ratio's basis; CPU s: user + system of the command and every process it waited "
          "for (above seconds x 1 for N workers; far below seconds: the machine was busy with other work)")
    print(f"  verdicts and exit codes: {'checked, as the files say' if not problems else 'SEE PROBLEMS BELOW'}")


def library_batch(folder: Path, schema: str) -> None:
    """One process, the library alone: validate_file on every file, timed from the first call."""
    names = sorted(path.name for path in folder.glob("*.xml"))
    started, cpu = time.perf_counter(), time.process_time()
    invalid = [name for name in names if not validate_file(folder / name, schema=schema).valid]
    print(json.dumps({"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu, "invalid": invalid}))


# --- documents/s by size, each in its own process ------------------------------------------------------------------


def measure_size(label: str, seconds: float) -> dict[str, object]:
    data = certificate_of_origin(SIZES[label])
    doc_type = default_catalogue().get(TYPE_ID)
    limits = XmlLimits(max_bytes=64 * 1024 * 1024)
    report = validate(data, document_type=doc_type)
    schema = compiled_schema(doc_type.schema_path)
    assert doc_type.rules_path is not None
    compiled_rules(doc_type.rules_path)

    def rate(work: Callable[[], object]) -> float:
        count, started = 0, time.perf_counter()
        while True:
            work()
            count += 1
            elapsed = time.perf_counter() - started
            if elapsed >= seconds and count >= 3:
                return count / elapsed

    floor_rate = rate(lambda: schema.validate(etree.ElementTree(etree.fromstring(data))))  # noqa: TID251 - the floor
    xsd_rate = rate(lambda: schema.validate(parse_xml(data, limits=limits)))
    full_rate = rate(lambda: validate(data, document_type=doc_type))
    return {"bytes": len(data), "valid": report.valid, "codes": sorted(set(report.codes)), "floor": floor_rate,
            "xsd": xsd_rate, "full": full_rate, "peak_rss_mib": resident_kib(os.getpid(), "VmHWM") / 1024}


def print_sizes(quick: bool, problems: list[str]) -> None:
    print("\nDocuments/s by size (one process per size; floor = lxml parse + XSD, no hardening, no Schematron)")
    print(f"  {'size':>7} {'bytes':>10} {'floor docs/s':>13} {'ptx XSD docs/s':>15} {'XSD/floor':>10} "
          f"{'+Schematron docs/s':>19} {'peak RSS MiB':>13}")
    for label in SIZES:
        out = subprocess.run([sys.executable, __file__, "--size", label, *(["--quick"] if quick else [])],
                             capture_output=True, text=True, check=True)
        row = json.loads(out.stdout)
        print(f"  {label:>7} {row['bytes']:>10,} {row['floor']:>13,.1f} {row['xsd']:>15,.1f} "
              f"{row['xsd'] / row['floor']:>10.2f} {row['full']:>19,.1f} {row['peak_rss_mib']:>13.1f}")
        if not row["valid"]:
            problems.append(f"the generated {label} document is invalid: {', '.join(row['codes'])}")


# --- memory: a 10 MB document validated and verified ---------------------------------------------------------------


def _memory_material(folder: Path) -> tuple[Path, Path, Path]:
    """A demo workspace, and a 10 MB and a 10 KB certificate of origin signed by AA's chamber of commerce."""
    from exchange import Workspace, init_workspace, sign_document

    init_workspace(folder / "workspace", moment=datetime.now(UTC) - timedelta(minutes=5))
    signer = Workspace.open(folder / "workspace").authority("AA", "chamber-of-commerce")
    document, small = folder / "ten-mb.xml", folder / "small.xml"
    document.write_bytes(sign_document(certificate_of_origin(10 * 1000 * 1000), signer.key, signer.signing_chain))
    small.write_bytes(sign_document(certificate_of_origin(10 * 1024), signer.key, signer.signing_chain))
    return folder / "workspace", document, small


def memory_child(workspace: Path, document: Path, small: Path, operation: str) -> None:
    """``operation`` (validate or verify) on ``document`` after warming up on ``small``; print the peak memory."""
    from exchange import Workspace, verify_document

    trust = Workspace.open(workspace).trust_context("BB", moment=datetime.now(UTC))  # what BB recognises

    def work(data: bytes) -> tuple[bool, list[str]]:
        if operation == "floor":  # the tree any DOM-based check needs: lxml's parse alone, kept until the end
            tree = etree.fromstring(data)  # noqa: TID251 - the reference, not an entry point
            return tree is not None, []
        if operation == "validate":
            report = validate(data, document_type=TYPE_ID)
            return report.valid, list(report.codes)
        verified = verify_document(data, trust=trust, document_type=TYPE_ID)
        return verified.valid, [finding.code for finding in verified.findings]

    warm, _ = work(small.read_bytes())
    pid = os.getpid()
    baseline = resident_kib(pid)
    data = document.read_bytes()
    loaded = resident_kib(pid)
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    started = time.perf_counter()
    passed, codes = work(data)
    seconds = time.perf_counter() - started
    peak = resident_kib(pid, "VmHWM")
    tracemalloc.start()
    work(data)
    python_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(json.dumps({"bytes": len(data), "baseline_kib": baseline, "loaded_kib": loaded, "peak_kib": peak,
                      "seconds": seconds, "passed": passed, "warm": warm, "codes": codes,
                      "python_peak": python_peak}))


def print_memory(folder: Path, problems: list[str]) -> None:
    paths = _memory_material(folder)
    rows = {}
    for operation in ("floor", "validate", "verify"):
        out = subprocess.run([sys.executable, __file__, "--memory", *map(str, paths), operation], capture_output=True,
                             text=True)
        if out.returncode != 0:
            problems.append(f"the 10 MB memory measurement ({operation}) failed: {out.stderr.strip()[-500:]}")
            return
        rows[operation] = json.loads(out.stdout)
    size = rows["validate"]["bytes"]
    print(f"\nMemory: a {size / 1e6:.1f} MB signed certificate of origin, each operation in a fresh process warmed up "
          "on a 10 KB one")
    floor = (rows["floor"]["peak_kib"] - rows["floor"]["baseline_kib"]) * 1024
    for operation, what in (("floor", "reference: lxml parse alone"), ("validate", "validated (XSD + Schematron)"),
                            ("verify", "verified (signature + trust)")):
        row = rows[operation]
        baseline = row["baseline_kib"]
        growth = (row["peak_kib"] - baseline) * 1024
        beside = ("the tree every DOM-based check holds (with the bytes read)" if operation == "floor" else
                  f"goal <= 5 x; {growth / floor:4.2f} x the reference")
        print(f"  {what:30} in {row['seconds']:6.2f} s: peak {growth / 2**20:6.1f} MiB above the warmed-up process "
              f"({baseline / 1024:.1f} MiB, the constant) = {growth / size:5.2f} x the document ({beside}); "
              f"Python objects {row['python_peak'] / 2**20:.1f} MiB of it (tracemalloc, 2nd pass)")
        if not (row["passed"] and row["warm"]):
            problems.append(f"the 10 MB document did not pass {operation}: {row['passed']}, warm-up {row['warm']}, "
                            f"codes {row['codes'][:5]}")
    print("  the peak includes the document's bytes read (1 x); what tracemalloc does not see is libxml2's and "
          "OpenSSL's memory")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller batches, shorter measurements")
    parser.add_argument("--size", help=argparse.SUPPRESS)
    parser.add_argument("--library-batch", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--schema", help=argparse.SUPPRESS)
    parser.add_argument("--memory", nargs=4, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.size:
        print(json.dumps(measure_size(args.size, 0.5 if args.quick else 2.0)))
        return
    if args.library_batch:
        library_batch(args.library_batch, args.schema)
        return
    if args.memory:
        memory_child(*args.memory[:3], str(args.memory[3]))
        return

    started = time.perf_counter()
    banner(f"ptx validation benchmark: {TYPE_ID}" + (" (--quick)" if args.quick else ""))
    problems: list[str] = []
    workers = os.cpu_count() or 1
    if not shutil.which("xmllint"):
        problems.append("xmllint not found (Debian libxml2-utils, `sudo make deps`): no reference for the batches")
    document = certificate_of_origin(10 * 1024)
    with tempfile.TemporaryDirectory() as tmp:
        for count, rounds in ((200, 2), (2000, 2)) if args.quick else ((1000, 3), (10000, 3)):
            run_batch(make_batch(Path(tmp) / f"batch-{count}", count, document), workers, rounds, problems)
        print_sizes(args.quick, problems)
        print_memory(Path(tmp), problems)
    for problem in problems:
        print(f"PROBLEM: {problem}")
    finished(started)
    if problems:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
