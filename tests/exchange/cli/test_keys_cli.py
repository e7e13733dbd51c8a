"""``ptx keys status|protect|unprotect`` and ``ptx init --protect-keys`` in process; and the services as real
processes on party folders whose keys were protected: with PTX_KEY_PASSPHRASE they serve, sign and talk mutual TLS,
without it (or with a wrong one) they exit before listening with the code and the file."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from exchange import default_catalogue, load_input
from exchange._keystore import FileKeyStore, is_encrypted
from exchange._passphrase import PASSPHRASE_ENV, no_passphrase
from exchange._pki import credential_matches, load_certificate_file
from exchange._workspace import GATEWAY_PARTY, PARTIES_DIR, Workspace, init_workspace
from exchange.cli import app
from exchange.testing.processes import PTX, free_port
from tests.support.tls import context, country_client, gateway_ca, root, serving

runner = CliRunner()
SECRET = "a long passphrase nobody guesses"
FAST = {"PTX_DELIVERY__POLL_INTERVAL": "0.05", "PTX_DELIVERY__BASE_DELAY": "0.05", "PTX_DELIVERY__MAX_DELAY": "0.5"}
COO = b"<CertificateOfOrigin xmlns='urn:ptx:trade:CertificateOfOrigin:1'><ID>CO-1</ID></CertificateOfOrigin>"


def keys_in(folder: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in sorted(folder.rglob("*.key"))}


def plain_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PASSPHRASE_ENV, raising=False)


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root_folder = tmp_path_factory.mktemp("keys-network") / "workspace"
    init_workspace(root_folder, moment=datetime.now(UTC) - timedelta(minutes=5))
    return Workspace.open(root_folder)


def party_copy(network: Workspace, party: str, where: Path) -> Path:
    home = where / f"home-{party.lower()}" / "ptx"
    shutil.copytree(network.path / PARTIES_DIR / party, home)
    return home


# --- the commands, in process ----------------------------------------------------------------------------------


def test_the_demo_keeps_plain_keys(network: Workspace) -> None:
    keys = keys_in(network.path)
    assert len(keys) > 20 and not any(is_encrypted(data) for data in keys.values())


def test_protect_status_and_unprotect_a_party_folder(network: Workspace, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    plain_env(monkeypatch)
    home = party_copy(network, "AA", tmp_path)
    before = keys_in(home)
    protected = runner.invoke(app, ["keys", "protect", str(home)], env={PASSPHRASE_ENV: SECRET})
    assert protected.exit_code == 0, protected.output
    assert f"{len(before)} key file(s) encrypted" in protected.output and SECRET not in protected.output
    after = keys_in(home)
    assert set(after) == set(before) and all(is_encrypted(data) for data in after.values())
    assert all(path.stat().st_mode & 0o777 == 0o600 for path in after)
    opened = FileKeyStore(passphrase=lambda: SECRET.encode())
    node = home / "AA" / "authorities" / "single-window.key"
    assert credential_matches(opened.load(node), load_certificate_file(node.with_suffix(".pem"))[0])
    status = runner.invoke(app, ["keys", "status", str(home)])
    assert status.exit_code == 0 and f"{len(before)} encrypted, 0 plain" in status.output
    again = runner.invoke(app, ["keys", "protect", str(home)], env={PASSPHRASE_ENV: SECRET})
    assert again.exit_code == 0 and f"0 key file(s) encrypted in {home} ({len(before)} already were)" in again.output
    unprotected = runner.invoke(app, ["keys", "unprotect", str(home)], env={PASSPHRASE_ENV: SECRET})
    assert unprotected.exit_code == 0, unprotected.output
    assert keys_in(home) == before, "the same keys, written as plain PKCS#8 again"
    assert all(path.stat().st_mode & 0o777 == 0o600 for path in before)


def test_protect_without_a_passphrase_changes_nothing(network: Workspace, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    plain_env(monkeypatch)
    home = party_copy(network, "BB", tmp_path)
    before = keys_in(home)
    result = runner.invoke(app, ["keys", "protect", str(home)])
    assert result.exit_code == 2 and "KEY-PASSPHRASE-REQUIRED" in result.output, result.output
    assert keys_in(home) == before


def test_unprotect_with_a_wrong_passphrase_changes_nothing(network: Workspace, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    plain_env(monkeypatch)
    home = party_copy(network, GATEWAY_PARTY, tmp_path)
    assert runner.invoke(app, ["keys", "protect", str(home)], env={PASSPHRASE_ENV: SECRET}).exit_code == 0
    before = keys_in(home)
    wrong = runner.invoke(app, ["keys", "unprotect", str(home)], env={PASSPHRASE_ENV: "guess"})
    assert wrong.exit_code == 2 and "KEY-PASSPHRASE-WRONG" in wrong.output and "guess" not in wrong.output
    missing = runner.invoke(app, ["keys", "unprotect", str(home)])
    assert missing.exit_code == 2 and "KEY-PASSPHRASE-REQUIRED" in missing.output
    assert keys_in(home) == before


def test_a_folder_that_is_not_a_workspace_is_refused(tmp_path: Path) -> None:
    result = runner.invoke(app, ["keys", "status", str(tmp_path)])
    assert result.exit_code == 2 and "CONFIG-INVALID" in result.output


def test_on_a_terminal_protect_asks_twice_and_a_command_asks_once(network: Workspace, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    plain_env(monkeypatch)
    monkeypatch.setattr("exchange.cli._keys.interactive", lambda: True)
    monkeypatch.setattr("exchange.cli._app.interactive", lambda: True)
    home = party_copy(network, "AA", tmp_path)
    protected = runner.invoke(app, ["keys", "protect", str(home)], input=f"{SECRET}\n{SECRET}\n")
    assert protected.exit_code == 0, protected.output
    assert SECRET not in protected.output and all(is_encrypted(data) for data in keys_in(home).values())
    document = tmp_path / "coo.xml"
    document.write_bytes(COO)
    signed = runner.invoke(app, ["sign", str(document), "--as", "AA/chamber-of-commerce", "--workspace", str(home),
                                 "--out", str(tmp_path / "signed.xml")], input=f"{SECRET}\n")
    assert signed.exit_code == 0, signed.output
    assert signed.output.count("Passphrase of the private keys") == 1 and SECRET not in signed.output
    assert b"SignatureValue" in (tmp_path / "signed.xml").read_bytes()
    wrong = runner.invoke(app, ["sign", str(document), "--as", "AA/chamber-of-commerce", "--workspace", str(home),
                                "--out", str(tmp_path / "again.xml")], input="guess\n")
    assert wrong.exit_code == 2 and "KEY-PASSPHRASE-WRONG" in wrong.output
    assert not (tmp_path / "again.xml").exists()


def test_init_can_write_every_key_encrypted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain_env(monkeypatch)
    folder = tmp_path / "ws"
    result = runner.invoke(app, ["init", "--workspace", str(folder), "--protect-keys"], env={PASSPHRASE_ENV: SECRET})
    assert result.exit_code == 0, result.output
    keys = keys_in(folder)
    assert any(PARTIES_DIR in path.parts for path in keys), "the party folders' keys too"
    assert len(keys) > 20 and all(is_encrypted(data) for data in keys.values())
    document = tmp_path / "coo.xml"
    document.write_bytes(COO)
    command = ["sign", str(document), "--as", "AA/chamber-of-commerce", "--workspace", str(folder), "--out", "-"]
    refused = runner.invoke(app, command)
    assert refused.exit_code == 2 and "KEY-PASSPHRASE-REQUIRED" in refused.output
    assert "chamber-of-commerce.key" in refused.output
    signed = runner.invoke(app, command, env={PASSPHRASE_ENV: SECRET})
    assert signed.exit_code == 0 and "SignatureValue" in signed.output
    with pytest.raises(Exception, match="KEY-PASSPHRASE-REQUIRED"):
        FileKeyStore(passphrase=no_passphrase).load(folder / "AA" / "pki" / "root.key")


def test_init_protect_keys_needs_a_passphrase(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain_env(monkeypatch)
    result = runner.invoke(app, ["init", "--workspace", str(tmp_path / "ws"), "--protect-keys"])
    assert result.exit_code == 2 and "KEY-PASSPHRASE-REQUIRED" in result.output
    assert not (tmp_path / "ws" / "workspace.yaml").exists()


# --- real processes on protected folders ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def protected(network: Workspace, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A copy of each party's folder, in unrelated places, every key encrypted under SECRET."""
    where = tmp_path_factory.mktemp("protected")
    homes = {party: party_copy(network, party, where) for party in network.parties}
    for home in homes.values():
        result = runner.invoke(app, ["keys", "protect", str(home)], env={PASSPHRASE_ENV: SECRET})
        assert result.exit_code == 0, result.output
    return homes


def gateway_command(home: Path, port: int, nodes: dict[str, str]) -> list[str]:
    return [PTX, "serve", "gateway", "--tls", "--workspace", str(home), "--port", str(port),
            *[arg for code, url in nodes.items() for arg in ("--node", f"{code}={url}")], "--log-level", "warning"]


def node_command(home: Path, country: str, port: int, gateway: str, *extra: str) -> list[str]:
    return [PTX, "serve", "node", "--tls", "--country", country, "--workspace", str(home), "--port", str(port),
            "--gateway", gateway, "--log-level", "warning", *extra]


@pytest.mark.slow
def test_services_on_protected_folders_serve_sign_and_talk_mutual_tls(protected: dict[str, Path],
                                                                      tmp_path: Path) -> None:
    ports = {party: free_port() for party in protected}
    urls = {party: f"https://127.0.0.1:{port}" for party, port in ports.items()}
    gateway_home, aa, bb = (Workspace.open(protected[party]) for party in (GATEWAY_PARTY, "AA", "BB"))
    record = gateway_home.index.gateway
    assert record is not None and record.tls_client_key is not None
    env = {**FAST, PASSPHRASE_ENV: SECRET, "PTX_WORKSPACE": str(tmp_path / "no-such-workspace")}
    as_gateway = context(root(bb, "BB"), cert=gateway_home.file(record.tls_client),
                         key=gateway_home.file(record.tls_client_key), password=SECRET)
    with serving(node_command(protected["BB"], "BB", ports["BB"], urls[GATEWAY_PARTY]), ready_url=f"{urls['BB']}/readyz",
                 verify=as_gateway, log=tmp_path / "bb.log", env=env), \
         serving(gateway_command(protected[GATEWAY_PARTY], ports[GATEWAY_PARTY], {"BB": urls["BB"]}),
                 ready_url=f"{urls[GATEWAY_PARTY]}/readyz",
                 verify=country_client(aa, "AA", gateway_ca(aa), password=SECRET), log=tmp_path / "gateway.log",
                 env=env), \
         serving(node_command(protected["AA"], "AA", ports["AA"], urls[GATEWAY_PARTY], "--optional-client-cert"),
                 ready_url=f"{urls['AA']}/readyz", verify=context(root(aa, "AA")), log=tmp_path / "aa.log", env=env):
        data = load_input(default_catalogue().get("certificate-of-origin").folder / "input.yaml")
        with httpx.Client(base_url=urls["AA"], verify=context(root(aa, "AA")), timeout=30) as client:
            sent = client.post("/v1/outbox", json={"type": "certificate-of-origin", "data": data, "to": "BB"})
            assert sent.status_code == 201 and sent.json()["status"] == "ACCEPTED", sent.text
            message_id = sent.json()["message_id"]
            deadline = time.monotonic() + 60
            body = {}
            while time.monotonic() < deadline:
                body = client.get(f"/v1/outbox/{message_id}").json()
                if body["status"] == "ACKNOWLEDGED" and (body["receipt"] or {}).get("verified"):
                    break
                time.sleep(0.1)
        # AA signed as its chamber and its node, the gateway delivered with its signed header over TLS with its
        # client key, BB's node answered with a receipt it signed: every key used was encrypted at rest
        assert body["status"] == "ACKNOWLEDGED" and body["receipt"]["verified"], body
    assert all(is_encrypted(data) for home in protected.values() for data in keys_in(home).values())


def start_fails(command: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(command, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    return result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.parametrize(("party", "tls"), [("AA", True), (GATEWAY_PARTY, False)])
def test_a_service_on_a_protected_folder_does_not_start_without_its_passphrase(
    protected: dict[str, Path], party: str, tls: bool, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A node with TLS (its TLS keys, its signing keys) and the gateway without (it opens its signing key only
    once serving, so ``ptx serve`` opens every key of its folder before it listens)."""
    plain_env(monkeypatch)
    port = free_port()
    command = (gateway_command(protected[party], port, {}) if party == GATEWAY_PARTY
               else node_command(protected[party], party, port, "https://127.0.0.1:9"))
    argv = command if tls else [arg for arg in command if arg != "--tls"]
    base = {key: value for key, value in os.environ.items() if key != PASSPHRASE_ENV}
    missing = start_fails(argv, base)
    assert "KEY-PASSPHRASE-REQUIRED" in missing and ".key" in missing and str(protected[party]) in missing
    wrong = start_fails(argv, {**base, PASSPHRASE_ENV: "not the passphrase"})
    assert "KEY-PASSPHRASE-WRONG" in wrong and ".key" in wrong and "not the passphrase" not in wrong
    assert "Traceback" not in missing + wrong
