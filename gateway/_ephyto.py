"""The gateway as an ePhyto hub: the hub's DeliveryService (SOAP 1.1) for national systems built for the hub.

``POST /hub/DeliveryService`` takes a SOAP 1.1 envelope with one operation of the hub's published WSDL
(``../shared/corpus/ephyto/ephyto.wsdl``); ``GET /hub/DeliveryService?wsdl`` serves this project's own WSDL for
the operations implemented (:mod:`gateway._ephyto_wsdl`), with the address of the server that answers.

Authentication is the hub's: the TLS client certificate identifies the NPPO (the gateway's registered TLS client
certificate of each country, mutual TLS on: ``ptx serve gateway --tls``). Without one, every operation but
ValidatePhytoXML is refused with ``GW-TRANSPORT-CERT-MISSING``.

What a delivered certificate goes through: the ePhyto envelope's ``Content`` (the certificate, base64) is checked
by the one check engine (:mod:`exchange._engine`) with the hub interface's profile: the steps of the gateway's
profile that concern the document (size, routing and agreement, duplicate, document type, schema, rules,
signature, issuer trust in what the receiver recognises); ``sender-authentication`` is the TLS identification
that came before. The header must say what the certificate says (From = exporting country, To = importing
country, type, status, number: ``EPHYTO-HEADER-MISMATCH``). A refused delivery is a SOAP fault
(``HubWebException``) whose message lists every code; it is audited and never stored for delivery.

An accepted certificate is kept in the hub mailbox (``ephyto_envelopes`` in the gateway's database, made by the
store's migrations). Where it goes from there depends on the receiver's system:

- the receiver runs a **ptx node** (a node URL is configured for it, ``PTX_NODE_URLS``): the certificate is
  forwarded through the gateway's normal store and forward, as message ``forwarded_as`` (the hub message id
  ``ephyto:<From>:<NPPOCertificateNumber>`` when it fits the envelope's id pattern). Its envelope is signed by the
  **gateway** (the gateway has no node's key and never signs as one); the node takes such an envelope only for
  the ePhyto type (``NODE-SENDER-RELAYED``, :data:`exchange.NODE_PROFILE`) and checks the NPPO's signature and
  issuer with its own trust, then answers a signed receipt the gateway verifies. HUBTrackingInfo is then that
  message's status (``EPHYTO_EQUIVALENT``); it is not listed for pulling, and only the node's receipt settles it;
- otherwise its receiver's **hub client** pulls and acknowledges it. Statuses and the hub's HUBTrackingInfo::

    ptx status          HUBTrackingInfo          how it got there
    ACCEPTED            PendingDelivery          delivered to the hub interface, not yet acknowledged
    ACKNOWLEDGED        Delivered                AcknowledgeEnvelopeReceipt
    ACKNOWLEDGED        DeliveredWithWarnings    AdvancedAcknowledgeEnvelopeReceipt (the warning is kept)
    RECEIVER_REJECTED   DeliveredNotReadable     AcknowledgeFailedEnvelopeReceipt (the message is kept)
    (unknown number)    EnvelopeNotExists        GetEnvelopeTrackingInfo of a number the caller cannot see

Every fault carries a code of the catalogue (``EPHYTO-*``, ``GW-*``) at the start of its faultstring and in the
HubWebException message; nothing answers a 5xx without a SOAP fault.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
import logging
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from lxml import etree
from sqlalchemy import insert, select, update
from starlette.concurrency import run_in_threadpool

from exchange import (
    EPHYTO_TYPE,
    GATEWAY_PROFILE,
    CheckStatus,
    Code,
    Engine,
    EnvelopeHeader,
    ExchangeError,
    Finding,
    HubTracking,
    Outcome,
    Party,
    Previous,
    Profile,
    Severity,
    Step,
    Validator,
    XmlError,
    build_envelope,
    hub_results,
    parse_xml,
    peer_certificate,
    sign_document,
)
from gateway._ephyto_wsdl import service_wsdl
from gateway._status import EPHYTO_EQUIVALENT, MessageStatus, Verdict
from gateway._store import IncomingMessage, Store, hub_envelopes

log = logging.getLogger("ptx.gateway.ephyto")

PATH = "/hub/DeliveryService"
#: the envelope schema's MessageIdType: a forwarded certificate keeps its hub message id when it fits
_MESSAGE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@\-]{7,127}$")


class Ns(StrEnum):
    """The namespaces of the hub's SOAP messages (the published WSDL's)."""

    SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
    HUB = "http://ephyto.ippc.int/"
    ENTITIES = "http://ephyto.ippc.int/HUB.Entities"


#: The hub interface's steps: the gateway's document checks; the sender was identified by TLS before the run.
HUB_PROFILE = Profile(
    "hub interface", "GW",
    (Step.SIZE, Step.SENDER, Step.ROUTING, Step.DUPLICATE, Step.DOCUMENT_TYPE, Step.DOCUMENT_SCHEMA,
     Step.DOCUMENT_RULES, Step.DOCUMENT_SIGNATURE, Step.ISSUER_TRUST),
    GATEWAY_PROFILE.receiver_code,
)


class HubEngine(Engine):
    """The one check engine run on a certificate whose sender the transport identified (no ptx envelope): every
    decision is the engine's own step (:meth:`Engine.run_identified`); only the source of the header differs, the
    hub envelope's fields with the TLS-identified NPPO as sender instead of a node-signed ptx envelope."""

    def run_certificate(
        self, header: EnvelopeHeader, *, moment: datetime, duplicates: Callable[[str], Previous | None]
    ) -> Outcome:
        return self.run_identified(header, moment=moment, duplicates=duplicates)


# --- the hub mailbox ---------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class HubRecord:
    hub_number: str
    message_id: str
    sender: str
    receiver: str
    certificate_type: int
    certificate_status: int
    nppo_number: str
    content: bytes
    digest: str
    status: MessageStatus
    tracking: HubTracking
    error_message: str | None
    report: Mapping[str, Any]
    #: the gateway message id under which it was forwarded to the receiver's ptx node (None: pulled by a hub client)
    forwarded_as: str | None = None


def _record(row: Any) -> HubRecord:
    return HubRecord(
        hub_number=row.hub_number, message_id=row.message_id, sender=row.sender, receiver=row.receiver,
        certificate_type=row.certificate_type, certificate_status=row.certificate_status,
        nppo_number=row.nppo_number, content=bytes(row.content), digest=row.digest,
        status=MessageStatus(row.status), tracking=HubTracking(row.tracking), error_message=row.error_message,
        report=json.loads(row.report), forwarded_as=row.forwarded_as,
    )


class HubMailbox:
    """Envelopes delivered through the hub interface, waiting for their receiver to pull and acknowledge them."""

    def __init__(self, store: Store) -> None:
        self.engine = store.engine  # the store's: the table is made by its migrations (0003)
        self._reading = store.reading  # reads as a reader, beside the writers' connection (Store.reading)

    def by_message_id(self, message_id: str) -> HubRecord | None:
        with self._reading() as conn:
            row = conn.execute(select(hub_envelopes).where(hub_envelopes.c.message_id == message_id)).first()
        return _record(row) if row is not None else None

    def get(self, hub_number: str) -> HubRecord | None:
        with self._reading() as conn:
            row = conn.execute(select(hub_envelopes).where(hub_envelopes.c.hub_number == hub_number)).first()
        return _record(row) if row is not None else None

    def add(self, record: HubRecord, moment: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(hub_envelopes).values(
                hub_number=record.hub_number, message_id=record.message_id, sender=record.sender,
                receiver=record.receiver, certificate_type=record.certificate_type,
                certificate_status=record.certificate_status, nppo_number=record.nppo_number,
                content=record.content, digest=record.digest, status=record.status.value,
                tracking=record.tracking.value, error_message=record.error_message,
                report=json.dumps(dict(record.report), sort_keys=True), received_at=moment, updated_at=moment,
                forwarded_as=record.forwarded_as,
            ))

    def pending_for(self, receiver: str, sender: str | None = None) -> list[HubRecord]:
        query = select(hub_envelopes).where(
            hub_envelopes.c.receiver == receiver, hub_envelopes.c.status == MessageStatus.ACCEPTED.value,
            hub_envelopes.c.forwarded_as.is_(None),  # forwarded to the receiver's node: not pulled twice
        )
        if sender:
            query = query.where(hub_envelopes.c.sender == sender)
        with self._reading() as conn:
            rows = conn.execute(query.order_by(hub_envelopes.c.received_at, hub_envelopes.c.hub_number)).all()
        return [_record(row) for row in rows]

    def mark_pulled(self, hub_numbers: Sequence[str], moment: datetime) -> None:
        if hub_numbers:
            with self.engine.begin() as conn:
                conn.execute(update(hub_envelopes).where(hub_envelopes.c.hub_number.in_(list(hub_numbers)))
                             .values(pulled_at=moment, updated_at=moment))

    def settle(self, hub_number: str, status: MessageStatus, tracking: HubTracking, message: str | None,
               moment: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(hub_envelopes).where(hub_envelopes.c.hub_number == hub_number).values(
                status=status.value, tracking=tracking.value, error_message=message, updated_at=moment))


# --- SOAP ------------------------------------------------------------------------------------------------------


class SoapFault(Exception):
    """A SOAP fault to answer: ``code`` first in the faultstring and the HubWebException message."""

    def __init__(self, code: Code | str, message: str, *, client: bool = True, details: Sequence[str] = ()) -> None:
        super().__init__(message)
        #: a catalogue code, or a business-rule code of the certificate's type (EPHYTO-REEXPORT-01, ...)
        self.code = code.value if isinstance(code, Code) else code
        self.message, self.client, self.details = message, client, tuple(details)


def _q(ns: Ns, local: str) -> str:
    return f"{{{ns.value}}}{local}"


def _soap(body_child: etree._Element | None = None) -> etree._Element:
    envelope = etree.Element(_q(Ns.SOAP, "Envelope"), nsmap={"soap": Ns.SOAP.value, "hub": Ns.HUB.value,
                                                            "ent": Ns.ENTITIES.value})
    body = etree.SubElement(envelope, _q(Ns.SOAP, "Body"))
    if body_child is not None:
        body.append(body_child)
    return envelope


def _xml_response(envelope: etree._Element, status: int = 200) -> Response:
    return Response(etree.tostring(envelope, xml_declaration=True, encoding="UTF-8"), status_code=status,
                    media_type="text/xml; charset=utf-8")


def fault_response(fault: SoapFault) -> Response:
    root = _soap()
    body = root[0]
    element = etree.SubElement(body, _q(Ns.SOAP, "Fault"))
    etree.SubElement(element, "faultcode").text = "soap:Client" if fault.client else "soap:Server"
    etree.SubElement(element, "faultstring").text = f"{fault.code}: {fault.message}"
    detail = etree.SubElement(element, "detail")
    exception = etree.SubElement(detail, _q(Ns.HUB, "HubWebException"))
    etree.SubElement(exception, _q(Ns.HUB, "message")).text = "; ".join(
        [f"{fault.code}: {fault.message}", *fault.details])
    return _xml_response(root, 500)  # SOAP 1.1 over HTTP: a fault is answered 500


def _child(parent: etree._Element, local: str) -> etree._Element | None:
    """The first child element named ``local``, in any namespace (hand-built clients differ in qualification)."""
    for child in parent:
        if isinstance(child.tag, str) and etree.QName(child).localname == local:
            return child
    return None


def _text(parent: etree._Element, local: str, *, required: bool = True) -> str | None:
    child = _child(parent, local)
    value = (child.text or "").strip() if child is not None else ""
    if not value and required:
        raise SoapFault(Code.EPHYTO_FIELD_MISSING, f"{etree.QName(parent).localname}/{local} is required")
    return value or None


def _add(parent: etree._Element, ns: Ns | None, local: str, text: str | int | None) -> etree._Element:
    element = etree.SubElement(parent, _q(ns, local) if ns is not None else local)
    if text is not None:
        element.text = str(text)
    return element


def _header_element(parent: etree._Element, ns: Ns, local: str, record: HubRecord, *, content: bool = False) -> None:
    element = _add(parent, ns, local, None)
    for name, value in (("From", record.sender), ("To", record.receiver), ("CertificateType", record.certificate_type),
                        ("CertificateStatus", record.certificate_status),
                        ("NPPOCertificateNumber", record.nppo_number), ("hubDeliveryNumber", record.hub_number),
                        ("HUBTrackingInfo", record.tracking.value)):
        _add(element, Ns.ENTITIES, name, value)
    if record.error_message:
        _add(element, Ns.ENTITIES, "hubDeliveryErrorMessage", record.error_message)
    if content:
        _add(element, Ns.ENTITIES, "Content", base64.b64encode(record.content).decode("ascii"))


# --- the operations -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One SOAP call: the operation element, the caller (the NPPO its TLS certificate names) and the moment."""

    operation: etree._Element
    party: str | None
    moment: datetime

    def caller(self) -> str:
        if self.party is None:
            raise SoapFault(Code.GW_TRANSPORT_CERT_MISSING,
                            "the hub interface identifies the NPPO by its TLS client certificate; none was presented")
        return self.party


class HubService:
    """The operations, on the gateway's engine, store and catalogue. Safe to share between concurrent requests."""

    def __init__(self, gateway: Any) -> None:
        self.gateway = gateway
        self.catalogue = gateway.catalogue
        self.doc_type = self.catalogue.get(EPHYTO_TYPE)
        self.engine = HubEngine(HUB_PROFILE, catalogue=gateway.catalogue, parties=gateway.members,
                                limits=gateway.pipeline.limits, document_policy=gateway.pipeline.document_policy)
        self.validator = Validator(self.catalogue, limits=gateway.pipeline.limits)
        self.mailbox = HubMailbox(gateway.store)
        self.operations: dict[str, Callable[[Call], etree._Element]] = {
            "DeliverEnvelope": self.deliver,
            "ValidateAndDeliverEnvelope": self.deliver,
            "GetEnvelopeTrackingInfo": self.tracking_info,
            "GetImportEnvelopeHeaders": self.import_headers,
            "PULLImportEnvelope": self.pull_all,
            "PULLSingleImportEnvelope": self.pull_one,
            "AcknowledgeEnvelopeReceipt": self.acknowledge,
            "AdvancedAcknowledgeEnvelopeReceipt": self.acknowledge_with_warning,
            "AcknowledgeFailedEnvelopeReceipt": self.acknowledge_failed,
            "ValidatePhytoXML": self.validate_xml,
            "GetActiveNppos": self.active_nppos,
        }

    def handle(self, body: bytes, party: str | None, moment: datetime) -> etree._Element:
        try:
            tree = parse_xml(body, limits=self.gateway.pipeline.limits)
        except XmlError as exc:
            raise SoapFault(exc.code, exc.message) from exc
        root = tree.getroot()
        soap_body = _child(root, "Body")
        if root.tag != _q(Ns.SOAP, "Envelope") or soap_body is None or soap_body.getparent() is not root:
            raise SoapFault(Code.EPHYTO_SOAP_MALFORMED, "expected a SOAP 1.1 Envelope with a Body "
                            f"(namespace {Ns.SOAP.value})")
        operations = [child for child in soap_body if isinstance(child.tag, str)]
        if len(operations) != 1:
            raise SoapFault(Code.EPHYTO_SOAP_MALFORMED, f"the Body holds {len(operations)} elements, not one operation")
        name = etree.QName(operations[0]).localname
        operation = self.operations.get(name)
        if operation is None:
            raise SoapFault(Code.EPHYTO_OPERATION_UNKNOWN, f"operation {name!r} is not implemented here")
        return operation(Call(operations[0], party, moment))

    # -- send

    def deliver(self, call: Call) -> etree._Element:
        sender = call.caller()
        envelope = next((c for c in call.operation if isinstance(c.tag, str)), None)
        if envelope is None:
            raise SoapFault(Code.EPHYTO_FIELD_MISSING, f"{etree.QName(call.operation).localname} carries no envelope")
        values = {name: _text(envelope, name) for name in
                  ("From", "To", "CertificateType", "CertificateStatus", "NPPOCertificateNumber", "Content")}
        try:
            content = base64.b64decode("".join(str(values["Content"]).split()), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise SoapFault(Code.EPHYTO_CONTENT_INVALID, "Content is not base64") from exc
        problems = []
        if values["From"] != sender:
            problems.append(Finding.of(Code.GW_TRANSPORT_IDENTITY, "sender-authentication",
                                       f"the TLS client is {sender}, but the envelope says From {values['From']}"))
        for field in ("CertificateType", "CertificateStatus"):
            if not str(values[field]).isdigit():
                problems.append(Finding.of(Code.EPHYTO_FIELD_MISSING, "hub-header", f"{field} is not a number"))
        if problems:
            raise SoapFault(problems[0].code, problems[0].message,
                            details=[f"{p.code}: {p.message}" for p in problems[1:]])
        nppo_number = str(values["NPPOCertificateNumber"])
        message_id = f"ephyto:{sender}:{nppo_number}"
        header = EnvelopeHeader(
            sender=Party(sender), receivers=(Party(str(values["To"])),), document_type=EPHYTO_TYPE,
            type_version=self.doc_type.version, standard=self.doc_type.namespace, message_id=message_id,
            created=call.moment, conversation_id=message_id, agreement_ref=None, payload=content,
        )

        def earlier(mid: str) -> Previous | None:
            found = self.mailbox.by_message_id(mid)
            return Previous(digest=found.digest, answer={"hub_number": found.hub_number}) if found else None

        outcome = self.engine.run_certificate(header, moment=call.moment, duplicates=earlier)
        if outcome.previous is not None:  # identical resend: the earlier answer, not a second delivery
            record = self.mailbox.get(str(outcome.previous.answer["hub_number"]))
            assert record is not None
            if record.forwarded_as is not None and self.gateway.store.find(record.forwarded_as) is None:
                self._forward(record, call.moment)  # the first delivery stopped between mailbox and store
            return self._header_response(call, "Result", self._current(record))
        findings = list(outcome.findings)
        if outcome.document_type == EPHYTO_TYPE and outcome.check("document-type").status is CheckStatus.PASSED:
            findings += self._header_mismatches(content, values)
        errors = [f for f in findings if f.is_error]
        report = {"checks": outcome.checks_list(), "codes": [f.code for f in findings],
                  "http_status": outcome.http_status}
        if errors or not outcome.accepted:
            self.gateway.store.append_audit("ephyto.refused", actor="gateway", message_id=message_id, detail={
                "sender": sender, "receiver": values["To"], "digest": outcome.digest,
                "codes": sorted({f.code for f in errors})})
            first = errors[0] if errors else Finding.of(Code.GW_CONFIG_FAULT, "hub", "not accepted")
            raise SoapFault(first.code, f"the certificate was refused ({len(errors)} error(s)): {first.message}",
                            details=[f"{f.code}: {f.message}" for f in errors[1:]])
        warnings = [f"{f.code}: {f.message}" for f in findings if f.severity != Severity.ERROR]
        hub_number = f"HUB-{uuid.uuid4().hex[:20].upper()}"
        forwarded_as = None  # a receiver that runs a ptx node gets it from the store and forward, not by pulling
        if self.gateway.inbox_url(header.receiver.identifier) is not None:
            forwarded_as = message_id if _MESSAGE_ID.match(message_id) else f"ephyto:{hub_number}"
        record = HubRecord(
            hub_number=hub_number, message_id=message_id, sender=sender,
            receiver=header.receiver.identifier, certificate_type=int(str(values["CertificateType"])),
            certificate_status=int(str(values["CertificateStatus"])), nppo_number=nppo_number, content=content,
            digest=outcome.digest, status=MessageStatus.ACCEPTED, tracking=HubTracking.PENDING_DELIVERY,
            error_message="; ".join(warnings) or None, report=report, forwarded_as=forwarded_as,
        )
        self.mailbox.add(record, call.moment)
        if forwarded_as is not None:
            self._forward(record, call.moment)
        self.gateway.store.append_audit("ephyto.accepted", actor="gateway", message_id=message_id, detail={
            "hub_number": record.hub_number, "sender": sender, "receiver": record.receiver, "digest": record.digest,
            "issuer": outcome.issuer})
        log.info("hub delivery %s %s->%s accepted as %s", nppo_number, sender, record.receiver, record.hub_number)
        return self._header_response(call, "Result", record)

    def _forward(self, record: HubRecord, moment: datetime) -> None:
        """Queue an accepted certificate for its receiver's node: a ptx envelope around the NPPO-signed bytes, signed
        by the gateway (never as the sender's node: the node takes it as relayed from the hub interface, for this
        type only, and checks the certificate with its own trust), delivered, retried and receipted as any."""
        assert record.forwarded_as is not None
        unsigned = build_envelope(
            record.content, sender=Party(record.sender), receiver=Party(record.receiver), document_type=EPHYTO_TYPE,
            type_version=self.doc_type.version, standard=self.doc_type.namespace, message_id=record.forwarded_as,
            conversation_id=record.forwarded_as, created=moment,
        )
        signer = self.gateway.signer
        envelope = sign_document(unsigned, signer.key, signer.signing_chain)
        inbox_url = self.gateway.inbox_url(record.receiver)
        assert inbox_url is not None
        answer = {
            "message_id": record.forwarded_as, "verdict": "ACCEPTED", "status": "ACCEPTED", "http_status": 202,
            "checks": record.report.get("checks", []), "received_at": moment.isoformat(), "sender": record.sender,
            "receiver": record.receiver, "document_type": EPHYTO_TYPE,
            "digest": hashlib.sha256(envelope).hexdigest(), "hub_number": record.hub_number,
            "via": "ePhyto hub interface (sender identified by its TLS client certificate; envelope signed by the "
                   "gateway)",
        }
        self.gateway.store.record_message(IncomingMessage(
            message_id=record.forwarded_as, sender=record.sender, receiver=record.receiver,
            document_type=EPHYTO_TYPE, envelope=envelope, verdict=Verdict.ACCEPTED, report=answer,
            received_at=moment, conversation_id=record.forwarded_as, inbox_url=inbox_url,
        ))
        if self.gateway.deliverer is not None:
            self.gateway.deliverer.wake()
        log.info("hub delivery %s forwarded to %s's node as message %s", record.hub_number, record.receiver,
                 record.forwarded_as)

    def _current(self, record: HubRecord) -> HubRecord:
        """A forwarded certificate's status is its message's at the gateway, in the hub's words."""
        if record.forwarded_as is None:
            return record
        if self.gateway.store.find(record.forwarded_as) is None:
            return record
        detail = self.gateway.store.get(record.forwarded_as)
        status = MessageStatus(detail.record.status)
        tracking = HubTracking(EPHYTO_EQUIVALENT[status] or HubTracking.PENDING_DELIVERY.value)
        receipt = detail.receipt
        why = receipt.reason if status is MessageStatus.RECEIVER_REJECTED and receipt is not None else None
        return dataclasses.replace(record, status=status, tracking=tracking,
                                   error_message=why or detail.record.last_error or record.error_message)

    def _header_mismatches(self, content: bytes, values: Mapping[str, str | None]) -> list[Finding]:
        tree = parse_xml(content, limits=self.gateway.pipeline.limits)
        ns = {"rsm": self.doc_type.namespace,
              "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:21"}

        def value(path: str) -> str:
            return str(tree.xpath(f"normalize-space({path})", namespaces=ns))

        document = "/rsm:SPSCertificate/rsm:SPSExchangedDocument/ram:"
        consignment = "/rsm:SPSCertificate/rsm:SPSConsignment/ram:"
        pairs = (("From", consignment + "ExportSPSCountry/ram:ID"), ("To", consignment + "ImportSPSCountry/ram:ID"),
                 ("CertificateType", document + "TypeCode"), ("CertificateStatus", document + "StatusCode"),
                 ("NPPOCertificateNumber", document + "ID"))
        return [
            Finding.of(Code.EPHYTO_HEADER_MISMATCH, "hub-header",
                       f"the envelope says {field} {values[field]!r}, the certificate {value(path)!r}",
                       path=path.replace("rsm:", "").replace("ram:", ""))
            for field, path in pairs if value(path) != values[field]
        ]

    # -- track

    def _visible(self, call: Call, hub_number: str) -> HubRecord:
        party = call.caller()
        record = self.mailbox.get(hub_number)
        if record is None or party not in (record.sender, record.receiver):
            raise SoapFault(Code.EPHYTO_ENVELOPE_UNKNOWN, f"no envelope {hub_number!r} for {party}")
        return record

    def tracking_info(self, call: Call) -> etree._Element:
        number = str(_text(call.operation, "hubTrackingNumber"))
        party = call.caller()
        record = self.mailbox.get(number)
        if record is None or party not in (record.sender, record.receiver):
            answer = etree.Element(_q(Ns.HUB, "GetEnvelopeTrackingInfoResponse"))
            result = _add(answer, Ns.HUB, "GetEnvelopeTrackingInfoResult", None)
            for name, text in (("From", ""), ("To", ""), ("CertificateType", 0), ("CertificateStatus", 0),
                               ("NPPOCertificateNumber", ""), ("hubDeliveryNumber", number),
                               ("HUBTrackingInfo", HubTracking.ENVELOPE_NOT_EXISTS.value)):
                _add(result, Ns.ENTITIES, name, text)
            return answer
        return self._header_response(call, "Result", self._current(record))

    def _header_response(self, call: Call, suffix: str, record: HubRecord, *, content: bool = False) -> etree._Element:
        name = etree.QName(call.operation).localname
        answer = etree.Element(_q(Ns.HUB, f"{name}Response"))
        _header_element(answer, Ns.HUB, f"{name}{suffix}", record, content=content)
        return answer

    # -- receive

    def import_headers(self, call: Call) -> etree._Element:
        records = self.mailbox.pending_for(call.caller(), _text(call.operation, "countryCode", required=False))
        answer = etree.Element(_q(Ns.HUB, "GetImportEnvelopeHeadersResponse"))
        result = _add(answer, Ns.HUB, "GetImportEnvelopeHeadersResult", None)
        for record in records:
            _header_element(result, Ns.ENTITIES, "EnvelopeHeader", record)
        return answer

    def pull_all(self, call: Call) -> etree._Element:
        records = self.mailbox.pending_for(call.caller())
        answer = etree.Element(_q(Ns.HUB, "PULLImportEnvelopeResponse"))
        result = _add(answer, Ns.HUB, "PULLImportEnvelopesResult", None)  # sic: the WSDL's element name
        for record in records:
            _header_element(result, Ns.ENTITIES, "Envelope", record, content=True)
        self.mailbox.mark_pulled([r.hub_number for r in records], call.moment)
        return answer

    def pull_one(self, call: Call) -> etree._Element:
        record = self._visible(call, str(_text(call.operation, "hubTrackingNumber")))
        if record.receiver != call.caller():
            raise SoapFault(Code.EPHYTO_ENVELOPE_UNKNOWN, f"envelope {record.hub_number!r} is not addressed to "
                            f"{call.caller()}")
        self.mailbox.mark_pulled([record.hub_number], call.moment)
        return self._header_response(call, "Result", record, content=True)

    def _settle(self, call: Call, status: MessageStatus, tracking: HubTracking, message: str | None) -> HubRecord:
        record = self._visible(call, str(_text(call.operation, "hubTrackingNumber")))
        if record.receiver != call.caller():
            raise SoapFault(Code.EPHYTO_ENVELOPE_UNKNOWN, f"only {record.receiver} acknowledges {record.hub_number!r}")
        if record.forwarded_as is not None:
            raise SoapFault(Code.GW_RETRY_NOT_ALLOWED, f"envelope {record.hub_number!r} was forwarded to "
                            f"{record.receiver}'s node as message {record.forwarded_as}; its signed receipt settles it")
        if record.status is not MessageStatus.ACCEPTED:
            raise SoapFault(Code.GW_RETRY_NOT_ALLOWED, f"envelope {record.hub_number!r} was already settled "
                            f"({record.tracking.value})")
        self.mailbox.settle(record.hub_number, status, tracking, message, call.moment)
        self.gateway.store.append_audit("ephyto.acknowledged", actor=record.receiver, message_id=record.message_id,
                                        detail={"hub_number": record.hub_number, "tracking": tracking.value,
                                                "message": message})
        return record

    def acknowledge(self, call: Call) -> etree._Element:
        self._settle(call, MessageStatus.ACKNOWLEDGED, HubTracking.DELIVERED, None)
        return etree.Element(_q(Ns.HUB, "AcknowledgeEnvelopeReceiptResponse"))

    def acknowledge_with_warning(self, call: Call) -> etree._Element:
        warning = _text(call.operation, "warningMessage")
        record = self._settle(call, MessageStatus.ACKNOWLEDGED, HubTracking.DELIVERED_WITH_WARNINGS, warning)
        answer = etree.Element(_q(Ns.HUB, "AdvancedAcknowledgeEnvelopeReceiptResponse"))
        _add(answer, Ns.HUB, "return", record.hub_number)
        return answer

    def acknowledge_failed(self, call: Call) -> etree._Element:
        message = _text(call.operation, "message")
        record = self._settle(call, MessageStatus.RECEIVER_REJECTED, HubTracking.DELIVERED_NOT_READABLE, message)
        answer = etree.Element(_q(Ns.HUB, "AcknowledgeFailedEnvelopeReceiptResponse"))
        _add(answer, Ns.HUB, "return", record.hub_number)
        return answer

    # -- validate and directory

    def validate_xml(self, call: Call) -> etree._Element:
        text = str(_text(call.operation, "ePhytoXML"))
        answer = etree.Element(_q(Ns.HUB, "ValidatePhytoXMLResponse"))
        try:
            tree = parse_xml(text.encode("utf-8"), limits=self.gateway.pipeline.limits)
            findings = self.validator.validate(tree, document_type=self.doc_type).findings
        except XmlError as exc:
            findings = (Finding.from_error(exc, "parse"),)
        for result in hub_results(findings):
            element = _add(answer, Ns.HUB, "ValidationResult", None)
            for name in ("area", "field", "level", "msg"):
                _add(element, None, name, str(result.to_dict()[name]))
        return answer

    def active_nppos(self, call: Call) -> etree._Element:
        call.caller()
        workspace = self.gateway.members.workspace
        answer = etree.Element(_q(Ns.HUB, "GetActiveNpposResponse"))
        result = _add(answer, Ns.HUB, "GetActiveNpposResult", None)
        for code in workspace.members:
            nppo = _add(result, Ns.ENTITIES, "Nppo", None)
            _add(nppo, Ns.ENTITIES, "Country", code)
            _add(nppo, Ns.ENTITIES, "Receive", "true")
            _add(nppo, Ns.ENTITIES, "Send", "true")
            for certificate_type in ("851", "657"):
                allowed = _add(nppo, Ns.ENTITIES, "AllowedDocument", None)
                allowed.set("active", "true")
                etree.SubElement(allowed, "certificateType", number=certificate_type)
                etree.SubElement(allowed, "certificateStatus", number="70")
            # the NPPO as the country's own trust list names it (public: the NPPO's key stays with it)
            moment = self.gateway.now()
            issuers = workspace.trust_list(code, moment=moment, allow_expired=True).issuers
            certificate = next((issuer.certificate for issuer in issuers if issuer.certificate is not None
                                and EPHYTO_TYPE in issuer.granted_types(moment)), None)
            if certificate is not None:
                signature = _add(nppo, Ns.ENTITIES, "Signature", None)
                _add(signature, None, "dn", certificate.subject.rfc4514_string())
                _add(signature, None, "certificate",
                     base64.b64encode(certificate.public_bytes(_DER)).decode("ascii"))
        return answer


def _der() -> Any:
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.DER


_DER = _der()


# --- the router -------------------------------------------------------------------------------------------------

router = APIRouter(tags=["ephyto"])


def _service(request: Request) -> HubService:
    gateway = request.app.state.gateway
    service: HubService | None = getattr(request.app.state, "ephyto", None)
    if service is None or service.gateway is not gateway:
        service = request.app.state.ephyto = HubService(gateway)
    return service


@router.get(PATH, summary="The hub interface's WSDL (?wsdl)", response_class=Response)
async def wsdl(request: Request) -> Response:
    address = str(request.url.replace(query=""))
    return Response(service_wsdl(address), media_type="text/xml; charset=utf-8")


@router.post(PATH, summary="ePhyto hub DeliveryService (SOAP 1.1)", response_class=Response)
async def soap(request: Request) -> Response:
    gateway = request.app.state.gateway
    party = None
    transport = gateway.transport_for(request.scope)
    if transport is not None:
        identity = transport.identify(peer_certificate(request.scope))
        party = identity.party
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > gateway.settings.max_message_bytes:
            return fault_response(SoapFault(Code.XML_TOO_LARGE, f"the request is over "
                                            f"{gateway.settings.max_message_bytes:,} bytes"))
    try:
        service = await run_in_threadpool(_service, request)
        answer = await run_in_threadpool(service.handle, bytes(body), party, gateway.now())
    except SoapFault as fault:
        return fault_response(fault)
    except ExchangeError as exc:  # the gateway's own material or store: a server fault with its code
        log.exception("hub interface: %s", exc.code.value)
        return fault_response(SoapFault(exc.code, exc.message, client=False))
    return _xml_response(_soap(answer))


__all__ = ["HUB_PROFILE", "PATH", "HubEngine", "HubMailbox", "HubService", "SoapFault", "router"]
