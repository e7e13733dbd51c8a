"""One folder per party: each holds the network's public material and its own private keys only, and each service
runs on a copy of its own folder alone, with the other parties' folders absent."""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from exchange import default_catalogue, init_workspace, load_input
from exchange._workspace import GATEWAY_PARTY, PARTIES_DIR, Workspace, party_folder, private_files
from exchange.testing.processes import PTX, free_port, running

FAST = {"PTX_DELIVERY__POLL_INTERVAL": "0.05", "PTX_DELIVERY__BASE_DELAY": "0.05", "PTX_DELIVERY__MAX_DELAY": "0.5"}


def private_key_files(folder: Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*")
            if path.is_file() and b"PRIVATE KEY-----" in path.read_bytes()[:4096]}


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("network") / "workspace"
    init_workspace(root, moment=datetime.now(UTC) - timedelta(minutes=5))
    return Workspace.open(root)


def test_each_party_folder_holds_its_own_keys_and_nobody_elses(network: Workspace) -> None:
    assert network.parties == ("AA", "BB", GATEWAY_PARTY)
    for party in network.parties:
        folder = network.path / PARTIES_DIR / party
        assert party_folder(network.path, party) == folder
        assert private_key_files(folder) == set(private_files(network.index, party)), party
        own = Workspace.open(folder)
        assert all((folder / name).is_file() for name in own.index.files()), party
        others = [code for code in network.countries if code != party]
        assert tuple(own.index.countries) == (() if party == GATEWAY_PARTY else (party,))
        assert sorted(own.index.partners) == others  # every other country, from its public package
        for code in others:
            assert own.anchor_sha256(code) == network.country(code).root_sha256
            assert own.node_certificate(code) == network.node_certificate(code)


def test_a_revocation_reaches_every_party_as_a_newer_package(network: Workspace, tmp_path: Path) -> None:
    copy = tmp_path / "workspace"
    shutil.copytree(network.path, copy)
    workspace = Workspace.open(copy)
    before = (copy / PARTIES_DIR / "BB" / "partners" / "AA" / "trust-list.xml").read_bytes()
    workspace.revoke("AA Chamber of Commerce", moment=datetime.now(UTC))
    for party in ("BB", GATEWAY_PARTY):
        folder = copy / PARTIES_DIR / party
        assert (folder / "partners" / "AA" / "trust-list.xml").read_bytes() == workspace.trust_list_bytes("AA")
        assert Workspace.open(folder).index.partners["AA"].sequence == 2
        assert private_key_files(folder) == set(private_files(workspace.index, party))
        audit = (folder / "audit" / "imports.jsonl").read_text().splitlines()
        assert '"previous_sequence": 1' in audit[-1] and '"country": "AA"' in audit[-1]
    assert before != workspace.trust_list_bytes("AA")


def test_each_service_runs_on_its_own_folder_alone(network: Workspace, tmp_path: Path) -> None:
    """Copies of the three party folders in three unrelated places; nothing else on disk is reachable."""
    homes = {party: tmp_path / f"home-{party.lower()}" / "ptx" for party in network.parties}
    for party, home in homes.items():
        shutil.copytree(network.path / PARTIES_DIR / party, home)
    ports = {party: free_port() for party in network.parties}
    urls = {party: f"http://127.0.0.1:{port}" for party, port in ports.items()}
    gateway = [PTX, "serve", "gateway", "--workspace", str(homes[GATEWAY_PARTY]), "--port", str(ports["gateway"]),
               "--node", f"AA={urls['AA']}", "--node", f"BB={urls['BB']}", "--log-level", "warning"]

    def node(country: str) -> list[str]:
        return [PTX, "serve", "node", "--country", country, "--workspace", str(homes[country]),
                "--port", str(ports[country]), "--gateway", urls["gateway"], "--log-level", "warning"]

    environment = {**FAST, "PTX_WORKSPACE": str(tmp_path / "no-such-workspace")}
    with running(gateway, health_url=f"{urls['gateway']}/readyz", env=environment, log=tmp_path / "gateway.log"), \
         running(node("AA"), health_url=f"{urls['AA']}/readyz", env=environment, log=tmp_path / "aa.log"), \
         running(node("BB"), health_url=f"{urls['BB']}/readyz", env=environment, log=tmp_path / "bb.log"):
        data = load_input(default_catalogue().get("certificate-of-origin").folder / "input.yaml")
        sent = httpx.post(f"{urls['AA']}/v1/outbox", json={"type": "certificate-of-origin", "data": data, "to": "BB"},
                          timeout=30)
        assert sent.status_code == 201 and sent.json()["status"] == "ACCEPTED", sent.text
        message_id = sent.json()["message_id"]
        deadline = time.monotonic() + 60
        body = {}
        while time.monotonic() < deadline:
            body = httpx.get(f"{urls['AA']}/v1/outbox/{message_id}", timeout=10).json()
            if body["status"] == "ACKNOWLEDGED" and (body["receipt"] or {}).get("verified"):
                break
            time.sleep(0.1)
        assert body["status"] == "ACKNOWLEDGED" and body["receipt"]["verified"], body
        [item] = httpx.get(f"{urls['BB']}/v1/inbox", timeout=10).json()["items"]
        assert item["message_id"] == message_id and item["verdict"] == "RECEIVED"
    for party, home in homes.items():  # and none of them gained a key it should not hold
        assert private_key_files(home) == set(private_files(network.index, party))
