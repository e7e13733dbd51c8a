"""An NPPO's own system calling the gateway's ePhyto hub interface (SOAP 1.1, the hub's DeliveryService), as a
national system built for the IPPC hub would: hand-built SOAP, identified by the country's TLS client certificate.

    python hub.py deliver FROM TO CERTIFICATE.xml NUMBER   DeliverEnvelope; prints the hub header sent and answered
    python hub.py track FROM HUB-NUMBER                     GetEnvelopeTrackingInfo
    python hub.py headers COUNTRY                           GetImportEnvelopeHeaders (what waits to be pulled)

The gateway's address is $PTX_HUB_URL (https://127.0.0.1:8600 by default); the workspace is $PTX_WORKSPACE.
"""

from __future__ import annotations

import base64
import os
import sys
from pathlib import Path

import httpx

from exchange import TlsSettings, Workspace, node_tls, parse_xml

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
HUB = "http://ephyto.ippc.int/"


def call(country: str, operation: str, inner: str) -> object:
    workspace = Workspace.open(Path(os.environ["PTX_WORKSPACE"]))
    tls = node_tls(TlsSettings(from_workspace=True), workspace, country).client_context()  # the NPPO's TLS identity
    body = (f'<soap:Envelope xmlns:soap="{SOAP}" xmlns:hub="{HUB}" xmlns:ent="{HUB}HUB.Entities"><soap:Body>'
            f"<hub:{operation}>{inner}</hub:{operation}></soap:Body></soap:Envelope>")
    url = os.environ.get("PTX_HUB_URL", "https://127.0.0.1:8600") + "/hub/DeliveryService"
    response = httpx.post(url, content=body.encode(), verify=tls, timeout=30, headers={
        "Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{HUB}IDeliveryService/{operation}"'})
    root = parse_xml(response.content).getroot()
    for element in root.iter():
        if not isinstance(element.tag, str) or len(element):
            continue
        name = element.tag.rsplit("}", 1)[-1]
        text = element.text or ""
        print(f"{name}: {text[:60] + '...' if len(text) > 60 else text}")
    return root


def main(args: list[str]) -> None:
    if args[0] == "deliver":
        sender, receiver, path, number = args[1:5]
        content = base64.b64encode(Path(path).read_bytes()).decode("ascii")
        header = {"From": sender, "To": receiver, "CertificateType": "851", "CertificateStatus": "70",
                  "NPPOCertificateNumber": number}
        print("sent:", ", ".join(f"{k} {v}" for k, v in header.items()), f"Content ({len(content)} base64 chars)")
        fields = "".join(f"<ent:{k}>{v}</ent:{k}>" for k, v in {**header, "Content": content}.items())
        call(sender, "DeliverEnvelope", f"<hub:env>{fields}</hub:env>")
    elif args[0] == "track":
        call(args[1], "GetEnvelopeTrackingInfo", f"<hub:hubTrackingNumber>{args[2]}</hub:hubTrackingNumber>")
    elif args[0] == "headers":
        call(args[1], "GetImportEnvelopeHeaders", "")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
