"""The XSLT 2/3 rules engine: Schematron xslt2 compiled by our compiler, run by SaxonC-HE in a bounded process.

A rules file that fails to compile or run is an error with its own code, never a pass; rules are confined (no
file, network or environment access); compiled rules are cached on disk by content hash.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from exchange import Code
from exchange._errors import ConfigurationError
from exchange._schematron import QueryBinding, compile_schematron
from exchange._validation import Validator, clear_caches, compiled_rules
from exchange._xml import parse_xml
from exchange._xslt2 import Engine, EngineLimits, load_xslt2_rules

SCH = "http://purl.oclc.org/dsdl/schematron"
DOC = b'<order xmlns="urn:test:order"><id>A-1</id><total>10</total><line amount="4"/><line amount="6"/></order>'
XSD = """<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:test:order"
  xmlns="urn:test:order" elementFormDefault="qualified"><xs:element name="order"><xs:complexType><xs:sequence>
  <xs:element name="id" type="xs:string"/><xs:element name="total" type="xs:decimal"/>
  <xs:element name="line" maxOccurs="unbounded"><xs:complexType><xs:attribute name="amount" type="xs:decimal"/>
  </xs:complexType></xs:element></xs:sequence></xs:complexType></xs:element></xs:schema>"""


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTX_RULES_CACHE", str(tmp_path / "cache"))
    clear_caches()


def sch(body: str, binding: str = "xslt2", extra: str = "") -> str:
    return (f'<schema xmlns="{SCH}" queryBinding="{binding}" {extra}><ns prefix="o" uri="urn:test:order"/>'
            f"{body}</schema>")


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


TOTAL_RULE = """<pattern id="totals"><rule context="o:order">
  <let name="sum" value="sum(o:line/@amount)"/>
  <assert id="R-TOTAL" flag="fatal" test="xs:decimal(o:total) = $sum">total <value-of select="o:total"/> is not the
  sum <value-of select="$sum"/> of <name/></assert>
  <report id="R-INFO" role="information" test="count(o:line) gt 1">several lines</report>
  <assert id="R-WARN" flag="warning" test="string-length(o:id) gt 5">short id</assert>
</rule></pattern>"""


def test_xslt2_schematron_runs_with_let_value_of_report_and_roles(tmp_path: Path) -> None:
    rules = write(tmp_path, "rules.sch", sch(TOTAL_RULE))
    schema = write(tmp_path, "order.xsd", XSD)
    assert compiled_rules(rules).binding is QueryBinding.XSLT2
    good = Validator().validate(DOC, schema=schema, rules=rules)
    assert good.valid, good.findings
    assert {(f.code, f.severity.value) for f in good.findings} == {("R-INFO", "info"), ("R-WARN", "warning")}
    bad = Validator().validate(DOC.replace(b"<total>10", b"<total>11"), schema=schema, rules=rules)
    assert not bad.valid
    [failed] = [f for f in bad.findings if f.code == "R-TOTAL"]
    assert failed.message == "total 11 is not the sum 10 of order"
    assert (failed.line, failed.column, failed.path) == (1, 1, "/order")


def test_includes_abstract_patterns_and_phases(tmp_path: Path) -> None:
    write(tmp_path, "parts/abstract.sch", f'<pattern xmlns="{SCH}" abstract="true" id="amounts">'
          '<rule context="$line"><assert id="R-POSITIVE" test="$positive">amount must be positive</assert></rule>'
          "</pattern>")
    write(tmp_path, "parts/bound.sch", f'<pattern xmlns="{SCH}" is-a="amounts" id="bound">'
          '<param name="line " value="o:line"/><param name="positive" value="xs:decimal(@amount) gt 0"/></pattern>')
    rules = write(tmp_path, "rules.sch", sch(
        '<phase id="only-amounts"><active pattern="bound"/></phase>'
        '<include href="parts/abstract.sch"/><include href="parts/bound.sch"/>'
        '<pattern id="ids"><rule context="o:id"><assert id="R-ID" test="starts-with(., \'B\')">id</assert></rule>'
        "</pattern>"))
    report = Validator().validate(DOC.replace(b'amount="6"', b'amount="-6"'), schema=write(tmp_path, "o.xsd", XSD),
                                  rules=rules)
    assert sorted(f.code for f in report.findings) == ["R-ID", "R-POSITIVE"]
    [positive] = [f for f in report.findings if f.code == "R-POSITIVE"]
    assert positive.path == "/order/line[2]"
    compiled = compile_schematron(rules, phase="only-amounts")
    assert (compiled.patterns, compiled.assertions) == (1, 1)


def test_an_include_outside_the_rules_folder_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "outside.sch", f'<pattern xmlns="{SCH}"/>')
    rules = write(tmp_path, "inner/rules.sch", sch('<include href="../outside.sch"/>'))
    with pytest.raises(ConfigurationError) as caught:
        compiled_rules(rules)
    assert caught.value.code is Code.RULES_LOAD_FAILED and "outside the rules folder" in caught.value.message


def test_xslt1_rules_stay_on_lxml(tmp_path: Path) -> None:
    rules = write(tmp_path, "rules.sch", sch('<pattern><rule context="o:order"><assert id="R-1" test="o:id">'
                                             "id</assert></rule></pattern>", binding="xslt1"))
    assert compiled_rules(rules).engine == "lxml-xslt1"


# --- never a pass ------------------------------------------------------------------------------------------


def test_rules_that_fail_to_compile_are_an_error_never_a_pass(tmp_path: Path) -> None:
    rules = write(tmp_path, "broken.sch", sch('<pattern><rule context="o:order">'
                                              '<assert id="R-1" test="o:id = = 1">x</assert></rule></pattern>'))
    with pytest.raises(ConfigurationError) as caught:
        Validator().validate(DOC, schema=write(tmp_path, "o.xsd", XSD), rules=rules)
    assert caught.value.code is Code.RULES_LOAD_FAILED
    assert "does not compile" in caught.value.message


def test_rules_that_fail_while_running_give_an_error_finding_never_a_pass(tmp_path: Path) -> None:
    # a dynamic error (a cast of 'A-1' to a date) on the document: the KoSIT validator once said "valid" here
    rules = write(tmp_path, "dynamic.sch", sch('<pattern><rule context="o:order">'
                                               '<assert id="R-DATE" test="xs:date(o:id) lt current-date()">date'
                                               "</assert></rule></pattern>"))
    report = Validator().validate(DOC, schema=write(tmp_path, "o.xsd", XSD), rules=rules)
    assert not report.valid
    assert report.codes == ("RULES-RUN-FAILED",)
    assert "Invalid date" in report.findings[0].message
    assert report.check("rules") is not None and report.check("rules").status.value == "failed"  # type: ignore[union-attr]


def test_a_runaway_rule_is_stopped_at_its_time_limit_and_the_engine_recovers(tmp_path: Path) -> None:
    spin = write(tmp_path, "spin.xslt", """<xsl:stylesheet version="3.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
      ><xsl:template match="/"><x><xsl:value-of
      select="sum(for $a in 1 to 1000000, $b in 1 to 1000000 return $a * $b mod 7)"/></x></xsl:template>
      </xsl:stylesheet>""")
    engine = Engine(EngineLimits(run_seconds=2.0))
    try:
        rules = load_xslt2_rules(spin, engine=engine)
        first = engine.pid
        with pytest.raises(ConfigurationError) as caught:
            rules.svrl(parse_xml(DOC), engine=engine)
        assert caught.value.code is Code.RULES_LIMIT_EXCEEDED
        good = load_xslt2_rules(write(tmp_path, "ok.sch", sch(TOTAL_RULE)), engine=engine)
        assert good.svrl(parse_xml(DOC), engine=engine).getroot().tag.endswith("schematron-output")
        assert engine.pid != first  # killed and started again
    finally:
        engine.close()


def test_output_that_is_not_svrl_is_an_error(tmp_path: Path) -> None:
    other = write(tmp_path, "other.xslt", '<xsl:stylesheet version="2.0" xmlns:xsl="http://www.w3.org/1999/XSL/'
                  'Transform"><xsl:template match="/"><ok/></xsl:template></xsl:stylesheet>')
    report = Validator().validate(DOC, schema=write(tmp_path, "o.xsd", XSD), rules=other)
    assert report.codes == ("RULES-RUN-FAILED",) and not report.valid


# --- confined ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("construct", [
    "<xsl:value-of select=\"unparsed-text('file:///etc/passwd')\"/>",
    "<xsl:value-of select=\"doc('http://example.org/x.xml')\"/>",
    "<xsl:value-of select=\"environment-variable('HOME')\"/>",
    "<xsl:value-of select=\"function-lookup(xs:QName('fn:environment-variable'), 1)('HOME')\"/>",
    "<xsl:result-document href=\"file:///tmp/ptx-written.txt\"><x/></xsl:result-document>",
    "<xsl:evaluate xpath=\"'1'\"/>",
])
def test_rules_that_reach_outside_the_document_are_refused(tmp_path: Path, construct: str) -> None:
    rules = write(tmp_path, "reach.xslt", '<xsl:stylesheet version="3.0" xmlns:xsl="http://www.w3.org/1999/XSL/'
                  f'Transform" xmlns:xs="http://www.w3.org/2001/XMLSchema"><xsl:template match="/">{construct}'
                  "</xsl:template></xsl:stylesheet>")
    with pytest.raises(ConfigurationError) as caught:
        compiled_rules(rules)
    assert caught.value.code is Code.RULES_FORBIDDEN
    assert not Path("/tmp/ptx-written.txt").exists()


def test_the_engine_reads_no_uri_at_run_time(tmp_path: Path) -> None:
    # past the static check (a computed function name is not spelled out), Saxon's allowedProtocols is empty
    sneaky = write(tmp_path, "sneaky.xslt", '<xsl:stylesheet version="2.0" xmlns:xsl="http://www.w3.org/1999/XSL/'
                   'Transform" xmlns:svrl="http://purl.oclc.org/dsdl/svrl"><xsl:template match="/">'
                   "<svrl:schematron-output><xsl:copy-of select=\"document-uri(/)\"/><xsl:for-each select=\"'x'\">"
                   "<xsl:copy-of select=\"unparsed-text-available('file:///etc/hostname')\"/></xsl:for-each>"
                   "</svrl:schematron-output></xsl:template></xsl:stylesheet>")
    with pytest.raises(ConfigurationError) as caught:  # spelled out: refused before compiling
        compiled_rules(sneaky)
    assert caught.value.code is Code.RULES_FORBIDDEN


# --- cache ---------------------------------------------------------------------------------------------------


def test_compiled_schematron_is_cached_by_content_hash(tmp_path: Path) -> None:
    rules = write(tmp_path, "rules.sch", sch(TOTAL_RULE))
    first = load_xslt2_rules(rules)
    cached = list((tmp_path / "cache").glob("*.xslt"))
    assert len(cached) == 1
    copy = write(tmp_path / "elsewhere", "same.sch", rules.read_text())
    assert load_xslt2_rules(copy).key == first.key  # same content, same compiled rules
    assert len(list((tmp_path / "cache").glob("*.xslt"))) == 1
    rules.write_text(sch(TOTAL_RULE.replace("R-TOTAL", "R-TOTAL-2")))
    assert load_xslt2_rules(rules).key != first.key
    assert len(list((tmp_path / "cache").glob("*.xslt"))) == 2


# --- one mechanism: a catalogue type whose rules are XSLT 2 -------------------------------------------------


def test_a_catalogue_type_with_xslt2_rules_runs_on_the_engine_and_its_samples_behave(tmp_path: Path) -> None:
    """What the gateway and the nodes run (Validator over the catalogue) picks the engine by the rules' binding."""
    import shutil

    from exchange._catalogue import Catalogue, default_catalogue, load_document_type
    from exchange._validation import check_type_folder

    original = default_catalogue().get("certificate-of-origin")
    folder = tmp_path / "certificate-of-origin"
    shutil.copytree(original.folder, folder)
    rules = folder / "rules.sch"
    rules.write_text(rules.read_text(encoding="utf-8").replace('queryBinding="xslt"', 'queryBinding="xslt2"'),
                     encoding="utf-8")
    doc_type = load_document_type(folder)
    assert compiled_rules(doc_type.rules_path).engine == "saxon-xslt2"  # type: ignore[arg-type]
    assert check_type_folder(doc_type) == []
    validator = Validator(Catalogue([doc_type]))
    for sample in doc_type.samples:
        ours = validator.validate_file(sample.path)
        lxml = Validator(Catalogue([original])).validate_file(original.folder / sample.path.relative_to(folder))
        assert ours.codes == lxml.codes and [f.path for f in ours.findings] == [f.path for f in lxml.findings]


@pytest.mark.slow
def test_a_rule_that_eats_memory_is_stopped_at_the_memory_limit(tmp_path: Path) -> None:
    greedy = write(tmp_path, "greedy.xslt", '<xsl:stylesheet version="3.0" xmlns:xsl="http://www.w3.org/1999/XSL/'
                   'Transform"><xsl:template match="/"><x><xsl:value-of select="string-length(string-join('
                   "for $i in 1 to 200000000 return concat('xxxxxxxxxxxxxxxxxxxx', $i)))\"/></x></xsl:template>"
                   "</xsl:stylesheet>")
    engine = Engine(EngineLimits(memory_bytes=512 << 20, run_seconds=120))
    try:
        rules = load_xslt2_rules(greedy, engine=engine)
        with pytest.raises(ConfigurationError) as caught:
            rules.svrl(parse_xml(DOC), engine=engine)
        assert caught.value.code is Code.RULES_LIMIT_EXCEEDED and "memory limit of 512 MiB" in caught.value.message
    finally:
        engine.close()
