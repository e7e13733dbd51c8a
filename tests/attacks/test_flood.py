"""Floods at the largest size the limits allow cost a bounded CPU time, at the gateway and at node BB.

The bound: **at most 0.25 s of CPU per MiB of input, plus 0.15 s per request** (a valid 10 MiB envelope costs
about 1 s). Each input class of the hardening (attribute and namespace limits, also in UTF-16; the encodings the
parser refuses; byte-order marks that contradict the declaration; CDATA in signed content; a protocol document
as payload) is sent at about the largest message the services take (10 MiB, or a 7 MiB document inside one),
and each class only just inside its limit: 256 attributes on every element, 128 namespace declarations in scope
at every element. Schema-error floods too: one error per element or per unexpected attribute, as many as fit,
and millions of empty siblings in the envelope and the document (each costs one finding's location). Measured
in process (``time.process_time`` around one request, the app and its threads)
against the attack suite's gateway and node. HTTP floods run against the real processes: a header block at its
limits, and one 100 MB header, whose cost in memory is measured too.

The test prints every cost and the worst case (``pytest -s`` or ``-rP`` shows it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from exchange._dsig import sign_document
from exchange._envelope import Party, ReceiptStatus, build_receipt
from exchange._errors import Code
from exchange._findings import Finding
from exchange._receipts import sign_rejection
from tests.attacks.catalogue import _after_root_start, _declared, _in_root_start, _utf7
from tests.attacks.forge import XML, Forge, World, sample
from tests.attacks.rawhttp import Live, cpu_seconds, exchange, live_services, memory_kib
from tests.attacks.test_node_inbox_attacks import deliver
from tests.support.inprocess import SyncClient

pytestmark = pytest.mark.slow

MIB = 1024 * 1024
PER_MIB = 0.25  # seconds of CPU per MiB of input
FLOOR = 0.15  # seconds of CPU any one request may take (a valid message costs about 0.07 s)
TRIES = 3  # measurements of an input found over the bound before it counts as over
ENVELOPE = 10 * MIB - 64 * 1024  # the services' 10 MiB limit, less the envelope around a flood
DOCUMENT = 7 * MIB  # inside a 10 MiB envelope once base64-encoded


#: The bound was set where bench/'s C floor (parse, C14N, digest of an envelope) measured 0.38 ms; a 2-core machine
#: of this project measured 1.05 ms for the same (issue 16), and the same code's floods cost proportionally more
#: there. So the bound is scaled by this machine's speed, measured at the start of the run on a fixed C workload
#: (the hardened parse + exclusive C14N + SHA-256 of a 3.8 MiB document: REFERENCE_SECONDS where it was set),
#: never below the bound as written: a flood that costs far more than its size (a quadratic path) still fails.
REFERENCE_SECONDS = 0.129  # 0.355 s measured on a machine 2.76x slower (1.05 / 0.38 ms C floor)


def _machine_scale() -> float:
    import hashlib

    from lxml import etree

    from exchange._xml import parse_xml

    body = b"<r>" + b"".join(b'<e a="%d" b="x">text %d</e>' % (i, i) for i in range(120000)) + b"</r>"
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        hashlib.sha256(etree.tostring(parse_xml(body), method="c14n", exclusive=True)).hexdigest()
        best = min(best, time.process_time() - started)
    return max(1.0, best / REFERENCE_SECONDS)


SCALE = _machine_scale()


def bound(size: int) -> float:
    return (FLOOR + PER_MIB * size / MIB) * SCALE


def _fill(unit: bytes, size: int) -> bytes:
    return unit * max(1, size // len(unit))


# every element at the limit: 256 attributes; 125 declarations (+ the root's default and ds: 128 in scope)
ATTRIBUTES = b"<x " + b" ".join(b'a%d=""' % index for index in range(256)) + b"/>"
NAMESPACES = b"<x " + b" ".join(b'xmlns:n%d="urn:%d"' % (index, index) for index in range(125)) + b"/>"
CDATA = b"<x>a<![CDATA[b]]>c</x>"


def _receipt_of(f: Forge, size: int) -> bytes:
    node = f.world.node("AA")
    receipt = build_receipt(ref_to_message_id="flood-other-0001", envelope=f.message("flood-other-0001"),
                            issuer=Party("CC"), status=ReceiptStatus.RECEIVED, issued=f.world.moment)
    return sign_document(_after_root_start(receipt, _fill(b"<x/>", size)), node.key, node.signing_chain)


Build = Callable[[Forge, str], bytes]
FLOODS: dict[str, Build] = {
    "attributes-at-the-limit-in-envelope": lambda f, mid: _after_root_start(f.message(mid), _fill(ATTRIBUTES, ENVELOPE)),
    "attributes-at-the-limit-in-document":
        lambda f, mid: f.envelope(_after_root_start(f.document(), _fill(ATTRIBUTES, DOCUMENT)), mid),
    "namespaces-at-the-limit-in-envelope": lambda f, mid: _after_root_start(f.message(mid), _fill(NAMESPACES, ENVELOPE)),
    "namespaces-at-the-limit-in-document":
        lambda f, mid: f.envelope(_after_root_start(f.document(), _fill(NAMESPACES, DOCUMENT)), mid),
    "utf16-attributes-at-the-limit-in-document": lambda f, mid: f.envelope(
        _declared(_after_root_start(f.document(), _fill(ATTRIBUTES, DOCUMENT // 2)), None).encode("utf-16"), mid),
    "utf16-namespaces-at-the-limit-in-envelope": lambda f, mid: _declared(
        _after_root_start(f.message(mid), _fill(NAMESPACES, ENVELOPE // 2)), None).encode("utf-16"),
    "utf7-namespace-flood-in-document": lambda f, mid: f.envelope(_utf7(_in_root_start(
        f.document(), b" ".join(b'xmlns:n%d="u:%d"' % (i, i) for i in range(DOCUMENT // 40))), hide="=x"), mid),
    "utf7-attribute-flood-in-envelope": lambda f, mid: _utf7(_in_root_start(
        f.message(mid), b" ".join(b'a%d="x"' % i for i in range(ENVELOPE // 24))), hide="="),
    "bom-contradicts-declaration-in-envelope": lambda f, mid: _declared(
        _after_root_start(f.message(mid), _fill(b"<x/>", ENVELOPE // 2)), "UTF-8").encode("utf-16"),
    "bom-contradicts-declaration-in-document": lambda f, mid: f.envelope(b"\xef\xbb\xbf" + _declared(
        _after_root_start(f.document(), _fill(b"<x/>", DOCUMENT)), "UTF-16").encode("utf-8"), mid),
    "cdata-in-signed-text-in-envelope": lambda f, mid: _after_root_start(f.message(mid), _fill(CDATA, ENVELOPE)),
    "cdata-in-signed-text-in-document":
        lambda f, mid: f.envelope(_after_root_start(f.document(), _fill(CDATA, DOCUMENT)), mid),
    "receipt-as-payload": lambda f, mid: f.envelope(_receipt_of(f, DOCUMENT), mid, type_id="receipt"),
}


def cost(call: Callable[..., httpx.Response], *args: Any, **kwargs: Any) -> tuple[float, int]:
    """CPU seconds of this process (the app in process, with its threads) for one request, and its status."""
    started = time.process_time()
    response = call(*args, **kwargs)
    return time.process_time() - started, response.status_code


def test_xml_floods_cost_at_most_the_bound(gateway: SyncClient, node: SyncClient, forge: Forge, world: World,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    rows: list[tuple[str, str, float, float, int]] = []
    for name, build in FLOODS.items():
        for side in ("gateway", "node"):
            # CPU time of the same work grows when other processes share the 2 cores (caches, the other hyperthread):
            # an input over the bound is sent again, anew each time, and the least of three is its cost
            best: tuple[float, int, int] | None = None
            for attempt in range(TRIES):
                message_id = f"flood-{name}"[:96] + f"-{side[0]}{attempt}"
                body = build(forge, message_id)
                assert len(body) <= 10 * MIB, (name, len(body))
                if side == "gateway":
                    spent, status = cost(gateway.post, "/v1/messages", content=body, headers=XML)
                    assert 400 <= status < 500, (name, status)
                else:
                    spent, status = cost(deliver, node, world, body, message_id)
                    assert status < 500, (name, status)
                if best is None or spent < best[0]:
                    best = (spent, status, len(body))
                if best[0] <= bound(best[2]):
                    break
            assert best is not None
            rows.append((name, side, best[2] / MIB, best[0], best[1]))
    worst = max(rows, key=lambda row: row[3] / row[2])
    with capsys.disabled():
        print(f"\nflood costs (bound: ({FLOOR} s + {PER_MIB} s CPU per MiB) x {SCALE:.2f}, this machine's speed)")
        for name, side, mib, spent, status in rows:
            print(f"  {name:45s} {side:8s} {mib:6.2f} MiB  {status}  {spent:6.3f} s  {spent / mib:6.3f} s/MiB")
        print(f"worst case: {worst[0]} at the {worst[1]}: {worst[3]:.3f} s for {worst[2]:.2f} MiB, "
              f"{worst[3] / worst[2]:.3f} s/MiB")
    over = [row for row in rows if row[3] > bound(int(row[2] * MIB))]
    assert not over, over


def _before_root_end(data: bytes, insert: bytes) -> bytes:
    at = data.rindex(b"</")
    return data[:at] + insert + data[at:]


def _notes(f: Forge, note: bytes, size: int) -> bytes:
    """An issuer-signed certificate of origin of ``size`` bytes of ``note`` repeated where notes may stand."""
    return f.document(data=sample().replace(b"</ExchangedDocument>", _fill(note, size) + b"</ExchangedDocument>"))


# One schema error per element or per attribute, as many as fit: libxml2 reports each, and lxml recorded each
# with a path that walks all preceding siblings (quadratic: 160,000 of these notes, 2.3 MiB, cost over 120 s).
SCHEMA_FLOODS: dict[str, Build] = {
    "schema-error-per-repeated-element": lambda f, mid: f.envelope(_notes(f, b"<IncludedNote/>", DOCUMENT), mid),
    "schema-error-per-attribute": lambda f, mid: f.envelope(_notes(
        f, b"<IncludedNote " + b" ".join(b'a%d=""' % i for i in range(256)) + b"><Content>x</Content></IncludedNote>",
        DOCUMENT), mid),
    "schema-errors-after-valid-siblings": lambda f, mid: f.envelope(_notes(
        f, b"<IncludedNote><Content>x</Content></IncludedNote>" * 99 + b"<IncludedNote/>", DOCUMENT), mid),
    "many-siblings-in-envelope": lambda f, mid: _after_root_start(f.message(mid), _fill(b"<x/>", ENVELOPE)),
    "many-siblings-at-envelope-end": lambda f, mid: _before_root_end(f.message(mid), _fill(b"<x/>", ENVELOPE)),
    "many-siblings-in-document":
        lambda f, mid: f.envelope(_after_root_start(f.document(), _fill(b"<x/>", DOCUMENT)), mid),
}
FLOODS.update(SCHEMA_FLOODS)


def _rejection_of(f: Forge, size: int) -> bytes:
    report = sign_rejection(signer=f.world.workspace.gateway_signer(), issuer="GW", submitted=b"<x/>",
                            message_id="flood-refused-0001", http_status=422, issued=f.world.moment,
                            findings=[Finding.of(Code.SCHEMA_INVALID, "envelope-schema", "made up")])
    return _after_root_start(report, _fill(b"<x/>", size))


FLOODS.update({
    "xml-1.1-declared-in-envelope": lambda f, mid: b'<?xml version="1.1"?>' + _after_root_start(
        f.message(mid), _fill(b"<x/>", ENVELOPE)),
    "xml-1.1-declared-in-document": lambda f, mid: f.envelope(b'<?xml version="1.1"?>' + _after_root_start(
        f.document(), _fill(b"<x/>", DOCUMENT)), mid),
    "rejection-as-payload": lambda f, mid: f.envelope(_rejection_of(f, DOCUMENT), mid, type_id="rejection"),
})


def test_a_small_schema_error_flood_is_refused_with_its_findings_counted(gateway: SyncClient, forge: Forge) -> None:
    """20,000 empty notes: the first 200 findings and one that counts the rest, within the bound."""
    body = forge.envelope(_notes(forge, b"<IncludedNote/>", 20_000 * 15), "flood-schema-errors-0001")
    spent, status = cost(gateway.post, "/v1/messages", content=body, headers=XML)
    assert status == 422
    assert spent <= bound(len(body)), f"{spent:.2f} s for {len(body) / MIB:.2f} MiB"


# --- HTTP floods against the processes ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with live_services(tmp_path_factory.mktemp("flood-http")) as services:
        yield services


def _head(path: str, *lines: bytes) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode() + b"".join(line + b"\r\n" for line in lines)
            + b"\r\n")


def test_http_floods_cost_at_most_the_bound(live: Live, capsys: pytest.CaptureFixture[str]) -> None:
    """A header block at its limits (100 fields, 16 KiB) before a valid message, and one 100 MB header: CPU within
    the bound, memory flat (the header is refused after 16 KiB; uvicorn alone held all of it, +200 MB, 19 s)."""
    lines: list[tuple[str, str, int, float, str | None]] = []
    for service in (live.gateway, live.node):
        body = live.forge.message(f"flood-http-{service.name}-0001")
        headers = live.headers(service, body, f"flood-http-{service.name}-0001")
        fields = [f"{k}: {v}".encode() for k, v in headers.items()]
        pad = [b"X-Pad-%02d: " % i + b"p" * 100 for i in range(100 - len(fields) - 2)]
        request = _head(service.path, *fields, *pad, b"Content-Length: %d" % len(body)) + body
        assert len(request) - len(body) < 16 * 1024
        before = cpu_seconds(service.pid)
        answer = exchange(service.port, [request])
        spent = cpu_seconds(service.pid) - before
        assert answer.status in (202, 200), answer
        lines.append((service.name, "header block at its limits + valid message", len(request), spent, None))

        rss_before, peak_before = memory_kib(service.pid)
        before = cpu_seconds(service.pid)
        header = _head(service.path)[:-2] + b"X-Big: "
        answer = exchange(service.port, [header, *([b"a" * MIB] * 100)], timeout=60)
        spent = cpu_seconds(service.pid) - before
        rss_after, peak_after = memory_kib(service.pid)
        assert (answer.status, answer.json()["code"]) == (431, "HTTP-HEADERS-TOO-LARGE"), answer
        assert peak_after - peak_before < 16 * 1024, (peak_before, peak_after)
        lines.append((service.name, "one 100 MB header", 100 * MIB, spent,
                      f"peak memory {peak_before / 1024:.1f} -> {peak_after / 1024:.1f} MiB, "
                      f"resident {rss_before / 1024:.1f} -> {rss_after / 1024:.1f} MiB"))
    with capsys.disabled():
        print("\nHTTP flood costs (CPU of the service process, /proc, 10 ms resolution)")
        for name, what, size, spent, memory in lines:
            print(f"  {name:8s} {what:45s} {size / MIB:8.3f} MiB  {spent:.3f} s" + (f"  {memory}" if memory else ""))
    assert all(spent <= bound(min(size, 16 * 1024)) for _, _, size, spent, _ in lines), lines
