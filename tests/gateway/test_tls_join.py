"""A country admitted while a mutual-TLS gateway runs: its TLS handshake is refused before the admission and accepted
after it, without a restart (the gateway adds the new member's root to its listener's client CAs and its TLS client
certificate to the registry); it is identified as itself, and withdrawing it refuses it again."""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from exchange import Party, build_document, build_envelope, default_catalogue, load_input, sign_document
from exchange._workspace import GATEWAY_PARTY, PARTIES_DIR, Workspace, init_country, init_workspace
from exchange.testing.processes import PTX, free_port
from tests.support.tls import context, gateway_ca, serving

pytestmark = pytest.mark.xdist_group("processes")


def envelope_from_cc(cc: Workspace) -> bytes:
    doc_type = default_catalogue().get("certificate-of-origin")
    built = build_document(doc_type, load_input(doc_type.folder / "input.yaml"))
    chamber, node = cc.authority("CC", "chamber-of-commerce"), cc.node("CC")
    document = sign_document(built.xml, chamber.key, list(chamber.signing_chain))
    envelope = build_envelope(document, sender=Party("CC"), receiver=Party("BB"), document_type=doc_type.id,
                              type_version=doc_type.version, standard=doc_type.namespace,
                              created=datetime.now(UTC))
    return sign_document(envelope, node.key, list(node.signing_chain))


def submit(url: str, tls: object, body: bytes) -> httpx.Response:
    return httpx.post(f"{url}/v1/messages", content=body, headers={"Content-Type": "application/xml"},
                      verify=tls, timeout=30)  # type: ignore[arg-type]


def test_a_country_admitted_while_a_mutual_tls_gateway_runs_completes_its_handshake(tmp_path: Path) -> None:
    moment = datetime.now(UTC) - timedelta(minutes=5)
    init_workspace(tmp_path / "network", moment=moment)
    gw = tmp_path / "network" / PARTIES_DIR / GATEWAY_PARTY
    network = Workspace.open(tmp_path / "network")
    cc = init_country(tmp_path / "cc", "CC", moment=moment)
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    command = [PTX, "serve", "gateway", "--tls", "--workspace", str(gw), "--port", str(port), "--log-level", "warning"]
    aa = context(gateway_ca(network), cert=network.file(network.country("AA").tls_client),
                 key=network.file(network.country("AA").tls_client_key))
    tls = context(gateway_ca(network), cert=cc.file(cc.country("CC").tls_client),
                  key=cc.file(cc.country("CC").tls_client_key))
    with serving(command, ready_url=f"{url}/readyz", verify=aa, log=tmp_path / "gateway.log"):
        with pytest.raises(httpx.HTTPError):  # not admitted: the handshake fails, nothing is read
            submit(url, tls, envelope_from_cc(cc))
        data, anchor = cc.export_package("CC", moment=datetime.now(UTC))
        (tmp_path / "cc.json").write_bytes(data)
        done = subprocess.run([PTX, "gateway", "admit", str(tmp_path / "cc.json"), "--anchor-sha256", anchor,
                               "--dir", str(gw)], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        deadline, answer = time.monotonic() + 15, None
        while time.monotonic() < deadline:
            try:
                answer = submit(url, tls, envelope_from_cc(cc))
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert answer is not None, "the admitted country's handshake was still refused"
        # identified as CC over TLS and by its envelope; no agreement with BB yet, so routing says so
        assert answer.status_code == 403 and "GW-NO-AGREEMENT" in answer.text, answer.text
        assert "GW-TRANSPORT" not in answer.text
        removed = subprocess.run([PTX, "gateway", "withdraw", "CC", "--dir", str(gw)], capture_output=True, text=True,
                                 timeout=60)
        assert removed.returncode == 0, removed.stderr
        time.sleep(1.5)
        refused = submit(url, tls, envelope_from_cc(cc))  # the CA stays in the store; the registry refuses it
        assert refused.status_code in (401, 403) and "GW-TRANSPORT-IDENTITY" in refused.text, refused.text
