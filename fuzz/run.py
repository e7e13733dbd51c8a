"""Coverage-guided fuzzing (atheris / libFuzzer) of the parser, the verifier, validation and envelope handling.

    python fuzz/run.py --seconds 30                    every target, the time shared between them
    python fuzz/run.py --target envelope --seconds 600 one target
    python fuzz/run.py --seconds 300 --keep fuzz-out   keep the corpus and any crash inputs

Targets and the property each must hold for every input (a violation is a crash, saved with its input):

``parse``     ``parse_xml`` returns a tree or raises ``XmlError`` with an ``XML-*`` code; nothing else.
``verify``    ``verify_signature`` never raises; its findings carry catalogue codes; whatever verifies has exactly
              the signed content of the seed it came from.
``validate``  ``Validator.validate`` never raises; findings carry catalogue codes or business-rule ids.
``envelope``  the gateway's ``Pipeline.run`` never raises, answers a documented status, and accepts only what was
              signed (the same header and payload as a seed).
``inbox``     a node's ``InboxChecks.run`` never raises and accepts only what was signed.

Seeds are made at start in a temporary demo workspace: a certificate of origin signed by AA's chamber of
commerce, the same inside an envelope signed by AA's node, and the catalogue's samples; ``fuzz/xml.dict`` gives
libFuzzer XML and XML-DSig tokens to splice. With every target, one process fuzzes them all (an input's first
byte picks the target). It prints ``TARGETS: N runs in S s, 0 crashes`` and exits 1 on a crash, whose input
is kept (``--keep``) to replay: ``python fuzz/run.py --replay CRASH_FILE --workspace KEEP/workspace`` (with the
same ``--target``; the kept workspace holds the keys the seeds were signed with, and the seeds).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TARGETS = ("parse", "verify", "validate", "envelope", "inbox")
CREATED = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
MOMENT = CREATED + timedelta(days=3)
MESSAGE_ID = "msg-fuzz-0000000001"
SEEDS_FOLDER = ".fuzz-seeds"  # inside the workspace


def _seeds(folder: Path) -> dict[str, bytes]:
    """The legitimately signed seeds made in the demo workspace ``folder`` (made first when it does not exist), kept
    in it: a replay against a kept workspace checks what was accepted against the seeds of that run (a signature
    made again differs: ECDSA signatures are randomised)."""
    from exchange._catalogue import default_catalogue
    from exchange._dsig import sign_document
    from exchange._envelope import Party, build_envelope
    from exchange._workspace import Workspace, init_workspace

    kept = folder / SEEDS_FOLDER
    if kept.is_dir():
        return {path.stem: path.read_bytes() for path in sorted(kept.glob("*.xml"))}
    if not folder.exists():
        init_workspace(folder, moment=CREATED)
    workspace = Workspace.open(folder)
    coo = default_catalogue().get("certificate-of-origin")
    sample = next(s for s in coo.samples if s.path.name == "basic.xml").path.read_bytes()
    chamber, node = workspace.authority("AA", "chamber-of-commerce"), workspace.node("AA")
    document = sign_document(sample, chamber.key, chamber.signing_chain)
    envelope = build_envelope(document, sender=Party("AA"), receiver=Party("BB"), document_type=coo.id,
                              type_version=coo.version, standard=coo.namespace, message_id=MESSAGE_ID,
                              created=MOMENT)
    seeds = {"document": document, "envelope": sign_document(envelope, node.key, node.signing_chain)}
    for doc_type in default_catalogue():
        for index, sample_file in enumerate(doc_type.samples):
            seeds[f"{doc_type.id}-{index}"] = sample_file.path.read_bytes()
    kept.mkdir()
    for name, data in seeds.items():
        (kept / f"{name}.xml").write_bytes(data)
    return seeds


def _harness(targets: list[str], corpus: Path | None, workspace_dir: Path | None = None) -> Callable[[bytes], None]:
    """The function libFuzzer calls with each input (seeds written to ``corpus``), checked against the demo
    workspace ``workspace_dir`` (a new one when None). An input signed with a workspace's keys replays only
    against that workspace: a run kept with ``--keep`` keeps its workspace for ``--replay``.

    With several targets, an input's first byte picks the target and the rest is the document, so one corpus
    and one start-up serve them all.
    """
    import atheris

    with atheris.instrument_imports(include=[
        "exchange._xml", "exchange._dsig", "exchange._validation", "exchange._envelope", "exchange._findings",
        "exchange.node._checks", "gateway._pipeline",
    ]):
        from exchange._catalogue import default_catalogue
        from exchange._dsig import verify_signature
        from exchange._errors import Category, Code, XmlError
        from exchange._validation import Validator
        from exchange._workspace import Workspace
        from exchange._xml import XmlLimits, load_trusted_xml, parse_xml
        from exchange.node._checks import InboxChecks
        from gateway._pipeline import Pipeline, WorkspaceMembers

    workspace_dir = workspace_dir or Path(tempfile.mkdtemp(prefix="ptx-fuzz-")) / "workspace"
    seeds = _seeds(workspace_dir)
    if corpus is not None:
        corpus.mkdir(parents=True, exist_ok=True)
        for name, data in seeds.items():
            for index, target in enumerate(targets):
                prefix = bytes([index]) if len(targets) > 1 else b""
                (corpus / f"seed-{target}-{name}.xml").write_bytes(prefix + data)

    from lxml import etree

    rule_ids = set()
    for doc_type in default_catalogue():
        if doc_type.rules_path is not None:
            root = load_trusted_xml(doc_type.rules_path).getroot()
            rule_ids |= {str(node.get("id")) for node in root.iter(etree.Element) if node.get("id")}
    known = {code.value for code in Code} | rule_ids
    workspace = Workspace.open(workspace_dir)
    limits = XmlLimits(max_bytes=10 * 1024 * 1024)
    ours = {workspace.authority("AA", "chamber-of-commerce").certificate, workspace.node("AA").certificate}
    signed = {verify_signature(seeds[name]).signed_content for name in ("document", "envelope")}
    validator = Validator()
    pipeline = Pipeline(catalogue=default_catalogue(), members=WorkspaceMembers(workspace), max_bytes=limits.max_bytes)
    accepted_header = pipeline.run(seeds["envelope"], moment=MOMENT).header
    checks = InboxChecks(country="BB", workspace=workspace, catalogue=default_catalogue(), limits=limits)
    inbox_header = checks.run(seeds["envelope"], delivery_id=MESSAGE_ID, moment=MOMENT).header
    assert accepted_header is not None and inbox_header is not None, "the seed envelope must be accepted"

    def codes_known(codes: object) -> None:
        unknown = set(codes) - known  # type: ignore[call-overload]
        if unknown:
            raise AssertionError(f"findings with codes outside the catalogue: {sorted(unknown)}")

    def check(target: str, data: bytes) -> None:
        if target == "parse":
            try:
                parse_xml(data)
            except XmlError as error:
                if error.code.category is not Category.XML:
                    raise AssertionError(f"parse refused with {error.code}, not an XML-* code") from error
        elif target == "verify":
            result = verify_signature(data)
            codes_known(result.codes)
            # a valid signature by one of our keys over content we never signed would be a forgery
            if result.valid and result.signer in ours and result.signed_content not in signed:
                raise AssertionError("a damaged document verified with other signed content")
        elif target == "validate":
            codes_known(validator.validate(data).codes)
        elif target == "envelope":
            outcome = pipeline.run(data, moment=MOMENT)
            codes_known(outcome.codes)
            if outcome.http_status not in (202, 401, 403, 409, 413, 422):
                raise AssertionError(f"undocumented status {outcome.http_status}")
            if outcome.accepted and outcome.header != accepted_header:
                raise AssertionError("the gateway accepted a header or payload that was not signed")
        else:
            outcome = checks.run(data, delivery_id=MESSAGE_ID, moment=MOMENT)
            codes_known(finding.code for finding in outcome.findings)
            if outcome.accepted and outcome.header != inbox_header:
                raise AssertionError("the node accepted a header or payload that was not signed")

    def one_input(data: bytes) -> None:
        if len(targets) == 1:
            check(targets[0], data)
        elif data:
            check(targets[data[0] % len(targets)], data[1:])

    return one_input


def _worker(targets: list[str], seconds: int, corpus: Path, artifacts: Path, workspace_dir: Path) -> None:
    """Fuzz ``targets`` in this process until libFuzzer's time is up (libFuzzer then exits the process)."""
    import atheris

    one_input = _harness(targets, corpus, workspace_dir)
    atheris.Setup(
        [sys.argv[0], f"-max_total_time={seconds}", "-timeout=20", "-rss_limit_mb=4096", "-max_len=65536",
         f"-dict={HERE / 'xml.dict'}", f"-artifact_prefix={artifacts}/", "-print_final_stats=1", str(corpus)],
        one_input,
    )
    atheris.Fuzz()


_RUNS = re.compile(r"Done (\d+) runs in (\d+) second")
_CRASH = re.compile(r"(Uncaught Python exception|==\d+== ERROR|deadly signal|Test unit written to)")


def _run(targets: list[str], seconds: int, keep: Path | None) -> int:
    out = keep or Path(tempfile.mkdtemp(prefix="ptx-fuzz-"))
    artifacts = out / "crashes"
    artifacts.mkdir(parents=True, exist_ok=True)
    print(f"fuzzing {', '.join(targets)} for {seconds} s; corpus, log and crash inputs under {out}", flush=True)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker", ",".join(targets), "--seconds", str(seconds),
         "--corpus", str(out / "corpus"), "--artifacts", str(artifacts), "--workspace", str(out / "workspace")],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    log = result.stdout + result.stderr
    (out / "fuzz.log").write_text(log, encoding="utf-8")
    runs = _RUNS.search(log)
    crashed = result.returncode != 0 or bool(_CRASH.search(log)) or runs is None
    count = int(runs.group(1)) if runs else 0
    print(f"{'+'.join(targets)}: {count} runs in {time.monotonic() - started:.0f} s (start-up included), "
          f"{int(crashed)} crashes" + (f": see {out / 'fuzz.log'} and {artifacts}" if crashed else ""), flush=True)
    return 1 if crashed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=30, help="total fuzzing time, shared by the targets")
    parser.add_argument("--target", choices=("all", *TARGETS), default="all")
    parser.add_argument("--keep", type=Path, help="keep corpus, logs and crash inputs in this folder")
    parser.add_argument("--replay", type=Path, help="run one saved input (a crash file) through the targets")
    parser.add_argument("--workspace", type=Path,
                        help="with --replay: the kept run's workspace (KEEP/workspace), whose keys signed the input")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--artifacts", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    targets = list(TARGETS) if args.target == "all" else [args.target]
    if args.replay:
        if args.workspace is not None and not (args.workspace / "workspace.yaml").is_file():
            parser.error(f"--workspace {args.workspace}: no kept workspace there (a fuzz run's KEEP/workspace)")
        _harness(targets, None, args.workspace)(args.replay.read_bytes())  # raises what the fuzzer saw
        print(f"{args.replay}: no property violated")
        return 0
    if args.workspace is not None and not args.worker:
        parser.error("--workspace goes with --replay")
    if args.worker:
        _worker(args.worker.split(","), args.seconds, args.corpus, args.artifacts, args.workspace)
        return 0
    try:
        import atheris  # noqa: F401
    except ImportError:
        print("atheris is not installed: pip install atheris (Linux, CPython 3.11)", file=sys.stderr)
        return 2
    return _run(targets, args.seconds, args.keep)


if __name__ == "__main__":
    sys.exit(main())
