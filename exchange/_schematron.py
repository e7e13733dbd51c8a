"""ISO Schematron to XSLT 2.0/3.0: the compiler for rules whose query binding is ``xslt2`` or ``xslt3``.

lxml ships the ISO skeleton for XSLT 1 only (``queryBinding="xslt1"`` keeps that path, in
:mod:`exchange._validation`). For XSLT 2 rules the usual compilers are the ISO skeleton for XSLT 2 and SchXslt,
both XSLT programs distributed through Maven and GitHub; no PyPI package ships either, so this module is a small
compiler of our own, written from ISO/IEC 19757-3 and checked in the tests against the published compiled EN 16931
stylesheets (the same failed assertions on every official example). It produces the same shape as the skeleton
(one mode per pattern, one template per rule with descending priorities so the first matching rule of a pattern
fires, SVRL ``failed-assert``/``successful-report`` with ``id``, ``flag``, ``role`` and a full-path ``location``).

Supported: ``include`` (files below the schema's folder only), ``extends`` (``rule`` and ``href``), abstract
patterns with ``is-a`` and ``param``, abstract rules, ``phase``/``active`` with ``defaultPhase``, ``let`` at
schema, phase, pattern and rule level, ``ns``, ``assert``/``report`` with ``value-of``, ``name``, ``emph``, ``dir``,
``span`` and ``diagnostics``, and top-level ``xsl:function``/``xsl:key`` copied through. Anything else of the
Schematron namespace is refused (``RULES-LOAD-FAILED``) rather than silently ignored.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from lxml import etree

from exchange._errors import Code, ConfigurationError
from exchange._xml import load_trusted_xml

SCH_NS = "http://purl.oclc.org/dsdl/schematron"
XSL_NS = "http://www.w3.org/1999/XSL/Transform"
SVRL_NS = "http://purl.oclc.org/dsdl/svrl"
_S = f"{{{SCH_NS}}}"
_X = f"{{{XSL_NS}}}"
_V = f"{{{SVRL_NS}}}"


class QueryBinding(StrEnum):
    """Which engine runs a rules file: ``xslt1`` stays on lxml; ``xslt2``/``xslt3`` go to the XSLT 2/3 engine."""

    XSLT1 = "xslt1"
    XSLT2 = "xslt2"
    XSLT3 = "xslt3"

    @property
    def needs_xslt2(self) -> bool:
        return self is not QueryBinding.XSLT1


_BINDINGS = {
    "": QueryBinding.XSLT1, "xslt": QueryBinding.XSLT1, "xslt1": QueryBinding.XSLT1, "xpath": QueryBinding.XSLT1,
    "exslt": QueryBinding.XSLT1, "xslt2": QueryBinding.XSLT2, "xpath2": QueryBinding.XSLT2,
    "xslt3": QueryBinding.XSLT3, "xpath3": QueryBinding.XSLT3, "xpath31": QueryBinding.XSLT3,
}


def query_binding(root: etree._Element, source: str) -> QueryBinding:
    """The binding a rules file declares: a Schematron ``queryBinding`` or an XSLT ``version`` attribute."""
    if root.tag == f"{_X}stylesheet" or root.tag == f"{_X}transform":
        version = (root.get("version") or "1.0").strip()
        if version.startswith("1"):
            return QueryBinding.XSLT1
        return QueryBinding.XSLT2 if version.startswith("2") else QueryBinding.XSLT3
    if root.tag != f"{_S}schema":
        raise ConfigurationError(
            f"{source}: not ISO Schematron nor XSLT (root {root.tag})", code=Code.RULES_LOAD_FAILED
        )
    declared = (root.get("queryBinding") or "").strip().lower()
    binding = _BINDINGS.get(declared)
    if binding is None:
        raise ConfigurationError(
            f"{source}: queryBinding {declared!r} is not supported (xslt1, xslt2, xslt3)", code=Code.RULES_LOAD_FAILED
        )
    return binding


def _refuse(source: str, message: str) -> ConfigurationError:
    return ConfigurationError(f"{source}: {message}", code=Code.RULES_LOAD_FAILED)


# --- step 1: includes ---------------------------------------------------------------------------------------


def _resolve_includes(element: etree._Element, base: Path, top: Path, source: str, depth: int = 0) -> None:
    if depth > 20:
        raise _refuse(source, "includes nested more than 20 deep")
    for include in list(element.iter(f"{_S}include", f"{_S}extends")):
        href = include.get("href")
        if include.tag == f"{_S}extends" and href is None:
            continue  # <extends rule="..."/>: resolved with the abstract rules
        if not href or "://" in href:
            raise _refuse(source, f"{include.tag.split('}')[1]} href {href!r}: only relative local files are read")
        target = (base / href).resolve()
        if top not in target.parents:
            raise _refuse(source, f"include {href!r} points outside the rules folder {top}")
        try:
            included = load_trusted_xml(str(target)).getroot()
        except OSError as exc:
            raise _refuse(source, f"include {href!r} cannot be read ({exc})") from exc
        included = copy.deepcopy(included)
        _resolve_includes(included, target.parent, top, source, depth + 1)
        parent = include.getparent()
        if parent is None:
            continue
        if include.tag == f"{_S}extends":  # the children of the included element join the rule
            position = parent.index(include)
            parent.remove(include)
            for offset, child in enumerate(list(included)):
                parent.insert(position + offset, child)
        else:
            parent.replace(include, included)


# --- step 2: abstract patterns and rules --------------------------------------------------------------------

_PARAM = re.compile(r"\$([A-Za-z_][\w.\-]*)")


def _substitute(text: str, values: dict[str, str]) -> str:
    return _PARAM.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def _instantiate(abstract: etree._Element, concrete: etree._Element, source: str) -> etree._Element:
    values = {p.get("name", "").strip(): p.get("value", "") for p in concrete.iter(f"{_S}param")}
    instance = copy.deepcopy(abstract)
    instance.attrib.pop("abstract", None)
    for key in ("id", "documents"):
        if concrete.get(key) is not None:
            instance.set(key, concrete.get(key, ""))
        elif key == "id":
            instance.attrib.pop("id", None)
    for node in instance.iter(f"{_S}rule", f"{_S}assert", f"{_S}report", f"{_S}value-of", f"{_S}let",
                              f"{_S}name"):
        for attr in ("context", "test", "select", "value", "path"):
            if node.get(attr) is not None:
                node.set(attr, _substitute(node.get(attr, ""), values))
    return instance


def _expand(schema: etree._Element, source: str) -> None:
    abstracts = {p.get("id"): p for p in schema.iter(f"{_S}pattern") if p.get("abstract") == "true"}
    for pattern in list(schema.iter(f"{_S}pattern")):
        name = pattern.get("is-a")
        if name is None:
            continue
        if name not in abstracts:
            raise _refuse(source, f"pattern {pattern.get('id')!r} is-a {name!r}: no abstract pattern of that id")
        parent = pattern.getparent()
        if parent is not None:
            parent.replace(pattern, _instantiate(abstracts[name], pattern, source))
    for pattern in abstracts.values():
        parent = pattern.getparent()
        if parent is not None:
            parent.remove(pattern)
    abstract_rules = {r.get("id"): r for r in schema.iter(f"{_S}rule") if r.get("abstract") == "true"}
    for extends in list(schema.iter(f"{_S}extends")):
        rule_id = extends.get("rule")
        if rule_id not in abstract_rules:
            raise _refuse(source, f"extends rule={rule_id!r}: no abstract rule of that id")
        parent = extends.getparent()
        if parent is None:
            continue
        position = parent.index(extends)
        parent.remove(extends)
        for offset, child in enumerate(copy.deepcopy(abstract_rules[rule_id])):
            parent.insert(position + offset, child)
    for rule in abstract_rules.values():
        parent = rule.getparent()
        if parent is not None:
            parent.remove(rule)


# --- step 3: XSLT --------------------------------------------------------------------------------------------

_KNOWN = {f"{_S}{name}" for name in (
    "schema", "title", "ns", "phase", "active", "pattern", "rule", "assert", "report", "let", "value-of", "name",
    "emph", "dir", "span", "p", "diagnostics", "diagnostic", "param", "properties", "property",
)}
_TEXT_ONLY = {f"{_S}emph", f"{_S}dir", f"{_S}span"}


@dataclass(frozen=True, slots=True)
class CompiledSchematron:
    """The XSLT a Schematron compiled to, and what it was compiled from."""

    xslt: bytes
    binding: QueryBinding
    patterns: int
    rules: int
    assertions: int


def _x(parent: etree._Element, instruction: str, **attrs: str) -> etree._Element:
    return etree.SubElement(parent, f"{_X}{instruction}", {k.replace("_", "-"): v for k, v in attrs.items()})


def _active_patterns(schema: etree._Element, phase: str | None, source: str) -> tuple[list[etree._Element],
                                                                                   list[etree._Element]]:
    patterns = [p for p in schema.iter(f"{_S}pattern")]
    chosen = phase or schema.get("defaultPhase") or "#ALL"
    if chosen in ("#ALL", "#DEFAULT"):
        return patterns, []
    for candidate in schema.iter(f"{_S}phase"):
        if candidate.get("id") == chosen:
            active = {a.get("pattern") for a in candidate.iter(f"{_S}active")}
            return [p for p in patterns if p.get("id") in active], list(candidate.iter(f"{_S}let"))
    raise _refuse(source, f"phase {chosen!r} is not defined")


def _message(target: etree._Element, node: etree._Element, diagnostics: dict[str, etree._Element]) -> None:
    text = etree.SubElement(target, f"{_V}text")
    _copy_mixed(text, node)
    for ref in (node.get("diagnostics") or "").split():
        diagnostic = diagnostics.get(ref)
        if diagnostic is None:
            continue
        reference = etree.SubElement(target, f"{_V}diagnostic-reference", diagnostic=ref)
        inner = etree.SubElement(reference, f"{_V}text")
        _copy_mixed(inner, diagnostic)


def _copy_mixed(target: etree._Element, node: etree._Element) -> None:
    if node.text:
        _x(target, "text").text = node.text
    for child in node:
        if child.tag == f"{_S}value-of":
            _x(target, "value-of", select=child.get("select", ""))
        elif child.tag == f"{_S}name":
            _x(target, "value-of", select=f"name({child.get('path', '.')})")
        elif child.tag in _TEXT_ONLY:
            _copy_mixed(target, child)
        elif isinstance(child.tag, str):
            _copy_mixed(target, child)
        if child.tail:
            _x(target, "text").text = child.tail


def _let(parent: etree._Element, let: etree._Element) -> None:
    if let.get("value") is not None:
        _x(parent, "variable", name=let.get("name", ""), select=let.get("value", ""))
    else:  # a let whose value is its content (ISO 2016)
        variable = _x(parent, "variable", name=let.get("name", ""))
        for child in let:
            variable.append(copy.deepcopy(child))


def _check(source: str, schema: etree._Element) -> None:
    for node in schema.iter():
        if isinstance(node.tag, str) and node.tag.startswith(_S) and node.tag not in _KNOWN:
            raise _refuse(source, f"Schematron element {node.tag[len(_S):]!r} is not supported by the compiler")


def compile_schematron(path: str | Path, *, phase: str | None = None) -> CompiledSchematron:
    """Compile an ISO Schematron file (query binding xslt2 or xslt3) to XSLT producing SVRL."""
    source = str(path)
    file = Path(path).resolve()
    schema = copy.deepcopy(load_trusted_xml(str(file)).getroot())
    binding = query_binding(schema, source)
    if not binding.needs_xslt2:
        raise _refuse(source, "queryBinding xslt1: compiled by lxml's ISO skeleton, not by this compiler")
    _resolve_includes(schema, file.parent, file.parent, source)
    _expand(schema, source)
    _check(source, schema)
    patterns, phase_lets = _active_patterns(schema, phase, source)

    namespaces = {ns.get("prefix", ""): ns.get("uri", "") for ns in schema.iter(f"{_S}ns")}
    nsmap: dict[str | None, str] = {"xsl": XSL_NS, "svrl": SVRL_NS, "xs": "http://www.w3.org/2001/XMLSchema"}
    for prefix, uri in namespaces.items():
        if prefix and prefix not in ("xsl", "svrl"):
            nsmap[prefix] = uri
    version = "3.0" if binding is QueryBinding.XSLT3 else "2.0"
    sheet = etree.Element(f"{_X}stylesheet", nsmap=nsmap, version=version)
    sheet.set("exclude-result-prefixes", " ".join(p for p in nsmap if p and p not in ("xsl", "svrl")))
    _x(sheet, "output", method="xml", indent="no")
    for child in schema:  # xsl:function, xsl:key copied through
        if child.tag in (f"{_X}function", f"{_X}key"):
            sheet.append(copy.deepcopy(child))
    for let in [*(c for c in schema if c.tag == f"{_S}let"), *phase_lets]:
        _let(sheet, let)
    for pattern in patterns:
        for let in (c for c in pattern if c.tag == f"{_S}let"):
            _let(sheet, let)
    diagnostics = {d.get("id", ""): d for d in schema.iter(f"{_S}diagnostic")}

    root = _x(sheet, "template", match="/")
    output = etree.SubElement(root, f"{_V}schematron-output", title=_title(schema),
                              schemaVersion=schema.get("schemaVersion", ""))
    if phase:
        output.set("phase", phase)
    for prefix, uri in namespaces.items():
        etree.SubElement(output, f"{_V}ns-prefix-in-attribute-values", prefix=prefix, uri=uri)
    n_rules = n_asserts = 0
    for index, pattern in enumerate(patterns, start=1):
        mode = f"M{index}"
        active = etree.SubElement(output, f"{_V}active-pattern")
        for key in ("id", "name", "documents"):
            if pattern.get(key if key != "name" else "id") is not None:
                active.set(key, pattern.get(key if key != "name" else "id", ""))
        _x(output, "apply-templates", select="/", mode=mode)
        rules = [r for r in pattern if r.tag == f"{_S}rule"]
        for position, rule in enumerate(rules):
            n_rules += 1
            context = rule.get("context")
            if not context:
                raise _refuse(source, f"a rule of pattern {pattern.get('id')!r} has no context")
            template = _x(sheet, "template", match=context, mode=mode, priority=str(1000 + len(rules) - position))
            fired = etree.SubElement(template, f"{_V}fired-rule", context=context)
            for key in ("id", "role", "flag"):
                if rule.get(key):
                    fired.set(key, rule.get(key, ""))
            for child in rule:
                if child.tag == f"{_S}let":
                    _let(template, child)
                elif child.tag in (f"{_S}assert", f"{_S}report"):
                    n_asserts += 1
                    _assertion(template, child, diagnostics)
            _x(template, "apply-templates", select="@*|*", mode=mode)
        _x(sheet, "template", match="text()", mode=mode, priority="-1")
        fallback = _x(sheet, "template", match="@*|node()", mode=mode, priority="-2")
        _x(fallback, "apply-templates", select="@*|*", mode=mode)
    _full_path_templates(sheet)
    xslt = etree.tostring(sheet, xml_declaration=True, encoding="UTF-8")
    return CompiledSchematron(xslt=bytes(xslt), binding=binding, patterns=len(patterns), rules=n_rules,
                              assertions=n_asserts)


def _title(schema: etree._Element) -> str:
    title = schema.find(f"{_S}title")
    return " ".join("".join(title.itertext()).split()) if title is not None else ""


def _assertion(template: etree._Element, node: etree._Element, diagnostics: dict[str, etree._Element]) -> None:
    test = node.get("test", "")
    is_assert = node.tag == f"{_S}assert"
    holder = _x(template, "if", test=f"not({test})" if is_assert else test)
    result = etree.SubElement(holder, f"{_V}{'failed-assert' if is_assert else 'successful-report'}", test=test)
    for key in ("id", "flag", "role"):
        if node.get(key):
            result.set(key, node.get(key, ""))
    location = _x(result, "attribute", name="location")
    _x(location, "apply-templates", select=node.get("subject") or ".", mode="ptx-full-path")
    _message(result, node, diagnostics)


def _full_path_templates(sheet: etree._Element) -> None:
    """``location`` as the skeleton writes it: ``/*:Invoice[namespace-uri()='...'][1]/@id``."""
    element = _x(sheet, "template", match="*", mode="ptx-full-path")
    _x(element, "apply-templates", select="parent::*", mode="ptx-full-path")
    _x(element, "text").text = "/"
    choose = _x(element, "choose")
    plain = _x(choose, "when", test="namespace-uri() = ''")
    _x(plain, "value-of", select="local-name()")
    named = _x(choose, "otherwise")
    _x(named, "value-of", select="concat('*:', local-name(), '[namespace-uri()=''', namespace-uri(), ''']')")
    _x(element, "value-of", select="concat('[', 1 + count(preceding-sibling::*[local-name() = local-name(current())"
                                   " and namespace-uri() = namespace-uri(current())]), ']')")
    attribute = _x(sheet, "template", match="@*", mode="ptx-full-path")
    _x(attribute, "apply-templates", select="parent::*", mode="ptx-full-path")
    _x(attribute, "value-of", select="concat('/@', name())")
    document = _x(sheet, "template", match="/", mode="ptx-full-path")
    _x(document, "text").text = "/"
    other = _x(sheet, "template", match="node()", mode="ptx-full-path", priority="-1")
    _x(other, "apply-templates", select="parent::*", mode="ptx-full-path")


__all__ = ["CompiledSchematron", "QueryBinding", "compile_schematron", "query_binding"]
