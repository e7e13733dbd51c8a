"""The hardened XML entry point: every refusal has its own code, and nothing else calls lxml's parsers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from exchange import Code, XmlError, XmlLimits, parse_xml, parse_xml_file
from exchange._xml import cdata_line

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


def _utf7(text: str, hide: str) -> bytes:
    """``text`` in UTF-7 with the characters of ``hide`` in its base64 form (``=`` becomes ``+AD0-``)."""
    import base64

    def shifted(char: str) -> bytes:
        return b"+" + base64.b64encode(char.encode("utf-16-be")).rstrip(b"=") + b"-"

    return b"".join(shifted(char) if char in hide else char.encode("ascii") for char in text)


def _declared(encoding: str, body: str = "<a>x</a>") -> str:
    return f'<?xml version="1.0" encoding="{encoding}"?>{body}'


@pytest.mark.parametrize(
    "data",
    [
        _declared("UTF-7").encode("ascii") + _utf7("<a " + _declarations(20_000).decode() + "/>", hide="=x"),
        _declared("UTF-7").encode("ascii") + _utf7("<a " + " ".join(f'a{i}="x"' for i in range(20_000)) + "/>", "="),
        _declared("utf-7").encode("ascii") + b"<a>x</a>",
        _declared("ISO-8859-1").encode("latin-1"),
        _declared("US-ASCII").encode("ascii"),
        _declared("UTF-16LE").encode("utf-16"),
        _declared("Shift_JIS").encode("ascii"),
        "<?xml version='1.1'\tencoding = 'UTF-7' ?><a/>".encode("ascii"),
        _declared("UTF-32").encode("utf-32"),
        "<a>x</a>".encode("utf-32-be"),
        _declared("cp037").encode("cp037"),
    ],
    ids=["utf7-namespace-flood", "utf7-attribute-flood", "utf7-lowercase", "latin-1", "us-ascii", "utf16le-named",
         "shift-jis", "single-quotes-xml-1.1", "utf32-bom", "ucs4-no-bom", "ebcdic-declared"],
)
def test_only_utf8_and_utf16_are_accepted(data: bytes) -> None:
    """UTF-7 spells ``=`` and ``xmlns`` so that no byte count sees them: it never reaches libxml2."""
    assert refused(data, XmlLimits(max_bytes=32 * 1024 * 1024)).code is Code.XML_ENCODING_FORBIDDEN


@pytest.mark.parametrize(
    "data",
    [
        _declared("UTF-8").encode("utf-16"),
        b"\xfe\xff" + _declared("UTF-8").encode("utf-16-be"),
        b"\xef\xbb\xbf" + _declared("UTF-16").encode("ascii"),
        _declared("UTF-16").encode("ascii"),
        _declared("UTF-16").encode("utf-16-le"),
        "<a>x</a>".encode("utf-16-be"),
    ],
    ids=["utf16-bom-declares-utf8", "utf16be-bom-declares-utf8", "utf8-bom-declares-utf16", "ascii-declares-utf16",
         "utf16le-without-bom", "utf16be-without-bom-or-declaration"],
)
def test_a_byte_order_mark_must_agree_with_the_declaration(data: bytes) -> None:
    """XML 1.0 4.3.3: a fatal error, which libxml2 lets through (it follows the mark and ignores the name)."""
    assert refused(data).code is Code.XML_BOM_MISMATCH


@pytest.mark.parametrize(
    "data",
    [
        b"<a>x</a>",
        b"\xef\xbb\xbf<a>x</a>",
        _declared("UTF-8").encode("utf-8"),
        _declared("utf-8").encode("utf-8"),
        b"\xef\xbb\xbf" + _declared("UTF-8").encode("utf-8"),
        _declared("UTF-16").encode("utf-16"),
        b"\xfe\xff" + _declared("utf-16").encode("utf-16-be"),
        "<a>\u4e2d</a>".encode("utf-16"),
        b"<?xml version='1.0'?><a>x</a>",
        b"<?xml-stylesheet href='encoding=\"x\"'?><a>x</a>",
    ],
    ids=["plain", "utf8-bom", "utf8-declared", "utf8-lowercase", "utf8-bom-declared", "utf16", "utf16be", "utf16-plain",
         "no-encoding", "stylesheet-pi-not-a-declaration"],
)
def test_utf8_and_utf16_in_their_forms_are_accepted(data: bytes) -> None:
    assert parse_xml(data).getroot().tag == "a"


def test_utf16_limits_count_characters_and_report_lines() -> None:
    at_limit = ("<a " + _declarations(128).decode() + "/>").encode("utf-16")
    parse_xml(at_limit)
    over = ("<a>\n<b " + " ".join(f'a{i}="x"' for i in range(257)) + "/></a>").encode("utf-16")
    error = refused(over)
    assert error.code is Code.XML_LIMIT and error.line == 2
    assert refused("<a>\ud800</a>".encode("utf-16", "surrogatepass")).code is Code.XML_ENCODING


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (b"<a>\n<ID>12<![CDATA[34]]></ID></a>", 2),
        (b"<a><ID><![CDATA[1234]]></ID></a>", 1),
        (b"<a><!-- <![CDATA[ --><?pi <![CDATA[ ?>\n\n<b><![CDATA[x]]></b></a>", 3),
        ("<a>\n\n<b><![CDATA[x]]></b></a>".encode("utf-16"), 3),
        (b"<a><!-- <![CDATA[ in a comment --><?pi <![CDATA[ in an instruction ?><b>x</b></a>", None),
        (b"<a b='&lt;![CDATA['>&lt;![CDATA[</a>", None),
        (b"<a>x</a>", None),
    ],
    ids=["splits-text", "whole-text", "after-lookalikes", "utf16", "only-in-comment-and-pi", "escaped", "none"],
)
def test_cdata_sections_are_found_in_the_bytes(data: bytes, line: int | None) -> None:
    """The parser merges CDATA into text, so the verifier asks the bytes (``SIG-CDATA-IN-TEXT``)."""
    assert parse_xml(data).getroot().tag == "a"
    assert cdata_line(data) == line


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


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.1"?><a/>',
        b"<?xml version='1.1' encoding='UTF-8'?><a/>",
        b'<?xml version = "1.1" standalone="yes"?><a>\xc2\x85</a>',
        b'\xef\xbb\xbf<?xml version="1.1" encoding="UTF-8"?><a/>',
        '<?xml version="1.1" encoding="UTF-16"?><a/>'.encode("utf-16"),
        b'<?xml version="2.0"?><a/>',
        b'<?xml version="1.0 "?><a/>',
    ],
    ids=["1.1", "1.1-single-quoted", "1.1-with-nel", "1.1-after-utf8-bom", "1.1-in-utf16", "2.0", "1.0-with-space"],
)
def test_only_xml_1_0_is_accepted(data: bytes) -> None:
    """libxml2 reads 1.1 as 1.0 with a warning; a 1.1 reader sees other line ends and characters."""
    error = refused(data)
    assert error.code is Code.XML_VERSION_FORBIDDEN
    assert error.line == 1


@pytest.mark.parametrize("data", [b'<?xml version="1.0"?><a/>', b"<?xml version='1.0' encoding='utf-8'?><a/>",
                                  b"<a/>", '<?xml version="1.0" encoding="UTF-16"?><a/>'.encode("utf-16")])
def test_xml_1_0_with_or_without_a_declaration_is_accepted(data: bytes) -> None:
    assert parse_xml(data).docinfo.xml_version == "1.0"
