"""Validation: hardened parse -> document type -> XSD -> Schematron, as a frozen report.

The hot path stays on libxml2 (lxml's XSD validator and its ISO Schematron compiled to XSLT). Compiled schemas
and rules are cached per thread (lxml validators keep their error log on the object, so one compiled
validator must not be shared between concurrent calls) and keyed by absolute file path.

Like KoSIT, the rules are not run on a document that fails its schema: the ``rules`` check is then
``skipped``. Every finding carries ``{code, severity, check, message, line, column, path}``.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from lxml import etree, isoschematron

from exchange._catalogue import Catalogue, DocumentType, default_catalogue
from exchange._errors import Code, ConfigurationError, ExchangeError, Severity, XmlError
from exchange._findings import CheckResult, CheckStatus, Finding
from exchange._xml import (
    DEFAULT_LIMITS,
    XmlLimits,
    load_trusted_xml,
    parse_xml,
    parse_xml_file,
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
            "findings": [finding.to_dict() for finding in self.findings],
            "checks": [check.to_dict() for check in self.checks],
        }


def _report(checks: list[CheckResult], document_type: str | None, source: str | None) -> ValidationReport:
    invalid = any(finding.is_error for check in checks for finding in check.findings)
    return ValidationReport(
        verdict=Verdict.INVALID if invalid else Verdict.VALID,
        document_type=document_type,
        checks=tuple(checks),
        source=source,
    )


# --- compiled schema and rule caches -----------------------------------------------------------------------

_cache = threading.local()


def _file_key(path: str | os.PathLike[str]) -> str:
    """Cache key: the absolute path. Compiled schemas live as long as the process (or :func:`clear_caches`)."""
    return os.path.abspath(path)


def clear_caches() -> None:
    """Forget this thread's compiled schemas and rules (after editing a schema in a long-running process)."""
    _cache.__dict__.clear()


def _raise_refused_imports(path: str) -> None:
    refused = take_refused_imports()
    if refused:
        raise ConfigurationError(
            f"{path}: import of {', '.join(refused)} refused: schemas load only local files, never the network",
            code=Code.XML_EXTERNAL_FORBIDDEN,
        )


def compiled_schema(path: str | os.PathLike[str]) -> etree.XMLSchema:
    """The compiled XSD at ``path`` (imports and includes resolved from local files), cached per thread."""
    schemas: dict[str, etree.XMLSchema] = _cache.__dict__.setdefault("schemas", {})
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
    return schema


def compiled_rules(path: str | os.PathLike[str]) -> isoschematron.Schematron:
    """The compiled ISO Schematron at ``path``, cached per thread."""
    rules: dict[str, isoschematron.Schematron] = _cache.__dict__.setdefault("rules", {})
    key = _file_key(path)
    compiled = rules.get(key)
    if compiled is None:
        tree = load_trusted_xml(key)
        try:
            compiled = isoschematron.Schematron(tree, store_report=True)
        except (etree.SchematronParseError, etree.XSLTParseError, etree.XSLTApplyError, KeyError) as exc:
            raise ConfigurationError(f"{key}: {exc}", code=Code.RULES_LOAD_FAILED) from exc
        rules[key] = compiled
    return compiled


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

    def __init__(self, tree: etree._ElementTree) -> None:
        self._tree = tree
        self._repeated: dict[tuple[etree._Element, str], bool] = {}
        self._namespaces: dict[str, str] | None = None

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


def _schema_findings(schema: etree.XMLSchema, tree: etree._ElementTree, limits: XmlLimits = DEFAULT_LIMITS,
                     ) -> list[Finding]:
    """XSD findings, at a cost linear in the document whatever it holds.

    The document is validated as a stream first (:func:`~exchange._xml.stream_schema_errors`), which stops
    after :data:`MAX_FINDINGS_PER_CHECK` errors. If it stopped, those are the findings (without locations) and
    one ``SCHEMA-ERRORS-TRUNCATED`` says validation stopped there. Otherwise the tree is validated again in
    tree mode, whose per-error cost grows with the preceding siblings but is now paid at most that many times,
    for the line and path of each. The verdict is invalid if either pass finds an error.
    """
    streamed, stopped = stream_schema_errors(tree, schema, keep=MAX_FINDINGS_PER_CHECK, limits=limits)
    unlocated = [Finding.of(_schema_code(type_name, message), CHECK_SCHEMA, _CLARK.sub("", message).strip())
                 for type_name, message in streamed]
    if stopped:
        return [*unlocated, Finding.of(
            Code.SCHEMA_ERRORS_TRUNCATED, CHECK_SCHEMA,
            f"more than {MAX_FINDINGS_PER_CHECK} schema errors: validation stopped after the first "
            f"{MAX_FINDINGS_PER_CHECK}, which are listed without locations",
        )]
    if schema.validate(tree):
        return unlocated
    locator = _Locator(tree)
    findings = []
    errors = list(schema.error_log)
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


def _rule_findings(rules: isoschematron.Schematron, tree: etree._ElementTree) -> list[Finding]:
    rules.validate(tree)
    report = rules.validation_report
    if report is None:
        return []
    findings: list[Finding] = []
    results = list(report.iter(f"{{{SVRL_NS}}}failed-assert", f"{{{SVRL_NS}}}successful-report"))
    locator = _Locator(tree)
    for node in results[:MAX_FINDINGS_PER_CHECK]:
        rule_id = node.get("id")
        severity = _rule_severity(node)
        text = node.find(f"{{{SVRL_NS}}}text")
        message = " ".join((text.text or "").split()) if text is not None else ""
        line, path = locator.locate(node.get("location"))
        base = Code.RULE_WARNING if severity is not Severity.ERROR else Code.RULE_FAILED
        findings.append(
            Finding(
                code=rule_id or base.value,
                severity=severity,
                check=CHECK_RULES,
                message=message or f"rule {node.get('test')!r} failed",
                line=line,
                path=path,
            )
        )
    rest = results[MAX_FINDINGS_PER_CHECK:]
    if rest:
        worst = max((_rule_severity(node) for node in rest), key=_SEVERITY_RANK.index)
        findings.append(Finding.of(
            Code.RULE_WARNING if worst is not Severity.ERROR else Code.RULE_FAILED, CHECK_RULES,
            f"{len(rest):,} more rule results are not listed (only the first {MAX_FINDINGS_PER_CHECK} are)",
            severity=worst,
        ))
    return findings


def _rule_severity(node: etree._Element) -> Severity:
    role = (node.get("role") or node.get("flag") or "").strip().lower()
    return _ROLE_SEVERITY.get(role, Severity.ERROR)


# --- the validator -----------------------------------------------------------------------------------------


class Validator:
    """Validates documents against catalogue types or an arbitrary XSD (+ Schematron).

    Safe to share between threads: it holds only the catalogue and limits; compiled schemas are per thread.
    """

    def __init__(self, catalogue: Catalogue | None = None, *, limits: XmlLimits = DEFAULT_LIMITS) -> None:
        self._catalogue = catalogue
        self.limits = limits

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
    ) -> ValidationReport:
        """Validate bytes (parsed through the hardened parser) or an already parsed tree.

        With ``schema``, the document is checked against that XSD (and ``rules`` if given) instead of a
        catalogue type. Otherwise the type is ``document_type`` or detected from the root element.
        Configuration faults (a schema that does not compile, an unknown type id) raise
        :class:`ConfigurationError`; document faults are findings.
        """
        if isinstance(data, etree._ElementTree):
            tree = data
        else:
            try:
                tree = parse_xml(data, limits=self.limits)
            except XmlError as exc:
                return _report([CheckResult.from_findings(CHECK_PARSE, [Finding.from_error(exc, CHECK_PARSE)])],
                               None, source)
        return self._validate_tree(tree, document_type=document_type, schema=schema, rules=rules, source=source)

    def validate_file(
        self,
        path: str | os.PathLike[str],
        *,
        document_type: str | DocumentType | None = None,
        schema: str | os.PathLike[str] | None = None,
        rules: str | os.PathLike[str] | None = None,
    ) -> ValidationReport:
        source = str(path)
        try:
            tree = parse_xml_file(path, limits=self.limits)
        except XmlError as exc:
            return _report([CheckResult.from_findings(CHECK_PARSE, [Finding.from_error(exc, CHECK_PARSE)])],
                           None, source)
        return self._validate_tree(tree, document_type=document_type, schema=schema, rules=rules, source=source)

    def _validate_tree(
        self,
        tree: etree._ElementTree,
        *,
        document_type: str | DocumentType | None,
        schema: str | os.PathLike[str] | None,
        rules: str | os.PathLike[str] | None,
        source: str | None,
    ) -> ValidationReport:
        checks = [CheckResult(CHECK_PARSE, CheckStatus.PASSED)]
        root = tree.getroot()
        if schema is not None:
            schema_path: Path = Path(schema)
            rules_path: Path | None = Path(rules) if rules is not None else None
            type_id = None
        else:
            doc_type = self._resolve_type(document_type, root.tag)
            if isinstance(doc_type, Finding):
                checks.append(CheckResult.from_findings(CHECK_TYPE, [doc_type]))
                checks += [CheckResult.skipped(CHECK_SCHEMA), CheckResult.skipped(CHECK_RULES)]
                return _report(checks, None if document_type is None else str(getattr(document_type, "id",
                               document_type)), source)
            checks.append(CheckResult(CHECK_TYPE, CheckStatus.PASSED))
            schema_path = doc_type.schema_path
            rules_path = Path(rules) if rules is not None else doc_type.rules_path
            type_id = doc_type.id

        schema_findings = _schema_findings(compiled_schema(schema_path), tree, self.limits)
        checks.append(CheckResult.from_findings(CHECK_SCHEMA, schema_findings))
        if rules_path is None:
            checks.append(CheckResult.skipped(CHECK_RULES))
        elif any(finding.is_error for finding in schema_findings):
            checks.append(CheckResult.skipped(CHECK_RULES))
        else:
            checks.append(CheckResult.from_findings(CHECK_RULES, _rule_findings(compiled_rules(rules_path), tree)))
        return _report(checks, type_id, source)

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
    """Expand folders to all ``*.xml`` below them (sorted); files are kept as given."""
    files: list[Path] = []
    for entry in paths:
        path = Path(entry)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*.xml") if p.is_file()))
        else:
            files.append(path)
    return files


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
