"""This project's WSDL of the hub interface (``GET /hub/DeliveryService?wsdl``).

Written by the project, equivalent to the hub's published WSDL (``../shared/corpus/ephyto/ephyto.wsdl``,
service DeliveryService, port type IDeliveryService, SOAP 1.1 document/literal) for the operations implemented
here: the same target namespaces, element names, qualification, SOAP actions and HubWebException fault, so that a
client generated from either talks to this gateway. The certificate itself travels base64 in ``Envelope.Content``
as in the published service; the SPS certificate types the published WSDL also declares (used only by
DeliverPhytoEnvelope and DeliverCountryResponseEnvelope, not implemented) are left out.
"""

from __future__ import annotations

from html import escape

#: the operations this gateway implements, each with its request and response children (name, type, min occurs)
OPERATIONS: dict[str, tuple[list[tuple[str, str, int]], list[tuple[str, str, int]]]] = {
    "DeliverEnvelope": ([("env", "ent:Envelope", 1)], [("DeliverEnvelopeResult", "ent:EnvelopeHeader", 0)]),
    "ValidateAndDeliverEnvelope": ([("envelope", "ent:Envelope", 1)],
                                   [("ValidateAndDeliverEnvelopeResult", "ent:EnvelopeHeader", 0)]),
    "GetEnvelopeTrackingInfo": ([("hubTrackingNumber", "xs:string", 1)],
                                [("GetEnvelopeTrackingInfoResult", "ent:EnvelopeHeader", 0)]),
    "GetImportEnvelopeHeaders": ([("countryCode", "xs:string", 0)],
                                 [("GetImportEnvelopeHeadersResult", "ent:ArrayOfEnvelopeHeader", 0)]),
    "PULLImportEnvelope": ([], [("PULLImportEnvelopesResult", "ent:ArrayOfEnvelope", 0)]),
    "PULLSingleImportEnvelope": ([("hubTrackingNumber", "xs:string", 1)],
                                 [("PULLSingleImportEnvelopeResult", "ent:Envelope", 0)]),
    "AcknowledgeEnvelopeReceipt": ([("hubTrackingNumber", "xs:string", 1)], []),
    "AdvancedAcknowledgeEnvelopeReceipt": ([("hubTrackingNumber", "xs:string", 1), ("warningMessage", "xs:string", 1)],
                                           [("return", "xs:string", 0)]),
    "AcknowledgeFailedEnvelopeReceipt": ([("hubTrackingNumber", "xs:string", 1), ("message", "xs:string", 1)],
                                         [("return", "xs:string", 0)]),
    "ValidatePhytoXML": ([("ePhytoXML", "xs:string", 1)], []),
    "GetActiveNppos": ([], [("GetActiveNpposResult", "ent:ArrayOfNppo", 0)]),
}

#: SOAP actions as the published WSDL's binding has them (two differ from the operation's name there)
SOAP_ACTIONS = {name: f"http://ephyto.ippc.int/IDeliveryService/{name}" for name in OPERATIONS} | {
    "AdvancedAcknowledgeEnvelopeReceipt": "http://ephyto.ippc.int/IDeliveryService/NegativeAcknowledgeEnvelopeReceipt",
}

_ENTITIES = """
    <xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:tns="http://ephyto.ippc.int/HUB.Entities"
               xmlns:hub="http://ephyto.ippc.int/" targetNamespace="http://ephyto.ippc.int/HUB.Entities"
               elementFormDefault="qualified">
      <xs:import namespace="http://ephyto.ippc.int/"/>
      <xs:complexType name="EnvelopeHeader">
        <xs:sequence>
          <xs:element name="From" type="xs:string"/>
          <xs:element name="To" type="xs:string"/>
          <xs:element name="CertificateType" type="xs:int"/>
          <xs:element name="CertificateStatus" type="xs:int"/>
          <xs:element name="NPPOCertificateNumber" type="xs:string"/>
          <xs:element minOccurs="0" name="hubDeliveryNumber" type="xs:string"/>
          <xs:element minOccurs="0" name="HUBTrackingInfo" type="xs:string"/>
          <xs:element minOccurs="0" name="hubDeliveryErrorMessage" type="xs:string"/>
          <xs:element minOccurs="0" name="Forwardings" type="tns:ArrayOfEnvelopeForwarding"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="ArrayOfEnvelopeForwarding">
        <xs:sequence>
          <xs:element maxOccurs="unbounded" minOccurs="0" name="EnvelopeForwarding" nillable="true"
                      type="tns:EnvelopeForwarding"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="EnvelopeForwarding">
        <xs:sequence>
          <xs:element name="Code" type="xs:string"/>
          <xs:element minOccurs="0" name="HubDeliveryNumber" type="xs:string"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="Envelope">
        <xs:complexContent>
          <xs:extension base="tns:EnvelopeHeader">
            <xs:sequence><xs:element minOccurs="0" name="Content" type="xs:string"/></xs:sequence>
          </xs:extension>
        </xs:complexContent>
      </xs:complexType>
      <xs:complexType name="ArrayOfEnvelopeHeader">
        <xs:sequence>
          <xs:element maxOccurs="unbounded" minOccurs="0" name="EnvelopeHeader" nillable="true"
                      type="tns:EnvelopeHeader"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="ArrayOfEnvelope">
        <xs:sequence>
          <xs:element maxOccurs="unbounded" minOccurs="0" name="Envelope" nillable="true" type="tns:Envelope"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="ArrayOfNppo">
        <xs:sequence>
          <xs:element maxOccurs="unbounded" minOccurs="0" name="Nppo" nillable="true" type="tns:Nppo"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="Nppo">
        <xs:sequence>
          <xs:element minOccurs="0" name="Country" type="xs:string"/>
          <xs:element minOccurs="0" name="Receive" type="xs:string"/>
          <xs:element minOccurs="0" name="Send" type="xs:string"/>
          <xs:element maxOccurs="unbounded" minOccurs="0" name="AllowedDocument" type="hub:allowedDocument"/>
          <xs:element minOccurs="0" name="Signature" type="hub:signingCertificate"/>
        </xs:sequence>
      </xs:complexType>
    </xs:schema>"""

_HUB_TYPES = """
      <xs:complexType name="allowedDocument">
        <xs:sequence>
          <xs:element form="unqualified" minOccurs="0" name="certificateType" type="tns:certificateType"/>
          <xs:element form="unqualified" minOccurs="0" name="certificateStatus" type="tns:certificateStatus"/>
        </xs:sequence>
        <xs:attribute name="active" type="xs:boolean" use="required"/>
      </xs:complexType>
      <xs:complexType name="certificateType">
        <xs:sequence/>
        <xs:attribute name="number" type="xs:int" use="required"/>
        <xs:attribute name="value" type="xs:string"/>
      </xs:complexType>
      <xs:complexType name="certificateStatus">
        <xs:sequence/>
        <xs:attribute name="number" type="xs:int" use="required"/>
        <xs:attribute name="value" type="xs:string"/>
      </xs:complexType>
      <xs:complexType name="signingCertificate">
        <xs:sequence>
          <xs:element form="unqualified" minOccurs="0" name="dn" type="xs:string"/>
          <xs:element form="unqualified" minOccurs="0" name="certificate" type="xs:string"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="validationResult">
        <xs:sequence>
          <xs:element form="unqualified" minOccurs="0" name="area" type="tns:validationArea"/>
          <xs:element form="unqualified" minOccurs="0" name="field" type="xs:string"/>
          <xs:element form="unqualified" minOccurs="0" name="level" type="tns:validationLevel"/>
          <xs:element form="unqualified" minOccurs="0" name="msg" type="xs:string"/>
        </xs:sequence>
      </xs:complexType>
      <xs:simpleType name="validationArea">
        <xs:restriction base="xs:string">
          <xs:enumeration value="MandatoryElements"/><xs:enumeration value="Mapping"/><xs:enumeration value="Schema"/>
        </xs:restriction>
      </xs:simpleType>
      <xs:simpleType name="validationLevel">
        <xs:restriction base="xs:string">
          <xs:enumeration value="SEVERE"/><xs:enumeration value="WARNING"/><xs:enumeration value="INFO"/>
        </xs:restriction>
      </xs:simpleType>
      <xs:element name="HubWebException" type="tns:HubWebException"/>
      <xs:complexType name="HubWebException">
        <xs:sequence><xs:element minOccurs="0" name="message" type="xs:string"/></xs:sequence>
      </xs:complexType>"""


def _sequence(children: list[tuple[str, str, int]]) -> str:
    return "".join(f'<xs:element minOccurs="{low}" name="{name}" type="{type_}"/>' for name, type_, low in children)


def service_wsdl(address: str) -> bytes:
    """The WSDL with ``address`` as the port's soap:address."""
    elements, messages, port, binding = [], [], [], []
    for name, (request, response) in OPERATIONS.items():
        answer = _sequence(response) if name != "ValidatePhytoXML" else (
            '<xs:element maxOccurs="unbounded" minOccurs="0" name="ValidationResult" type="tns:validationResult"/>')
        elements.append(f'<xs:element name="{name}"><xs:complexType><xs:sequence>{_sequence(request)}'
                        f'</xs:sequence></xs:complexType></xs:element>'
                        f'<xs:element name="{name}Response"><xs:complexType><xs:sequence>{answer}'
                        f'</xs:sequence></xs:complexType></xs:element>')
        messages.append(f'<wsdl:message name="{name}"><wsdl:part element="tns:{name}" name="parameters"/></wsdl:message>'
                        f'<wsdl:message name="{name}Response"><wsdl:part element="tns:{name}Response" '
                        f'name="parameters"/></wsdl:message>')
        port.append(f'<wsdl:operation name="{name}"><wsdl:input message="tns:{name}" name="{name}"/>'
                    f'<wsdl:output message="tns:{name}Response" name="{name}Response"/>'
                    f'<wsdl:fault message="tns:HubWebException" name="HubWebException"/></wsdl:operation>')
        binding.append(f'<wsdl:operation name="{name}"><soap:operation soapAction="{SOAP_ACTIONS[name]}" '
                       f'style="document"/><wsdl:input name="{name}"><soap:body use="literal"/></wsdl:input>'
                       f'<wsdl:output name="{name}Response"><soap:body use="literal"/></wsdl:output>'
                       f'<wsdl:fault name="HubWebException"><soap:fault name="HubWebException" use="literal"/>'
                       f'</wsdl:fault></wsdl:operation>')
    text = f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- The ptx gateway's hub interface: written by the ptx project, equivalent to the ePhyto hub's published
     DeliveryService WSDL for the operations implemented here. -->
<wsdl:definitions xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/"
    xmlns:tns="http://ephyto.ippc.int/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    name="DeliveryService" targetNamespace="http://ephyto.ippc.int/">
  <wsdl:types>{_ENTITIES}
    <xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:tns="http://ephyto.ippc.int/"
               xmlns:ent="http://ephyto.ippc.int/HUB.Entities" targetNamespace="http://ephyto.ippc.int/"
               elementFormDefault="qualified">
      <xs:import namespace="http://ephyto.ippc.int/HUB.Entities"/>{"".join(elements)}{_HUB_TYPES}
    </xs:schema>
  </wsdl:types>
  <wsdl:message name="HubWebException"><wsdl:part element="tns:HubWebException" name="HubWebException"/></wsdl:message>
  {"".join(messages)}
  <wsdl:portType name="IDeliveryService">{"".join(port)}</wsdl:portType>
  <wsdl:binding name="DeliveryServiceSoapBinding" type="tns:IDeliveryService">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>{"".join(binding)}
  </wsdl:binding>
  <wsdl:service name="DeliveryService">
    <wsdl:port binding="tns:DeliveryServiceSoapBinding" name="IDeliveryServiceImplPort">
      <soap:address location="{escape(address, quote=True)}"/>
    </wsdl:port>
  </wsdl:service>
</wsdl:definitions>
"""
    return text.encode("utf-8")


__all__ = ["OPERATIONS", "SOAP_ACTIONS", "service_wsdl"]
