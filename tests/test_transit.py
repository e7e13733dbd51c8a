"""Transit with real processes and ports, each service on its own party folder: a customs transit declaration from
landlocked AA crosses CC to reach BB. One submission; the gateway delivers it to CC and to BB independently; each
checks it with its own trust and answers its own signed receipt; a route through EE, with which AA has no
agreement, is refused whole, naming EE; CC being down holds up only CC's delivery."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from exchange._catalogue import default_catalogue
from exchange._dsig import sign_document
from exchange._envelope import ReceiptStatus
from exchange._operator import operator_headers
from exchange._parties import WorkspaceParties
from exchange._receipts import verify_receipt
from exchange._request_signing import sign_request
from exchange._validation import Validator
from exchange._workspace import PARTIES_DIR, Workspace, init_workspace
from exchange._xml import XmlLimits
from exchange.testing.processes import PTX, free_port, running

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("transit")]

FAST = {"PTX_DELIVERY__POLL_INTERVAL": "0.05", "PTX_DELIVERY__BASE_DELAY": "0.2", "PTX_DELIVERY__MAX_DELAY": "0.5",
        "PTX_DELIVERY__MAX_ATTEMPTS": "1000"}  # a leg that is down waits, it is not dead-lettered within the test
ROUTE_SAMPLE = default_catalogue().get("customs-declaration").folder / "samples/valid/transit-route.xml"


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("transit") / "network"
    init_workspace(path, moment=datetime.now(UTC) - timedelta(minutes=5), countries=["AA", "CC", "BB", "EE"],
                   agreements=[("AA", "CC"), ("AA", "BB"), ("BB", "CC"), ("BB", "EE")])
    return path


def declaration(network: Path, route: tuple[str, ...] = ("AA", "CC", "BB"), ident: str = "TR-1") -> str:
    """AA's customs signs the sample transit declaration, with its route (and transit offices) as given."""
    text = ROUTE_SAMPLE.read_text(encoding="utf-8")
    text = text.replace("<ID>CC000210</ID>", f"<ID>{route[1]}000210</ID>")
    countries = "".join(f"<RouteCountry><ID>{c}</ID></RouteCountry>" for c in route)
    text = re.sub(r"<Itinerary>.*?</Itinerary>", f"<Itinerary>{countries}</Itinerary>", text, flags=re.S)
    text = text.replace("ACB-2026-TR-004417", f"ACB-2026-{ident}")
    customs = Workspace.open(network).authority("AA", "customs")
    return sign_document(text.encode(), customs.key, list(customs.signing_chain)).decode()


def wait_for(url: str, done: Any, *, headers: Any = None, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = httpx.get(url, headers=headers() if callable(headers) else headers, timeout=10).json()
        if done(body):
            return body
        time.sleep(0.1)
    raise AssertionError(f"{url} did not get there in {timeout} s: {body}")


@contextlib.contextmanager
def services(network: Path, tmp_path: Path, ports: dict[str, int], *, without: tuple[str, ...] = ()) -> Iterator[None]:
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    folders = {name: str(network / PARTIES_DIR / name) for name in ports}
    nodes = [name for name in ports if name != "gateway"]
    with contextlib.ExitStack() as stack:
        stack.enter_context(running(
            [PTX, "serve", "gateway", "--workspace", folders["gateway"], "--port", str(ports["gateway"]),
             *[arg for node in nodes for arg in ("--node", f"{node}={urls[node]}")], "--log-level", "info"],
            health_url=f"{urls['gateway']}/readyz", env=FAST, log=tmp_path / "gateway.log"))
        for node in nodes:
            if node not in without:
                stack.enter_context(node_process(network, tmp_path, node, ports))
        yield


def node_process(network: Path, tmp_path: Path, node: str, ports: dict[str, int]) -> Any:
    return running(
        [PTX, "serve", "node", "--country", node, "--workspace", str(network / PARTIES_DIR / node),
         "--port", str(ports[node]), "--gateway", f"http://127.0.0.1:{ports['gateway']}", "--log-level", "info"],
        health_url=f"http://127.0.0.1:{ports[node]}/readyz", log=tmp_path / f"{node.lower()}.log")


def test_a_route_of_three_countries(network: Path, tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("gateway", "AA", "CC", "BB")}
    gateway, aa, cc, bb = (f"http://127.0.0.1:{ports[name]}" for name in ("gateway", "AA", "CC", "BB"))
    operator = operator_headers(network / PARTIES_DIR / "gateway")
    with services(network, tmp_path, ports):
        sent = httpx.post(f"{aa}/v1/outbox", json={"document": declaration(network), "to": "BB"}, timeout=30)
        assert sent.status_code == 201, sent.text
        assert sent.json()["gateway"]["http_status"] == 202
        message_id = sent.json()["message_id"]
        record = wait_for(f"{gateway}/v1/messages/{message_id}", lambda b: b["status"] == "ACKNOWLEDGED",
                          headers=operator)
        assert record["receivers"] == ["CC", "BB"] and record["acknowledged"] == "2/2"
        assert [(d["receiver"], d["status"]) for d in record["deliveries"]] == [
            ("CC", "ACKNOWLEDGED"), ("BB", "ACKNOWLEDGED")]
        assert {receipt["receiver"] for receipt in record["receipts"] if receipt["verified"]} == {"CC", "BB"}

        # the dashboard's journey has one lane per country on the route, each with its own delivery and receipt
        page = httpx.get(f"{gateway}/ui/messages/{message_id}", headers=operator)
        assert page.status_code == 200
        lanes = re.findall(r'class="lane-title">([^<]+)<', page.text)
        assert lanes == ["AA single window", "Gateway", "CC single window", "BB single window"]
        assert 'data-receiver="CC" data-status="ACKNOWLEDGED"' in page.text
        assert 'data-receiver="BB" data-status="ACKNOWLEDGED"' in page.text
        assert page.text.count("signed receipt: ") == 2 and "?receiver=CC" in page.text

        # each receiver holds the document, checked with its own trust
        for node in (cc, bb):
            [item] = httpx.get(f"{node}/v1/inbox").json()["items"]
            assert item["message_id"] == message_id and item["verdict"] == "RECEIVED" and item["sender"] == "AA"

        # the transit country's receipt, read by AA and verified with AA's own folder only
        url = f"{gateway}/v1/messages/{message_id}/receipt?receiver=CC"
        aa_folder = Workspace.open(network / PARTIES_DIR / "AA")
        body = httpx.get(url, headers=sign_request("GET", url, party="AA", key=aa_folder.node("AA").key,
                                                   moment=datetime.now(UTC))).content
        envelope_url = f"{gateway}/v1/messages/{message_id}/envelope"
        envelope = httpx.get(envelope_url, headers=operator).content
        view = WorkspaceParties(aa_folder, "AA").view(moment=datetime.now(UTC))
        check = verify_receipt(
            body, envelope=envelope, message_id=message_id, receiver="CC",
            receiver_node=view.node_certificate("CC"), trust=view.trust_for("AA"), validator=Validator(),
            receipt_type=default_catalogue().get("receipt"), limits=XmlLimits())
        assert check.verified and check.receipt is not None, check.findings
        assert check.receipt.status is ReceiptStatus.RECEIVED and check.receipt.issuer.identifier == "CC"
        # and AA's outbox verified the destination's receipt itself
        outbox = wait_for(f"{aa}/v1/outbox/{message_id}", lambda b: (b["receipt"] or {}).get("verified"))
        assert outbox["status"] == "ACKNOWLEDGED"

        # CC reports that the goods entered CC: a signed progress event to every other country on the route
        event = default_catalogue().get("transit-event").folder / "samples/valid/entered-transit-country.xml"
        cc_customs = Workspace.open(network).authority("CC", "customs")
        signed_event = sign_document(event.read_bytes(), cc_customs.key, list(cc_customs.signing_chain)).decode()
        posted = httpx.post(f"{cc}/v1/outbox", json={"document": signed_event, "to": "BB"}, timeout=30)
        assert posted.status_code == 201 and posted.json()["gateway"]["http_status"] == 202, posted.text
        event_id = posted.json()["message_id"]
        record = wait_for(f"{gateway}/v1/messages/{event_id}", lambda b: b["status"] == "ACKNOWLEDGED",
                          headers=operator)
        assert record["sender"] == "CC" and record["receivers"] == ["AA", "BB"]
        for node in (aa, bb):  # the origin and the destination both see where the goods are
            assert event_id in [item["message_id"] for item in httpx.get(f"{node}/v1/inbox").json()["items"]]
        # only a country the goods cross reports on them: AA, the origin, cannot send the event
        from_origin = httpx.post(f"{aa}/v1/outbox", json={"document": signed_event, "to": "BB"}, timeout=30)
        assert from_origin.status_code == 422 and from_origin.json()["code"] == "INPUT-FIELD-INVALID"

        # a route through EE, with which AA has no agreement: the whole message is refused, naming EE
        refused = httpx.post(f"{aa}/v1/outbox", json={"document": declaration(network, ("AA", "EE", "BB"), "TR-2"),
                                                      "to": "BB"}, timeout=30)
        gateway_answer = refused.json()["gateway"]
        assert gateway_answer["http_status"] == 403, refused.text
        routing = next(c for c in gateway_answer["answer"]["checks"] if c["name"] == "routing")
        [finding] = routing["findings"]
        assert finding["code"] == "GW-NO-AGREEMENT" and "to EE" in finding["message"]
        assert len(httpx.get(f"{bb}/v1/inbox").json()["items"]) == 2  # the declaration and the event: nothing new

        # the envelope must match the route: AA's own node refuses a receiver off the route
        off_route = httpx.post(f"{aa}/v1/outbox", json={"document": declaration(network, ident="TR-3"), "to": "EE"},
                               timeout=30)
        assert off_route.status_code == 422 and off_route.json()["code"] == "INPUT-FIELD-INVALID"


def test_a_receiver_down_holds_up_only_its_own_leg(network: Path, tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("gateway", "AA", "CC", "BB")}
    gateway, aa = f"http://127.0.0.1:{ports['gateway']}", f"http://127.0.0.1:{ports['AA']}"
    operator = operator_headers(network / PARTIES_DIR / "gateway")
    with services(network, tmp_path, ports, without=("CC",)):
        sent = httpx.post(f"{aa}/v1/outbox", json={"document": declaration(network, ident="TR-4"), "to": "BB"},
                          timeout=30)
        message_id = sent.json()["message_id"]

        def legs(body: dict[str, Any]) -> dict[str, str]:
            return {d["receiver"]: d["status"] for d in body.get("deliveries", ())}

        record = wait_for(f"{gateway}/v1/messages/{message_id}",
                          lambda b: legs(b).get("BB") == "ACKNOWLEDGED" and legs(b).get("CC") == "WAITING_FOR_RETRY",
                          headers=operator)
        assert record["status"] == "WAITING_FOR_RETRY" and record["acknowledged"] == "1/2"
        with node_process(network, tmp_path, "CC", ports):
            record = wait_for(f"{gateway}/v1/messages/{message_id}", lambda b: b["status"] == "ACKNOWLEDGED",
                              headers=operator)
        assert legs(record) == {"CC": "ACKNOWLEDGED", "BB": "ACKNOWLEDGED"}
        bb_attempts = [a for a in record["attempts"] if a["receiver"] == "BB"]
        assert len(bb_attempts) == 1  # BB was delivered once, while CC was retried
