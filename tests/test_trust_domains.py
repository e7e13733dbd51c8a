"""Separate trust domains with real processes: a third country joins a running network, is withdrawn, renews its
node key with an overlap; an older package and a changed agreement are refused. Every step is a ``ptx`` command a
user runs on their own folder; the gateway and BB's node keep running throughout (no restart), and no folder is
ever given another party's key.

One scenario, in order (each stage builds on the previous one), so it is one test with named stages."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from exchange import (
    Party,
    build_document,
    build_envelope,
    default_catalogue,
    init_workspace,
    load_input,
    sign_document,
)
from exchange._pki import load_certificate_file, load_private_key_file
from exchange._workspace import PARTIES_DIR, Workspace
from exchange.testing.processes import PTX, free_port, running

FAST = {"PTX_DELIVERY__POLL_INTERVAL": "0.05", "PTX_DELIVERY__BASE_DELAY": "0.05", "PTX_DELIVERY__MAX_DELAY": "0.5"}
OVERLAP = 20  # seconds the old node key of CC stays accepted after its renewal

pytestmark = pytest.mark.xdist_group("processes")


def ptx(*args: str | Path, expect: int = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([PTX, *map(str, args)], capture_output=True, text=True, timeout=120)
    assert done.returncode == expect, f"ptx {' '.join(map(str, args))} -> {done.returncode}\n{done.stdout}{done.stderr}"
    return done


def fingerprint_of(done: subprocess.CompletedProcess[str]) -> str:
    line = next(line for line in done.stderr.splitlines() if "read aloud:" in line)
    return line.split("read aloud:", 1)[1].replace(" ", "")


def private_keys(folder: Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*")
            if path.is_file() and b"PRIVATE KEY-----" in path.read_bytes()[:4096]}


def send(node_url: str, to: str = "BB") -> str:
    data = load_input(default_catalogue().get("certificate-of-origin").folder / "input.yaml")
    sent = httpx.post(f"{node_url}/v1/outbox", json={"type": "certificate-of-origin", "data": data, "to": to},
                      timeout=30)
    assert sent.status_code == 201, sent.text
    message_id: str = sent.json()["message_id"]
    return message_id


def settled(node_url: str, message_id: str, *, timeout: float = 60) -> dict[str, Any]:
    """The outbox entry once it is final (acknowledged, rejected or refused by the gateway)."""
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = httpx.get(f"{node_url}/v1/outbox/{message_id}", timeout=10).json()
        receipt = body.get("receipt") or {}
        if body["status"] in ("REJECTED", "FAILED") or (
                body["status"] in ("ACKNOWLEDGED", "RECEIVER_REJECTED") and receipt.get("verified") is not None):
            return body
        time.sleep(0.1)
    raise AssertionError(f"{message_id} did not settle: {body}")


def test_a_country_joins_is_withdrawn_and_renews_its_key_while_the_network_runs(tmp_path: Path) -> None:
    network = tmp_path / "network"
    init_workspace(network, moment=datetime.now(UTC) - timedelta(minutes=5))
    homes = {party: tmp_path / f"laptop-{party.lower()}" for party in ("gateway", "BB")}
    for party, home in homes.items():
        shutil.copytree(network / PARTIES_DIR / party, home)
    gw, bb, cc = homes["gateway"], homes["BB"], tmp_path / "laptop-cc"
    ports = {party: free_port() for party in ("gateway", "BB", "CC")}
    urls = {party: f"http://127.0.0.1:{port}" for party, port in ports.items()}
    environment = {**FAST, "PTX_WORKSPACE": str(tmp_path / "no-such-folder")}
    gateway_cmd = [PTX, "serve", "gateway", "--workspace", str(gw), "--port", str(ports["gateway"]),
                   "--node", f"BB={urls['BB']}", "--log-level", "warning"]

    def node_cmd(country: str, folder: Path) -> list[str]:
        return [PTX, "serve", "node", "--country", country, "--workspace", str(folder), "--port",
                str(ports[country]), "--gateway", urls["gateway"], "--log-level", "warning"]

    with running(gateway_cmd, health_url=f"{urls['gateway']}/readyz", env=environment, log=tmp_path / "gw.log"), \
         running(node_cmd("BB", bb), health_url=f"{urls['BB']}/readyz", env=environment, log=tmp_path / "bb.log"):
        # --- 1. CC is created on its own laptop and exchanges public packages only ----------------------------
        ptx("country", "init", "CC", "--dir", cc)
        gateway_anchor = fingerprint_of(ptx("gateway", "export", "--dir", gw, "--out", tmp_path / "gateway.json"))
        ptx("country", "join", tmp_path / "gateway.json", "--anchor-sha256", gateway_anchor, "--dir", cc)
        bb_anchor = fingerprint_of(ptx("country", "export", "--dir", bb, "--out", tmp_path / "bb.json"))
        ptx("country", "import", tmp_path / "bb.json", "--anchor-sha256", bb_anchor, "--dir", cc)
        cc_anchor = fingerprint_of(ptx("country", "export", "--dir", cc, "--endpoint", urls["CC"],
                                       "--out", tmp_path / "cc-1.json"))
        wrong = ptx("gateway", "admit", tmp_path / "cc-1.json", "--anchor-sha256", bb_anchor, "--dir", gw, expect=2)
        assert "PACKAGE-ANCHOR-MISMATCH" in wrong.stderr  # a fingerprint misheard is caught before anything is kept
        ptx("gateway", "admit", tmp_path / "cc-1.json", "--anchor-sha256", cc_anchor, "--dir", gw)
        ptx("country", "import", tmp_path / "cc-1.json", "--anchor-sha256", cc_anchor, "--dir", bb)
        ptx("agreement", "propose", "BB", "--dir", cc, "--out", tmp_path / "bb-cc.json")
        ptx("agreement", "sign", tmp_path / "bb-cc.json", "--dir", bb)
        ptx("agreement", "install", tmp_path / "bb-cc.json", "--dir", gw)
        ptx("agreement", "install", tmp_path / "bb-cc.json", "--dir", cc)
        ptx("country", "recognise", "CC", "--dir", bb)
        ptx("country", "recognise", "BB", "--dir", cc)
        assert private_keys(cc) and all(name.startswith("CC/") for name in private_keys(cc))

        cc_node = ExitStack()
        cc_node.enter_context(running(node_cmd("CC", cc), health_url=f"{urls['CC']}/readyz", env=environment,
                                      log=tmp_path / "cc.log"))
        with cc_node:
            # --- 2. CC sends to BB through the running gateway: admitted, recognised, acknowledged -------------
            first = settled(urls["CC"], send(urls["CC"]))
            assert first["status"] == "ACKNOWLEDGED" and first["receipt"]["verified"], first

            # --- 3. BB withdraws its recognition of CC: the next message is refused by BB itself --------------
            ptx("country", "withdraw", "CC", "--dir", bb)
            refused = settled(urls["CC"], send(urls["CC"]))
            assert refused["status"] == "RECEIVER_REJECTED" and refused["receipt"]["verified"], refused
            assert {finding["code"] for finding in refused["receipt"]["findings"]} == {
                "TRUST-NOT-RECOGNISED", "NODE-SENDER-CERT-INVALID"}  # the gateway passed it: the agreement stands
            ptx("country", "recognise", "CC", "--dir", bb)
            assert settled(urls["CC"], send(urls["CC"]))["status"] == "ACKNOWLEDGED"

            # --- 4. one changed byte of the agreement in the gateway's folder: refused there, with its code ---
            held = gw / "agreements" / "BB-CC.json"
            original = held.read_bytes()
            document = json.loads(original)
            document["payload"] = document["payload"][:-3] + ("A" if document["payload"][-3] != "A" else "B") \
                + document["payload"][-2:]
            held.write_text(json.dumps(document))
            tampered = ptx("agreement", "verify", held, "--dir", gw, expect=2)
            assert "AGREEMENT-" in tampered.stderr
            blocked = settled(urls["CC"], send(urls["CC"]))
            assert blocked["status"] == "REJECTED" and "GW-NO-AGREEMENT" in json.dumps(blocked), blocked
            assert "AGREEMENT-SIGNATURE-INVALID" in json.dumps(blocked) or "AGREEMENT-INVALID" in json.dumps(blocked)
            held.write_bytes(original)
            assert settled(urls["CC"], send(urls["CC"]))["status"] == "ACKNOWLEDGED"

            # --- 5. CC renews its node key with an overlap; an older package is refused (no rollback) --------
            old_key = load_private_key_file(cc / "CC" / "authorities" / "single-window.key")
            old_chain = load_certificate_file(cc / "CC" / "authorities" / "single-window.pem")
            ptx("country", "renew-node", "--overlap", f"{OVERLAP}s", "--dir", cc)
            renewed_at = time.monotonic()
            ptx("country", "export", "--dir", cc, "--out", tmp_path / "cc-2.json")
            ptx("gateway", "admit", tmp_path / "cc-2.json", "--anchor-sha256", cc_anchor, "--dir", gw)
            ptx("country", "import", tmp_path / "cc-2.json", "--anchor-sha256", cc_anchor, "--dir", bb)
            rollback = ptx("gateway", "admit", tmp_path / "cc-1.json", "--anchor-sha256", cc_anchor, "--dir", gw,
                           expect=2)
            assert "PACKAGE-ROLLBACK" in rollback.stderr
            assert Workspace.open(gw).index.partners["CC"].sequence == 2
            audit = (gw / "audit" / "imports.jsonl").read_text().splitlines()
            assert '"previous_sequence": 1' in audit[-1] and '"sequence": 2' in audit[-1]
            # CC's node still runs with the old key: accepted during the overlap
            assert settled(urls["CC"], send(urls["CC"]))["status"] == "ACKNOWLEDGED"
            cc_node.close()  # CC restarts its node, which now signs with the new key
            cc_node.enter_context(running(node_cmd("CC", cc), health_url=f"{urls['CC']}/readyz", env=environment,
                                          log=tmp_path / "cc-restarted.log"))
            assert settled(urls["CC"], send(urls["CC"]))["status"] == "ACKNOWLEDGED"  # the new key
            # after the overlap, an envelope signed with the old key is refused by the gateway with its code
            time.sleep(max(0.0, OVERLAP + 1 - (time.monotonic() - renewed_at)))
            envelope = old_key_envelope(old_key, old_chain)
            answer = httpx.post(f"{urls['gateway']}/v1/messages", content=envelope,
                                headers={"content-type": "application/xml"}, timeout=30)
            assert answer.status_code == 403 and "GW-SENDER-CERT-RETIRED" in answer.text, answer.text
            still = settled(urls["CC"], send(urls["CC"]))
            assert still["status"] == "ACKNOWLEDGED", json.dumps(still["gateway"])[:2500]  # the new key still is
    for party, home in (*homes.items(), ("CC", cc)):  # nobody gained another party's key
        assert all(name.startswith(f"{party}/") for name in private_keys(home)), (party, private_keys(home))


def old_key_envelope(key: Any, chain: tuple[Any, ...]) -> bytes:
    """A certificate-of-origin envelope from CC to BB signed with CC's retired node key (as a node that was not
    restarted after the overlap would send it). The sender check comes before the document's, so the document
    needs no issuer's signature to show the refusal."""
    doc_type = default_catalogue().get("certificate-of-origin")
    built = build_document(doc_type, load_input(doc_type.folder / "input.yaml"))
    envelope = build_envelope(
        built.xml, sender=Party("CC"), receiver=Party("BB"), document_type=doc_type.id,
        type_version=doc_type.version, standard=doc_type.namespace, agreement_ref="BB-CC",
        created=datetime.now(UTC),
    )
    return sign_document(envelope, key, list(chain))
