"""`ptx validate`: the CLI contract (exit codes, text/JSON/JUnit, folders, parallel workers)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree
from typer.testing import CliRunner

from exchange._xml import parse_xml
from exchange.cli import app
from tests.support.needs import corpus_dir

CORPUS = corpus_dir() / "schemas"
UBL_INVOICE_XSD = CORPUS / "ubl21" / "xsd" / "maindoc" / "UBL-Invoice-2.1.xsd"
EN16931_UBL = CORPUS / "ubl21" / "samples" / "en16931"

runner = CliRunner()

XSD = """<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t" xmlns="urn:t"
  elementFormDefault="qualified">
  <xs:element name="Order"><xs:complexType><xs:sequence>
    <xs:element name="ID" type="xs:string"/><xs:element name="Date" type="xs:date"/>
    <xs:element name="Qty" type="xs:positiveInteger"/>
  </xs:sequence></xs:complexType></xs:element>
</xs:schema>"""
RULES = """<schema xmlns="http://purl.oclc.org/dsdl/schematron" queryBinding="xslt"><ns prefix="t" uri="urn:t"/>
<pattern><rule context="t:Order"><assert id="ORD-01" test="t:Qty &lt;= 100">At most 100 units per order.</assert>
</rule></pattern></schema>"""


def order(qty: str = "5", date: str = "2026-01-02") -> str:
    return f'<?xml version="1.0"?>\n<Order xmlns="urn:t">\n  <ID>A1</ID>\n  <Date>{date}</Date>\n  <Qty>{qty}</Qty>\n</Order>\n'


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "order.xsd").write_text(XSD)
    (tmp_path / "order.sch").write_text(RULES)
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "good.xml").write_text(order())
    (docs / "sub" / "bad-date.xml").write_text(order(date="2026-02-30"))
    (docs / "too-many.xml").write_text(order(qty="500"))
    (docs / "hostile.xml").write_text('<!DOCTYPE Order [<!ENTITY x SYSTEM "file:///etc/passwd">]><Order/>')
    (docs / "notes.txt").write_text("not xml, not picked up")
    return tmp_path


def test_all_valid_exits_0(files: Path) -> None:
    result = runner.invoke(app, ["validate", str(files / "docs" / "good.xml"), "--schema", str(files / "order.xsd")])
    assert result.exit_code == 0, result.output
    assert "1 file(s): 1 valid, 0 invalid" in result.output


def test_folder_json_report(files: Path) -> None:
    result = runner.invoke(app, ["validate", str(files / "docs"), "--schema", str(files / "order.xsd"),
                                 "--rules", str(files / "order.sch"), "--format", "json"])
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["summary"] == {"files": 4, "valid": 1, "invalid": 3, "accept": 1, "reject": 3}
    by_name = {Path(r["path"]).name: r for r in document["results"]}
    assert set(by_name) == {"good.xml", "bad-date.xml", "too-many.xml", "hostile.xml"}
    assert by_name["good.xml"]["verdict"] == "valid" and by_name["good.xml"]["findings"] == []
    [date] = by_name["bad-date.xml"]["findings"]
    assert (date["code"], date["check"], date["line"], date["path"]) == ("SCHEMA-VALUE-INVALID", "schema", 4,
                                                                         "/Order/Date")
    [rule] = by_name["too-many.xml"]["findings"]
    assert (rule["code"], rule["message"], rule["path"]) == ("ORD-01", "At most 100 units per order.", "/Order")
    assert by_name["hostile.xml"]["findings"][0]["code"] == "XML-EXTERNAL-FORBIDDEN"
    assert all(set(f) == {"code", "severity", "check", "message", "line", "column", "path"}
               for r in document["results"] for f in r["findings"])


def test_text_report_shows_location(files: Path) -> None:
    result = runner.invoke(app, ["validate", str(files / "docs" / "sub"), "--schema", str(files / "order.xsd")])
    assert result.exit_code == 1
    assert "INVALID" in result.output and "bad-date.xml" in result.output
    assert "4:3 error SCHEMA-VALUE-INVALID [schema]" in result.output and "at /Order/Date" in result.output


def test_junit_report(files: Path) -> None:
    result = runner.invoke(app, ["validate", str(files / "docs"), "--schema", str(files / "order.xsd"),
                                 "--format", "junit"])
    assert result.exit_code == 1
    suites = parse_xml(result.stdout_bytes)
    suite = suites.getroot()[0]
    assert suite.get("tests") == "4" and suite.get("failures") == "2"  # too-many.xml breaks only a rule
    failures = {Path(c.get("name")).name: c.find("failure") for c in suite.iter("testcase")}
    assert failures["good.xml"] is None
    assert failures["bad-date.xml"] is not None and failures["bad-date.xml"].get("type") == "SCHEMA-VALUE-INVALID"


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "missing-file.xml"],
        ["validate", "{docs}", "--type", "certificate-of-origin", "--schema", "{xsd}"],
        ["validate", "{docs}", "--format", "yaml"],
        ["validate", "{docs}", "--type", "no-such-type"],
        ["validate", "{docs}", "--schema", "{missing}"],
        ["validate", "{empty}"],
    ],
    ids=["missing-path", "type-and-schema", "bad-format", "unknown-type", "missing-schema", "no-xml-files"],
)
def test_usage_and_configuration_errors_exit_2(files: Path, args: list[str]) -> None:
    (files / "empty").mkdir()
    values = {"docs": files / "docs", "xsd": files / "order.xsd", "missing": files / "nope.xsd",
              "empty": files / "empty"}
    result = runner.invoke(app, [a.format(**values) for a in args])
    assert result.exit_code == 2, result.output


def test_broken_schema_exits_2_through_the_real_command(files: Path) -> None:
    broken = files / "broken.xsd"
    broken.write_text("<xs:schema xmlns:xs='http://www.w3.org/2001/XMLSchema'><xs:element name='a' type='x'/>"
                      "</xs:schema>")
    ptx = Path(sys.executable).parent / "ptx"
    result = subprocess.run([str(ptx), "validate", str(files / "docs"), "--schema", str(broken)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("ptx: SCHEMA-LOAD-FAILED:")


@pytest.mark.usefixtures("corpus")
def test_parallel_workers_give_the_same_results(tmp_path: Path) -> None:
    docs = tmp_path / "batch"
    docs.mkdir()
    samples = [p for p in sorted(EN16931_UBL.rglob("*.xml")) if b"<Invoice" in p.read_bytes()[:2000]]
    assert samples
    for index in range(80):
        source = samples[index % len(samples)]
        data = source.read_bytes()
        if index % 10 == 0:
            data = data.replace(b"<cbc:IssueDate>", b"<cbc:IssueDate>x", 1)
        (docs / f"{index:03d}-{source.name}").write_bytes(data)
    common = ["validate", str(docs), "--schema", str(UBL_INVOICE_XSD), "--format", "json"]
    serial = json.loads(runner.invoke(app, [*common, "--jobs", "1"]).stdout)
    parallel_result = runner.invoke(app, [*common, "--jobs", "2"])
    parallel = json.loads(parallel_result.stdout)
    assert parallel_result.exit_code == 1
    for document in (serial, parallel):  # the moment of each validation differs, nothing else
        for result in document["results"]:
            assert result.pop("validated_at")
    assert serial == parallel
    invalid = [r for r in parallel["results"] if r["verdict"] == "invalid"]
    assert len(invalid) >= 8
    assert all(r["findings"][0]["path"].endswith("/IssueDate") for r in invalid)


def test_detects_catalogue_type_from_root(tmp_path: Path) -> None:
    from exchange._catalogue import default_catalogue

    doc_type = default_catalogue().get("certificate-of-origin")
    sample = next(s for s in doc_type.samples if s.expect == "valid")
    shutil.copy(sample.path, tmp_path / "coo.xml")
    result = runner.invoke(app, ["validate", str(tmp_path / "coo.xml"), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["results"][0]["document_type"] == "certificate-of-origin"
    root = etree.QName(parse_xml(sample.path.read_bytes()).getroot())
    assert root.namespace == doc_type.namespace


def test_scenarios_with_xslt2_rules_in_parallel_workers(tmp_path: Path) -> None:
    """Each worker process gets its own XSLT 2/3 engine (the parent's pipes stay the parent's)."""
    (tmp_path / "order.xsd").write_text(XSD)
    (tmp_path / "rules.sch").write_text(RULES.replace('queryBinding="xslt"', 'queryBinding="xslt2"'))
    (tmp_path / "scenarios.yaml").write_text(
        "scenarios:\n  - id: order\n    match: {root: Order, namespace: 'urn:t'}\n    schema: order.xsd\n"
        "    rules: [rules.sch]\n")
    docs = tmp_path / "docs"
    docs.mkdir()
    for index in range(12):
        (docs / f"{index:02d}.xml").write_text(order(qty="500" if index % 4 == 0 else "5"))
    result = runner.invoke(app, ["validate", str(docs), "--scenarios", str(tmp_path / "scenarios.yaml"), "-j", "2",
                                 "--format", "json"])
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    assert document["summary"]["invalid"] == 3
    assert {r["scenario"] for r in document["results"]} == {"order"}
    assert all(r["findings"][0]["code"] == "ORD-01" for r in document["results"] if r["verdict"] == "invalid")


def test_a_scenario_file_with_an_unknown_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "scenarios.yaml").write_text("scenarios:\n  - id: x\n    match: {root: Order}\n    rulez: []\n")
    (tmp_path / "a.xml").write_text(order())
    result = runner.invoke(app, ["validate", str(tmp_path / "a.xml"), "--scenarios", str(tmp_path / "scenarios.yaml")])
    assert result.exit_code == 2
    assert "SCENARIOS-INVALID" in result.output and "rulez" in result.output
