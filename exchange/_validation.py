"""Validation: hardened parse -> scenario (document type) -> XSD -> each rules file, as a frozen report.

What applies to a document is a :class:`~exchange._scenarios.Scenario`: a catalogue type is one, a scenario file
(``ptx validate --scenarios``) holds others, and an explicit ``schema=``/``rules=`` makes one on the spot; one path
runs them all. The hot path stays on libxml2 (lxml's XSD validator and its ISO Schematron compiled to XSLT 1).
Rules files whose query binding is XSLT 2 or 3 (EN 16931, Peppol) run on the XSLT 2/3 engine
(:mod:`exchange._xslt2`, SaxonC-HE in a bounded process): the binding picks the engine, so the gateway and the
nodes get it for catalogue types too. Compiled XSDs and XSLT 1 rules are cached per thread (lxml validators keep
their error log on the object, so one compiled validator must not be shared between concurrent calls) and keyed by
absolute file path; XSLT 2 rules are cached by content hash (see :mod:`exchange._xslt2`).

Like KoSIT, the rules are not run on a document that fails its schema: the ``rules`` checks are then
``skipped``. A rules file that fails while running is an error finding (``RULES-RUN-FAILED``,
``RULES-LIMIT-EXCEEDED``), never a pass. Every finding carries ``{code, severity, check, message, line, column,
path}``; SVRL locations are resolved to the line, column and a readable path in the source document.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from lxml import etree, isoschematron

from exchange._catalogue import Catalogue, DocumentType, default_catalogue
from exchange._errors import Code, ConfigurationError, ExchangeError, Severity, XmlError
from exchange._findings import CheckResult, CheckStatus, Finding
from exchange._rules_direct import DirectRules, Fallback, RuleResult, direct_rules
from exchange._scenarios import Scenario, ScenarioSet, make_scenario, scenario_for_type
from exchange._schematron import SCH_NS, QueryBinding, query_binding
from exchange._xml import (
    DEFAULT_LIMITS,
    XmlLimits,
    load_trusted_xml,
    parse_xml,
    stream_schema_errors,
    take_refused_imports,
)

SVRL_NS = "http://purl.oclc.org/dsdl/svrl"

CHECK_PARSE = "parse"
CHECK_TYPE = "document-type"
CHECK_SCHEMA = "schema"
CHECK_RULES = "rules"

#: Findings listed per check; past it one summary finding counts the rest. Hostile input can make libxml2 report
#: one error per attribute (a 10 MB element with 900,000 of them), and locating each costs time and report size.
MAX_FINDINGS_PER_CHECK = 200


class Verdict(StrEnum):
    """A validation or verification verdict."""

    VALID = "valid"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """The result of validating one document. ``findings`` lists every finding of every check."""

    verdict: Verdict
    document_type: str | None
    checks: tuple[CheckResult, ...]
    source: str | None = None
    #: the scenario that applied (a catalogue type's id, a scenario file's id, ``custom`` for ``schema=``)
    scenario: str | None = None
    #: the SVRL each rules file produced, as (rules file name, bytes): ``--format svrl`` passes it through
    svrl: tuple[tuple[str, bytes], ...] = field(default=(), compare=False, repr=False)
    #: SHA-256 (hex) of the bytes validated, when bytes were given (not a parsed tree)
    sha256: str | None = None
    findings: tuple[Finding, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "findings", tuple(f for check in self.checks for f in check.findings))

    @property
    def valid(self) -> bool:
        return self.verdict is Verdict.VALID

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(finding.code for finding in self.findings)

    def check(self, name: str) -> CheckResult | None:
        return next((check for check in self.checks if check.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.source,
            "verdict": self.verdict.value,
            "document_type": self.document_type,
            "scenario": self.scenario,
            "findings": [finding.to_dict() for finding in self.findings],
            "checks": [check.to_dict() for check in self.checks],
        }


def _report(checks: list[CheckResult], document_type: str | None, source: str | None,
            scenario: str | None = None, svrl: tuple[tuple[str, bytes], ...] = (),
            sha256: str | None = None) -> ValidationReport:
    invalid = any(finding.is_error for check in checks for finding in check.findings)
    return ValidationReport(
        verdict=Verdict.INVALID if invalid else Verdict.VALID,
        document_type=document_type,
        checks=tuple(checks),
        source=source,
        scenario=scenario,
        svrl=svrl,
        sha256=sha256,
    )


# --- compiled schema and rule caches -----------------------------------------------------------------------

_cache = threading.local()


def _file_key(path: str | os.PathLike[str]) -> str:
    """Cache key: the absolute path. Compiled schemas live as long as the process (or :func:`clear_caches`)."""
    return os.path.abspath(path)


def clear_caches() -> None:
    """Forget this thread's compiled schemas and rules (after editing a schema in a long-running process)."""
    _cache.__dict__.clear()
    with _xslt2_lock:
        _xslt2_rules.clear()


def _raise_refused_imports(path: str) -> None:
    refused = take_refused_imports()
    if refused:
        raise ConfigurationError(
            f"{path}: import of {', '.join(refused)} refused: schemas load only local files, never the network",
            code=Code.XML_EXTERNAL_FORBIDDEN,
        )


def compiled_schema(path: str | os.PathLike[str]) -> etree.XMLSchema:
    """The compiled XSD at ``path`` (imports and includes resolved from local files), cached per thread."""
    try:
        schemas: dict[str, etree.XMLSchema] = _cache.schemas
    except AttributeError:
        schemas = _cache.schemas = {}
    given = os.fspath(path)
    schema = schemas.get(given)  # an absolute path as given: no abspath (a getcwd call) per document
    if schema is not None:
        return schema
    key = _file_key(path)
    schema = schemas.get(key)
    if schema is None:
        take_refused_imports()
        tree = load_trusted_xml(key)
        try:
            schema = etree.XMLSchema(tree)
        except etree.XMLSchemaParseError as exc:
            _raise_refused_imports(key)
            raise ConfigurationError(f"{key}: {exc}", code=Code.SCHEMA_LOAD_FAILED) from exc
        _raise_refused_imports(key)
        schemas[key] = schema
    if os.path.isabs(given):  # a relative path means another file after a chdir: looked up by abspath each time
        schemas[given] = schema
    return schema


class Rules:
    """A compiled rules file, whichever engine runs it: :meth:`svrl` gives its SVRL report on a document.

    ``binding`` says which: ``xslt1`` on lxml (ISO Schematron through lxml's XSLT 1 skeleton, or a compiled XSLT 1
    stylesheet), ``xslt2``/``xslt3`` on the XSLT 2/3 engine. Every failure raises; nothing is a silent pass.
    """

    def __init__(self, source: str, binding: QueryBinding, run: Any, direct: DirectRules | None = None) -> None:
        self.source = source
        self.binding = binding
        self._run = run
        #: the same ISO Schematron evaluated as XPath on the tree, when :func:`exchange._rules_direct.direct_rules`
        #: reproduces the file exactly: :meth:`results` then needs no stylesheet run and no SVRL report
        self.direct = direct

    @property
    def engine(self) -> str:
        return "lxml-xslt1" if self.binding is QueryBinding.XSLT1 else "saxon-xslt2"

    def svrl(self, tree: etree._ElementTree) -> etree._ElementTree:
        report: etree._ElementTree = self._run(tree)
        return report

    def results(self, tree: etree._ElementTree) -> list[RuleResult]:
        """The failed asserts and successful reports of :meth:`svrl`, in its order: evaluated directly where the
        file allows it (a document the direct evaluator cannot take runs on the stylesheet), read from the SVRL
        report otherwise."""
        if self.direct is not None:
            try:
                return self.direct.results(tree)
            except Fallback:
                pass
        return svrl_results(self.svrl(tree))


_xslt2_rules: dict[tuple[str, int, int], Rules] = {}
_xslt2_lock = threading.Lock()


def _load_rules_error(key: str, exc: Exception) -> ConfigurationError:
    return ConfigurationError(f"{key}: {' '.join(str(exc).split())}", code=Code.RULES_LOAD_FAILED)


def _xslt1_rules(key: str, tree: etree._ElementTree) -> Rules:
    root = tree.getroot()
    if root.tag == f"{{{SCH_NS}}}schema":
        try:
            schematron = isoschematron.Schematron(tree, store_report=True)
        except (etree.SchematronParseError, etree.XSLTParseError, etree.XSLTApplyError, KeyError) as exc:
            raise _load_rules_error(key, exc) from exc

        def run_schematron(document: etree._ElementTree) -> etree._ElementTree:
            try:
                schematron.validate(document)
            except etree.XSLTApplyError as exc:
                raise ConfigurationError(f"{key}: failed on the document: {exc}", code=Code.RULES_RUN_FAILED) from exc
            report = schematron.validation_report
            if report is None:
                raise ConfigurationError(f"{key}: produced no SVRL report", code=Code.RULES_RUN_FAILED)
            return report if isinstance(report, etree._ElementTree) else etree.ElementTree(report)

        return Rules(key, QueryBinding.XSLT1, run_schematron, direct_rules(tree, schematron))
    from exchange._xslt2 import check_confined

    check_confined(root, key)
    access = etree.XSLTAccessControl.DENY_ALL
    try:
        transform = etree.XSLT(tree, access_control=access)
    except etree.XSLTParseError as exc:
        raise _load_rules_error(key, exc) from exc

    def run_xslt(document: etree._ElementTree) -> etree._ElementTree:
        try:
            result = transform(document)
        except etree.XSLTApplyError as exc:
            raise ConfigurationError(f"{key}: failed on the document: {exc}", code=Code.RULES_RUN_FAILED) from exc
        if result.getroot() is None or result.getroot().tag != f"{{{SVRL_NS}}}schematron-output":
            raise ConfigurationError(f"{key}: the rules' output is not an SVRL report", code=Code.RULES_RUN_FAILED)
        return result

    return Rules(key, QueryBinding.XSLT1, run_xslt)


def compiled_rules(path: str | os.PathLike[str]) -> Rules:
    """The compiled rules at ``path`` (ISO Schematron, or a compiled rules stylesheet), on the engine its binding names.

    XSLT 1 rules are cached per thread; XSLT 2/3 rules once per process (the engine process is shared) and by the
    file's size and modification time, so an edited rules file is compiled again.
    """
    try:
        rules: dict[str, Rules] = _cache.rules
    except AttributeError:
        rules = _cache.rules = {}
    given = os.fspath(path)
    compiled = rules.get(given)  # an absolute path as given (see compiled_schema)
    if compiled is not None:
        return compiled
    key = _file_key(path)
    compiled = rules.get(key)
    if compiled is not None:
        return compiled
    try:
        stat = os.stat(key)
    except OSError as exc:
        raise ConfigurationError(f"cannot read {key}: {exc.strerror}", code=Code.RULES_LOAD_FAILED) from exc
    stamp = (key, stat.st_mtime_ns, stat.st_size)
    with _xslt2_lock:
        found = _xslt2_rules.get(stamp)
    if found is not None:
        return found
    try:
        tree = load_trusted_xml(key)
    except ConfigurationError as exc:
        code = Code.RULES_LOAD_FAILED if exc.code is Code.SCHEMA_LOAD_FAILED else exc.code
        raise ConfigurationError(exc.message, code=code, line=exc.line, column=exc.column) from exc
    binding = query_binding(tree.getroot(), key)
    if binding is QueryBinding.XSLT1:
        compiled = _xslt1_rules(key, tree)
        rules[key] = compiled
        if os.path.isabs(given):
            rules[given] = compiled
        return compiled
    from exchange._xslt2 import load_xslt2_rules

    loaded = load_xslt2_rules(key)
    made = Rules(key, loaded.binding, loaded.svrl)
    with _xslt2_lock:
        _xslt2_rules[stamp] = made
    return made


# --- locations ---------------------------------------------------------------------------------------------


_SAME_NAME = "*[local-name() = $name and namespace-uri() = $uri]"
_SAME_NAME_CHILDREN = f"boolean({_SAME_NAME}[2])"
_SAME_NAME_BEFORE = f"count(preceding-sibling::{_SAME_NAME})"


def element_path(element: etree._Element) -> str:
    """A readable location: ``/Invoice/Line[2]/Amount`` (positions only where names repeat)."""
    return _Locator(element.getroottree()).path(element)


class _Locator:
    """Locations in one document: element paths and libxml2/SVRL XPaths.

    A position among same-named siblings is counted by libxml2 (an XPath ``count``, no Python object per
    sibling), once per parent and name, and the namespace prefixes for libxml2's prefixed paths are collected
    once per document: an envelope of millions of siblings costs milliseconds per finding, not seconds. One
    locator per validation: nothing is shared between calls.
    """

    def __init__(self, tree: etree._ElementTree, data: bytes | None = None) -> None:
        self._tree = tree
        self._repeated: dict[tuple[etree._Element, str], bool] = {}
        self._namespaces: dict[str, str] | None = None
        self._data = data
        self._lines: list[bytes] | None = None  # split when a column is first asked for: most documents never are

    def _source_lines(self) -> list[bytes] | None:
        if self._lines is None and self._data is not None and _is_utf8(self._data):
            self._lines = self._data.split(b"\n")
        return self._lines

    def column(self, element: etree._Element) -> int | None:
        """The column of an element's start tag, looked up in the source text (lxml keeps only the line)."""
        line = element.sourceline
        lines = self._source_lines()
        if lines is None or not line or line > len(lines):
            return None
        qname = etree.QName(element)
        prefix = element.prefix
        name = (f"{prefix}:{qname.localname}" if prefix else qname.localname).encode()
        text = lines[line - 1]
        at = 0
        while True:
            found = text.find(b"<" + name, at)
            if found < 0:
                return None
            end = found + 1 + len(name)
            if end >= len(text) or text[end:end + 1] in b" \t\r/>":
                return len(text[:found].decode("utf-8", "replace")) + 1
            at = end

    def _step(self, parent: etree._Element, node: etree._Element) -> str:
        qname = etree.QName(node)
        variables = {"name": qname.localname, "uri": qname.namespace or ""}
        key = (parent, node.tag)
        repeated = self._repeated.get(key)
        if repeated is None:
            repeated = bool(parent.xpath(_SAME_NAME_CHILDREN, **variables))
            self._repeated[key] = repeated
        if not repeated:
            return qname.localname
        before = node.xpath(_SAME_NAME_BEFORE, **variables)
        return f"{qname.localname}[{int(float(before)) + 1}]"

    def path(self, element: etree._Element) -> str:
        steps: list[str] = []
        node: etree._Element | None = element
        while node is not None:
            parent = node.getparent()
            if isinstance(node.tag, str):
                steps.append(self._step(parent, node) if parent is not None else etree.QName(node).localname)
            node = parent
        return "/" + "/".join(reversed(steps))

    def _prefixes(self) -> dict[str, str]:
        if self._namespaces is None:
            namespaces: dict[str, str] = {}
            for element in self._tree.iter(etree.Element):
                for prefix, uri in element.nsmap.items():
                    if prefix:
                        namespaces.setdefault(prefix, uri)
            self._namespaces = namespaces
        return self._namespaces

    def locate_node(self, xpath: str | None) -> tuple[int | None, int | None, str | None]:
        """Resolve an SVRL location (XPath 1 or the XSLT 2 skeleton's ``*:name[namespace-uri()='...']`` and
        ``Q{uri}name`` forms) to (line, column, readable path)."""
        if not xpath:
            return None, None, None
        expression = _Q_NAME.sub(_q_step, _STAR_NAME.sub(_star_step, xpath)) if (":" in xpath or "Q{" in xpath) else xpath
        try:
            found = self._tree.xpath(expression)
        except etree.XPathError:
            found = None
        if isinstance(found, list) and found:
            node = found[0]
            element = node if isinstance(node, etree._Element) else getattr(node, "getparent", lambda: None)()
            if isinstance(element, etree._Element):
                line, path = self.locate(expression)
                return line, self.column(element), path
        line, path = self.locate(xpath)
        return line, None, path

    def locate(self, xpath: str | None) -> tuple[int | None, str | None]:
        """Resolve a libxml2 or SVRL location to (line, readable path)."""
        if not xpath:
            return None, None
        try:
            found = self._tree.xpath(xpath)
        except etree.XPathError:
            # libxml2 writes paths with the document's own prefixes (``/*/cbc:IssueDate``): bind them.
            try:
                found = self._tree.xpath(xpath, namespaces=self._prefixes())
            except etree.XPathError:
                return None, xpath
        if not isinstance(found, list) or not found:
            return None, xpath
        node = found[0]
        if isinstance(node, etree._Element):
            return node.sourceline, self.path(node)
        parent = getattr(node, "getparent", lambda: None)()
        if isinstance(parent, etree._Element):
            suffix = f"/@{etree.QName(node.attrname).localname}" if getattr(node, "is_attribute", False) else ""
            return parent.sourceline, self.path(parent) + suffix
        return None, xpath


_STAR_NAME = re.compile(r"\*:([\w.\-]+)\[namespace-uri\(\)\s*=\s*'([^']*)'\]")
_Q_NAME = re.compile(r"Q\{([^}]*)\}([\w.\-]+)")


def _star_step(match: re.Match[str]) -> str:
    return f"*[local-name()='{match.group(1)}' and namespace-uri()='{match.group(2)}']"


def _q_step(match: re.Match[str]) -> str:
    return f"*[local-name()='{match.group(2)}' and namespace-uri()='{match.group(1)}']"


def _is_utf8(data: bytes) -> bool:
    head = data[:200].lower()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or (b"encoding=" in head and b"utf-8" not in head):
        return False
    return True


# --- XSD findings ------------------------------------------------------------------------------------------

_CLARK = re.compile(r"\{[^}\s']*\}(?=[A-Za-z_])")  # {namespace}Name, not an enumeration {'a', 'b'}
_ATTRIBUTE = re.compile(r"attribute '([^']+)'")


def _schema_code(type_name: str, message: str) -> Code:
    if type_name == "SCHEMAV_ELEMENT_CONTENT":
        return Code.SCHEMA_ELEMENT_UNEXPECTED if "not expected" in message else Code.SCHEMA_ELEMENT_MISSING
    if type_name == "SCHEMAV_CVC_ELT_1":
        return Code.SCHEMA_ROOT_UNEXPECTED
    if type_name in ("SCHEMAV_CVC_COMPLEX_TYPE_4", "SCHEMAV_CVC_COMPLEX_TYPE_3_2_1", "SCHEMAV_CVC_COMPLEX_TYPE_3_2_2") or (
        "attribute '" in message and type_name.startswith("SCHEMAV_CVC_")
    ):
        return Code.SCHEMA_ATTRIBUTE_INVALID
    if type_name.startswith("SCHEMAV_CVC_COMPLEX_TYPE_2"):
        return Code.SCHEMA_ELEMENT_UNEXPECTED if "Element content" in message else Code.SCHEMA_VALUE_INVALID
    if type_name.startswith("SCHEMAV_CVC_") or type_name.startswith("SCHEMAV_"):
        return Code.SCHEMA_VALUE_INVALID if "VALID" in type_name or "FACET" in type_name or "TYPE" in type_name else (
            Code.SCHEMA_INVALID
        )
    return Code.SCHEMA_INVALID


#: A document of at most this many bytes is validated in tree mode first (see :func:`_schema_findings`).
TREE_FIRST_MAX_BYTES = 16 * 1024


def _schema_findings(schema: etree.XMLSchema, tree: etree._ElementTree, limits: XmlLimits = DEFAULT_LIMITS,
                     *, data: bytes | None = None) -> list[Finding]:
    """XSD findings, at a cost linear in the document whatever it holds.

    The document is validated as a stream first (:func:`~exchange._xml.stream_schema_errors`), which stops
    after :data:`MAX_FINDINGS_PER_CHECK` errors. If it stopped, those are the findings (without locations) and
    one ``SCHEMA-ERRORS-TRUNCATED`` says validation stopped there. Otherwise the tree is validated again in
    tree mode, whose per-error cost grows with the preceding siblings but is now paid at most that many times,
    for the line and path of each. The verdict is invalid if either pass finds an error.

    ``data`` are the bytes ``tree`` was parsed from, when the caller has them: the stream reads them instead of a
    serialisation of the tree. A small document (``data`` of at most :data:`TREE_FIRST_MAX_BYTES`) is
    validated in tree mode first, as ``xmllint --schema`` does: valid, or at most
    :data:`MAX_FINDINGS_PER_CHECK` errors, and that one pass is all (no serialisation, second parse and second
    validation: 0.28 ms of a 10 KB certificate's 0.65 ms). The stream bounds little at that size (it counts
    errors between 64 KiB chunks, so it reads such a document to the end), and tree mode's quadratic per-error
    cost stays small: the worst floods that fit in 16 KiB (an error per empty sibling, 256 unexpected
    attributes per element) cost 8 to 15 ms this way against 4 to 8 ms stream first (measured on the 2-core
    machine). A tree pass with more errors goes on as for a larger document (its errors are reused, not
    validated again), so the findings are the same either way.
    """
    errors: list[Any] | None = None
    if data is not None and len(data) <= TREE_FIRST_MAX_BYTES:
        if schema.validate(tree):
            return []
        errors = list(schema.error_log)
        if len(errors) <= MAX_FINDINGS_PER_CHECK:
            return _located_schema_findings(errors, tree)
    streamed, stopped = stream_schema_errors(tree, schema, keep=MAX_FINDINGS_PER_CHECK, limits=limits, data=data)
    unlocated = [Finding.of(_schema_code(type_name, message), CHECK_SCHEMA, _CLARK.sub("", message).strip())
                 for type_name, message in streamed]
    if stopped:
        return [*unlocated, Finding.of(
            Code.SCHEMA_ERRORS_TRUNCATED, CHECK_SCHEMA,
            f"more than {MAX_FINDINGS_PER_CHECK} schema errors: validation stopped after the first "
            f"{MAX_FINDINGS_PER_CHECK}, which are listed without locations",
        )]
    if errors is None:
        if schema.validate(tree):
            return unlocated
        errors = list(schema.error_log)
    return _located_schema_findings(errors, tree)


def _located_schema_findings(errors: list[Any], tree: etree._ElementTree) -> list[Finding]:
    """Tree mode's errors (at most :data:`MAX_FINDINGS_PER_CHECK` located) as findings with line and path."""
    locator = _Locator(tree)
    findings = []
    for entry in errors[:MAX_FINDINGS_PER_CHECK]:
        message = entry.message
        code = _schema_code(entry.type_name, message)
        line, path = locator.locate(entry.path)
        if code is Code.SCHEMA_ATTRIBUTE_INVALID and path is not None:
            attribute = _ATTRIBUTE.search(message)
            if attribute:
                path += f"/@{attribute.group(1)}"
        findings.append(
            Finding.of(
                code,
                CHECK_SCHEMA,
                _CLARK.sub("", message).strip(),
                line=line or entry.line or None,
                column=entry.column or None,
                path=path,
            )
        )
    if len(errors) > MAX_FINDINGS_PER_CHECK:
        findings.append(Finding.of(
            Code.SCHEMA_ERRORS_TRUNCATED, CHECK_SCHEMA,
            f"{len(errors) - MAX_FINDINGS_PER_CHECK:,} more schema errors are not listed "
            f"(only the first {MAX_FINDINGS_PER_CHECK} are)",
        ))
    return findings


# --- Schematron findings -----------------------------------------------------------------------------------

_ROLE_SEVERITY = {
    "warning": Severity.WARNING,
    "warn": Severity.WARNING,
    "info": Severity.INFO,
    "information": Severity.INFO,
    "informational": Severity.INFO,
}


_SEVERITY_RANK = (Severity.INFO, Severity.WARNING, Severity.ERROR)


def _rule_findings(rules: Rules, tree: etree._ElementTree, data: bytes | None = None, *, svrl: bool = True,
                   ) -> tuple[list[Finding], bytes | None]:
    """The findings of one rules file on a document and, when ``svrl``, its SVRL; a failure to run is an error
    finding, never a pass."""
    try:
        if not svrl:
            return result_findings(rules.results(tree), tree, data), None
        report = rules.svrl(tree)
    except ConfigurationError as exc:
        if exc.code not in (Code.RULES_RUN_FAILED, Code.RULES_LIMIT_EXCEEDED):
            raise
        return [Finding.of(exc.code, CHECK_RULES, exc.message)], None
    return svrl_findings(report, tree, data), bytes(etree.tostring(report, xml_declaration=True, encoding="UTF-8"))


_RESULT_TAGS = (f"{{{SVRL_NS}}}failed-assert", f"{{{SVRL_NS}}}successful-report")


def svrl_results(report: etree._ElementTree | etree._Element) -> list[RuleResult]:
    """The failed asserts and successful reports of an SVRL report, in its order."""
    results = []
    for node in report.iter(*_RESULT_TAGS):
        text = node.find(f"{{{SVRL_NS}}}text")
        results.append(RuleResult(
            report=node.tag == _RESULT_TAGS[1],
            attributes=tuple((str(key), str(value)) for key, value in node.attrib.items() if key != "location"),
            location=node.get("location") or "",
            message="".join(text.itertext()) if text is not None else "",
        ))
    return results


def svrl_findings(report: etree._ElementTree | etree._Element, tree: etree._ElementTree,
                  data: bytes | None = None) -> list[Finding]:
    """An SVRL report read into findings: rule id as code, flag/role as severity, location as line/column/path."""
    return result_findings(svrl_results(report), tree, data)


def result_findings(results: list[RuleResult], tree: etree._ElementTree, data: bytes | None = None,
                    ) -> list[Finding]:
    """Rule results as findings: rule id as code, flag/role as severity, location as line/column/path."""
    findings: list[Finding] = []
    locator = _Locator(tree, data)
    for result in results[:MAX_FINDINGS_PER_CHECK]:
        rule_id = result.get("id")
        severity = _rule_severity(result)
        message = " ".join(result.message.split())
        line, column, path = locator.locate_node(result.location or None)
        base = Code.RULE_WARNING if severity is not Severity.ERROR else Code.RULE_FAILED
        findings.append(
            Finding(
                code=rule_id or base.value,
                severity=severity,
                check=CHECK_RULES,
                message=message or f"rule {result.get('test')!r} failed",
                line=line,
                column=column,
                path=path,
            )
        )
    rest = results[MAX_FINDINGS_PER_CHECK:]
    if rest:
        worst = max((_rule_severity(result) for result in rest), key=_SEVERITY_RANK.index)
        findings.append(Finding.of(
            Code.RULE_WARNING if worst is not Severity.ERROR else Code.RULE_FAILED, CHECK_RULES,
            f"{len(rest):,} more rule results are not listed (only the first {MAX_FINDINGS_PER_CHECK} are)",
            severity=worst,
        ))
    return findings


def _rule_severity(result: RuleResult) -> Severity:
    role = (result.get("role") or result.get("flag") or "").strip().lower()
    return _ROLE_SEVERITY.get(role, Severity.ERROR)


# --- the validator -----------------------------------------------------------------------------------------


class Validator:
    """Validates documents against catalogue types, a scenario set, or an arbitrary XSD (+ rules).

    Safe to share between threads: it holds only the catalogue, scenarios and limits; compiled schemas are per
    thread, XSLT 2 rules live in the shared engine process.
    """

    def __init__(self, catalogue: Catalogue | None = None, *, limits: XmlLimits = DEFAULT_LIMITS,
                 scenarios: ScenarioSet | None = None, svrl: bool = True) -> None:
        self._catalogue = catalogue
        self.limits = limits
        self.scenarios = scenarios
        #: whether reports carry each rules file's SVRL (``ptx validate --format svrl``, the validator service);
        #: without it, rules the direct evaluator reproduces run without their stylesheet (the gateway's and the
        #: node's checks, which read only the findings)
        self.svrl = svrl

    @property
    def catalogue(self) -> Catalogue:
        # Without an explicit catalogue, follow the default one (itself cached per set of folders), so a
        # type dropped into a catalogue folder or named in PTX_CATALOGUE is seen.
        return self._catalogue if self._catalogue is not None else default_catalogue()

    def validate(
        self,
        data: bytes | etree._ElementTree,
        *,
        document_type: str | DocumentType | None = None,
        schema: str | os.PathLike[str] | None = None,
        rules: str | os.PathLike[str] | None = None,
        source: str | None = None,
        scenario: Scenario | None = None,
        parsed_from: bytes | None = None,
    ) -> ValidationReport:
        """Validate bytes (parsed through the hardened parser) or an already parsed tree.

        ``parsed_from``: the bytes a tree was parsed from by :func:`exchange._xml.parse_xml`, when the caller has
        them (the gateway's and the node's checks): the schema check then reads them as :meth:`validate` of those
        bytes would (a small document in tree mode alone, a larger one streamed from the bytes rather than from a
        serialisation of the tree), and findings get their columns.

        What applies is, in order: ``scenario``; ``schema`` (that XSD and ``rules`` if given, as scenario
        ``custom``); ``document_type``; the first matching scenario of this validator's scenario set; the catalogue
        type detected from the root element. Configuration faults (a schema that does not compile, an unknown type
        id) raise :class:`ConfigurationError`; document faults are findings.
        """
        if isinstance(data, etree._ElementTree):
            return self._validate_tree(data, document_type=document_type, schema=schema, rules=rules, source=source,
                                       scenario=scenario, data=parsed_from)
        if parsed_from is not None:
            raise TypeError("parsed_from goes with the tree parsed from those bytes")
        digest = hashlib.sha256(data).hexdigest()
        try:
            tree = parse_xml(data, limits=self.limits)
        except XmlError as exc:
            return _report([CheckResult.from_findings(CHECK_PARSE, [Finding.from_error(exc, CHECK_PARSE)])],
                           None, source, sha256=digest)
        return self._validate_tree(tree, document_type=document_type, schema=schema, rules=rules, source=source,
                                   scenario=scenario, data=data, sha256=digest)

    def validate_file(
        self,
        path: str | os.PathLike[str],
        *,
        document_type: str | DocumentType | None = None,
        schema: str | os.PathLike[str] | None = None,
        rules: str | os.PathLike[str] | None = None,
        scenario: Scenario | None = None,
    ) -> ValidationReport:
        source = str(path)
        try:
            data = read_xml_file(path, limits=self.limits)
        except XmlError as exc:
            return _report([CheckResult.from_findings(CHECK_PARSE, [Finding.from_error(exc, CHECK_PARSE)])],
                           None, source)
        return self.validate(data, document_type=document_type, schema=schema, rules=rules, source=source,
                             scenario=scenario)

    def pick(
        self,
        tree: etree._ElementTree,
        *,
        document_type: str | DocumentType | None = None,
        schema: str | os.PathLike[str] | None = None,
        rules: str | os.PathLike[str] | None = None,
    ) -> Scenario | Finding:
        """The scenario that applies to a document, or the finding that says why none does."""
        root_qname = tree.getroot().tag if isinstance(tree.getroot().tag, str) else ""
        if schema is not None:
            return _custom_scenario(root_qname, os.fspath(schema), os.fspath(rules) if rules is not None else None)
        if document_type is None and self.scenarios is not None:
            found = self.scenarios.match(tree)
            if found is None:
                known = ", ".join(f"{s.id} ({s.qname})" for s in self.scenarios.scenarios)
                return Finding.of(
                    Code.SCENARIO_NO_MATCH, CHECK_TYPE,
                    f"no scenario of {self.scenarios.source} matches this document (root {root_qname}; "
                    f"scenarios: {known})",
                    line=tree.getroot().sourceline or 1,
                    path="/" + etree.QName(root_qname).localname if root_qname else None,
                )
            return found if rules is None else _with_rules(found, rules)
        doc_type = self._resolve_type(document_type, root_qname)
        if isinstance(doc_type, Finding):
            return doc_type
        picked = _type_scenario(doc_type)
        return picked if rules is None else _with_rules(picked, rules)

    def _validate_tree(
        self,
        tree: etree._ElementTree,
        *,
        document_type: str | DocumentType | None,
        schema: str | os.PathLike[str] | None,
        rules: str | os.PathLike[str] | None,
        source: str | None,
        scenario: Scenario | None = None,
        data: bytes | None = None,
        sha256: str | None = None,
    ) -> ValidationReport:
        checks = [_PARSE_PASSED]
        picked = scenario if scenario is not None else self.pick(tree, document_type=document_type, schema=schema,
                                                                 rules=rules)
        if isinstance(picked, Finding):
            checks.append(CheckResult.from_findings(CHECK_TYPE, [picked]))
            checks += [CheckResult.skipped(CHECK_SCHEMA), CheckResult.skipped(CHECK_RULES)]
            requested = None if document_type is None else str(getattr(document_type, "id", document_type))
            return _report(checks, requested, source, sha256=sha256)
        if schema is None:
            checks.append(_type_passed(picked.id))
        schema_ok = True
        if picked.schema is not None:
            schema_findings = _schema_findings(compiled_schema(picked.schema), tree, self.limits, data=data)
            if data is not None:
                schema_findings = _with_columns(schema_findings, tree, data)
            checks.append(CheckResult.from_findings(CHECK_SCHEMA, schema_findings, subject=picked.schema.name))
            schema_ok = not any(finding.is_error for finding in schema_findings)
        else:
            checks.append(CheckResult.skipped(CHECK_SCHEMA))
        if not picked.rules:
            checks.append(CheckResult.skipped(CHECK_RULES))
        svrl: list[tuple[str, bytes]] = []
        for rules_path in picked.rules:
            if not schema_ok:
                checks.append(CheckResult.skipped(CHECK_RULES, subject=rules_path.name))
            else:
                findings, output = _rule_findings(compiled_rules(rules_path), tree, data, svrl=self.svrl)
                checks.append(CheckResult.from_findings(CHECK_RULES, findings, subject=rules_path.name))
                if output is not None:
                    svrl.append((rules_path.name, output))
        return _report(checks, picked.document_type, source, picked.id, tuple(svrl), sha256=sha256)

    def _resolve_type(self, requested: str | DocumentType | None, root_tag: Any) -> DocumentType | Finding:
        root_qname = root_tag if isinstance(root_tag, str) else ""
        if requested is None:
            detected = self.catalogue.detect(root_qname)
            if detected is None:
                known = ", ".join(t.qname for t in self.catalogue)
                return Finding.of(
                    Code.DOCTYPE_UNKNOWN,
                    CHECK_TYPE,
                    f"no document type in the catalogue has the root {root_qname} (known roots: {known})",
                    line=1,
                    path="/" + etree.QName(root_qname).localname if root_qname else None,
                )
            return detected
        doc_type = requested if isinstance(requested, DocumentType) else self.catalogue.get(requested)
        if root_qname != doc_type.qname:
            return Finding.of(
                Code.DOCTYPE_MISMATCH,
                CHECK_TYPE,
                f"type {doc_type.id!r} expects the root {doc_type.qname}, the document has {root_qname}",
                line=1,
                path="/" + etree.QName(root_qname).localname if root_qname else None,
            )
        return doc_type


def _with_rules(scenario: Scenario, rules: str | os.PathLike[str]) -> Scenario:
    """``--rules`` given beside a type or scenario: those rules instead of its own."""
    return make_scenario(scenario.id, scenario.title, scenario.root, scenario.namespace, schema=scenario.schema,
                         rules=(Path(rules),), xpath=scenario.xpath, namespaces=dict(scenario.namespaces),
                         document_type=scenario.document_type)


#: the checks every validated document shares (frozen, so one object serves every report)
_PARSE_PASSED = CheckResult(CHECK_PARSE, CheckStatus.PASSED)


@functools.lru_cache(maxsize=64)
def _type_passed(scenario_id: str) -> CheckResult:
    return CheckResult(CHECK_TYPE, CheckStatus.PASSED, subject=scenario_id)


@functools.lru_cache(maxsize=64)
def _custom_scenario(root_qname: str, schema: str, rules: str | None) -> Scenario:
    """``schema=`` (and ``rules=``) given: the scenario ``custom`` for a document with this root (one per root,
    schema and rules, not one per document)."""
    qname = etree.QName(root_qname) if root_qname else None
    return make_scenario("custom", "schema given on the command line", qname.localname if qname else "",
                         (qname.namespace or "") if qname else "", schema=Path(schema),
                         rules=(Path(rules),) if rules is not None else ())


_type_scenarios: dict[int, tuple[DocumentType, Scenario]] = {}


def _type_scenario(doc_type: DocumentType) -> Scenario:
    """A catalogue type's scenario, made once per type object (kept with it, so its id is not reused)."""
    found = _type_scenarios.get(id(doc_type))
    if found is not None and found[0] is doc_type:
        return found[1]
    scenario = scenario_for_type(doc_type)
    if len(_type_scenarios) >= 256:  # catalogues come and go in tests and long-running processes
        _type_scenarios.clear()
    _type_scenarios[id(doc_type)] = (doc_type, scenario)
    return scenario


def _with_columns(findings: list[Finding], tree: etree._ElementTree, data: bytes) -> list[Finding]:
    """Schema findings located by path but without a column get the column of the element's start tag."""
    if len(data) > 2_000_000 or not any(f.column is None and f.line for f in findings):
        return findings
    locator = _Locator(tree, data)
    out = []
    for finding in findings:
        if finding.column is None and finding.line and finding.path:
            element = _element_at_line(tree, finding.line, finding.path)
            if element is not None:
                column = locator.column(element)
                if column is not None:
                    finding = dataclasses.replace(finding, column=column)
        out.append(finding)
    return out


def _element_at_line(tree: etree._ElementTree, line: int, path: str) -> etree._Element | None:
    local = path.rsplit("/", 1)[-1].split("[", 1)[0]
    if local.startswith("@"):
        local = path.rsplit("/", 2)[-2].split("[", 1)[0]
    for element in tree.iter(etree.Element):
        if element.sourceline == line and etree.QName(element).localname == local:
            return element
        if element.sourceline and element.sourceline > line:
            break
    return None


def read_xml_file(path: str | os.PathLike[str], *, limits: XmlLimits = DEFAULT_LIMITS) -> bytes:
    """A document's bytes, size checked before reading (``XML-TOO-LARGE``, ``INPUT-UNREADABLE``).

    Read with ``os.read`` into one buffer (a file object's buffering, tty check and wrapper cost more than
    reading a 10 KB file does).
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            size = os.fstat(fd).st_size
            if size > limits.max_bytes:
                raise XmlError(f"{os.fspath(path)} is {size:,} bytes; the limit is {limits.max_bytes:,}",
                               code=Code.XML_TOO_LARGE)
            chunks = []
            want = size + 1  # one byte more than the file holds: a regular file is read in one call
            while chunk := os.read(fd, want):
                chunks.append(chunk)
                want = 1 << 20
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        finally:
            os.close(fd)
    except OSError as exc:
        raise XmlError(f"cannot read {os.fspath(path)}: {exc.strerror}", code=Code.INPUT_UNREADABLE) from exc


_default_validator: Validator | None = None


def default_validator() -> Validator:
    global _default_validator
    if _default_validator is None:
        _default_validator = Validator()
    return _default_validator


def validate(
    data: bytes | etree._ElementTree,
    *,
    document_type: str | DocumentType | None = None,
    schema: str | os.PathLike[str] | None = None,
    rules: str | os.PathLike[str] | None = None,
    catalogue: Catalogue | None = None,
    source: str | None = None,
) -> ValidationReport:
    """Validate a document; see :meth:`Validator.validate`."""
    validator = Validator(catalogue) if catalogue is not None else default_validator()
    return validator.validate(data, document_type=document_type, schema=schema, rules=rules, source=source)


def validate_file(
    path: str | os.PathLike[str],
    *,
    document_type: str | DocumentType | None = None,
    schema: str | os.PathLike[str] | None = None,
    rules: str | os.PathLike[str] | None = None,
    catalogue: Catalogue | None = None,
) -> ValidationReport:
    """Validate a file; see :meth:`Validator.validate`."""
    validator = Validator(catalogue) if catalogue is not None else default_validator()
    return validator.validate_file(path, document_type=document_type, schema=schema, rules=rules)


def check_type_folder(doc_type: DocumentType, *, catalogue: Catalogue | None = None) -> list[str]:
    """Check that a type's schema and rules compile and its samples behave as labelled.

    Returns a list of problems (empty when the folder is sound). Used by ``ptx schemas add`` and the tests.
    """
    problems: list[str] = []
    try:
        compiled_schema(doc_type.schema_path)
        if doc_type.rules_path is not None:
            compiled_rules(doc_type.rules_path)
    except ExchangeError as exc:
        return [str(exc)]
    validator = Validator(catalogue or Catalogue([doc_type]))
    for sample in doc_type.samples:
        report = validator.validate_file(sample.path, document_type=doc_type)
        name = sample.path.relative_to(doc_type.folder)
        if sample.expect == "valid":
            if not report.valid:
                problems.append(f"{name}: expected valid, got {', '.join(report.codes)}")
            missing = set(sample.codes) - set(report.codes)
            if missing:  # a valid sample may name the warnings it must produce
                problems.append(f"{name}: expected warning(s) {', '.join(sorted(missing))}, got none")
        elif sample.expect == "invalid":
            if report.valid:
                problems.append(f"{name}: expected invalid, but it validates")
            missing = set(sample.codes) - set(report.codes)
            if missing:
                problems.append(
                    f"{name}: expected code(s) {', '.join(sorted(missing))}, got {', '.join(report.codes) or 'none'}"
                )
    return problems


def iter_xml_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Expand folders to all ``*.xml`` files below them (sorted as paths sort); files are kept as given.

    As ``Path.rglob("*.xml")`` with ``is_file()`` would, in one ``scandir`` per folder (the file type comes
    with the entry, no ``stat`` per file): symbolic links to files count, links to folders are not followed.
    """
    files: list[Path] = []
    for entry in paths:
        path = Path(entry)
        if path.is_dir():
            found = sorted(_xml_files_below(str(path)), key=lambda name: name.split(os.sep))
            files.extend(map(Path, found))
        else:
            files.append(path)
    return files


def _xml_files_below(folder: str) -> Iterator[str]:
    try:
        with os.scandir(folder) as scan:
            entries = list(scan)
    except PermissionError:  # as rglob: a folder it may not list is skipped
        return
    for entry in entries:
        if entry.name.endswith(".xml") and entry.is_file():
            yield entry.path
        elif entry.is_dir() and not entry.is_symlink():
            yield from _xml_files_below(entry.path)


__all__ = [
    "ValidationReport",
    "Validator",
    "Verdict",
    "check_type_folder",
    "clear_caches",
    "compiled_rules",
    "compiled_schema",
    "default_validator",
    "element_path",
    "iter_xml_files",
    "validate",
    "validate_file",
]
