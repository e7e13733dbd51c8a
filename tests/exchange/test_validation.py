"""Validation reports: verdict, type, and every finding with code, check, line and path."""

from __future__ import annotations

from pathlib import Path

import pytest

from exchange import Code, ConfigurationError, Severity
from exchange._catalogue import Catalogue, load_document_type
from exchange._findings import CheckStatus
from exchange._validation import (
    MAX_FINDINGS_PER_CHECK,
    ValidationReport,
    Validator,
    Verdict,
    element_path,
    validate,
)
from exchange._xml import parse_xml

XSD = """<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t:Inv:1"
    xmlns="urn:t:Inv:1" elementFormDefault="qualified">
  <xs:include schemaLocation="types.xsd"/>
  <xs:element name="Inv"><xs:complexType><xs:sequence>
    <xs:element name="ID" type="xs:string"/>
    <xs:element name="Line" maxOccurs="unbounded"><xs:complexType><xs:sequence>
      <xs:element name="Amount" type="xs:decimal"/>
      <xs:element name="Date" type="xs:date"/>
    </xs:sequence><xs:attribute name="unit" type="UnitCode" use="required"/></xs:complexType></xs:element>
    <xs:element name="Total" type="xs:decimal"/>
    <xs:any namespace="http://www.w3.org/2000/09/xmldsig#" processContents="lax" minOccurs="0"/>
  </xs:sequence></xs:complexType></xs:element>
</xs:schema>
"""
TYPES = """<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t:Inv:1">
  <xs:simpleType name="UnitCode"><xs:restriction base="xs:string"><xs:pattern value="[A-Z0-9]{2,3}"/>
  </xs:restriction></xs:simpleType>
</xs:schema>
"""
RULES = """<schema xmlns="http://purl.oclc.org/dsdl/schematron" queryBinding="xslt">
  <ns prefix="i" uri="urn:t:Inv:1"/>
  <pattern>
    <rule context="i:Inv">
      <assert id="INV-T-01" test="(sum(i:Line/i:Amount) - i:Total) &lt; 0.005 and (i:Total - sum(i:Line/i:Amount)) &lt; 0.005"
        >The total must equal the sum of the line amounts.</assert>
    </rule>
    <rule context="i:Line">
      <assert id="INV-T-02" role="warning" test="i:Amount &lt; 1000">Large line amount.</assert>
    </rule>
  </pattern>
</schema>
"""
MANIFEST = """id: test-invoice
title: Test invoice
version: "1"
namespace: urn:t:Inv:1
root: Inv
schema: schema.xsd
rules: rules.sch
origin: tests
"""


def doc(lines: str, total: str = "30") -> bytes:
    return f'<Inv xmlns="urn:t:Inv:1">\n<ID>1</ID>\n{lines}\n<Total>{total}</Total>\n</Inv>'.encode()


GOOD_LINES = '<Line unit="KGM"><Amount>10</Amount><Date>2026-01-01</Date></Line>\n' \
             '<Line unit="KGM"><Amount>20</Amount><Date>2026-01-02</Date></Line>'


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "schema.xsd").write_text(XSD)
    (tmp_path / "types.xsd").write_text(TYPES)
    (tmp_path / "rules.sch").write_text(RULES)
    (tmp_path / "manifest.yaml").write_text(MANIFEST)
    return tmp_path


@pytest.fixture
def validator(folder: Path) -> Validator:
    return Validator(Catalogue([load_document_type(folder)]))


def test_valid_document_report(validator: Validator) -> None:
    report = validator.validate(doc(GOOD_LINES))
    assert report.verdict is Verdict.VALID and report.valid
    assert report.document_type == "test-invoice"
    assert [(c.name, c.status) for c in report.checks] == [
        ("parse", CheckStatus.PASSED), ("document-type", CheckStatus.PASSED),
        ("schema", CheckStatus.PASSED), ("rules", CheckStatus.PASSED),
    ]
    assert report.findings == ()


def test_report_is_frozen(validator: Validator) -> None:
    report = validator.validate(doc(GOOD_LINES))
    with pytest.raises(AttributeError):
        report.verdict = Verdict.INVALID  # type: ignore[misc]


def test_every_schema_finding_is_located(validator: Validator) -> None:
    lines = ('<Line unit="KGM"><Amount>10</Amount><Date>2026-13-01</Date></Line>\n'
             '<Line><Amount>20</Amount><Date>2026-01-02</Date></Line>\n'
             '<Line unit="k"><Amount>x</Amount></Line>')
    report = validator.validate(doc(lines))
    assert report.verdict is Verdict.INVALID
    found = {(f.code, f.line, f.path) for f in report.findings}
    assert (Code.SCHEMA_VALUE_INVALID.value, 3, "/Inv/Line[1]/Date") in found
    assert (Code.SCHEMA_ATTRIBUTE_INVALID.value, 4, "/Inv/Line[2]/@unit") in found
    assert (Code.SCHEMA_VALUE_INVALID.value, 5, "/Inv/Line[3]/Amount") in found
    assert (Code.SCHEMA_ELEMENT_MISSING.value, 5, "/Inv/Line[3]") in found
    assert all(f.check == "schema" and f.severity is Severity.ERROR for f in report.findings)
    assert "{urn" not in " ".join(f.message for f in report.findings), "namespaces stripped from messages"
    assert report.check("rules") is not None and report.check("rules").status is CheckStatus.SKIPPED  # type: ignore[union-attr]


def test_enumeration_sets_survive_namespace_stripping(tmp_path: Path) -> None:
    xsd = tmp_path / "enum.xsd"
    xsd.write_text('<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:e" '
                   'elementFormDefault="qualified"><xs:element name="S"><xs:simpleType><xs:restriction base="xs:token">'
                   '<xs:enumeration value="granted"/><xs:enumeration value="withdrawn"/></xs:restriction>'
                   '</xs:simpleType></xs:element></xs:schema>')
    [finding] = validate(b'<S xmlns="urn:e">suspended</S>', schema=xsd).findings
    assert "{'granted', 'withdrawn'}" in finding.message and "Element 'S'" in finding.message


def test_unexpected_element(validator: Validator) -> None:
    report = validator.validate(doc(GOOD_LINES.replace("<Amount>10</Amount>", "<Amount>10</Amount><X/>")))
    finding = next(f for f in report.findings if f.code == Code.SCHEMA_ELEMENT_UNEXPECTED.value)
    assert finding.path == "/Inv/Line[1]/X" and finding.line == 3


def test_business_rule_failure_and_warning(validator: Validator) -> None:
    lines = GOOD_LINES.replace("<Amount>20</Amount>", "<Amount>2000</Amount>")
    report = validator.validate(doc(lines))
    assert report.verdict is Verdict.INVALID
    rule = next(f for f in report.findings if f.code == "INV-T-01")
    assert rule.check == "rules" and rule.severity is Severity.ERROR
    assert rule.message == "The total must equal the sum of the line amounts."
    assert rule.path == "/Inv" and rule.line == 1
    warning = next(f for f in report.findings if f.code == "INV-T-02")
    assert warning.severity is Severity.WARNING and warning.path == "/Inv/Line[2]" and warning.line == 4


def test_warnings_alone_keep_the_verdict_valid(validator: Validator) -> None:
    lines = GOOD_LINES.replace("<Amount>20</Amount>", "<Amount>2000</Amount>")
    report = validator.validate(doc(lines, total="2010"))
    assert report.valid and report.codes == ("INV-T-02",)


def test_trailing_signature_validates(validator: Validator) -> None:
    data = doc(GOOD_LINES).replace(
        b"</Inv>", b'<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"/></Inv>'
    )
    assert validator.validate(data).valid


def test_hostile_input_is_a_parse_finding(validator: Validator) -> None:
    report = validator.validate(b'<!DOCTYPE Inv [<!ENTITY x "y">]><Inv xmlns="urn:t:Inv:1">&x;</Inv>')
    assert report.codes == (Code.XML_ENTITY_FORBIDDEN.value,)
    assert report.checks[0].name == "parse" and report.checks[0].status is CheckStatus.FAILED


def test_unknown_root_and_type_mismatch(validator: Validator) -> None:
    unknown = validator.validate(b'<Other xmlns="urn:x"/>')
    assert unknown.codes == (Code.DOCTYPE_UNKNOWN.value,) and not unknown.valid
    with pytest.raises(ConfigurationError):
        validator.validate(doc(GOOD_LINES), document_type="no-such-type")
    mismatch = Validator(validator.catalogue).validate(b'<Inv xmlns="urn:other"/>', document_type="test-invoice")
    assert mismatch.codes == (Code.DOCTYPE_MISMATCH.value,)


def test_arbitrary_schema_with_include_and_rules(folder: Path) -> None:
    report = validate(doc(GOOD_LINES, total="31"), schema=folder / "schema.xsd", rules=folder / "rules.sch")
    assert report.document_type is None
    assert report.codes == ("INV-T-01",)
    assert validate(doc(GOOD_LINES), schema=folder / "schema.xsd").valid


def test_broken_schema_is_a_configuration_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.xsd"
    broken.write_text('<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="a" type="nope"/>'
                      "</xs:schema>")
    with pytest.raises(ConfigurationError) as info:
        validate(b"<a/>", schema=broken)
    assert info.value.code is Code.SCHEMA_LOAD_FAILED
    bad_rules = tmp_path / "bad.sch"
    bad_rules.write_text("<notschematron/>")
    with pytest.raises(ConfigurationError) as rules_info:
        validate(b"<a/>", schema=tmp_path / "nope.xsd", rules=bad_rules)
    assert rules_info.value.code is Code.SCHEMA_LOAD_FAILED


def test_network_imports_are_refused(tmp_path: Path) -> None:
    xsd = tmp_path / "net.xsd"
    xsd.write_text('<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">'
                   '<xs:import namespace="urn:x" schemaLocation="http://127.0.0.1:9/x.xsd"/>'
                   '<xs:element name="a"/></xs:schema>')
    with pytest.raises(ConfigurationError) as info:
        validate(b"<a/>", schema=xsd)
    assert info.value.code is Code.XML_EXTERNAL_FORBIDDEN
    assert validate(b"<a/>", catalogue=Catalogue([])).codes == (Code.DOCTYPE_UNKNOWN.value,), "later parses unaffected"


def test_report_serialises(validator: Validator) -> None:
    report: ValidationReport = validator.validate(doc(GOOD_LINES, total="1"), source="x.xml")
    data = report.to_dict()
    assert data["verdict"] == "invalid" and data["path"] == "x.xml" and data["document_type"] == "test-invoice"
    assert set(data["findings"][0]) == {"code", "severity", "check", "message", "line", "column", "path"}


def test_element_path_positions_only_where_names_repeat() -> None:
    tree = parse_xml(b'<a xmlns="urn:x"><b/><c/><c><d/></c></a>')
    d = tree.getroot()[2][0]
    assert element_path(d) == "/a/c[2]/d"


def test_element_path_counts_names_with_their_namespace() -> None:
    tree = parse_xml(b'<a xmlns="urn:x" xmlns:y="urn:y"><c/><y:c/><!-- n --><c/><y:c/><e/></a>')
    root = tree.getroot()
    assert [element_path(child) for child in root.iterchildren(tag="{*}*")] == [
        "/a/c[1]", "/a/c[1]", "/a/c[2]", "/a/c[2]", "/a/e"]


def test_a_few_schema_errors_are_each_located(validator: Validator) -> None:
    lines = "\n".join(['<Line unit="KGM"><Amount>1</Amount><Date>2026-01-01</Date></Line>'] * 500 + ["<Line/>"])
    report = validator.validate(doc(lines))
    assert [(f.code, f.line, f.path) for f in report.findings] == [
        (Code.SCHEMA_ATTRIBUTE_INVALID.value, 503, "/Inv/Line[501]/@unit"),
        (Code.SCHEMA_ELEMENT_MISSING.value, 503, "/Inv/Line[501]"),
    ]


def test_a_schema_error_flood_stops_after_the_listed_findings(validator: Validator) -> None:
    """One error per element, 200,000 of them: validation stops after 200, listed, and one finding says so
    (lxml recorded each error with a path that walks the preceding siblings: this took minutes)."""
    report = validator.validate(doc("<Line unit='KGM'/>" * 200_000))
    assert report.verdict is Verdict.INVALID
    assert len(report.findings) == 201
    assert {f.code for f in report.findings[:200]} == {Code.SCHEMA_ELEMENT_MISSING.value}
    assert report.findings[-1].code == Code.SCHEMA_ERRORS_TRUNCATED.value
    assert report.findings[-1].severity is Severity.ERROR
    assert report.check("rules").status is CheckStatus.SKIPPED  # type: ignore[union-attr]


def test_exactly_the_listed_number_of_errors_is_not_truncated(validator: Validator) -> None:
    report = validator.validate(doc("<Line unit='KGM'/>" * MAX_FINDINGS_PER_CHECK))
    assert len(report.findings) == MAX_FINDINGS_PER_CHECK
    assert all(f.line is not None and f.path for f in report.findings)
    assert Code.SCHEMA_ERRORS_TRUNCATED.value not in report.codes


def test_a_tree_with_the_bytes_it_was_parsed_from_gets_the_report_of_the_bytes(validator: Validator) -> None:
    """The gateway's and the node's checks pass the tree they parsed and its bytes (``parsed_from``): small and
    large, valid, invalid against the XSD or the rules, and a flood, the findings are those of the bytes."""
    many = "\n".join(['<Line unit="KGM"><Amount>1</Amount><Date>2026-01-01</Date></Line>'] * 500)
    variants = {
        "valid": doc(GOOD_LINES),
        "rules": doc(GOOD_LINES, total="31"),
        "schema, small": doc(GOOD_LINES.replace("KGM", "kilograms", 1)),
        "schema, large": doc(many + "\n<Line/>"),
        "flood": doc("<Line unit='KGM'/>" * 2_000),
    }
    for name, data in variants.items():
        from_bytes = validator.validate(data)
        from_tree = validator.validate(parse_xml(data), parsed_from=data)
        assert from_tree.findings == from_bytes.findings, name
        assert from_tree.verdict is from_bytes.verdict, name
    assert validator.validate(parse_xml(variants["rules"]), parsed_from=variants["rules"]).codes == ("INV-T-01",)
    with pytest.raises(TypeError):
        validator.validate(variants["valid"], parsed_from=variants["valid"])
