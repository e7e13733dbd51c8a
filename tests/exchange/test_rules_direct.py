"""Schematron evaluated directly (exchange/_rules_direct.py) gives what lxml's XSLT 1 skeleton gives: the same SVRL
report and the same results on every sample of the catalogue and on edge cases, the same findings through the
validator with and without SVRL, and the stylesheet wherever the evaluator cannot reproduce a file or a document."""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree, isoschematron

from exchange import default_catalogue
from exchange._findings import CheckStatus
from exchange._rules_direct import DirectRules, Fallback, direct_rules, location
from exchange._validation import CHECK_RULES, Rules, Validator, _xslt1_rules, svrl_results
from exchange._xml import parse_xml

SVRL = "{http://purl.oclc.org/dsdl/svrl}"
# rules the evaluator must take: a change that sends one back to the stylesheet shows here
DIRECT = {"certificate-of-origin", "customs-declaration", "envelope", "ephyto-sps-certificate",
          "phytosanitary-certificate", "receipt", "rejection", "transit-event"}
# xsl:key, key(), generate-id() and format-number() are XSLT, not XPath: the stylesheet runs these
STYLESHEET = {"commercial-invoice"}


def canonical(report: etree._ElementTree) -> list[Any]:
    """Everything of an SVRL report a reader sees: the root's attributes and namespaces, then each child's tag,
    attributes in order and text."""
    root = report.getroot()
    out: list[Any] = [(root.tag, sorted(root.attrib.items()), sorted(root.nsmap.items()))]
    for child in root:
        if not isinstance(child.tag, str):
            out.append(("comment", child.text))
            continue
        text = child.find(f"{SVRL}text")
        out.append((child.tag, list(child.attrib.items()), None if text is None else "".join(text.itertext())))
    return out


def compiled(source: str | bytes) -> tuple[isoschematron.Schematron, DirectRules | None]:
    tree = parse_xml(source.encode() if isinstance(source, str) else source)
    skeleton = isoschematron.Schematron(tree, store_report=True)
    return skeleton, direct_rules(tree, skeleton)


def skeleton_report(skeleton: isoschematron.Schematron, tree: etree._ElementTree) -> etree._ElementTree:
    skeleton.validate(tree)
    report = skeleton.validation_report
    assert report is not None
    return report if isinstance(report, etree._ElementTree) else etree.ElementTree(report)


def assert_same(skeleton: isoschematron.Schematron, direct: DirectRules, tree: etree._ElementTree) -> list[Any]:
    expected = skeleton_report(skeleton, tree)
    assert canonical(direct.svrl(tree)) == canonical(expected)
    assert direct.results(tree) == svrl_results(expected)
    return direct.results(tree)


def rules_types() -> list[Any]:
    return [t for t in default_catalogue() if t.rules_path is not None and t.rules_path.suffix == ".sch"]


def test_the_catalogue_rules_run_directly_except_those_using_xslt() -> None:
    taken = {t.id for t in rules_types() if compiled(t.rules_path.read_bytes())[1] is not None}
    assert DIRECT <= taken and not taken & STYLESHEET
    assert {t.id for t in rules_types()} >= DIRECT | STYLESHEET


@pytest.mark.parametrize("type_id", sorted(DIRECT))
def test_every_sample_gives_the_skeletons_report(type_id: str) -> None:
    doc_type = default_catalogue().get(type_id)
    assert doc_type.rules_path is not None
    skeleton, direct = compiled(doc_type.rules_path.read_bytes())
    assert direct is not None
    fired = 0
    for sample in doc_type.samples:
        results = assert_same(skeleton, direct, parse_xml(sample.path.read_bytes()))
        fired += len(results)
    assert fired, "no sample makes a rule report: the comparison would not show a wrong result"


@pytest.mark.parametrize("type_id", sorted(DIRECT | STYLESHEET))
def test_the_validators_findings_are_the_same_with_and_without_svrl(type_id: str) -> None:
    doc_type = default_catalogue().get(type_id)
    with_svrl, without = Validator(), Validator(svrl=False)
    for sample in doc_type.samples:
        data = sample.path.read_bytes()
        first, second = with_svrl.validate(data, document_type=type_id), without.validate(data, document_type=type_id)
        assert first.findings == second.findings, sample.path.name
        ran = any(check.name == CHECK_RULES and check.status is not CheckStatus.SKIPPED for check in first.checks)
        assert bool(first.svrl) == ran and not second.svrl


SCHEMA = """<schema xmlns="http://purl.oclc.org/dsdl/schematron" queryBinding="xslt1">
  <ns prefix="t" uri="urn:t"/>
  {body}
</schema>"""

DOCUMENT = b"""<t:doc xmlns:t="urn:t" xmlns:o="urn:o">
  <t:item n="1"><t:v>3</t:v><t:tag>x</t:tag></t:item>
  <t:item n="2"><t:v>4</t:v><t:tag>x</t:tag></t:item>
  <t:item n="2"><t:v>  5  </t:v><t:tag>y</t:tag></t:item>
  <t:other><t:v>9</t:v></t:other>
  <plain><p/><p/><o:p/></plain>
  <t:total>12</t:total>
</t:doc>"""

EDGE_CASES = {
    "first rule of a pattern wins": """<pattern id="p">
        <rule context="t:item[t:tag = 'y']" id="R1"><assert id="A1" test="false()">first</assert></rule>
        <rule context="t:item" id="R2"><assert id="A2" test="false()">second <value-of select="@n"/></assert></rule>
        <rule context="t:v"><report id="A3" test="number(.) &gt; 3" role="warning">v is <value-of select="."/></report></rule>
      </pattern>""",
    "a let referred to inside a predicate of the test": """<pattern>
        <rule context="t:item"><let name="n" value="string(@n)"/><let name="m" value="concat($n, '')"/>
          <assert id="DUP" test="not(preceding-sibling::t:item[@n = $m])">item <value-of select="$n"/> twice</assert>
          <assert id="SUM" test="$n + 0 &lt; 2" flag="warning">n <value-of select="$n"/></assert>
        </rule>
      </pattern>""",
    "schema lets, current() and name": """<let name="total" value="number(/t:doc/t:total)"/>
      <let name="items" value="count(//t:item)"/>
      <pattern id="sums"><title>Sums</title>
        <rule context="t:doc">
          <assert id="TOTAL" test="sum(t:item/t:v) = $total">sum <value-of select="sum(t:item/t:v)"/> not
            <value-of select="$total"/> (<name/>, <name path="t:total"/>)</assert>
        </rule>
        <rule context="t:item">
          <report id="CUR" test="../t:item[t:v = current()/t:v + 1]">next of <value-of select="@n"/></report>
          <report id="POS" test="../t:item[2] = ." role="info">second of <value-of select="$items"/></report>
          <assert id="SPACE" test="false()">  spaced   text
          </assert>
        </rule>
      </pattern>""",
    "union contexts, unprefixed and repeated elements": """<pattern>
        <rule context="p | t:other/t:v"><report id="U" test="true()">at <name/></report></rule>
      </pattern>
      <pattern id="second"><rule context="plain/*"><report test="true()"/></rule></pattern>""",
}


@pytest.mark.parametrize("case", sorted(EDGE_CASES))
def test_edge_cases_give_the_skeletons_report(case: str) -> None:
    skeleton, direct = compiled(SCHEMA.format(body=EDGE_CASES[case]))
    assert direct is not None, case
    results = assert_same(skeleton, direct, parse_xml(DOCUMENT))
    assert results, f"{case}: nothing reported, so nothing compared"


def test_the_inlined_let_keeps_its_meaning_inside_a_predicate() -> None:
    skeleton, direct = compiled(SCHEMA.format(body=EDGE_CASES["a let referred to inside a predicate of the test"]))
    assert direct is not None
    results = direct.results(parse_xml(DOCUMENT))
    assert [(r.get("id"), r.message) for r in results if r.get("id") == "DUP"] == [("DUP", "item 2 twice")]


UNSUPPORTED = {
    "a phase": """<phase id="ph"><active pattern="p"/></phase>
        <pattern id="p"><rule context="t:item"><assert test="true()"/></rule></pattern>""",
    "an XSLT function": """<pattern><rule context="t:item"><assert test="generate-id(.) != ''"/></rule></pattern>""",
    "an attribute context": """<pattern><rule context="@n"><assert test=". != ''"/></rule></pattern>""",
    "a context-dependent schema let": """<let name="v" value="t:v"/>
        <pattern><rule context="t:item"><assert test="$v"/></rule></pattern>""",
    "position() in a test": """<pattern><rule context="t:item"><report test="position() = 2"/></rule></pattern>""",
    "last() in a message": """<pattern><rule context="t:item"><report test="true()"><value-of select="last()"/>
        </report></rule></pattern>""",
    "markup in a message": """<pattern><rule context="t:item"><assert test="false()">a <emph>b</emph></assert>
        </rule></pattern>""",
    # the evaluator's own variables: a bulk check reads $ptx-fired as the context's nodes
    "a schema let named ptx-fired": """<let name="ptx-fired" value="'x'"/>
        <pattern><rule context="t:item"><assert test="$ptx-fired = 'x'"/></rule></pattern>""",
    "a rule let named ptx-current": """<pattern><rule context="t:item"><let name="ptx-current" value="1"/>
        <assert test="$ptx-current = 1"/></rule></pattern>""",
}


@pytest.mark.parametrize("case", sorted(UNSUPPORTED))
def test_what_it_cannot_reproduce_stays_on_the_stylesheet(case: str) -> None:
    assert compiled(SCHEMA.format(body=UNSUPPORTED[case]))[1] is None


def test_a_document_it_cannot_take_runs_on_the_stylesheet() -> None:
    source = SCHEMA.format(body="""<pattern><rule context="t:item"><let name="n" value="@n"/>
        <assert id="N" test="$n = 1">n is <value-of select="$n"/></assert></rule></pattern>""")
    skeleton, direct = compiled(source)
    assert direct is not None
    tree = parse_xml(DOCUMENT)
    with pytest.raises(Fallback):  # a let holding attributes: the stylesheet copies them, XPath would not
        direct.results(tree)
    rules = _xslt1_rules("edge.sch", parse_xml(source.encode()))
    assert isinstance(rules, Rules) and rules.direct is not None
    expected = svrl_results(skeleton_report(skeleton, tree))
    assert rules.results(tree) == expected and [r.get("id") for r in expected] == ["N", "N"]


def test_location_is_the_skeletons_path() -> None:
    tree = parse_xml(DOCUMENT)
    root = tree.getroot()
    assert location(root) == "/*[local-name()='doc' and namespace-uri()='urn:t']"
    third = root.findall("{urn:t}item")[2]
    assert location(third) == "/*[local-name()='doc' and namespace-uri()='urn:t']/*[local-name()='item' and " \
                              "namespace-uri()='urn:t'][3]"
    assert location(root.find("plain/p")) == "/*[local-name()='doc' and namespace-uri()='urn:t']/plain/p[1]"
