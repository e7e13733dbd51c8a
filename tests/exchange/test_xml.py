"""The hardened XML entry point: every refusal has its own code, and nothing else calls lxml's parsers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from exchange import Code, XmlError, XmlLimits, parse_xml, parse_xml_file

REPO = Path(__file__).resolve().parents[2]


def refused(data: bytes, limits: XmlLimits | None = None) -> XmlError:
    with pytest.raises(XmlError) as info:
        parse_xml(data, limits=limits or XmlLimits())
    return info.value


def test_parses_plain_document() -> None:
    tree = parse_xml(b'<?xml version="1.0" encoding="UTF-8"?>\n<a xmlns="urn:x"><b>\xe4\xb8\xad</b></a>')
    assert tree.getroot().tag == "{urn:x}a"
    assert tree.getroot()[0].text == "\u4e2d"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"<!DOCTYPE a><a/>", Code.XML_DTD_FORBIDDEN),
        (b'<!DOCTYPE a [<!ELEMENT a ANY>]><a/>', Code.XML_DTD_FORBIDDEN),
        (b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>', Code.XML_ENTITY_FORBIDDEN),
        (b'<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>', Code.XML_EXTERNAL_FORBIDDEN),
        (b'<!DOCTYPE a [<!ENTITY x SYSTEM "http://127.0.0.1:9/x">]><a>&x;</a>', Code.XML_EXTERNAL_FORBIDDEN),
        (b'<!DOCTYPE a SYSTEM "http://127.0.0.1:9/a.dtd"><a/>', Code.XML_EXTERNAL_FORBIDDEN),
        (b'<!DOCTYPE a [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><a/>', Code.XML_EXTERNAL_FORBIDDEN),
        (b"<a>&undefined;</a>", Code.XML_ENTITY_FORBIDDEN),
        (b'<a xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="/etc/passwd"/></a>',
         Code.XML_XINCLUDE_FORBIDDEN),
        (b"<a>\xff\xfe</a>", Code.XML_ENCODING),
        (b"", Code.XML_EMPTY),
        (b"  \n ", Code.XML_EMPTY),
    ],
    ids=["doctype", "internal-subset", "entity", "xxe-file", "xxe-network", "external-dtd", "parameter-entity",
         "undefined-entity", "xinclude", "bad-utf8", "empty", "blank"],
)
def test_refusals_have_their_own_code(data: bytes, code: Code) -> None:
    assert refused(data).code is code


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>', Code.XML_ENTITY_FORBIDDEN),
        ('<!DOCTYPE a SYSTEM "http://127.0.0.1:9/a.dtd"><a/>', Code.XML_EXTERNAL_FORBIDDEN),
        ("<!DOCTYPE a><a/>", Code.XML_DTD_FORBIDDEN),
    ],
)
def test_utf16_doctypes_are_refused_too(text: str, code: Code) -> None:
    assert refused(text.encode("utf-16")).code is code


def test_billion_laughs_refused_without_expansion() -> None:
    lol = b'<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">' + b"".join(
        b'<!ENTITY %s "%s">' % (bytes([98 + i]), (b"&" + bytes([97 + i]) + b";") * 10) for i in range(8)
    ) + b"]><l>&i;</l>"
    assert refused(lol).code is Code.XML_ENTITY_FORBIDDEN


def test_malformed_reports_line_and_column() -> None:
    error = refused(b"<a>\n  <b>\n</a>")
    assert error.code is Code.XML_MALFORMED
    assert error.line == 3
    assert error.column is not None and error.column > 0


def test_size_limit_is_checked_before_parsing() -> None:
    error = refused(b"<a>" + b"x" * 200 + b"</a>", XmlLimits(max_bytes=100))
    assert error.code is Code.XML_TOO_LARGE
    assert "100" in error.message


@pytest.mark.parametrize("depth", [21, 300, 20_000])
def test_depth_limit(depth: int) -> None:
    data = b"<a>" * depth + b"</a>" * depth
    assert refused(data, XmlLimits(max_depth=20)).code is Code.XML_TOO_DEEP


def test_depth_at_the_limit_is_accepted_and_limit_is_configurable() -> None:
    parse_xml(b"<a>" * 20 + b"</a>" * 20, limits=XmlLimits(max_depth=20))
    parse_xml(b"<a>" * 400 + b"</a>" * 400, limits=XmlLimits(max_depth=500))
    assert refused(b"<a>" * 120 + b"</a>" * 120).code is Code.XML_TOO_DEEP  # default 100


def _declarations(count: int, prefix: str = "n") -> bytes:
    return b" ".join(b'xmlns:%s%d="urn:n:%d"' % (prefix.encode(), index, index) for index in range(count))


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_attribute_and_namespace_floods_are_refused_quickly(encoding: str) -> None:
    """Hostile width, not depth: libxml2 is quadratic in declarations per tag, C14N in declarations in scope,
    and schema validation reports one error per unexpected attribute."""
    attributes = b"<a " + b" ".join(b'a%d="x"' % index for index in range(300)) + b"/>"
    assert refused(attributes.decode().encode(encoding)).code is Code.XML_LIMIT
    declarations = b"<a " + _declarations(200_000) + b"/>"  # 5 MB: ten seconds inside libxml2 without the check
    error = refused(declarations.decode().encode(encoding), XmlLimits(max_bytes=32 * 1024 * 1024))
    assert error.code is Code.XML_LIMIT and "declares" in error.message
    nested = b"".join(b"<e%d %s>" % (level, _declarations(10, f"p{level}_")) for level in range(20))
    nested += b"".join(b"</e%d>" % level for level in reversed(range(20)))  # 200 in scope, 10 per tag
    error = refused(nested.decode().encode(encoding))
    assert error.code is Code.XML_LIMIT and "in scope" in error.message


def test_width_at_the_limits_is_accepted() -> None:
    parse_xml(b"<a " + b" ".join(b'a%d="x"' % index for index in range(256)) + b"/>")
    parse_xml(b"<a " + _declarations(128) + b"/>")
    repeated = b'<a xmlns="urn:a">' + b'<b xmlns="urn:a">x</b>' * 5_000 + b"</a>"  # redeclared, never crowded
    parse_xml(repeated)
    parse_xml(b"<a " + b" ".join(b'a%d="x"' % index for index in range(500)) + b"/>",
              limits=XmlLimits(max_attributes=500))


def test_bad_limits_are_configuration_errors() -> None:
    with pytest.raises(Exception) as info:
        XmlLimits(max_depth=0)
    assert getattr(info.value, "code", None) is Code.CONFIG_INVALID


def test_parse_file_checks_size_first(tmp_path: Path) -> None:
    path = tmp_path / "big.xml"
    path.write_bytes(b"<a>" + b"x" * 500 + b"</a>")
    with pytest.raises(XmlError) as info:
        parse_xml_file(path, limits=XmlLimits(max_bytes=100))
    assert info.value.code is Code.XML_TOO_LARGE
    with pytest.raises(XmlError) as missing:
        parse_xml_file(tmp_path / "absent.xml")
    assert missing.value.code is Code.INPUT_UNREADABLE


def test_text_input_is_refused() -> None:
    with pytest.raises(TypeError):
        parse_xml("<a/>")  # type: ignore[arg-type]


_PARSER_CALL = re.compile(
    r"\b(etree\.(parse|fromstring|XML|XMLParser|iterparse|XMLPullParser|HTML|HTMLParser|XMLID|fromstringlist)\b"
    r"|from lxml\.etree import .*\b(parse|fromstring|XMLParser|iterparse)\b"
    r"|\bimport xml\.(etree|dom|sax)|from xml\.(etree|dom|sax)|lxml\.objectify|defusedxml)"
)


def test_nothing_else_calls_lxml_parsers() -> None:
    """Lint: only exchange/_xml.py may construct lxml parsers or parse text."""
    offenders = []
    for folder in ("exchange", "gateway", "bench", "examples"):
        for path in sorted((REPO / folder).rglob("*.py")):
            if path == REPO / "exchange" / "_xml.py":
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if folder == "bench" and "noqa: TID251" in line:
                    continue  # a benchmark's C floor calls lxml directly, on purpose and marked
                if _PARSER_CALL.search(line):
                    offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert offenders == [], "use exchange._xml instead:\n" + "\n".join(offenders)
