"""The ePhyto SPS certificate (schemas/ephyto-sps-certificate): real-shape documents validate, the rules of the ePhyto
guidelines find what they should, `ptx issue`'s builder makes one from the input form, and a signed one flows from
AA's NPPO to BB through the gateway's checks like every other trade document."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree

from exchange._builder import build_document, load_input
from exchange._catalogue import default_catalogue
from exchange._dsig import sign_document
from exchange._envelope import Party, build_envelope
from exchange._validation import Validator, check_type_folder
from exchange._workspace import Workspace, init_workspace
from exchange._xml import parse_xml
from gateway._pipeline import Pipeline, Verdict, WorkspaceMembers

TYPE_ID = "ephyto-sps-certificate"
RSM = "urn:un:unece:uncefact:data:standard:SPSCertificate:17"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:21"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:21"
CREATED = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def sample(name: str) -> bytes:
    doc_type = default_catalogue().get(TYPE_ID)
    return next(s for s in doc_type.samples if s.path.name == name).path.read_bytes()


def codes(document: bytes) -> list[str]:
    catalogue = default_catalogue()
    report = Validator(catalogue).validate(parse_xml(document), document_type=catalogue.get(TYPE_ID))
    return [finding.code for check in report.checks for finding in check.findings]


def test_the_type_is_the_hub_namespace_beside_the_teaching_type() -> None:
    catalogue = default_catalogue()
    doc_type = catalogue.get(TYPE_ID)
    assert (doc_type.namespace, doc_type.root, doc_type.kind) == (RSM, "SPSCertificate", "trade")
    assert catalogue.detect(f"{{{RSM}}}SPSCertificate") is doc_type
    assert catalogue.get("phytosanitary-certificate").namespace == "urn:ptx:trade:SPSCertificate:1"
    assert "WSDL" in doc_type.origin and "17A" in doc_type.origin


def test_samples_behave_as_labelled() -> None:
    assert check_type_folder(default_catalogue().get(TYPE_ID)) == []


def test_a_real_shape_certificate_has_what_national_systems_send() -> None:
    """Attachments as base64 PDF, notes with ePhyto subject codes, several line items, several languages."""
    tree = parse_xml(sample("three-lines-attachment-languages.xml")).getroot()
    ns = {"rsm": RSM, "ram": RAM, "udt": UDT}
    attachment = tree.find(".//ram:AttachmentBinaryObject", ns)
    assert attachment is not None and attachment.get("mimeCode") == "application/pdf"
    assert base64.b64decode("".join((attachment.text or "").split())).startswith(b"%PDF-")
    assert {n.text for n in tree.iterfind(".//ram:IncludedSPSNote/ram:Subject", ns)} == {"ADEDL", "DMCL", "SPSFL"}
    assert len(tree.findall(".//ram:IncludedSPSTradeLineItem", ns)) == 3
    assert {e.get("languageID") for e in tree.iterfind(".//*[@languageID]")} >= {"en", "fr", "ru"}
    assert codes(etree.tostring(tree)) == []


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ((b"<ram:StatusCode>70</ram:StatusCode>", b"<ram:StatusCode>40</ram:StatusCode>"), "EPHYTO-STATUS-01"),
        ((b"<ram:ScientificName>Garcinia mangostana", b"<ram:ScientificName>mangosteen"), "EPHYTO-NAME-01"),
        ((b'unitCode="KGM">1725', b'unitCode="KGM">1400'), "EPHYTO-MASS-01"),
        ((b"<ram:ID>BB</ram:ID>", b"<ram:ID>B1</ram:ID>"), "EPHYTO-COUNTRY-01"),
        ((b"<ram:Name>Northern Star Trading Ltd.</ram:Name>", b"<ram:Name> </ram:Name>"), "EPHYTO-PARTY-01"),
        ((b'unitCode="KGM">4800', b'unitCode="KGM">4,800'), "SCHEMA-VALUE-INVALID"),
    ],
)
def test_rules_of_the_guidelines(change: tuple[bytes, bytes], code: str) -> None:
    document = sample("three-lines-attachment-languages.xml")
    assert change[0] in document
    assert code in codes(document.replace(change[0], change[1], 1))


def test_the_input_form_builds_a_valid_certificate_with_the_standard_prefixes() -> None:
    doc_type = default_catalogue().get(TYPE_ID)
    assert doc_type.input_example is not None
    result = build_document(doc_type, load_input(doc_type.input_example))
    assert result.report is not None and result.valid, result.report
    root = parse_xml(result.xml).getroot()
    assert root.nsmap == {None: RSM, "ram": RAM, "udt": UDT}
    assert b"<ram:TypeCode>851</ram:TypeCode>" in result.xml and b"ns0:" not in result.xml


def test_unknown_input_field_is_named() -> None:
    doc_type = default_catalogue().get(TYPE_ID)
    assert doc_type.input_example is not None
    data = load_input(doc_type.input_example)
    data["SPSCertificate"]["SPSConsignment"]["ConsignerSPSParty"] = {"Name": "x"}
    result = build_document(doc_type, data)
    assert result.report is not None and not result.valid
    assert any(f.code == "INPUT-FIELD-UNKNOWN" and f.path == "SPSCertificate.SPSConsignment.ConsignerSPSParty"
               for c in result.report.checks for f in c.findings)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    path: Path = tmp_path_factory.mktemp("ephyto-ws") / "workspace"
    init_workspace(path, moment=CREATED)
    return Workspace.open(path)


def test_the_nppo_issues_it_and_it_flows_from_aa_to_bb(workspace: Workspace) -> None:
    doc_type = default_catalogue().get(TYPE_ID)
    nppo, node = workspace.authority("AA", "nppo"), workspace.node("AA")
    signed = sign_document(sample("three-lines-attachment-languages.xml"), nppo.key, nppo.signing_chain)
    envelope = build_envelope(signed, sender=Party("AA"), receiver=Party("BB"), document_type=TYPE_ID,
                              type_version=doc_type.version, standard=doc_type.namespace,
                              message_id="ephyto-flow-1", created=CREATED)
    body = sign_document(envelope, node.key, node.signing_chain)
    pipeline = Pipeline(catalogue=default_catalogue(), members=WorkspaceMembers(workspace), max_bytes=512 * 1024)
    outcome = pipeline.run(body, moment=CREATED + timedelta(days=2))
    assert outcome.verdict is Verdict.ACCEPTED, [(c.name, [f.code for f in c.findings]) for c in outcome.checks]
    assert outcome.document == signed and outcome.issuer is not None and "NPPO" in outcome.issuer

    chamber = workspace.authority("AA", "chamber-of-commerce")  # not authorised for phytosanitary certificates
    wrong = sign_document(sample("three-lines-attachment-languages.xml"), chamber.key, chamber.signing_chain)
    envelope = build_envelope(wrong, sender=Party("AA"), receiver=Party("BB"), document_type=TYPE_ID,
                              type_version=doc_type.version, standard=doc_type.namespace,
                              message_id="ephyto-flow-2", created=CREATED)
    refused = pipeline.run(sign_document(envelope, node.key, node.signing_chain), moment=CREATED + timedelta(days=2))
    assert refused.verdict is Verdict.REJECTED and refused.check("issuer-trust").status.value == "failed"
