"""Gateway benchmark: the pipeline against its C floor, and HTTP submit throughput and latency.

Run: ``.venv/bin/python bench/gateway.py`` (``--quick`` for a shorter run). Prints figures; asserts nothing.

1. Pipeline: a 10 KB certificate of origin signed by its issuer, in an envelope signed by the sending node,
   checked by :class:`gateway._pipeline.Pipeline` (all eleven checks, Schematron and issuer trust included),
   beside its *C floor* measured in the same run: for both signatures, lxml parse + XSD validation + exclusive
   C14N + SHA-256 + one signature verification, the calls a checker in C cannot avoid. Ratio = floor time /
   pipeline time (goal >= 0.7). The floor has no Schematron and no trust evaluation; the pipeline has both,
   so the per-check breakdown is printed too.
2. HTTP: ``ptx serve gateway`` as a real process with its SQLite store (WAL) and a receiving node stand-in,
   N submissions from one client and from 4 concurrent clients: messages/s and p50/p99 latency. Every 202
   means the message was committed to disk first.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import hashlib
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils
from lxml import etree

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from exchange._catalogue import default_catalogue  # noqa: E402
from exchange._dsig import sign_document  # noqa: E402
from exchange._envelope import Party, build_envelope, read_envelope  # noqa: E402
from exchange._validation import compiled_schema  # noqa: E402
from exchange._workspace import Workspace, init_workspace  # noqa: E402
from exchange._xml import parse_xml  # noqa: E402
from exchange.testing.processes import PTX, free_port, running  # noqa: E402
from gateway._pipeline import Pipeline, WorkspaceMembers  # noqa: E402

DS = "{http://www.w3.org/2000/09/xmldsig#}"


def ten_kb_document() -> bytes:
    doc_type = default_catalogue().get("certificate-of-origin")
    tree = parse_xml(next(s for s in doc_type.samples if s.path.name == "basic.xml").path.read_bytes())
    items = [e for e in tree.getroot().iter() if isinstance(e.tag, str) and
             etree.QName(e).localname == "IncludedSupplyChainTradeLineItem"]
    template = items[-1]
    parent = template.getparent()
    assert parent is not None
    sequence, last = len(items), template
    while len(etree.tostring(tree)) < 9 * 1024:
        sequence += 1
        clone = copy.deepcopy(template)
        for child in clone:
            if etree.QName(child).localname == "SequenceNumeric":
                child.text = str(sequence)
        last.addnext(clone)
        last = clone
    return bytes(etree.tostring(tree, xml_declaration=True, encoding="UTF-8"))


def signed_message(workspace: Workspace, document: bytes, index: int) -> bytes:
    doc_type = default_catalogue().get("certificate-of-origin")
    chamber, node = workspace.authority("AA", "chamber-of-commerce"), workspace.node("AA")
    signed = sign_document(document, chamber.key, chamber.signing_chain)
    envelope = build_envelope(signed, sender=Party("AA"), receiver=Party("BB"), document_type=doc_type.id,
                              type_version=doc_type.version, standard=doc_type.namespace,
                              message_id=f"bench-{index:08d}", created=datetime.now(UTC))
    return sign_document(envelope, node.key, node.signing_chain)


def rate(fn: object, seconds: float) -> float:
    """Calls per second of ``fn`` (median of 5 rounds)."""
    rounds = []
    for _ in range(5):
        count, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds / 5 or count < 3:
            fn()  # type: ignore[operator]
            count += 1
        rounds.append(count / (time.perf_counter() - started))
    return statistics.median(rounds)


def floor_once(data: bytes, schema: etree.XMLSchema, public_key: ec.EllipticCurvePublicKey) -> None:
    """The unavoidable C work for one signed document: parse, XSD, C14N, SHA-256, one ECDSA verification."""
    tree = etree.ElementTree(etree.fromstring(data))  # noqa: TID251 - the floor is raw lxml on purpose
    schema.validate(tree)
    root = tree.getroot()
    signature = root[-1]
    signed_info = signature.find(f"{DS}SignedInfo")
    value = signature.findtext(f"{DS}SignatureValue") or ""
    root.remove(signature)
    hashlib.sha256(etree.tostring(tree, method="c14n", exclusive=True)).digest()
    info = etree.tostring(signed_info, method="c14n", exclusive=True)
    raw = __import__("base64").b64decode(value)
    half = len(raw) // 2
    der = utils.encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))
    public_key.verify(der, info, ec.ECDSA(hashes.SHA256()))


def bench_pipeline(workspace: Workspace, seconds: float) -> None:
    catalogue = default_catalogue()
    document = ten_kb_document()
    body = signed_message(workspace, document, 0)
    header = read_envelope(parse_xml(body))
    pipeline = Pipeline(catalogue=catalogue, members=WorkspaceMembers(workspace), max_bytes=10 * 1024 * 1024)
    moment = datetime.now(UTC)
    outcome = pipeline.run(body, moment=moment)
    assert outcome.accepted, outcome.codes
    envelope_schema = compiled_schema(catalogue.get("envelope").schema_path)
    document_schema = compiled_schema(catalogue.get("certificate-of-origin").schema_path)
    node_key = workspace.node("AA").certificate.public_key()
    issuer_key = workspace.authority("AA", "chamber-of-commerce").certificate.public_key()
    assert isinstance(node_key, ec.EllipticCurvePublicKey) and isinstance(issuer_key, ec.EllipticCurvePublicKey)

    def floor() -> None:
        floor_once(body, envelope_schema, node_key)
        floor_once(header.payload, document_schema, issuer_key)

    floor_rate = rate(floor, seconds)
    pipeline_rate = rate(lambda: pipeline.run(body, moment=moment), seconds)
    timings: dict[str, float] = {}
    runs = 200

    def collect(name: str, spent: float) -> None:
        timings[name] = timings.get(name, 0.0) + spent

    for _ in range(runs):
        pipeline.run(body, moment=moment, timings=collect)
    print(f"\nPipeline: envelope {len(body):,} bytes carrying a {len(header.payload):,}-byte signed document")
    print(f"  C floor (2 x parse + XSD + C14N + SHA-256 + ECDSA verify) {floor_rate:8.0f} msg/s "
          f"({1000 / floor_rate:.3f} ms)")
    print(f"  pipeline (11 checks incl. Schematron and issuer trust)   {pipeline_rate:8.0f} msg/s "
          f"({1000 / pipeline_rate:.3f} ms)")
    print(f"  ratio floor time / pipeline time: {floor_rate and pipeline_rate / floor_rate:.2f} (goal >= 0.7)")
    print("  per check (ms): " + ", ".join(f"{name} {spent / runs * 1000:.3f}" for name, spent in timings.items()))
    checked = sum(timings.values()) / runs
    print(f"  outside the timed checks (envelope reading, routing, payload parse, report): "
          f"{max(0.0, 1 / pipeline_rate - checked) * 1000:.3f} ms")


async def submit_all(base: str, bodies: list[bytes], concurrency: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            started = time.perf_counter()
            response = await client.post(f"{base}/v1/messages", content=body,
                                         headers={"Content-Type": "application/xml"})
            latencies.append(time.perf_counter() - started)
            if response.status_code != 202:
                raise SystemExit(f"unexpected {response.status_code}: {response.text[:300]}")

    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return time.perf_counter() - started, latencies


def bench_http(workspace: Workspace, count: int, folder: Path) -> None:
    document = ten_kb_document()
    gateway_port, receiver_port = free_port(), free_port()
    base = f"http://127.0.0.1:{gateway_port}"
    receiver = [sys.executable, str(REPO / "tests" / "support" / "receiver.py"), "--workspace", str(workspace.path),
                "--port", str(receiver_port), "--db", str(folder / "receiver.db")]
    gateway = [PTX, "serve", "gateway", "--workspace", str(workspace.path), "--port", str(gateway_port),
               "--node", f"BB=http://127.0.0.1:{receiver_port}", "--database-url", f"sqlite:///{folder / 'gw.db'}",
               "--log-level", "warning"]
    print(f"\nHTTP submit with the durable SQLite store (real processes; {count} messages per run)")
    with running(receiver, health_url=f"http://127.0.0.1:{receiver_port}/healthz"), \
         running(gateway, health_url=f"{base}/readyz"):
        offset = 0
        for concurrency in (1, 4):
            bodies = [signed_message(workspace, document, offset + i) for i in range(count)]
            offset += count
            seconds, latencies = asyncio.run(submit_all(base, bodies, concurrency))
            latencies.sort()
            p50 = latencies[len(latencies) // 2] * 1000
            p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
            print(f"  {concurrency} client(s): {count / seconds:7.1f} msg/s   p50 {p50:6.1f} ms   p99 {p99:6.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter measurements")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        init_workspace(folder / "workspace", moment=datetime.now(UTC) - timedelta(minutes=5))
        workspace = Workspace.open(folder / "workspace")
        print(f"ptx gateway benchmark, Python {sys.version.split()[0]}, libxml2 "
              f"{'.'.join(map(str, etree.LIBXML_VERSION))}")
        bench_pipeline(workspace, 1.0 if args.quick else 4.0)
        bench_http(workspace, 100 if args.quick else 400, folder)


if __name__ == "__main__":
    main()
