"""The gateway's ePhyto hub interface in process: a hand-built SOAP 1.1 request as an NPPO's own system would send
it (the TLS client certificate injected into the ASGI scope as the server would), through send, list, pull,
acknowledge and track, and a SOAP fault with a code for every refusal."""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from exchange import HubTracking
from exchange._dsig import sign_document
from exchange._tls import TLS_EXTENSION, gateway_transport_policy
from exchange._workspace import Workspace
from exchange._xml import parse_xml
from gateway._ephyto import PATH, HubMailbox, HubRecord
from gateway._status import MessageStatus
from gateway._store import Store
from tests.gateway.conftest import MOMENT
from tests.support.inprocess import InProcessGateway, RecordingReceiver

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
HUB = "http://ephyto.ippc.int/"
ENT = "http://ephyto.ippc.int/HUB.Entities"
SAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "ephyto-sps-certificate" / "samples"
CERTIFICATE = (SAMPLES / "valid" / "three-lines-attachment-languages.xml").read_bytes()


class AsNppo:
    """ASGI wrapper: the TLS client certificate of the country named in the test header, as the server fills it."""

    def __init__(self, app: Any, workspace: Workspace) -> None:
        self.app, self.workspace = app, workspace

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            country = dict(scope["headers"]).get(b"x-test-nppo")
            if country:
                pem = self.workspace.file(self.workspace.country(country.decode()).tls_client).read_text()
                scope = {**scope, "extensions": {**(scope.get("extensions") or {}),
                                                 TLS_EXTENSION: {"client_cert_chain": [pem]}}}
        await self.app(scope, receive, send)


@pytest.fixture
def hub(workspace: Workspace, tmp_path: Path) -> Iterator[InProcessGateway]:
    # BB's NPPO uses a hub client (no ptx node for BB here): what is delivered to BB waits to be pulled
    gateway = InProcessGateway(workspace, tmp_path / "gateway.db", MOMENT, RecordingReceiver(workspace, MOMENT),
                               node_urls={"AA": "http://aa.test"})
    gateway.app.state.gateway.transport = gateway_transport_policy(workspace)  # as with --tls
    gateway.run(gateway._client.aclose())
    gateway._client = httpx.AsyncClient(transport=httpx.ASGITransport(app=AsNppo(gateway.app, workspace)),
                                        base_url="http://gateway.test", timeout=60)
    yield gateway
    gateway.close()


def signed(workspace: Workspace, document: bytes = CERTIFICATE, issuer: str = "nppo") -> bytes:
    authority = workspace.authority("AA", issuer)
    return sign_document(document, authority.key, authority.signing_chain)


def envelope(content: bytes, **fields: str) -> str:
    values = {"From": "AA", "To": "BB", "CertificateType": "851", "CertificateStatus": "70",
              "NPPOCertificateNumber": "AA-EPHYTO-2026-004512", **fields}
    header = "".join(f"<ent:{name}>{value}</ent:{name}>" for name, value in values.items())
    return header + f"<ent:Content>{base64.b64encode(content).decode()}</ent:Content>"


def call(hub: InProcessGateway, operation: str, inner: str = "", nppo: str | None = "AA") -> tuple[int, Any]:
    body = (f'<soap:Envelope xmlns:soap="{SOAP}" xmlns:hub="{HUB}" xmlns:ent="{ENT}"><soap:Body>'
            f"<hub:{operation}>{inner}</hub:{operation}></soap:Body></soap:Envelope>")
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{HUB}IDeliveryService/{operation}"'}
    if nppo:
        headers["X-Test-NPPO"] = nppo
    response = hub.post(PATH, content=body.encode(), headers=headers)
    return response.status_code, parse_xml(response.content).getroot()


def text(root: Any, local: str) -> list[str]:
    return [e.text or "" for e in root.iter() if isinstance(e.tag, str) and e.tag.endswith("}" + local)]


def fault(root: Any) -> str:
    (string,) = [e.text for e in root.iter("faultstring")]
    return str(string)


def test_send_list_pull_acknowledge_and_track(hub: InProcessGateway, workspace: Workspace) -> None:
    document = signed(workspace)
    status, answer = call(hub, "DeliverEnvelope", f"<hub:env>{envelope(document)}</hub:env>")
    assert status == 200, fault(answer)
    (number,) = text(answer, "hubDeliveryNumber")
    assert text(answer, "HUBTrackingInfo") == ["PendingDelivery"]

    status, again = call(hub, "DeliverEnvelope", f"<hub:env>{envelope(document)}</hub:env>")
    assert status == 200 and text(again, "hubDeliveryNumber") == [number]  # an identical resend: the same delivery

    assert text(call(hub, "GetImportEnvelopeHeaders", nppo="BB")[1], "hubDeliveryNumber") == [number]
    assert text(call(hub, "GetImportEnvelopeHeaders", nppo="AA")[1], "hubDeliveryNumber") == []
    _, pulled = call(hub, "PULLSingleImportEnvelope", f"<hub:hubTrackingNumber>{number}</hub:hubTrackingNumber>",
                     nppo="BB")
    assert base64.b64decode(text(pulled, "Content")[0]) == document  # byte for byte as the NPPO signed it
    _, everything = call(hub, "PULLImportEnvelope", nppo="BB")
    assert text(everything, "hubDeliveryNumber") == [number]

    status, _ = call(hub, "AcknowledgeEnvelopeReceipt", f"<hub:hubTrackingNumber>{number}</hub:hubTrackingNumber>",
                     nppo="BB")
    assert status == 200
    _, tracked = call(hub, "GetEnvelopeTrackingInfo", f"<hub:hubTrackingNumber>{number}</hub:hubTrackingNumber>")
    assert text(tracked, "HUBTrackingInfo") == ["Delivered"]
    assert text(call(hub, "GetImportEnvelopeHeaders", nppo="BB")[1], "hubDeliveryNumber") == []
    status, twice = call(hub, "AcknowledgeEnvelopeReceipt",
                         f"<hub:hubTrackingNumber>{number}</hub:hubTrackingNumber>", nppo="BB")
    assert status == 500 and fault(twice).startswith("GW-RETRY-NOT-ALLOWED")


def test_warnings_and_unreadable(hub: InProcessGateway, workspace: Workspace) -> None:
    numbers = []
    for index in (1, 2):
        document = signed(workspace, CERTIFICATE.replace(b"AA-EPHYTO-2026-004512", f"AA-EP-{index}".encode()))
        _, answer = call(hub, "ValidateAndDeliverEnvelope",
                         f"<hub:envelope>{envelope(document, NPPOCertificateNumber=f'AA-EP-{index}')}</hub:envelope>")
        numbers += text(answer, "hubDeliveryNumber")
    call(hub, "AdvancedAcknowledgeEnvelopeReceipt", f"<hub:hubTrackingNumber>{numbers[0]}</hub:hubTrackingNumber>"
         "<hub:warningMessage>SEVERE findings in our validation</hub:warningMessage>", nppo="BB")
    call(hub, "AcknowledgeFailedEnvelopeReceipt", f"<hub:hubTrackingNumber>{numbers[1]}</hub:hubTrackingNumber>"
         "<hub:message>cannot parse</hub:message>", nppo="BB")
    tracking = [text(call(hub, "GetEnvelopeTrackingInfo", f"<hub:hubTrackingNumber>{n}</hub:hubTrackingNumber>")[1],
                     "HUBTrackingInfo") for n in numbers]
    assert tracking == [["DeliveredWithWarnings"], ["DeliveredNotReadable"]]
    _, unknown = call(hub, "GetEnvelopeTrackingInfo", "<hub:hubTrackingNumber>HUB-NOPE</hub:hubTrackingNumber>")
    assert text(unknown, "HUBTrackingInfo") == ["EnvelopeNotExists"]


@pytest.mark.parametrize(
    ("inner", "nppo", "code"),
    [
        ("<hub:env>{ok}</hub:env>", None, "GW-TRANSPORT-CERT-MISSING"),
        ("<hub:env>{ok}</hub:env>", "BB", "GW-TRANSPORT-IDENTITY"),  # BB's certificate, From AA
        ("<hub:env>{to_cc}</hub:env>", "AA", "GW-RECEIVER-UNKNOWN"),
        ("<hub:env>{wrong_number}</hub:env>", "AA", "EPHYTO-HEADER-MISMATCH"),
        ("<hub:env>{chamber}</hub:env>", "AA", "TRUST-ISSUER-NOT-AUTHORISED"),
        ("<hub:env>{unsigned_reexport}</hub:env>", "AA", "EPHYTO-REEXPORT-01"),
        ("<hub:env><ent:From>AA</ent:From></hub:env>", "AA", "EPHYTO-FIELD-MISSING"),
    ],
)
def test_every_refusal_is_a_fault_with_a_code(hub: InProcessGateway, workspace: Workspace, inner: str,
                                              nppo: str | None, code: str) -> None:
    reexport = (SAMPLES / "invalid" / "reexport-without-original.xml").read_bytes()
    parts = {
        "ok": envelope(signed(workspace)),
        "to_cc": envelope(signed(workspace), To="CC"),
        "wrong_number": envelope(signed(workspace), NPPOCertificateNumber="AA-OTHER"),
        "chamber": envelope(signed(workspace, issuer="chamber-of-commerce")),
        "unsigned_reexport": envelope(reexport, CertificateType="657",
                                      NPPOCertificateNumber="AA-EPHYTO-RE-2026-000218"),
    }
    status, answer = call(hub, "DeliverEnvelope", inner.format(**parts), nppo=nppo)
    assert status == 500
    codes = fault(answer) + " ".join(text(answer, "message"))
    assert code in codes, codes


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"not xml", "XML-EMPTY"),
        (b"<Envelope", "XML-MALFORMED"),
        (b"<Envelope/>", "EPHYTO-SOAP-MALFORMED"),
        (f'<s:Envelope xmlns:s="{SOAP}"><s:Body><x:DeliverPhytoEnvelope xmlns:x="{HUB}"/></s:Body></s:Envelope>'
         .encode(), "EPHYTO-OPERATION-UNKNOWN"),
        (b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>', "XML-EXTERNAL-FORBIDDEN"),
    ],
)
def test_malformed_requests_get_a_fault_with_a_code(hub: InProcessGateway, body: bytes, code: str) -> None:
    response = hub.post(PATH, content=body, headers={"Content-Type": "text/xml", "X-Test-NPPO": "AA"})
    assert response.status_code == 500 and response.headers["content-type"].startswith("text/xml")
    assert fault(parse_xml(response.content).getroot()).startswith(code)


def test_validate_phyto_xml_in_the_hub_form(hub: InProcessGateway) -> None:
    reexport = (SAMPLES / "invalid" / "reexport-without-original.xml").read_text()
    escaped = reexport.replace("&", "&amp;").replace("<", "&lt;")
    _, answer = call(hub, "ValidatePhytoXML", f"<hub:ePhytoXML>{escaped}</hub:ePhytoXML>", nppo=None)
    assert "MandatoryElements" in [e.text for e in answer.iter("area")]
    assert "SEVERE" in [e.text for e in answer.iter("level")]
    assert any((e.text or "").startswith("EPHYTO-REEXPORT-01") for e in answer.iter("msg"))


def test_active_nppos_and_the_served_wsdl(hub: InProcessGateway) -> None:
    _, answer = call(hub, "GetActiveNppos")
    assert text(answer, "Country") == ["AA", "BB"]
    wsdl = hub.get(PATH, params={"wsdl": ""})
    assert wsdl.status_code == 200
    root = parse_xml(wsdl.content).getroot()
    address = [e.get("location") for e in root.iter("{http://schemas.xmlsoap.org/wsdl/soap/}address")]
    assert address == ["http://gateway.test/hub/DeliveryService"]


def test_the_mailbox_reads_beside_a_writer_without_taking_the_write_lock(tmp_path: Path) -> None:
    """The hub mailbox reads as a reader (the store's readers' engine, a deferred BEGIN on SQLite): another
    connection holding the write lock does not make a pull wait out the busy timeout and fail."""
    store = Store.open(f"sqlite:///{tmp_path / 'gateway.db'}", busy_timeout=0.2)
    mailbox = HubMailbox(store)
    record = HubRecord(hub_number="HUB-1", message_id="msg-hub-1", sender="AA", receiver="BB", certificate_type=851,
                       certificate_status=70, nppo_number="AA-1", content=b"<Envelope/>", digest="0" * 64,
                       status=MessageStatus.ACCEPTED, tracking=HubTracking.PENDING_DELIVERY, error_message=None,
                       report={"verdict": "ACCEPTED"})
    mailbox.add(record, MOMENT)
    writer = sqlite3.connect(tmp_path / "gateway.db", isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE ephyto_envelopes SET error_message = 'being written' WHERE hub_number = 'HUB-1'")
        assert mailbox.get("HUB-1") == record  # the last committed state, not the writer's
        assert mailbox.by_message_id("msg-hub-1") == record
        assert [found.hub_number for found in mailbox.pending_for("BB")] == ["HUB-1"]
        writer.execute("ROLLBACK")
    finally:
        writer.close()
        store.close()
