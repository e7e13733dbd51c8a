"""``ptx serve gateway --hub-port``: one gateway process, one store, two listeners. The main one is plain HTTP (envelopes
authenticate by their signatures); the hub interface's is mutual TLS (an NPPO is its TLS client certificate). A TLS
identity counts only on the TLS listener, and the plain listener serves no NPPO."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from exchange._workspace import GATEWAY_PARTY, PARTIES_DIR, Workspace, init_workspace
from exchange.testing.processes import PTX, OperatorAuth, free_port, running
from tests.gateway.test_process import message
from tests.support.tls import country_client, gateway_ca

pytestmark = pytest.mark.xdist_group("processes")
HUB = "http://ephyto.ippc.int/"
NPPOS = (f'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:hub="{HUB}">'
         "<soap:Body><hub:GetActiveNppos/></soap:Body></soap:Envelope>").encode()
SOAP = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{HUB}IDeliveryService/GetActiveNppos"'}


def test_one_process_serves_plain_submissions_and_the_hub_over_mutual_tls(tmp_path: Path) -> None:
    init_workspace(tmp_path / "workspace", moment=datetime.now(UTC) - timedelta(minutes=5))
    network = Workspace.open(tmp_path / "workspace")
    folder = tmp_path / "workspace" / PARTIES_DIR / GATEWAY_PARTY
    port, hub_port = free_port(), free_port()
    command = [PTX, "serve", "gateway", "--workspace", str(folder), "--port", str(port), "--hub-port", str(hub_port),
               "--node", "BB=http://127.0.0.1:9", "--log-level", "warning"]
    with running(command, health_url=f"http://127.0.0.1:{port}/readyz", env={"PTX_WORKSPACE": str(tmp_path / "x")},
                 log=tmp_path / "gateway.log"):
        plain = f"http://127.0.0.1:{port}"
        accepted = httpx.post(f"{plain}/v1/messages", content=message(network, 1),
                              headers={"Content-Type": "application/xml"}, timeout=30)
        assert accepted.status_code == 202, accepted.text  # a signed envelope, no TLS identity asked for

        tls = country_client(network, "AA", gateway_ca(network))
        listed = httpx.post(f"https://127.0.0.1:{hub_port}/hub/DeliveryService", content=NPPOS, headers=SOAP,
                            verify=tls, timeout=30)
        assert listed.status_code == 200 and b"<Country>AA</Country>" in listed.content.replace(b"ent:", b""), \
            listed.text

        anonymous = httpx.post(f"{plain}/hub/DeliveryService", content=NPPOS, headers=SOAP, timeout=30)
        assert anonymous.status_code == 500 and b"GW-TRANSPORT-CERT-MISSING" in anonymous.content, anonymous.text

        with pytest.raises(httpx.HTTPError):  # the hub listener takes no client without a registered certificate
            httpx.post(f"https://127.0.0.1:{hub_port}/hub/DeliveryService", content=NPPOS, headers=SOAP,
                       verify=str(gateway_ca(network)), timeout=30)
        # one store: the message the plain listener took is the one the operator reads over either
        status = httpx.get(f"{plain}/v1/messages/msg-process-000001", auth=OperatorAuth(folder), timeout=30)
        assert status.status_code == 200 and status.json()["sender"] == "AA"
