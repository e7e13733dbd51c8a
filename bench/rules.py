"""Rules benchmark: the EN 16931 UBL rules on the XSLT 2/3 engine, and lxml's XSLT 1 against it where both apply.

Run: ``.venv/bin/python bench/rules.py`` (about 3 min; ``--quick``: about 1 min). Needs the public corpus
(``$PTX_CORPUS``, by default ``../shared/corpus``). Prints figures; exits 1 if a verdict is not what the documents
say (the official examples acceptable, each negative reported with its one rule id).

1. EN 16931 UBL, published XSLT 2.0 and the Schematron sources compiled by ptx, on the official UBL examples and a
   negative (BR-CL-01) every tenth document, each in a fresh process with an empty rules cache:
   first-document latency including compile (engine start, Saxon compile, the first run), warm latency p50/p99,
   documents/s for the rules alone and for the whole scenario (parse + XSD + rules), the engine process's peak
   memory (``VmHWM``) and this process's.
   For the sources, a second fresh process with the cache kept: what the disk cache saves.
2. lxml XSLT 1 against the XSLT 2/3 engine on rules both can run: the catalogue's certificate-of-origin
   Schematron (queryBinding xslt1) as it is on lxml, and the same file declared xslt2 on the engine, on the
   catalogue's samples: documents/s and latency, same findings checked.
3. lxml's XSLT 1 skeleton on the EN 16931 UBL sources (what ``ptx validate --rules`` did before the engine): given
   a bounded time in a child process, it does not finish (``--quick``: 10 s, else 60 s).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import banner, finished, percentile  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("PTX_CORPUS") or REPO.parent / "shared" / "corpus").resolve()
UBL_XSLT = CORPUS / "en16931/ubl/xslt/EN16931-UBL-validation.xslt"
UBL_SCH = CORPUS / "en16931/ubl/schematron/EN16931-UBL-validation.sch"
EXAMPLES = CORPUS / "schemas/ubl21/samples/en16931"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"

# one measurement in a fresh interpreter: prints one JSON line
_EN16931 = r"""
import json, os, sys, time
from pathlib import Path
start = time.perf_counter()
from lxml import etree
from exchange._scenarios import load_scenarios
from exchange._validation import Validator, compiled_rules
from exchange._xml import parse_xml
from exchange._xslt2 import default_engine
rules_path, scenarios_path, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
files = sorted(p for p in Path(sys.argv[4]).rglob("*.xml"))
documents = []
for index in range(count):
    data = files[index % len(files)].read_bytes()
    expect = None
    if index % 10 == 9 and b"<Invoice" in data[:3000]:
        tree = parse_xml(data)
        tree.getroot().find("{@CBC@}InvoiceTypeCode").text = "999"
        data, expect = etree.tostring(tree), "BR-CL-01"
    documents.append((data, expect))
trees = [parse_xml(data) for data, _ in documents]
t0 = time.perf_counter()
rules = compiled_rules(rules_path)
first = rules.svrl(trees[0])
first_seconds = time.perf_counter() - t0
latencies = []
t1 = time.perf_counter()
for tree in trees:
    t = time.perf_counter()
    rules.svrl(tree)
    latencies.append(time.perf_counter() - t)
rules_seconds = time.perf_counter() - t1
validator = Validator(scenarios=load_scenarios(scenarios_path))
problems = 0
t2 = time.perf_counter()
for (data, expect) in documents:
    report = validator.validate(data)
    errors = [f.code for f in report.findings if f.is_error]
    if errors != ([expect] if expect else []):
        problems += 1
full_seconds = time.perf_counter() - t2
engine = default_engine()
peak = 0
if engine.pid:
    for line in Path(f"/proc/{engine.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1])
own = next(int(l.split()[1]) for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmHWM:"))
print(json.dumps({"first": first_seconds, "latencies": latencies, "rules_seconds": rules_seconds,
                  "full_seconds": full_seconds, "count": len(trees), "problems": problems, "engine_kib": peak,
                  "own_kib": own, "engine": rules.engine, "version": engine.version}))
""".replace("@CBC@", CBC)

_BOTH = r"""
import json, sys, time
from pathlib import Path
from exchange._validation import compiled_rules, svrl_findings
from exchange._xml import parse_xml
rules_path, count = sys.argv[1], int(sys.argv[2])
files = [Path(p) for p in sys.argv[3:]]
trees = [parse_xml(files[i % len(files)].read_bytes()) for i in range(count)]
t0 = time.perf_counter()
rules = compiled_rules(rules_path)
rules.svrl(trees[0])
first = time.perf_counter() - t0
latencies, codes = [], []
t1 = time.perf_counter()
for tree in trees:
    t = time.perf_counter()
    report = rules.svrl(tree)
    latencies.append(time.perf_counter() - t)
    codes.append(sorted(f.code for f in svrl_findings(report, tree)))
seconds = time.perf_counter() - t1
print(json.dumps({"first": first, "latencies": latencies, "seconds": seconds, "count": count, "codes": codes,
                  "engine": rules.engine}))
"""


def fresh(script: str, *args: str, cache: Path, timeout: float = 900) -> dict[str, object]:
    env = {**os.environ, "PTX_RULES_CACHE": str(cache), "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, env=env,
                            timeout=timeout, cwd=REPO)
    if result.returncode != 0:
        raise SystemExit(f"PROBLEM: a measurement failed:\n{result.stderr[-3000:]}")
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def latency_line(figures: dict[str, object]) -> str:
    latencies = [float(x) for x in figures["latencies"]]  # type: ignore[attr-defined]
    return (f"p50 {percentile(latencies, 0.5) * 1000:6.1f} ms, p99 {percentile(latencies, 0.99) * 1000:6.1f} ms")


def en16931(count: int, work: Path) -> int:
    problems = 0
    print(f"\n1. EN 16931 UBL rules on {count} documents (official UBL examples, every tenth Invoice breaking BR-CL-01)")
    scenario_files = {"published XSLT 2.0": (UBL_XSLT, REPO / "scenarios" / "en16931-xslt.yaml"),
                      "Schematron sources": (UBL_SCH, REPO / "scenarios" / "en16931.yaml")}
    for name, (rules, scenarios) in scenario_files.items():
        cache = work / name.replace(" ", "-")
        runs = {"cold cache": fresh(_EN16931, str(rules), str(scenarios), str(count), str(EXAMPLES), cache=cache)}
        if rules.suffix == ".sch":
            runs["warm cache"] = fresh(_EN16931, str(rules), str(scenarios), str(count), str(EXAMPLES), cache=cache)
        for label, figures in runs.items():
            n = int(figures["count"])  # type: ignore[call-overload]
            rules_rate = n / float(figures["rules_seconds"])  # type: ignore[arg-type]
            full_rate = n / float(figures["full_seconds"])  # type: ignore[arg-type]
            print(f"   {name:20} {label:10} first document {float(figures['first']):5.2f} s (incl. compile); "  # type: ignore[arg-type]
                  f"warm {latency_line(figures)}; {rules_rate:5.1f} docs/s rules alone, {full_rate:5.1f} docs/s "
                  f"parse+XSD+rules; engine peak {int(figures['engine_kib']) >> 10} MiB, "  # type: ignore[call-overload]
                  f"this process {int(figures['own_kib']) >> 10} MiB")  # type: ignore[call-overload]
            if figures["problems"]:
                print(f"   PROBLEM: {figures['problems']} document(s) with unexpected findings")
                problems += 1
        print(f"   engine: {figures['version']}")
    return problems


def both_engines(count: int, work: Path) -> int:
    from exchange import default_catalogue

    doc_type = default_catalogue().get("certificate-of-origin")
    assert doc_type.rules_path is not None
    source = doc_type.rules_path.read_text(encoding="utf-8")
    as_xslt2 = work / "rules-xslt2.sch"
    as_xslt2.write_text(source.replace('queryBinding="xslt"', 'queryBinding="xslt2"')
                        .replace('queryBinding="xslt1"', 'queryBinding="xslt2"'), encoding="utf-8")
    samples = [str(sample.path) for sample in doc_type.samples]
    print(f"\n2. The same rules on both engines: {doc_type.id} rules.sch on its {len(samples)} samples, {count} runs")
    results = {}
    for label, rules in (("lxml XSLT 1", doc_type.rules_path), ("SaxonC-HE XSLT 2", as_xslt2)):
        figures = fresh(_BOTH, str(rules), str(count), *samples, cache=work / "both")
        results[label] = figures
        rate = int(figures["count"]) / float(figures["seconds"])  # type: ignore[call-overload, arg-type]
        print(f"   {label:17} ({figures['engine']}): first {float(figures['first']) * 1000:7.1f} ms incl. compile; "  # type: ignore[arg-type]
              f"warm {latency_line(figures)}; {rate:7.1f} docs/s")
    lxml, saxon = results.values()
    ratio = (float(saxon["seconds"]) / float(lxml["seconds"]))  # type: ignore[arg-type]
    print(f"   the XSLT 2 engine takes {ratio:.1f}x lxml's time per document on these rules (a pipe and a process "
          "hop per document, beside the work itself)")
    if lxml["codes"] != saxon["codes"]:
        print("   PROBLEM: the two engines disagree on the findings")
        return 1
    return 0


def lxml_on_en16931(seconds: float) -> None:
    print(f"\n3. lxml's XSLT 1 skeleton on the EN 16931 UBL sources (queryBinding xslt2), bounded to {seconds:.0f} s")
    script = ("from lxml import isoschematron\nfrom exchange._xml import load_trusted_xml\n"
              f"isoschematron.Schematron(load_trusted_xml({str(UBL_SCH)!r}), store_report=True)\nprint('compiled')")
    started = time.perf_counter()
    try:
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=seconds,
                                cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
        outcome = "compiled" if result.returncode == 0 else f"failed: {result.stderr.strip().splitlines()[-1]}"
    except subprocess.TimeoutExpired:
        outcome = "did not finish compiling"
    print(f"   {outcome} after {time.perf_counter() - started:.1f} s; the XSLT 2 engine compiles and runs it "
          "(figures above)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer documents and a shorter bound")
    args = parser.parse_args()
    started = time.perf_counter()
    banner("bench/rules.py: EN 16931 rules on the XSLT 2/3 engine (SaxonC-HE), and against lxml's XSLT 1")
    from exchange._xslt2 import DEFAULT_LIMITS

    print(f"  corpus {CORPUS}; engine process limits: {DEFAULT_LIMITS.memory_bytes >> 20} MiB, compile "
          f"{DEFAULT_LIMITS.compile_seconds:g} s, run {DEFAULT_LIMITS.run_seconds:g} s")
    if not UBL_XSLT.is_file():
        print(f"PROBLEM: the corpus is not at {CORPUS} (set PTX_CORPUS)")
        return 1
    with tempfile.TemporaryDirectory(prefix="ptx-bench-rules-") as folder:
        work = Path(folder)
        problems = en16931(200 if args.quick else 1000, work)
        problems += both_engines(200 if args.quick else 2000, work)
        lxml_on_en16931(10 if args.quick else 60)
    finished(started)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
