"""Scenario files: validated with unknown keys refused, matched by root, namespace and XPath, first match wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from exchange import Code
from exchange._errors import ConfigurationError
from exchange._scenarios import ScenarioSet, load_scenarios
from exchange._validation import Validator
from exchange._xml import parse_xml

XSD = """<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t" xmlns="urn:t"
  elementFormDefault="qualified"><xs:element name="Doc"><xs:complexType><xs:sequence>
  <xs:element name="Profile" type="xs:string"/></xs:sequence></xs:complexType></xs:element></xs:schema>"""
TWO = """scenarios:
  - id: strict
    title: the strict profile
    match:
      root: Doc
      namespace: urn:t
      xpath: "/t:Doc/t:Profile = 'strict'"
      namespaces: {t: "urn:t"}
    schema: doc.xsd
  - id: any-doc
    match: {root: Doc, namespace: "urn:t"}
"""


def doc(profile: str) -> bytes:
    return f'<Doc xmlns="urn:t"><Profile>{profile}</Profile></Doc>'.encode()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "doc.xsd").write_text(XSD)
    return tmp_path


def write(folder: Path, text: str) -> Path:
    path = folder / "scenarios.yaml"
    path.write_text(text)
    return path


def test_the_first_matching_scenario_applies(folder: Path) -> None:
    scenarios = load_scenarios(write(folder, TWO))
    assert [s.id for s in scenarios.scenarios] == ["strict", "any-doc"]
    assert scenarios.match(parse_xml(doc("strict"))).id == "strict"  # type: ignore[union-attr]
    assert scenarios.match(parse_xml(doc("lax"))).id == "any-doc"  # type: ignore[union-attr]
    assert scenarios.match(parse_xml(b'<Doc xmlns="urn:other"/>')) is None
    report = Validator(scenarios=scenarios).validate(doc("strict"))
    assert report.valid and report.scenario == "strict"
    assert [(c.name, c.status.value, c.subject) for c in report.checks] == [
        ("parse", "passed", None), ("document-type", "passed", "strict"), ("schema", "passed", "doc.xsd"),
        ("rules", "skipped", None)]


@pytest.mark.parametrize(("text", "says"), [
    ("scenarios:\n  - id: a\n    match: {root: Doc}\n    extra: 1\n", "extra"),
    ("scenarios:\n  - id: a\n    match: {root: Doc, nmespace: x}\n", "nmespace"),
    ("scenarios: []\n", "scenarios"),
    ("scenarios:\n  - id: a\n    match: {root: Doc}\n    schema: missing.xsd\n", "does not exist"),
    ("scenarios:\n  - id: a\n    match: {root: Doc}\n  - id: a\n    match: {root: Doc}\n", "used twice"),
    ("scenarios:\n  - id: a\n    match: {root: Doc, xpath: '/t:Doc['}\n", "match.xpath"),
    ("scenarios: [unclosed\n", "not valid YAML"),
    ("- a list\n", "mapping"),
])
def test_a_bad_scenario_file_is_refused_naming_the_problem(folder: Path, text: str, says: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_scenarios(write(folder, text))
    assert caught.value.code is Code.SCENARIOS_INVALID and says in caught.value.message


def test_paths_expand_environment_variables_with_defaults(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTX_TEST_SCHEMAS", str(folder))
    text = "scenarios:\n  - id: a\n    match: {root: Doc, namespace: 'urn:t'}\n    schema: ${PTX_TEST_SCHEMAS}/doc.xsd\n"
    assert load_scenarios(write(folder, text)).scenarios[0].schema == (folder / "doc.xsd").resolve()
    text = "scenarios:\n  - id: a\n    match: {root: Doc, namespace: 'urn:t'}\n    schema: ${PTX_UNSET_X:-.}/doc.xsd\n"
    assert load_scenarios(write(folder, text)).scenarios[0].schema == (folder / "doc.xsd").resolve()


def test_the_catalogue_types_are_scenarios() -> None:
    validator = Validator()
    scenarios = ScenarioSet.from_catalogue(validator.catalogue)
    coo = scenarios.get("certificate-of-origin")
    assert coo.document_type == "certificate-of-origin" and coo.rules and coo.schema is not None
    sample = next(s for s in validator.catalogue.get("certificate-of-origin").samples if s.expect == "valid")
    assert scenarios.match(parse_xml(sample.path.read_bytes())) == coo
    assert validator.validate_file(sample.path).scenario == "certificate-of-origin"
