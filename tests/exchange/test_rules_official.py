"""The official EN 16931 rules (UBL and CII; Schematron sources and published XSLT 2.0) on the official examples.

Through ``ptx validate --scenarios scenarios/en16931*.yaml`` every official UBL and CII example of the corpus is
acceptable; our own negative documents (an official example with one value changed) each break one named rule and
are reported with exactly that id, at the element, by both the published XSLT and our compilation of the sources.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree
from typer.testing import CliRunner

from exchange._scenarios import load_scenarios
from exchange._validation import Validator
from exchange._xml import parse_xml
from exchange.cli import app
from tests.support.needs import REPO, corpus_dir, corpus_files

CORPUS = corpus_dir()
SCENARIOS = {"sch": REPO / "scenarios" / "en16931.yaml", "xslt": REPO / "scenarios" / "en16931-xslt.yaml"}
UBL_EXAMPLES = corpus_files("samples/en16931/**/*.xml", under="schemas/ubl21")
CII_EXAMPLES = corpus_files("samples/en16931/**/*.xml", under="schemas/cii-d16b")
UBL_EXAMPLE = CORPUS / "schemas/ubl21/samples/en16931/ubl/examples/ubl-tc434-example1.xml"
CII_EXAMPLE = CORPUS / "schemas/cii-d16b/samples/en16931/cii/examples/CII_example1.xml"
NS = {
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
}
runner = CliRunner()
pytestmark = pytest.mark.usefixtures("corpus")


@pytest.fixture(autouse=True)
def _corpus_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    monkeypatch.setenv("PTX_CORPUS", str(CORPUS))
    monkeypatch.setenv("PTX_RULES_CACHE", str(tmp_path_factory.getbasetemp() / "rules-cache"))


@pytest.mark.parametrize("variant", ["sch", "xslt"])
def test_every_official_example_is_acceptable_through_scenarios(variant: str) -> None:
    files = [*UBL_EXAMPLES, *CII_EXAMPLES]
    assert len(files) >= 60
    result = runner.invoke(app, ["validate", "--scenarios", str(SCENARIOS[variant]), "--format", "json", "-j", "1",
                                 *map(str, files)])
    assert result.exit_code == 0, result.output[-2000:]
    document = json.loads(result.output)
    assert document["summary"] == {"files": len(files), "valid": len(files), "invalid": 0, "accept": len(files),
                                   "reject": 0}
    by_scenario: dict[str, int] = {}
    for item in document["results"]:
        assert item["recommendation"] == "accept" and item["outcome"] == "acceptable"
        assert len(item["sha256"]) == 64
        rules = [step for step in item["steps"] if step["name"] == "rules"]
        assert [step["status"] for step in rules] == ["passed"], item["path"]
        by_scenario[item["scenario"]] = by_scenario.get(item["scenario"], 0) + 1
    assert set(by_scenario) == {"en16931-ubl-invoice", "en16931-ubl-credit-note", "en16931-cii"}


def mutate(path: Path, xpath: str, value: str) -> bytes:
    tree = parse_xml(path.read_bytes())
    [node] = tree.xpath(xpath, namespaces=NS)
    node.text = value
    return bytes(etree.tostring(tree, xml_declaration=True, encoding="UTF-8"))


UBL_NEGATIVES = [
    ("BR-02", "/*/cbc:ID", "", "/Invoice"),
    ("BR-06", "/*/cac:AccountingSupplierParty/cac:Party/cac:PartyLegalEntity/cbc:RegistrationName", " ", "/Invoice"),
    ("BR-CL-01", "/*/cbc:InvoiceTypeCode", "999", "/Invoice/InvoiceTypeCode"),
    ("BR-CL-14", "/*/cac:AccountingSupplierParty/cac:Party/cac:PostalAddress/cac:Country/cbc:IdentificationCode",
     "XX", "/Invoice/AccountingSupplierParty/Party/PostalAddress/Country/IdentificationCode"),
    ("BR-CO-09", "/*/cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme/cbc:CompanyID", "123456789",
     "/Invoice/AccountingSupplierParty/Party/PartyTaxScheme"),
]
CII_NEGATIVES = [
    ("BR-02", "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:ID", " ", "/CrossIndustryInvoice"),
    ("BR-CL-01", "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:TypeCode", "999",
     "/CrossIndustryInvoice/ExchangedDocument/TypeCode"),
]


@pytest.fixture(scope="module")
def validators() -> dict[str, Validator]:
    return {variant: Validator(scenarios=load_scenarios(path)) for variant, path in SCENARIOS.items()}


NEGATIVES = [(UBL_EXAMPLE, "en16931-ubl-invoice", *case) for case in UBL_NEGATIVES] + [
    (CII_EXAMPLE, "en16931-cii", *case) for case in CII_NEGATIVES]


@pytest.mark.parametrize("variant", ["sch", "xslt"])
@pytest.mark.parametrize(("example", "scenario", "rule", "xpath", "value", "path"), NEGATIVES,
                         ids=[f"{c[1]}-{c[2]}" for c in NEGATIVES])
def test_a_document_breaking_one_rule_is_reported_with_exactly_its_id(
    validators: dict[str, Validator], variant: str, example: Path, scenario: str, rule: str, xpath: str, value: str,
    path: str,
) -> None:
    report = validators[variant].validate(mutate(example, xpath, value), source=f"{rule}.xml")
    errors = [f for f in report.findings if f.is_error]
    assert [f.code for f in errors] == [rule], [f.to_dict() for f in errors]
    assert errors[0].path == path and errors[0].line and errors[0].column
    assert errors[0].message.startswith(f"[{rule}]")
    assert report.scenario == scenario and not report.valid


def test_our_compilation_of_the_sources_reports_what_the_published_xslt_does(validators: dict[str, Validator]) -> None:
    for example, negatives in ((UBL_EXAMPLE, UBL_NEGATIVES), (CII_EXAMPLE, CII_NEGATIVES)):
        for _rule, xpath, value, _path in negatives:
            document = mutate(example, xpath, value)
            ours, published = (validators[v].validate(document) for v in ("sch", "xslt"))
            assert ours.findings == published.findings


def test_a_document_no_scenario_matches_has_its_own_code(validators: dict[str, Validator]) -> None:
    report = validators["sch"].validate(b'<Order xmlns="urn:oasis:names:specification:ubl:schema:xsd:Order-2"/>')
    assert report.codes == ("SCENARIO-NO-MATCH",) and not report.valid
