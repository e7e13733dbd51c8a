"""The one hardened XML entry point.

Nothing else in the project calls lxml's parsers (a ruff ``banned-api`` rule and ``tests/exchange/test_xml.py``
enforce it). Two profiles:

``parse_xml`` / ``parse_xml_file``
    For every document, envelope, receipt and trust list that comes from outside. Reads XML 1.0 only, in
    UTF-8 or UTF-16; refuses any DOCTYPE/DTD, entity declarations and references, external resources and
    XInclude; never touches the network; bounds input size and nesting depth (:class:`XmlLimits`, safe
    defaults); a malformed document reports line and column. Every refusal is an :class:`~exchange.XmlError`
    with its own stable code.

``load_trusted_xml``
    For schema and Schematron files that are configuration (the catalogue, or an integrator's own XSD). These
    may carry an internal DTD subset with internal entities (the W3C XML-DSig schema does), but external
    entities, DTD loading and network access stay refused; imports may only load local files.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

from exchange._errors import Code, ConfigurationError, XmlError

XINCLUDE_NAMESPACES = ("http://www.w3.org/2001/XInclude", "http://www.w3.org/2003/XInclude")
_XINCLUDE_TAGS = tuple(f"{{{ns}}}*" for ns in XINCLUDE_NAMESPACES)

# libxml2's own depth cap without XML_PARSE_HUGE
_LIBXML2_DEPTH_CAP = 256


@dataclass(frozen=True, slots=True)
class XmlLimits:
    """Bounds applied before and while parsing untrusted XML. Defaults are the safe choice.

    ``max_attributes`` (on one element) and ``max_namespaces`` (declarations in scope at one element) bound the
    work that hostile input can cause later: libxml2 reports one schema error per unexpected attribute, and
    exclusive C14N costs elements x namespaces in scope (50,000 unused declarations, which do not even break a
    signature, made one envelope cost ten seconds).
    """

    max_bytes: int = 16 * 1024 * 1024
    max_depth: int = 100
    max_attributes: int = 256
    max_namespaces: int = 128

    def __post_init__(self) -> None:
        if self.max_bytes < 1:
            raise ConfigurationError("max_bytes must be positive", code=Code.CONFIG_INVALID)
        if not 1 <= self.max_depth <= 10_000:
            raise ConfigurationError("max_depth must be between 1 and 10000", code=Code.CONFIG_INVALID)
        if not 1 <= self.max_attributes <= 100_000 or not 1 <= self.max_namespaces <= 100_000:
            raise ConfigurationError(
                "max_attributes and max_namespaces must be between 1 and 100000", code=Code.CONFIG_INVALID
            )


DEFAULT_LIMITS = XmlLimits()

_local = threading.local()


def _untrusted_parser(huge: bool) -> etree.XMLParser:
    key = "huge" if huge else "normal"
    parser: etree.XMLParser | None = getattr(_local, key, None)
    if parser is None:
        parser = etree.XMLParser(  # noqa: TID251 - this module is the one entry point
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            attribute_defaults=False,
            remove_blank_text=False,
            remove_comments=False,
            remove_pis=False,
            huge_tree=huge,
            collect_ids=False,
        )
        parser.resolvers.add(_RefuseAllResolver())
        setattr(_local, key, parser)
    return parser


class _RefuseAllResolver(etree.Resolver):
    """Never resolves anything: no file, no network. Answers an empty resource instead of raising (an
    exception raised in a resolver may be kept by lxml and surface in a later, unrelated parse); the
    DOCTYPE and entity checks after parsing then refuse the document with the right code."""

    def resolve(self, system_url: str, public_id: str, context: Any) -> Any:
        return self.resolve_empty(context)


class _LocalFilesOnlyResolver(etree.Resolver):
    """For trusted schema files: imports and includes may load local files, never the network.

    A refused URL is recorded (see :func:`refused_imports`) and answered with an empty resource; the caller
    that compiles the schema turns the record into a clear error.
    """

    def resolve(self, system_url: str, public_id: str, context: Any) -> Any:
        if system_url and re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]+://", system_url) and not system_url.startswith(
            "file://"
        ):
            _local.__dict__.setdefault("refused", []).append(system_url)
            return self.resolve_empty(context)
        return None  # let libxml2 load the local file


def take_refused_imports() -> list[str]:
    """URLs the trusted loader refused in this thread since the last call (and forget them)."""
    refused: list[str] = _local.__dict__.pop("refused", [])
    return refused


def _trusted_parser() -> etree.XMLParser:
    parser: etree.XMLParser | None = getattr(_local, "trusted", None)
    if parser is None:
        parser = etree.XMLParser(  # noqa: TID251 - this module is the one entry point
            resolve_entities="internal",
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            attribute_defaults=False,
            huge_tree=False,
        )
        parser.resolvers.add(_LocalFilesOnlyResolver())
        _local.trusted = parser
    return parser


_depth_xpaths: dict[int, etree.XPath] = {}


def _deeper_than(root: etree._Element, max_depth: int) -> bool:
    """True when some element sits deeper than ``max_depth`` (the root is depth 1). Runs in libxml2."""
    xpath = _depth_xpaths.get(max_depth)
    if xpath is None:
        xpath = etree.XPath("boolean(/" + "/".join(["*"] * (max_depth + 1)) + ")")
        _depth_xpaths[max_depth] = xpath
    return bool(xpath(root))


_crowded_xpaths: dict[int, etree.XPath] = {}


def _crowded_element(root: etree._Element, max_attributes: int) -> etree._Element | None:
    """The first element with more than ``max_attributes`` attributes, or None. Runs in libxml2."""
    xpath = _crowded_xpaths.get(max_attributes)
    if xpath is None:
        xpath = etree.XPath(f"(//*[count(@*) > {max_attributes}])[1]")
        _crowded_xpaths[max_attributes] = xpath
    found = xpath(root)
    return found[0] if isinstance(found, list) and found else None


def _namespace_crowded(root: etree._Element, max_namespaces: int) -> etree._Element | None:
    """The first element with more than ``max_namespaces`` declarations in scope (redeclarations count)."""
    in_scope, pending, stack = 0, 0, []
    for event, item in etree.iterwalk(root, events=("start", "end", "start-ns")):
        if event == "start-ns":
            pending += 1
        elif event == "start":
            stack.append(pending)
            in_scope += pending
            pending = 0
            if in_scope > max_namespaces:
                return item
        else:
            in_scope -= stack.pop()
    return None


# --- encodings: UTF-8 and UTF-16 only, decided before libxml2 reads a byte ---------------------------------------

#: The encodings the profile accepts, as an encoding declaration names them (case-insensitive). XML requires
#: every processor to read these two; nothing the exchange needs is written in any other.
ACCEPTED_ENCODINGS = ("UTF-8", "UTF-16")

_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),  # before UTF-16 LE, whose mark it starts with
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xef\xbb\xbf", "UTF-8"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)
_PARSED_ENCODINGS = frozenset({"UTF-8", "UTF-16", "UTF-16LE", "UTF-16BE"})  # as libxml2 names what it read
_EBCDIC_DECLARATION = b"\x4c\x6f\xa7\x94"  # "<?xm" in EBCDIC, which libxml2 would switch to
_DECLARATION_START = re.compile(rb"<\?xml[ \t\r\n]")
_ENCODING_DECLARATION = re.compile(rb"""\bencoding[ \t\r\n]*=[ \t\r\n]*(?:"([^"]*)"|'([^']*)')""")
_VERSION_DECLARATION = re.compile(rb"""\A<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(?:"([^"]*)"|'([^']*)')""")


def _characters(data: bytes) -> bytes:
    """The document's characters as UTF-8, which is what every byte-level check reads; or a refusal.

    The first bytes and the encoding declaration decide the encoding exactly as libxml2 would (XML 1.0 appendix
    F), and only UTF-8 and UTF-16 pass: any other declared encoding (UTF-7, ISO-8859-x, EBCDIC, UCS-4, ...) is
    ``XML-ENCODING-FORBIDDEN``, so no encoding can write ``=`` or ``xmlns`` in a way the limits do not count. A
    byte-order mark that contradicts the declaration, and UTF-16 without its byte-order mark, are fatal errors
    in XML 1.0 (``XML-BOM-MISMATCH``). UTF-8 input is returned as it is (without its mark); UTF-16 input is
    transcoded, so counts and line numbers are those of the characters the parser reads.
    """
    bom = next(((mark, name) for mark, name in _BOMS if data.startswith(mark)), None)
    if bom is not None and bom[1] not in ACCEPTED_ENCODINGS:
        raise XmlError(f"the input starts with a {bom[1]} byte-order mark; only UTF-8 and UTF-16 are accepted",
                       code=Code.XML_ENCODING_FORBIDDEN, line=1, column=1)
    family = bom[1] if bom is not None else "UTF-8"
    head = data[:4]
    if bom is None and head.startswith(_EBCDIC_DECLARATION):
        raise XmlError("the input is EBCDIC; only UTF-8 and UTF-16 are accepted",
                       code=Code.XML_ENCODING_FORBIDDEN, line=1, column=1)
    if bom is None and b"\x00" in head:
        if head.count(b"\x00") == 2 and (head[0::2] == b"\x00\x00") != (head[1::2] == b"\x00\x00"):
            raise XmlError("the input is UTF-16 without a byte-order mark, which XML 1.0 requires",
                           code=Code.XML_BOM_MISMATCH, line=1, column=1)
        raise XmlError("the input starts with NUL bytes (UCS-4 or another encoding); only UTF-8 and UTF-16 are "
                       "accepted", code=Code.XML_ENCODING_FORBIDDEN, line=1, column=1)
    if family == "UTF-16":
        try:
            text = data.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError as exc:
            raise XmlError(f"the input is not valid UTF-16: {exc.reason}", code=Code.XML_ENCODING) from exc
    else:
        text = data[len(bom[0]):] if bom is not None else data
    declared = _declared_encoding(text)
    if declared is None:
        return text
    if declared.upper() not in ACCEPTED_ENCODINGS:
        raise XmlError(f"the document declares encoding {declared!r}; only UTF-8 and UTF-16 are accepted",
                       code=Code.XML_ENCODING_FORBIDDEN, line=1)
    if declared.upper() != family:
        found = f"a {family} byte-order mark" if bom is not None else "no byte-order mark"
        raise XmlError(f"the document declares encoding {declared!r} but starts with {found} (a fatal error in "
                       "XML 1.0: the byte-order mark and the declaration must agree)",
                       code=Code.XML_BOM_MISMATCH, line=1)
    return text


def _declared_encoding(text: bytes) -> str | None:
    """The encoding named by the XML declaration at the very start of ``text`` (UTF-8), if any."""
    if not _DECLARATION_START.match(text):
        return None
    end = text.find(b">")  # no value in a well-formed declaration holds ">": this covers all libxml2 reads of it
    declaration = text[: end if end >= 0 else len(text)]
    match = _ENCODING_DECLARATION.search(declaration)
    if match is None:
        if b"encoding" in declaration:
            raise XmlError("the XML declaration names an encoding it does not quote", code=Code.XML_MALFORMED,
                           line=1)
        return None
    return (match.group(1) if match.group(1) is not None else match.group(2)).decode("ascii", "replace")


def _refuse_xml_version(text: bytes) -> None:
    """Only XML 1.0: a declaration naming any other version is ``XML-VERSION-FORBIDDEN`` (``text``: UTF-8).

    libxml2 reads ``version="1.1"`` as 1.0 with a warning, but a 1.1 processor reads the same bytes differently
    (NEL and U+2028 end lines, ``&#x1;`` is a character): a signed document must mean one thing to every
    reader, and no profile here needs XML 1.1. A declaration without a version is left to the parser (malformed).
    """
    if not _DECLARATION_START.match(text):
        return
    match = _VERSION_DECLARATION.match(text)
    if match is None:
        return
    version = match.group(1) if match.group(1) is not None else match.group(2)
    if version != b"1.0":
        raise XmlError(f"the document declares XML version {version.decode('ascii', 'replace')!r}; only 1.0 is "
                       "accepted", code=Code.XML_VERSION_FORBIDDEN, line=1)


def _refuse_declaration_flood(text: bytes, limits: XmlLimits, declarations: int) -> None:
    """Before libxml2 sees it: refuse a start tag with more namespace declarations than ``max_namespaces``.

    libxml2 checks each declaration of an element against the others, so 200,000 on one element cost it ten
    seconds (quadratic) before any check of ours could run. ``text`` holds the characters the parser will read
    (:func:`_characters`), so counting ``xmlns`` (``declarations``) is an upper bound and ordinary input costs
    one ``count``.
    """
    if declarations <= limits.max_namespaces:
        return
    for chunk in text.split(b"<"):  # a start tag and the text after it, up to the next tag
        if chunk.count(b"xmlns") > limits.max_namespaces:
            raise XmlError(
                f"a start tag declares more than {limits.max_namespaces} namespaces", code=Code.XML_LIMIT
            )


def _refuse_crowding(text: bytes, tree: etree._ElementTree, limits: XmlLimits, declarations: int) -> None:
    """Refuse too many attributes on one element, or namespace declarations in scope (``XML-LIMIT``).

    Decided on the tree the parser built. Counting ``=`` and ``xmlns`` in the characters it read first is an
    upper bound (no encoding can spell them otherwise), so only input that could break a bound is walked.
    """
    root = tree.getroot()
    if text.count(b"=") > limits.max_attributes:
        element = _crowded_element(root, limits.max_attributes)
        if element is not None:
            raise XmlError(
                f"an element has {len(element.attrib):,} attributes; the limit is {limits.max_attributes}",
                code=Code.XML_LIMIT, line=element.sourceline,
            )
    if declarations > limits.max_namespaces:
        element = _namespace_crowded(root, limits.max_namespaces)
        if element is not None:
            raise XmlError(
                f"more than {limits.max_namespaces} namespace declarations are in scope at one element",
                code=Code.XML_LIMIT, line=element.sourceline,
            )


_ERROR_PATTERNS: tuple[tuple[re.Pattern[str], Code], ...] = (
    (re.compile(r"failed to load|network entity|external entity", re.I), Code.XML_EXTERNAL_FORBIDDEN),
    (re.compile(r"Excessive depth|Maximum depth|depth .* exceeds", re.I), Code.XML_TOO_DEEP),
    (re.compile(r"Entity '.*' not defined|entity reference loop|amplification|PEReference", re.I),
     Code.XML_ENTITY_FORBIDDEN),
    (re.compile(r"not proper UTF|encoding|Char 0x|invalid character|Invalid bytes", re.I), Code.XML_ENCODING),
    (re.compile(r"huge|too long|Huge input|limit", re.I), Code.XML_LIMIT),
    (re.compile(r"Document is empty|Start tag expected", re.I), Code.XML_EMPTY),
)


def _code_for_syntax_error(message: str) -> Code:
    for pattern, code in _ERROR_PATTERNS:
        if pattern.search(message):
            return code
    return Code.XML_MALFORMED


_PROLOG_DOCTYPE = re.compile(rb"\A(?:\xef\xbb\xbf)?\s*(?>(?:<\?.*?\?>\s*|<!--.*?-->\s*)*)<!DOCTYPE", re.DOTALL)
_ENTITY_DECL = re.compile(rb"<!ENTITY\s+(?:%\s+)?[^\s>]+\s+(SYSTEM|PUBLIC)?", re.DOTALL)


def _refuse_doctype(data: bytes) -> None:
    """Refuse a DOCTYPE before libxml2 sees it, with the most specific code (``data``: the characters as UTF-8)."""
    if data.find(b"<!DOCTYPE") < 0:  # the common case, at memchr speed
        return
    match = _PROLOG_DOCTYPE.match(data)
    if match is None:
        return
    start = match.end()
    line = data.count(b"\n", 0, start) + 1
    bracket, close = data.find(b"[", start), data.find(b">", start)
    header = data[start : min(i for i in (bracket, close, len(data)) if i >= 0)]
    if b"SYSTEM" in header or b"PUBLIC" in header:
        raise XmlError(
            "DOCTYPE refers to an external DTD; external resources are never loaded",
            code=Code.XML_EXTERNAL_FORBIDDEN,
            line=line,
        )
    if 0 <= bracket < (close if close >= 0 else len(data)):
        end = data.find(b"]", bracket)
        subset = data[bracket : end if end >= 0 else len(data)]
        declarations = [m.group(1) for m in _ENTITY_DECL.finditer(subset)]
        if any(declarations):
            raise XmlError(
                "the document declares an external entity (XXE); external resources are never loaded",
                code=Code.XML_EXTERNAL_FORBIDDEN,
                line=line,
            )
        if declarations:
            raise XmlError(
                "the document declares entities; entity declarations are not allowed",
                code=Code.XML_ENTITY_FORBIDDEN,
                line=line,
            )
    raise XmlError("DOCTYPE declarations are not allowed", code=Code.XML_DTD_FORBIDDEN, line=line)


_CDATA_OR_SKIPPED = re.compile(rb"<!--.*?-->|<\?.*?\?>|<!\[CDATA\[", re.DOTALL)


def cdata_line(data: bytes) -> int | None:
    """The line of the first CDATA section of a well-formed document (bytes as received), or None.

    The hardened parser merges CDATA sections into the text around them, so only the bytes show them. In a
    well-formed document ``<![CDATA[`` outside a comment or processing instruction always opens a section (no
    attribute value holds ``<``), so skipping those two is exact. Costs one ``find`` when there is none.
    """
    text = _characters(data)
    if text.find(b"<![CDATA[") < 0:
        return None
    for match in _CDATA_OR_SKIPPED.finditer(text):
        if match.group() == b"<![CDATA[":
            return text.count(b"\n", 0, match.start()) + 1
    return None


def _doctype_line(data: bytes) -> int | None:
    index = data.find(b"<!DOCTYPE")
    if index < 0:
        return None
    return data.count(b"\n", 0, index) + 1


def parse_xml(data: bytes, *, limits: XmlLimits = DEFAULT_LIMITS) -> etree._ElementTree:
    """Parse untrusted XML bytes, or raise :class:`XmlError` with a specific code.

    Returns an lxml element tree. The caller owns it; nothing is shared between calls.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("parse_xml takes bytes; encode text yourself so its declared encoding is honest")
    if not isinstance(data, bytes):
        data = bytes(data)
    if len(data) > limits.max_bytes:
        raise XmlError(
            f"input is {len(data):,} bytes; the limit is {limits.max_bytes:,}", code=Code.XML_TOO_LARGE
        )
    if not data or data.isspace():
        raise XmlError("input is empty", code=Code.XML_EMPTY, line=1, column=1)
    text = _characters(data)
    _refuse_xml_version(text)
    _refuse_doctype(text)
    declarations = text.count(b"xmlns")  # an upper bound of the namespace declarations, for both checks below
    _refuse_declaration_flood(text, limits, declarations)
    huge = limits.max_depth >= _LIBXML2_DEPTH_CAP
    try:
        tree = etree.ElementTree(etree.fromstring(data, _untrusted_parser(huge)))  # noqa: TID251
    except XmlError:
        raise
    except etree.XMLSyntaxError as exc:
        message = re.sub(r", line \d+, column \d+$", "", exc.msg or str(exc))
        line, column = exc.position if exc.position else (None, None)
        code = _code_for_syntax_error(message)
        if code is Code.XML_TOO_DEEP:
            message = f"elements are nested deeper than {limits.max_depth} levels ({message})"
        raise XmlError(message, code=code, line=line or None, column=column or None) from exc
    except ValueError as exc:  # e.g. unicode strings with encoding declaration
        raise XmlError(str(exc), code=Code.XML_ENCODING) from exc

    docinfo = tree.docinfo
    if docinfo.xml_version not in (None, "1.0"):  # what libxml2 read: never otherwise after the check above
        raise XmlError(f"the parser read XML version {docinfo.xml_version}; only 1.0 is accepted",
                       code=Code.XML_VERSION_FORBIDDEN, line=1)
    if str(docinfo.encoding or "UTF-8").upper() not in _PARSED_ENCODINGS:  # what libxml2 used: never otherwise
        raise XmlError(f"the parser read the input as {docinfo.encoding}; only UTF-8 and UTF-16 are accepted",
                       code=Code.XML_ENCODING_FORBIDDEN)
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        line = _doctype_line(text)
        if docinfo.system_url or docinfo.public_id:
            raise XmlError(
                "DOCTYPE refers to an external DTD; external resources are never loaded",
                code=Code.XML_EXTERNAL_FORBIDDEN,
                line=line,
            )
        dtd = docinfo.internalDTD
        entities = list(dtd.iterentities()) if dtd is not None else []
        if any(getattr(entity, "system_url", None) for entity in entities):
            raise XmlError(
                "the document declares an external entity (XXE); external resources are never loaded",
                code=Code.XML_EXTERNAL_FORBIDDEN,
                line=line,
            )
        if entities:
            raise XmlError(
                "the document declares entities; entity declarations are not allowed",
                code=Code.XML_ENTITY_FORBIDDEN,
                line=line,
            )
        raise XmlError("DOCTYPE declarations are not allowed", code=Code.XML_DTD_FORBIDDEN, line=line)

    root = tree.getroot()
    for element in root.iter(*_XINCLUDE_TAGS):
        raise XmlError(
            "XInclude elements are not allowed",
            code=Code.XML_XINCLUDE_FORBIDDEN,
            line=element.sourceline,
        )
    if b"&" in text:  # an entity reference node needs one (a memchr instead of a walk of the tree)
        for node in root.iter(etree.Entity):
            raise XmlError(
                f"entity reference {node.text!r} is not allowed",
                code=Code.XML_ENTITY_FORBIDDEN,
                line=node.sourceline,
            )
    if limits.max_depth < _LIBXML2_DEPTH_CAP or huge:
        if _deeper_than(root, limits.max_depth):
            raise XmlError(
                f"elements are nested deeper than {limits.max_depth} levels", code=Code.XML_TOO_DEEP
            )
    _refuse_crowding(text, tree, limits, declarations)
    return tree


#: Bytes fed to the streaming validator between looks at its error count (bounds the errors one look can find).
_STREAM_CHUNK = 64 * 1024


class _NoTree:
    """A parser target that keeps nothing: the streaming schema check needs libxml2's validation, not a tree."""

    def close(self) -> None:
        return None


def stream_schema_errors(
    tree: etree._ElementTree, schema: etree.XMLSchema, *, keep: int, limits: XmlLimits = DEFAULT_LIMITS,
    data: bytes | None = None,
) -> tuple[list[tuple[str, str]], bool]:
    """Validate an already parsed (hardened) tree against ``schema`` as a stream, stopping once more than
    ``keep`` errors are found: the first ``keep`` errors as ``(type_name, message)``, and whether it stopped.

    Why not ``schema.validate(tree)`` alone: libxml2 reports every error and lxml records each with the node's
    path, which libxml2 computes by walking all preceding siblings of the node and of each ancestor
    (``xmlGetNodePath``): a document of many failing siblings cost quadratic time (160,000 empty notes, 2.3 MiB:
    over 120 s), and even without siblings each error costs 2 to 11 us, one per six bytes of input at worst
    (unexpected attributes), so no limit on the input's shape bounds it. The streaming validator reports
    errors without a node, while the serialised tree is fed to it in chunks; between chunks the errors so far
    are counted, and past ``keep`` the rest of the document is never read. The errors carry no location: the
    caller locates a few of them in tree mode.

    ``data``, when given, are the bytes ``tree`` was parsed from (by :func:`parse_xml`, so no DOCTYPE): they are
    fed as they are instead of a serialisation of the tree. The parser builds no tree of its own (a target that
    keeps nothing), so the check needs a few chunks of memory whatever the size: for a 10 MB certificate of origin,
    0.02 MiB instead of a second tree and a serialisation (about 90 MiB).
    """
    parser = etree.XMLParser(  # noqa: TID251 - this module is the one entry point
        schema=schema, resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        attribute_defaults=False, huge_tree=limits.max_depth >= _LIBXML2_DEPTH_CAP, collect_ids=False,
        target=_NoTree(),
    )
    parser.resolvers.add(_RefuseAllResolver())
    source = memoryview(etree.tostring(tree) if data is None else data)
    stopped = False
    try:
        for start in range(0, len(source), _STREAM_CHUNK):
            parser.feed(bytes(source[start : start + _STREAM_CHUNK]))
            if len(parser.feed_error_log) > keep:
                stopped = True
                break
        else:
            parser.close()
    except etree.XMLSyntaxError:
        pass  # invalid: the errors are in the log (a tree that parsed once does not fail to parse again)
    errors = [entry for entry in parser.feed_error_log if entry.domain_name == "SCHEMASV"]
    return [(entry.type_name, entry.message) for entry in errors[:keep]], stopped or len(errors) > keep


def parse_xml_file(path: str | os.PathLike[str], *, limits: XmlLimits = DEFAULT_LIMITS) -> etree._ElementTree:
    """Read a file (size checked first) and parse it as untrusted XML."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > limits.max_bytes:
                raise XmlError(
                    f"{os.fspath(path)} is {size:,} bytes; the limit is {limits.max_bytes:,}",
                    code=Code.XML_TOO_LARGE,
                )
            data = handle.read()
    except OSError as exc:
        raise XmlError(f"cannot read {os.fspath(path)}: {exc.strerror}", code=Code.INPUT_UNREADABLE) from exc
    return parse_xml(data, limits=limits)


def load_trusted_xml(path: str | os.PathLike[str]) -> etree._ElementTree:
    """Parse a trusted local configuration file (XSD, Schematron) with its base URL set for imports.

    Internal DTD subsets are tolerated; external entities, DTD loading and the network are not.
    """
    file_path = Path(path).resolve()
    try:
        data = file_path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read {file_path}: {exc.strerror}", code=Code.SCHEMA_LOAD_FAILED
        ) from exc
    try:
        root = etree.fromstring(data, _trusted_parser(), base_url=file_path.as_uri())  # noqa: TID251
    except etree.XMLSyntaxError as exc:
        line, column = exc.position if exc.position else (None, None)
        raise ConfigurationError(
            f"{file_path}: {exc.msg}", code=Code.SCHEMA_LOAD_FAILED, line=line, column=column
        ) from exc
    tree = etree.ElementTree(root)
    if tree.docinfo.system_url or tree.docinfo.public_id:
        raise ConfigurationError(
            f"{file_path}: DOCTYPE refers to an external DTD, which is never loaded",
            code=Code.XML_EXTERNAL_FORBIDDEN,
        )
    return tree


__all__ = [
    "ACCEPTED_ENCODINGS",
    "DEFAULT_LIMITS",
    "XmlLimits",
    "cdata_line",
    "load_trusted_xml",
    "parse_xml",
    "parse_xml_file",
    "stream_schema_errors",
    "take_refused_imports",
]
