"""Validation benchmark: documents/s and peak memory by size, and a 1,000-file batch against xmllint.

Run: ``.venv/bin/python bench/validate.py`` (``--quick`` for a shorter run). Prints figures; asserts nothing.

1. For generated 10 KB, 100 KB and 1 MB documents of a catalogue type: documents/s for the hardened parse +
   XSD, and for parse + XSD + Schematron (the full catalogue check), each size measured in its own process so
   its peak resident memory can be reported.
2. A batch of 1,000 10 KB documents validated by ``ptx validate --schema`` (the real command, start-up
   included) and by ``xmllint --noout --schema`` (Debian libxml2-utils, one process for all files) in the
   same run, and the time ratio. Goal: ptx at least as fast as xmllint.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lxml import etree

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from exchange._catalogue import default_catalogue  # noqa: E402
from exchange._validation import Validator, compiled_rules, compiled_schema  # noqa: E402
from exchange._xml import XmlLimits, parse_xml  # noqa: E402

TYPE_ID = "certificate-of-origin"
LINE_ITEM = "IncludedSupplyChainTradeLineItem"


def generate(target_bytes: int) -> bytes:
    """The type's basic sample with its trade line item repeated until the document reaches the size."""
    doc_type = default_catalogue().get(TYPE_ID)
    sample = next(s for s in doc_type.samples if s.path.name == "basic.xml")
    tree = parse_xml(sample.path.read_bytes())
    items = [e for e in tree.getroot().iter() if isinstance(e.tag, str) and etree.QName(e).localname == LINE_ITEM]
    if not items:
        raise SystemExit(f"{sample.path} has no {LINE_ITEM} to repeat")
    template, parent = items[-1], items[-1].getparent()
    assert parent is not None
    index = parent.index(template)
    sequence = len(items)
    while len(etree.tostring(tree)) < target_bytes:
        sequence += 1
        clone = copy.deepcopy(template)
        for child in clone:
            if etree.QName(child).localname == "SequenceNumeric":
                child.text = str(sequence)
        index += 1
        parent.insert(index, clone)
    return bytes(etree.tostring(tree, xml_declaration=True, encoding="UTF-8"))


def measure_one(label: str, size: int, seconds: float) -> dict[str, object]:
    data = generate(size)
    doc_type = default_catalogue().get(TYPE_ID)
    validator = Validator(limits=XmlLimits(max_bytes=64 * 1024 * 1024))
    report = validator.validate(data, document_type=doc_type)
    schema = compiled_schema(doc_type.schema_path)
    assert doc_type.rules_path is not None
    compiled_rules(doc_type.rules_path)
    limits = XmlLimits(max_bytes=64 * 1024 * 1024)

    def rate(work: object) -> float:
        fn = work  # type: ignore[assignment]
        count, started = 0, time.perf_counter()
        while True:
            fn()  # type: ignore[operator]
            count += 1
            elapsed = time.perf_counter() - started
            if elapsed >= seconds and count >= 3:
                return count / elapsed

    xsd_rate = rate(lambda: schema.validate(parse_xml(data, limits=limits)))
    full_rate = rate(lambda: validator.validate(data, document_type=doc_type))
    return {
        "label": label,
        "bytes": len(data),
        "valid": report.valid,
        "codes": sorted(set(report.codes)),
        "xsd_docs_per_s": xsd_rate,
        "full_docs_per_s": full_rate,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_batch(count: int) -> None:
    xmllint = shutil.which("xmllint")
    ptx = Path(sys.executable).parent / "ptx"
    doc_type = default_catalogue().get(TYPE_ID)
    data = generate(10 * 1024)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = []
        for index in range(count):
            path = folder / f"doc-{index:05d}.xml"
            path.write_bytes(data.replace(b"<ID>AA-COO-", f"<ID>{index:05d}-".encode(), 1))
            files.append(str(path))

        def timed(command: list[str]) -> tuple[float, int]:
            best = float("inf")
            code = 0
            for _ in range(3):
                started = time.perf_counter()
                result = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                best = min(best, time.perf_counter() - started)
                code = result.returncode
            return best, code

        rows = []
        for jobs in ("1", "0"):
            seconds, code = timed([str(ptx), "validate", str(folder), "--schema", str(doc_type.schema_path),
                                   "--quiet", "--jobs", jobs])
            rows.append((f"ptx validate --schema (XSD) --jobs {jobs if jobs != '0' else 'auto'}", seconds, code))
        seconds, code = timed([str(ptx), "validate", str(folder), "--type", TYPE_ID, "--quiet"])
        rows.append(("ptx validate --type (XSD + Schematron), jobs auto", seconds, code))
        if xmllint:
            lint_seconds, lint_code = timed([xmllint, "--noout", "--schema", str(doc_type.schema_path), *files])
            rows.append(("xmllint --noout --schema (XSD, one process)", lint_seconds, lint_code))
        print(f"\nBatch of {count} files of {len(data):,} bytes (best of 3, start-up included)")
        print(f"{'command':58} {'seconds':>8} {'ms/file':>8} {'exit':>5}")
        for name, seconds, code in rows:
            print(f"{name:58} {seconds:8.3f} {seconds / count * 1000:8.3f} {code:5d}")
        if xmllint:
            best_ptx = min(seconds for name, seconds, _ in rows if "--schema" in name and name.startswith("ptx"))
            print(f"ratio xmllint time / fastest ptx XSD time: {lint_seconds / best_ptx:.2f} "
                  f"(>= 1.0 means ptx is at least as fast)")
        else:
            print("xmllint not found (apt-get install libxml2-utils): no comparison")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter measurements")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    seconds = 0.5 if args.quick else 2.0
    sizes = {"10 KB": 10 * 1024, "100 KB": 100 * 1024, "1 MB": 1024 * 1024}
    if args.one:
        print(json.dumps(measure_one(args.one, sizes[args.one], seconds)))
        return

    print(f"ptx validation benchmark: {TYPE_ID}, {os.cpu_count()} CPU(s), Python {sys.version.split()[0]}, "
          f"libxml2 {'.'.join(map(str, etree.LIBXML_VERSION))}")
    print(f"\n{'size':>7} {'bytes':>10} {'valid':>6} {'parse+XSD docs/s':>17} {'+Schematron docs/s':>19} "
          f"{'peak RSS MiB':>13}")
    for label in sizes:
        out = subprocess.run([sys.executable, __file__, "--one", label, *(["--quick"] if args.quick else [])],
                             capture_output=True, text=True, check=True)
        row = json.loads(out.stdout)
        print(f"{label:>7} {row['bytes']:>10,} {str(row['valid']):>6} {row['xsd_docs_per_s']:>17,.1f} "
              f"{row['full_docs_per_s']:>19,.1f} {row['peak_rss_mib']:>13.1f}")
        if not row["valid"]:
            print(f"        (generated document is invalid: {', '.join(row['codes'])})")
    run_batch(200 if args.quick else 1000)


if __name__ == "__main__":
    main()
