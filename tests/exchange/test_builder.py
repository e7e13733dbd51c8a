"""The document builder: structured input -> XML in schema order, every problem named by its input path."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from lxml import etree

from exchange import Code, InputError
from exchange._builder import CHECK_INPUT, BuildResult, build_document, input_path, load_input, parse_input
from exchange._catalogue import DocumentType, default_catalogue, load_document_type
from exchange._findings import CheckStatus, Finding
from exchange._xml import parse_xml, parse_xml_file

NS = "urn:test:Shipment:1"

# A small type that has every shape the convention covers: a sequence with optional and repeated elements,
# a required choice, simple content with a required attribute, text with an optional attribute, an element
# of any content, the trailing ds:Signature wildcard of every catalogue root, and one business rule.
XSD = f"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="{NS}" xmlns="{NS}"
    elementFormDefault="qualified">
  <xs:element name="Shipment"><xs:complexType><xs:sequence>
    <xs:element name="ID" type="IDType"/>
    <xs:element name="IssueDate" type="xs:date"/>
    <xs:element name="Urgent" type="xs:boolean" minOccurs="0"/>
    <xs:element name="Sender" type="PartyType"/>
    <xs:element name="Note" type="TextType" minOccurs="0" maxOccurs="unbounded"/>
    <xs:element name="Item" type="ItemType" maxOccurs="unbounded"/>
    <xs:choice>
      <xs:element name="PrepaidAmount" type="xs:decimal"/>
      <xs:element name="CollectOnDelivery" type="xs:boolean"/>
    </xs:choice>
    <xs:element name="Extension" minOccurs="0"/>
    <xs:any namespace="http://www.w3.org/2000/09/xmldsig#" processContents="lax" minOccurs="0"/>
  </xs:sequence></xs:complexType></xs:element>
  <xs:complexType name="PartyType"><xs:sequence>
    <xs:element name="Name" type="TextType"/>
    <xs:element name="CountryID" type="xs:token"/>
  </xs:sequence></xs:complexType>
  <xs:complexType name="ItemType"><xs:sequence>
    <xs:element name="Description" type="TextType"/>
    <xs:element name="HSCode" type="xs:token" minOccurs="0"/>
    <xs:element name="Quantity" type="xs:positiveInteger"/>
    <xs:element name="NetWeight" type="WeightType"/>
  </xs:sequence></xs:complexType>
  <xs:complexType name="TextType"><xs:simpleContent><xs:extension base="xs:string">
    <xs:attribute name="languageID" type="xs:language"/>
  </xs:extension></xs:simpleContent></xs:complexType>
  <xs:complexType name="WeightType"><xs:simpleContent><xs:extension base="xs:decimal">
    <xs:attribute name="unitCode" type="xs:token" use="required"/>
  </xs:extension></xs:simpleContent></xs:complexType>
  <xs:simpleType name="IDType"><xs:restriction base="xs:token">
    <xs:pattern value="[A-Z0-9-]{{1,20}}"/>
  </xs:restriction></xs:simpleType>
</xs:schema>
"""

RULES = f"""<schema xmlns="http://purl.oclc.org/dsdl/schematron" queryBinding="xslt">
  <ns prefix="s" uri="{NS}"/>
  <pattern><rule context="s:Item">
    <assert id="SHP-QTY-01" test="number(s:Quantity) &lt;= 1000">At most 1000 units per line.</assert>
  </rule></pattern>
</schema>
"""

MANIFEST = f"""id: shipment
title: Test shipment
version: "1"
namespace: {NS}
root: Shipment
schema: schema.xsd
rules: rules.sch
origin: written for the builder tests
"""


@pytest.fixture(scope="module")
def shipment(tmp_path_factory: pytest.TempPathFactory) -> DocumentType:
    folder = tmp_path_factory.mktemp("shipment")
    (folder / "schema.xsd").write_text(XSD, encoding="utf-8")
    (folder / "rules.sch").write_text(RULES, encoding="utf-8")
    (folder / "manifest.yaml").write_text(MANIFEST, encoding="utf-8")
    return load_document_type(folder)


ROUTE_NS = "urn:test:Route:1"

# Ordering corner cases: a repeated choice with a sequence branch, and a name declared twice (Note? From Note).
ROUTE_XSD = f"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="{ROUTE_NS}"
    xmlns="{ROUTE_NS}" elementFormDefault="qualified">
  <xs:element name="Route"><xs:complexType><xs:sequence>
    <xs:element name="Stop" type="StopType" maxOccurs="unbounded"/>
    <xs:element name="Leg" type="LegType"/>
  </xs:sequence></xs:complexType></xs:element>
  <xs:complexType name="StopType"><xs:choice maxOccurs="unbounded">
    <xs:element name="Port" type="xs:string"/>
    <xs:sequence><xs:element name="City" type="xs:string"/><xs:element name="Country" type="xs:string"/></xs:sequence>
  </xs:choice></xs:complexType>
  <xs:complexType name="LegType"><xs:sequence>
    <xs:element name="Note" type="xs:string" minOccurs="0"/>
    <xs:element name="From" type="xs:string"/>
    <xs:element name="Note" type="xs:string"/>
  </xs:sequence></xs:complexType>
</xs:schema>
"""


@pytest.fixture(scope="module")
def route(tmp_path_factory: pytest.TempPathFactory) -> DocumentType:
    folder = tmp_path_factory.mktemp("route")
    (folder / "schema.xsd").write_text(ROUTE_XSD, encoding="utf-8")
    (folder / "manifest.yaml").write_text(
        f"id: route\ntitle: Route\nversion: '1'\nnamespace: {ROUTE_NS}\nroot: Route\nschema: schema.xsd\n"
        "origin: written for the builder tests\n",
        encoding="utf-8",
    )
    return load_document_type(folder)


def good() -> dict[str, Any]:
    """Valid input, written in schema order."""
    return {
        "Shipment": {
            "ID": "SHP-1",
            "IssueDate": "2026-03-01",
            "Sender": {"Name": "Golden Harvest Foods", "CountryID": "AA"},
            "Item": [
                {
                    "Description": "Dried mango",
                    "HSCode": "080450",
                    "Quantity": "10",
                    "NetWeight": {"@unitCode": "KGM", "#text": "120.5"},
                },
                {
                    "Description": "Canned pineapple",
                    "Quantity": "5",
                    "NetWeight": {"@unitCode": "KGM", "#text": "60"},
                },
            ],
            "PrepaidAmount": "1500.00",
        }
    }


def body(data: dict[str, Any]) -> dict[str, Any]:
    shipment_data: dict[str, Any] = data["Shipment"]
    return shipment_data


def tree_of(result: BuildResult) -> etree._Element:
    return parse_xml(result.xml).getroot()


def names(element: etree._Element) -> list[str]:
    return [etree.QName(child).localname for child in element]


def q(name: str) -> str:
    return f"{{{NS}}}{name}"


def errors(result: BuildResult) -> list[Finding]:
    assert result.report is not None
    return [finding for finding in result.report.findings if finding.is_error]


def only_error(result: BuildResult) -> Finding:
    found = errors(result)
    assert len(found) == 1, found
    return found[0]


def canonical(tree: etree._ElementTree | etree._Element) -> bytes:
    """C14N 2.0 without insignificant whitespace: equal means the same content, however it is spaced."""
    return etree.tostring(tree, method="c14n2", strip_text=True)  # type: ignore[call-overload]


def assert_valid(result: BuildResult) -> None:
    assert result.report is not None
    assert result.report.valid, [finding.to_dict() for finding in result.report.findings]


# --- the catalogue's own input examples --------------------------------------------------------------------

CATALOGUE_TYPES = [doc_type for doc_type in default_catalogue() if doc_type.input_example is not None]


@pytest.mark.parametrize("doc_type", CATALOGUE_TYPES, ids=lambda doc_type: doc_type.id)
def test_catalogue_input_example_builds_a_valid_document(doc_type: DocumentType) -> None:
    assert doc_type.input_example is not None
    result = build_document(doc_type, load_input(doc_type.input_example))

    assert result.report is not None
    assert result.report.valid, [finding.to_dict() for finding in result.report.findings]
    assert result.report.document_type == doc_type.id
    assert [check.name for check in result.report.checks][0] == CHECK_INPUT
    assert tree_of(result).tag == doc_type.qname
    basic = doc_type.folder / "samples" / "valid" / "basic.xml"
    if basic.is_file():
        # The examples mirror the type's basic sample: same content, whatever the spacing and quoting.
        assert canonical(parse_xml(result.xml)) == canonical(parse_xml_file(basic))


# --- building -----------------------------------------------------------------------------------------------


def test_builds_utf8_xml_with_declaration_default_namespace_and_indent(shipment: DocumentType) -> None:
    result = build_document(shipment, good())

    assert_valid(result)
    assert result.report is not None
    assert result.valid is True
    assert result.xml.startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n")
    assert f'<Shipment xmlns="{NS}">'.encode() in result.xml
    assert b"\n  <ID>SHP-1</ID>\n" in result.xml
    assert b"\n    <Description>Dried mango</Description>\n" in result.xml
    assert [check.name for check in result.report.checks] == [
        "input", "parse", "document-type", "schema", "rules"
    ]
    assert all(check.status is CheckStatus.PASSED for check in result.report.checks)


def test_children_in_the_wrong_order_are_put_in_schema_order(shipment: DocumentType) -> None:
    data = good()
    body(data)["Item"][0] = dict(reversed(list(body(data)["Item"][0].items())))
    data["Shipment"] = dict(reversed(list(body(data).items())))
    assert list(body(data))[0] == "PrepaidAmount"

    result = build_document(shipment, data)

    assert_valid(result)
    root = tree_of(result)
    assert names(root) == ["ID", "IssueDate", "Sender", "Item", "Item", "PrepaidAmount"]
    assert names(root[3]) == ["Description", "HSCode", "Quantity", "NetWeight"]
    assert canonical(root) == canonical(tree_of(build_document(shipment, good())))


def test_ordering_through_repeated_choices_and_names_declared_twice(route: DocumentType) -> None:
    data = {
        "Route": {
            "Leg": {"From": "AAPAL", "Note": "via the canal"},
            "Stop": [{"Country": "AA", "City": "Alpha", "Port": "AAPAL"}],
        }
    }

    result = build_document(route, data)

    assert_valid(result)
    root = parse_xml(result.xml).getroot()
    assert names(root) == ["Stop", "Leg"]
    assert names(root[0]) == ["Port", "City", "Country"]  # sorted: Port, then the (City, Country) branch
    assert names(root[1]) == ["From", "Note"]  # kept: sorting would put Note first and miss the required one


def test_a_list_is_a_repeated_element_kept_in_list_order(shipment: DocumentType) -> None:
    data = good()
    body(data)["Note"] = ["first", {"@languageID": "fr", "#text": "deuxième"}, "third"]

    result = build_document(shipment, data)

    assert_valid(result)
    notes = tree_of(result).findall(q("Note"))
    assert [note.text for note in notes] == ["first", "deuxième", "third"]
    assert [note.get("languageID") for note in notes] == [None, "fr", None]


def test_attributes_and_text_beside_them(shipment: DocumentType) -> None:
    result = build_document(shipment, good())

    weights = tree_of(result).findall(f"{q('Item')}/{q('NetWeight')}")
    assert [(weight.get("unitCode"), weight.text) for weight in weights] == [("KGM", "120.5"), ("KGM", "60")]
    assert weights[0].attrib.keys() == ["unitCode"]  # unqualified, as the schema declares it


def test_python_and_json_values_are_rendered_canonically(shipment: DocumentType) -> None:
    data = good()
    body(data)["IssueDate"] = dt.date(2026, 3, 1)
    body(data)["Urgent"] = False
    body(data)["Item"][0]["Quantity"] = 10
    body(data)["Item"][0]["NetWeight"]["#text"] = 1e-7
    body(data)["Item"][1]["NetWeight"]["#text"] = Decimal("1.5E+3")
    body(data)["PrepaidAmount"] = Decimal("1500.50")

    result = build_document(shipment, data)

    assert_valid(result)
    root = tree_of(result)
    assert root.findtext(q("IssueDate")) == "2026-03-01"
    assert root.findtext(q("Urgent")) == "false"
    assert [w.text for w in root.iter(q("NetWeight"))] == ["0.0000001", "1500"]
    assert root.findtext(f"{q('Item')}/{q('Quantity')}") == "10"
    assert root.findtext(q("PrepaidAmount")) == "1500.50"


def test_chinese_and_cyrillic_text_is_kept_as_utf8(shipment: DocumentType) -> None:
    data = good()
    body(data)["Sender"]["Name"] = {"@languageID": "zh", "#text": "上海金果食品有限公司"}
    body(data)["Note"] = {"@languageID": "ru", "#text": "Осторожно: хрупкий груз"}

    result = build_document(shipment, data)

    assert_valid(result)
    assert "上海金果食品有限公司".encode() in result.xml
    assert "Осторожно: хрупкий груз".encode() in result.xml
    assert b"&#" not in result.xml  # characters, not character references
    assert tree_of(result).findtext(f"{q('Sender')}/{q('Name')}") == "上海金果食品有限公司"


def test_element_of_any_content_is_built_as_given_in_the_type_namespace(shipment: DocumentType) -> None:
    data = good()
    body(data)["Extension"] = {"Carrier": {"@code": "MSC", "Vessel": ["ALPHA", "BRAVO"]}}

    result = build_document(shipment, data)

    assert_valid(result)
    carrier = tree_of(result).find(f"{q('Extension')}/{q('Carrier')}")
    assert carrier is not None and carrier.get("code") == "MSC"
    assert [vessel.text for vessel in carrier.findall(q("Vessel"))] == ["ALPHA", "BRAVO"]


# --- problems found by the builder (the `input` check) ------------------------------------------------------


def test_unknown_field_is_named_with_a_suggestion(shipment: DocumentType) -> None:
    data = good()
    body(data)["Item"][1]["NetWieght"] = body(data)["Item"][1].pop("NetWeight")

    result = build_document(shipment, data)

    assert result.report is not None and not result.report.valid
    unknown, missing = errors(result)
    assert unknown.code == Code.INPUT_FIELD_UNKNOWN.value
    assert unknown.path == "Shipment.Item[1].NetWieght"
    assert "did you mean 'NetWeight'?" in unknown.message
    assert unknown.check == CHECK_INPUT
    assert (missing.code, missing.path) == (Code.INPUT_FIELD_MISSING.value, "Shipment.Item[1].NetWeight")
    # the schema is not run on input the builder could not map: no echo of the same fault
    assert [check.status for check in result.report.checks] == [
        CheckStatus.FAILED, CheckStatus.SKIPPED, CheckStatus.SKIPPED
    ]


def test_unknown_field_without_a_close_name_lists_what_is_allowed(shipment: DocumentType) -> None:
    data = good()
    body(data)["Sender"]["Telephone"] = "+66 2 123 4567"

    finding = only_error(build_document(shipment, data))

    assert (finding.code, finding.path) == (Code.INPUT_FIELD_UNKNOWN.value, "Shipment.Sender.Telephone")
    assert "expected one of: Name, CountryID" in finding.message


def test_prefixed_or_wrongly_cased_keys_get_the_right_name_suggested(shipment: DocumentType) -> None:
    data = good()
    body(data)["Sender"]["ram:Name"] = body(data)["Sender"].pop("Name")
    body(data)["issuedate"] = body(data).pop("IssueDate")

    messages = {finding.path: finding.message for finding in errors(build_document(shipment, data))}

    assert "did you mean 'Name'?" in messages["Shipment.Sender.ram:Name"]
    assert "did you mean 'IssueDate'?" in messages["Shipment.issuedate"]


def test_unknown_attribute(shipment: DocumentType) -> None:
    data = good()
    body(data)["Item"][0]["NetWeight"]["@unit"] = body(data)["Item"][0]["NetWeight"].pop("@unitCode")

    found = {(finding.code, finding.path) for finding in errors(build_document(shipment, data))}

    assert found == {
        (Code.INPUT_FIELD_UNKNOWN.value, "Shipment.Item[0].NetWeight.@unit"),
        (Code.INPUT_FIELD_MISSING.value, "Shipment.Item[0].NetWeight.@unitCode"),
    }


def test_the_signature_is_not_input(shipment: DocumentType) -> None:
    data = good()
    body(data)["Signature"] = {"SignatureValue": "AAAA"}

    finding = only_error(build_document(shipment, data))

    assert (finding.code, finding.path) == (Code.INPUT_FIELD_UNKNOWN.value, "Shipment.Signature")


def test_missing_required_fields_are_all_reported(shipment: DocumentType) -> None:
    data = good()
    del body(data)["IssueDate"]
    del body(data)["Sender"]["CountryID"]
    del body(data)["Item"][0]["NetWeight"]["@unitCode"]

    found = [(finding.code, finding.path) for finding in errors(build_document(shipment, data))]

    assert sorted(found) == [
        (Code.INPUT_FIELD_MISSING.value, "Shipment.IssueDate"),
        (Code.INPUT_FIELD_MISSING.value, "Shipment.Item[0].NetWeight.@unitCode"),
        (Code.INPUT_FIELD_MISSING.value, "Shipment.Sender.CountryID"),
    ]


def test_a_required_choice_names_its_alternatives(shipment: DocumentType) -> None:
    data = good()
    del body(data)["PrepaidAmount"]

    finding = only_error(build_document(shipment, data))

    assert (finding.code, finding.path) == (Code.INPUT_FIELD_MISSING.value, "Shipment")
    assert "CollectOnDelivery or PrepaidAmount" in finding.message


def test_a_list_for_an_element_that_occurs_once(shipment: DocumentType) -> None:
    data = good()
    body(data)["IssueDate"] = ["2026-03-01", "2026-03-02"]

    finding = only_error(build_document(shipment, data))

    assert (finding.code, finding.path) == (Code.INPUT_FIELD_INVALID.value, "Shipment.IssueDate")
    assert "at most once" in finding.message


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("Sender", "Golden Harvest Foods", "has child fields"),
        ("IssueDate", {"Year": "2026"}, "unknown field 'Year'"),
        ("Note", ["A", ["B"]], "a list inside a list"),
        ("ID", "SHP\x01", "XML compatible"),
    ],
)
def test_values_of_the_wrong_shape(shipment: DocumentType, field: str, value: object, expected: str) -> None:
    data = good()
    body(data)[field] = value

    result = build_document(shipment, data)

    assert result.report is not None and not result.report.valid
    assert any(
        finding.path is not None and finding.path.startswith(f"Shipment.{field}") and expected in finding.message
        for finding in errors(result)
    ), errors(result)


# --- problems found by the schema and the rules, named by input path ----------------------------------------


def test_a_bad_date_names_the_field(shipment: DocumentType) -> None:
    data = good()
    body(data)["IssueDate"] = "2026-02-30"

    finding = only_error(build_document(shipment, data))

    assert finding.code == Code.INPUT_FIELD_INVALID.value
    assert finding.path == "Shipment.IssueDate"
    assert finding.check == "schema"
    assert "2026-02-30" in finding.message
    assert finding.line is None  # a line of generated XML would only mislead


def test_a_bad_value_beside_attributes_names_the_text(shipment: DocumentType) -> None:
    data = good()
    body(data)["Item"][1]["NetWeight"]["#text"] = "sixty"

    finding = only_error(build_document(shipment, data))

    assert (finding.code, finding.path) == (Code.INPUT_FIELD_INVALID.value, "Shipment.Item[1].NetWeight.#text")


def test_a_business_rule_keeps_its_code_and_names_the_input_item(shipment: DocumentType) -> None:
    data = good()
    body(data)["Item"][1]["Quantity"] = "5000"

    finding = only_error(build_document(shipment, data))

    assert (finding.code, finding.check, finding.path) == ("SHP-QTY-01", "rules", "Shipment.Item[1]")
    assert finding.message == "At most 1000 units per line."


# --- input that cannot be built at all ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (["Shipment"], "not a list"),
        ({"Shipmnet": {}}, "did you mean 'Shipment'?"),
        ({"ID": "SHP-1", "IssueDate": "2026-03-01"}, "single top-level key 'Shipment'"),
        ({"Shipment": {}, "Extra": 1}, "also found 'Extra'"),
    ],
)
def test_wrong_top_level_raises_input_invalid(shipment: DocumentType, data: Any, expected: str) -> None:
    with pytest.raises(InputError) as caught:
        build_document(shipment, data)
    assert caught.value.code is Code.INPUT_INVALID
    assert expected in caught.value.message


def test_nesting_beyond_the_depth_limit_is_refused(shipment: DocumentType) -> None:
    deep: dict[str, Any] = {"Level": "bottom"}
    for _ in range(150):
        deep = {"Level": deep}
    data = good()
    body(data)["Extension"] = deep

    with pytest.raises(InputError) as caught:
        build_document(shipment, data)
    assert caught.value.code is Code.INPUT_INVALID
    assert "deeper than 100" in caught.value.message


def test_without_validation_there_is_no_report_and_field_problems_raise(shipment: DocumentType) -> None:
    result = build_document(shipment, good(), validate=False)
    assert result.report is None and result.valid is None
    assert tree_of(result).tag == q("Shipment")

    data = good()
    body(data)["Sender"]["Nmae"] = body(data)["Sender"].pop("Name")
    with pytest.raises(InputError) as caught:
        build_document(shipment, data, validate=False)
    assert caught.value.code is Code.INPUT_FIELD_UNKNOWN
    assert caught.value.path == "Shipment.Sender.Nmae"
    assert "did you mean 'Name'?" in caught.value.message and "1 more problem" in caught.value.message


# --- input_path ---------------------------------------------------------------------------------------------


def test_input_path_translates_document_paths() -> None:
    assert input_path("/Shipment/Item[2]/NetWeight/@unitCode") == "Shipment.Item[1].NetWeight.@unitCode"
    assert input_path("/Shipment/Sender/Name") == "Shipment.Sender.Name"
    assert input_path("/Shipment") == "Shipment"
    assert input_path(None) is None


def test_input_path_writes_indices_where_the_input_has_a_list() -> None:
    data = {"Shipment": {"Item": [{"NetWeight": {"@unitCode": "KGM"}}], "Sender": {"Name": "x"}}}
    assert input_path("/Shipment/Item/NetWeight", data) == "Shipment.Item[0].NetWeight"
    assert input_path("/Shipment/Sender/Name", data) == "Shipment.Sender.Name"


def test_input_path_leaves_what_it_cannot_read_unchanged() -> None:
    xpath = "/*[local-name()='Shipment'][1]/*[2]"
    assert input_path(xpath) == xpath
    assert input_path("Shipment") == "Shipment"


# --- reading input files ------------------------------------------------------------------------------------

YAML_INPUT = """\
# a comment
Shipment:
  ID: SHP-1
  IssueDate: 2026-03-01
  Sender:
    Name: Nordic Fish AS
    CountryID: NO
  Item:
    - Description: Smoked salmon
      HSCode: 0101
      Quantity: 10
      NetWeight: {"@unitCode": KGM, "#text": 120.50}
  PrepaidAmount: 1.10
"""


def test_yaml_keeps_scalars_as_written(tmp_path: Path, shipment: DocumentType) -> None:
    path = tmp_path / "input.yaml"
    path.write_text(YAML_INPUT, encoding="utf-8")

    data = load_input(path)

    item = body(data)["Item"][0]
    assert body(data)["IssueDate"] == "2026-03-01"  # not datetime.date
    assert body(data)["Sender"]["CountryID"] == "NO"  # not False (the YAML 1.1 "Norway problem")
    assert item["HSCode"] == "0101"  # not the octal number 65
    assert item["NetWeight"]["#text"] == "120.50"
    assert body(data)["PrepaidAmount"] == "1.10"
    result = build_document(shipment, data)
    assert_valid(result)
    assert b"<HSCode>0101</HSCode>" in result.xml and b"<CountryID>NO</CountryID>" in result.xml


def test_json_and_yaml_build_the_same_document(tmp_path: Path, shipment: DocumentType) -> None:
    yaml_path = tmp_path / "input.yaml"
    yaml_path.write_text(YAML_INPUT, encoding="utf-8")
    json_path = tmp_path / "input.json"
    json_path.write_text(json.dumps(load_input(yaml_path), ensure_ascii=False), encoding="utf-8")
    no_suffix = tmp_path / "input"
    no_suffix.write_text(json_path.read_text(encoding="utf-8"), encoding="utf-8")

    built = [build_document(shipment, load_input(path)).xml for path in (yaml_path, json_path, no_suffix)]

    assert built[0] == built[1] == built[2]


def test_json_numbers_keep_their_digits() -> None:
    data = parse_input('{"Shipment": {"PrepaidAmount": 1500.50, "Quantity": 7}}')
    assert body(data) == {"PrepaidAmount": Decimal("1500.50"), "Quantity": 7}


def test_a_yaml_null_is_an_empty_element(shipment: DocumentType) -> None:
    data = parse_input("Shipment:\n  Extension: ~\n  Note:\n")
    assert body(data) == {"Extension": None, "Note": None}


@pytest.mark.parametrize(
    ("name", "text", "line", "expected"),
    [
        ("bad.yaml", "Shipment:\n  ID: [unclosed\n  Other: 1\n", 3, "not valid YAML"),
        ("attr.yaml", "Shipment:\n  NetWeight:\n    @unitCode: KGM\n", 3, 'must be quoted, e.g. "@unitCode"'),
        ("bad.json", '{"Shipment": {\n  "ID": "A",\n}}', 3, "not valid JSON"),
        ("dup.yaml", "Shipment:\n  ID: A\n  ID: B\n", 3, "duplicate key 'ID'"),
        ("alias.yaml", "Shipment:\n  Sender: &s {Name: A}\n  Other: *s\n", 3, "aliases"),
        ("dup.json", '{"Shipment": {"ID": "A", "ID": "B"}}', None, "duplicate key 'ID'"),
        ("nan.json", '{"Shipment": {"ID": NaN}}', None, "NaN is not a number"),
    ],
)
def test_unreadable_input_names_the_line(
    tmp_path: Path, name: str, text: str, line: int | None, expected: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")

    with pytest.raises(InputError) as caught:
        load_input(path)

    assert caught.value.code is Code.INPUT_UNREADABLE
    assert caught.value.line == line
    assert expected in caught.value.message
    assert str(path) in caught.value.message


def test_input_that_is_not_a_mapping_or_not_utf8(tmp_path: Path) -> None:
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n", encoding="utf-8")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("Shipment:\n  ID: Société\n".encode("latin-1"))

    with pytest.raises(InputError) as not_mapping:
        load_input(listing)
    with pytest.raises(InputError) as not_utf8:
        load_input(latin)
    with pytest.raises(InputError) as missing:
        load_input(tmp_path / "absent.yaml")

    assert not_mapping.value.code is Code.INPUT_INVALID and "not a list" in not_mapping.value.message
    assert not_utf8.value.code is Code.INPUT_UNREADABLE and "not UTF-8" in not_utf8.value.message
    assert missing.value.code is Code.INPUT_UNREADABLE


def test_yaml_and_json_error_types_do_not_escape(tmp_path: Path) -> None:
    path = tmp_path / "tabs.yaml"
    path.write_text("Shipment:\n\tID: A\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_input(path)
    assert isinstance(caught.value.__cause__, yaml.YAMLError)
