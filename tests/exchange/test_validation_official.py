"""Official schema sets load and validate: OASIS UBL 2.1 and UN/CEFACT CII D16B from ../shared/corpus.

Every sample must be valid; mutated copies (an element removed, a bad value, a wrong namespace) must be
invalid with located findings.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from lxml import etree

from exchange import Code
from exchange._validation import validate
from exchange._xml import parse_xml
from tests.support.needs import corpus_dir, corpus_files

CORPUS = corpus_dir() / "schemas"
UBL = CORPUS / "ubl21"
CII = CORPUS / "cii-d16b"
CII_XSD = CII / "xsd" / "CII" / "uncefact" / "data" / "standard" / "CrossIndustryInvoice_100pD16B.xsd"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"

UBL_SAMPLES = corpus_files("samples/**/*.xml", under="schemas/ubl21")
CII_SAMPLES = corpus_files("samples/**/*.xml", under="schemas/cii-d16b")
pytestmark = pytest.mark.usefixtures("corpus")  # absent corpus: each test skips (outside CI) saying so


def ubl_schema(tree: etree._ElementTree) -> Path:
    local = etree.QName(tree.getroot()).localname
    if local == "Signature":  # a detached signature sample: the UBL copy of the XML-DSig schema
        return UBL / "xsd" / "common" / "UBL-xmldsig-core-schema-2.1.xsd"
    return UBL / "xsd" / "maindoc" / f"UBL-{local}-2.1.xsd"


def test_corpus_is_present() -> None:
    assert len(UBL_SAMPLES) >= 100, f"UBL samples missing under {UBL}"
    assert len(CII_SAMPLES) >= 10, f"CII samples missing under {CII}"


@pytest.mark.parametrize("path", UBL_SAMPLES, ids=lambda p: str(p.relative_to(UBL)))
def test_ubl_samples_are_valid(path: Path) -> None:
    tree = parse_xml(path.read_bytes())
    report = validate(tree, schema=ubl_schema(tree))
    assert report.valid, [f.to_dict() for f in report.findings[:3]]


@pytest.mark.parametrize("path", CII_SAMPLES, ids=lambda p: p.name)
def test_cii_samples_are_valid(path: Path) -> None:
    report = validate(path.read_bytes(), schema=CII_XSD)
    assert report.valid, [f.to_dict() for f in report.findings[:3]]


def located(findings: tuple, code: Code) -> list:  # type: ignore[type-arg]
    return [f for f in findings if f.code == code.value and f.line and f.path and f.path.startswith("/")]


MUTATED_UBL = [p for p in UBL_SAMPLES if "invoice" in str(p).lower() and "ignore" not in str(p)][:4] or UBL_SAMPLES[:1]


@pytest.mark.parametrize("path", MUTATED_UBL, ids=lambda p: p.name)
def test_ubl_mutations_are_invalid_and_located(path: Path) -> None:
    original = parse_xml(path.read_bytes())
    schema = ubl_schema(original)

    removed = copy.deepcopy(original)
    issue_date = removed.getroot().find(f"{{{CBC}}}IssueDate")
    assert issue_date is not None
    removed.getroot().remove(issue_date)
    report = validate(removed, schema=schema)
    assert not report.valid
    assert located(report.findings, Code.SCHEMA_ELEMENT_MISSING) or located(
        report.findings, Code.SCHEMA_ELEMENT_UNEXPECTED
    )

    bad_date = copy.deepcopy(original)
    date = bad_date.getroot().find(f"{{{CBC}}}IssueDate")
    assert date is not None
    date.text = "2013-02-30"
    report = validate(bad_date, schema=schema)
    [finding] = located(report.findings, Code.SCHEMA_VALUE_INVALID)
    root_name = etree.QName(original.getroot()).localname
    assert finding.path == f"/{root_name}/IssueDate" and finding.line == date.sourceline

    root_ns = etree.QName(original.getroot()).namespace
    assert root_ns is not None
    wrong_ns = etree.tostring(original).replace(root_ns.encode(), b"urn:example:not-ubl")
    report = validate(wrong_ns, schema=schema)
    assert report.codes == (Code.SCHEMA_ROOT_UNEXPECTED.value,)
    assert report.findings[0].path == f"/{root_name}" and report.findings[0].line


@pytest.mark.parametrize("path", CII_SAMPLES[:3], ids=lambda p: p.name)
def test_cii_mutations_are_invalid_and_located(path: Path) -> None:
    original = parse_xml(path.read_bytes())

    removed = copy.deepcopy(original)
    document = removed.getroot().find(f"{{{RSM}}}ExchangedDocument")
    assert document is not None
    removed.getroot().remove(document)
    report = validate(removed, schema=CII_XSD)
    assert located(report.findings, Code.SCHEMA_ELEMENT_UNEXPECTED) or located(
        report.findings, Code.SCHEMA_ELEMENT_MISSING
    )

    bad_amount = copy.deepcopy(original)
    amount = next(bad_amount.getroot().iter(f"{{{RAM}}}LineTotalAmount"))
    amount.text = "12,50"
    report = validate(bad_amount, schema=CII_XSD)
    [finding] = located(report.findings, Code.SCHEMA_VALUE_INVALID)
    assert finding.path is not None and finding.path.endswith("/LineTotalAmount")
    assert finding.line == amount.sourceline

    wrong_ns = etree.tostring(original).replace(RSM.encode(), b"urn:example:not-cii:100")
    report = validate(wrong_ns, schema=CII_XSD)
    assert report.codes == (Code.SCHEMA_ROOT_UNEXPECTED.value,)
