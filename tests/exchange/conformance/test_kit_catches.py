"""The kit fails, naming the scenario, against deliberately broken stand-ins (tests/exchange/conformance/standins.py)
in front of our real services; and its reports say so in every format."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from exchange import Workspace, parse_xml
from exchange.conformance import (
    Country,
    GatewayTarget,
    Listening,
    Material,
    NodeTarget,
    Outcome,
    Probe,
    Report,
    Result,
    Target,
    run_gateway_suite,
    run_node_suite,
)
from exchange.conformance._report import render
from exchange.testing.processes import free_port
from tests.exchange.conformance import standins
from tests.exchange.conformance.conftest import REVOKED, Folders, gateway, node

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("processes")]


@contextmanager
def served(app: object) -> Iterator[str]:
    port = free_port()
    with Listening(app, "127.0.0.1", port):
        yield f"http://127.0.0.1:{port}"


def outcomes(results: list[Result]) -> dict[str, Outcome]:
    return {result.name: result.outcome for result in results}


def failed(results: list[Result]) -> set[str]:
    return {name for name, outcome in outcomes(results).items() if outcome is Outcome.FAIL}


def reason(results: list[Result], name: str) -> str:
    return next(result.reason for result in results if result.name == name)


def node_suite(folders: Folders, tmp_path: Path, url: str) -> list[Result]:
    tester = Country.open(folders.copy("AA", tmp_path))
    test_gateway = Workspace.open(folders.copy("gateway", tmp_path)).gateway_signer()
    with httpx.Client(timeout=30) as client:
        return run_node_suite(Material(tester), test_gateway, NodeTarget(url, "BB"), client=client,
                              revoked_issuer=REVOKED)


@contextmanager
def gateway_kit(folders: Folders, tmp_path: Path) -> Iterator[tuple[Probe, str, Country, Path]]:
    """The kit's receiver inbox listening (BB's, the tester's second country); yields it, its URL, the sender's
    material and a copy of the gateway's folder for the service under test."""
    receiver = Country.open(folders.copy("BB", tmp_path))
    probe = Probe(receiver=receiver.party, node=receiver.node, gateway=receiver.gateway_certificate())
    with served(probe) as inbox:
        yield probe, inbox, Country.open(folders.copy("AA", tmp_path)), folders.copy("gateway", tmp_path)


def gateway_suite(probe: Probe, sender: Country, url: str) -> list[Result]:
    with httpx.Client(timeout=30) as client:
        return run_gateway_suite(Material(sender), probe, GatewayTarget(url, "BB", timeout=20, settle=1),
                                 client=client, revoked_issuer=REVOKED)


def test_a_node_that_accepts_everything_fails_every_fault_scenario(folders: Folders, tmp_path: Path) -> None:
    bb = folders.copy("BB", tmp_path)
    with node(bb, "BB", log=tmp_path / "bb.log") as url, \
            served(standins.node_accepting_everything(url, Workspace.open(bb).node("BB"))) as standin:
        results = node_suite(folders, tmp_path, standin)
    assert failed(results) == {
        "node.replay-other-bytes", "node.tampered-document", "node.unauthorised-issuer", "node.revoked-issuer",
        "node.unknown-receiver", "node.payload-mismatch", "node.unsigned-envelope", "node.wrong-envelope-signer",
        "node.delivery-unauthenticated", "node.delivery-wrong-key", "node.delivery-other-message",
        "node.delivery-stale", "node.several-receivers-without-route",
    }
    assert outcomes(results)["node.valid[certificate-of-origin]"] is Outcome.PASS
    assert reason(results, "node.tampered-document") == "the receipt says RECEIVED, expected REJECTED"
    assert reason(results, "node.delivery-stale") == "expected 401 (not delivered by the gateway), got 200"
    # every format names the failed scenarios
    report = Report(target=Target.NODE, url=standin, started=datetime.now(UTC), results=tuple(results))
    text = render(report, "text").decode()
    assert "FAIL            node.tampered-document" in text and "failed scenarios: node.replay-other-bytes" in text
    as_json = json.loads(render(report, "json"))
    assert as_json["passed"] is False and as_json["counts"]["fail"] == 13
    suite = parse_xml(render(report, "junit")).getroot().find("testsuite")
    not_applicable = sum(1 for result in results if result.outcome is Outcome.NOT_APPLICABLE)
    assert suite is not None and suite.get("failures") == "13" and suite.get("skipped") == str(not_applicable)
    failures = {case.get("name") for case in suite.iter("testcase") if case.find("failure") is not None}
    assert failures == failed(results)
    page = render(report, "html").decode()
    assert "default-src 'none'" in page and 'data-outcome="fail"' in page and 'id="node.tampered-document"' in page
    assert "<script" not in page and "src=" not in page and "href=" not in page


def test_a_node_that_answers_unsigned_receipts_fails_the_valid_exchanges(folders: Folders, tmp_path: Path) -> None:
    with node(folders.copy("BB", tmp_path), "BB", log=tmp_path / "bb.log") as url, \
            served(standins.node_answering_unsigned_receipts(url)) as standin:
        results = node_suite(folders, tmp_path, standin)
    broken = failed(results)
    assert {"node.valid[certificate-of-origin]", "node.valid[customs-declaration]", "node.duplicate",
            "node.tampered-document", "node.unauthorised-issuer", "node.transit-receiver"} <= broken
    assert "node.delivery-unauthenticated" in broken  # its 401 is right, but the receipt after it is unsigned
    assert reason(results, "node.valid[certificate-of-origin]").startswith(
        "the receipt does not verify under the node's published package: SIG-MISSING")
    assert outcomes(results)["node.package"] is Outcome.PASS


def test_a_gateway_that_forwards_a_rejected_message_fails_not_forwarded(folders: Folders, tmp_path: Path) -> None:
    with gateway_kit(folders, tmp_path) as (probe, inbox, sender, gw):
        signer = Workspace.open(gw).gateway_signer()
        with gateway(gw, deliver_bb_to=inbox, log=tmp_path / "gw.log") as url, \
                served(standins.gateway_forwarding_rejected(url, signer, f"{inbox}/v1/inbox")) as standin:
            results = gateway_suite(probe, sender, standin)
    assert failed(results) == {"gateway.not-forwarded"}
    assert reason(results, "gateway.not-forwarded").startswith("refused submissions reached the receiver's inbox: ")
    assert outcomes(results)["gateway.tampered-document"] is Outcome.PASS  # its answer alone is right


def test_a_gateway_that_loses_the_message_id_on_resend_fails_retry(folders: Folders, tmp_path: Path) -> None:
    with gateway_kit(folders, tmp_path) as (probe, inbox, sender, gw):
        relay = standins.gateway_losing_the_message_id(f"{inbox}/v1/inbox", Workspace.open(gw).gateway_signer())
        with served(relay) as relay_url, gateway(gw, deliver_bb_to=relay_url, log=tmp_path / "gw.log") as url:
            results = gateway_suite(probe, sender, url)
    assert failed(results) == {"gateway.retry-keeps-message-id"}
    assert "the second delivery names message 'resend-" in reason(results, "gateway.retry-keeps-message-id")
