"""The kit passes against our own node and gateway, each a real process on its own party folder, run as a tester
runs it: ``ptx conformance node|gateway URL`` on the tester's own folders."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from exchange import parse_xml
from exchange.conformance import SCENARIOS, Target, scenarios_for
from exchange.testing.processes import PTX, free_port
from tests.exchange.conformance.conftest import REVOKED, Folders, gateway, node

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("processes")]


def ptx(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PTX, *map(str, args)], capture_output=True, text=True, timeout=300)


def scenario_ids(names: list[str]) -> set[str]:
    return {name.split("[", 1)[0] for name in names}


def test_the_kit_passes_against_our_node(folders: Folders, tmp_path: Path) -> None:
    tester, test_gateway = folders.copy("AA", tmp_path), folders.copy("gateway", tmp_path)
    with node(folders.copy("BB", tmp_path), "BB", log=tmp_path / "bb.log") as url:
        done = ptx("conformance", "node", url, "--workspace", tester, "--gateway-workspace", test_gateway,
                   "--revoked-issuer", REVOKED, "--format", "json")
    report = json.loads(done.stdout)
    assert done.returncode == 0, [(r["scenario"], r["reason"]) for r in report["results"] if r["outcome"] == "fail"]
    outcomes = {result["scenario"]: result["outcome"] for result in report["results"]}
    assert report["passed"] and report["target"] == "node"
    assert scenario_ids(list(outcomes)) == {scenario.id for scenario in scenarios_for(Target.NODE)}
    # every document type of the agreement, except those whose only issuer is the revoked one (the NPPO's)
    revoked_types = {name for name, outcome in outcomes.items() if outcome != "pass"}
    assert revoked_types and all(outcomes[name] == "not-applicable" for name in revoked_types)
    assert "node.valid[phytosanitary-certificate]" in revoked_types and all(
        name.startswith("node.valid[") for name in revoked_types)
    assert {"node.valid[certificate-of-origin]", "node.valid[customs-declaration]",
            "node.valid[commercial-invoice]"} <= set(outcomes)
    assert outcomes["node.transit-receiver"] == outcomes["node.several-receivers-without-route"] == "pass"
    revoked = next(result for result in report["results"] if result["scenario"] == "node.revoked-issuer")
    assert "TRUST-CERT-REVOKED" in revoked["reason"] and revoked["clauses"] == list(
        SCENARIOS["node.revoked-issuer"].clauses)
    assert revoked["exchanges"][0]["request"].startswith(f"POST {url}/v1/inbox")


def test_the_kit_passes_against_our_gateway(folders: Folders, tmp_path: Path) -> None:
    sender, receiver = folders.copy("AA", tmp_path), folders.copy("BB", tmp_path)
    inbox = free_port()
    with gateway(folders.copy("gateway", tmp_path), deliver_bb_to=f"http://127.0.0.1:{inbox}",
                 log=tmp_path / "gw.log") as url:
        done = ptx("conformance", "gateway", url, "--workspace", sender, "--receiver-workspace", receiver,
                   "--inbox-listen", f"127.0.0.1:{inbox}", "--revoked-issuer", REVOKED, "--settle", "1",
                   "--format", "junit", "--out", tmp_path / "report.xml")
    suite = parse_xml((tmp_path / "report.xml").read_bytes()).getroot().find("testsuite")
    assert suite is not None
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    failures = {name: case.find("failure").get("message") for name, case in cases.items()  # type: ignore[union-attr]
                if case.find("failure") is not None}
    assert done.returncode == 0 and suite.get("failures") == "0", (failures, done.stderr)
    assert "0 failed, " in done.stderr
    assert scenario_ids(list(cases)) == {scenario.id for scenario in scenarios_for(Target.GATEWAY)}
    skipped = {name for name, case in cases.items() if case.find("skipped") is not None}
    assert "gateway.valid[phytosanitary-certificate]" in skipped and all(
        name.startswith("gateway.valid[") for name in skipped)  # the types only the revoked NPPO issues
    assert "gateway.transit-receiver-unknown" in cases and "gateway.route-deliveries" not in skipped
    assert "TRUST-CERT-REVOKED" in (cases["gateway.revoked-issuer"].findtext("system-out") or "")
