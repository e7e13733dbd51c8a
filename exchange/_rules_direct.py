"""XSLT 1 Schematron rules evaluated directly: each rule's context, lets and tests as compiled XPath on the tree.

lxml's ISO Schematron compiles a rules file to an XSLT 1 stylesheet that walks the whole document once per pattern
and builds an SVRL report (an element per fired rule and per active pattern) that the checks then read back. The
gateway and the node want only the failed asserts and successful reports: :meth:`DirectRules.results` gives them
without the walk and without the report, each check run once for all the nodes its rule fires on where it can
(``$nodes[not(test)]``: the context's nodes, selected once, passed as a variable). Measured on the gateway
benchmark's 11 KB certificate of origin (XSD + rules, the tree already parsed): 1.23 ms with the stylesheet, 0.77 ms
direct; its envelope 0.44 -> 0.33 ms. Its rules alone, direct: 338 us with the context selected again for each
bulk check, 274 us with it passed as a variable.

- a rule's context ``p`` (a match pattern) selects the nodes ``//p`` selects (``p`` when it starts with ``/``),
  one union per rule; within a pattern a node fires only the first rule that matches it, as the skeleton's
  descending template priorities make it, and fired nodes are taken in document order;
- the rule's lets are evaluated in order on the fired node, then each assert and report as ``boolean(test)``,
  messages as the concatenation of their text and ``string(value-of)``; ``current()`` is the fired node;
- the schema's lets are evaluated once per document (they must not depend on the context node);
- :meth:`DirectRules.svrl` builds the SVRL report as the skeleton builds it (the prologue and the
  ``active-pattern`` elements are taken from the skeleton's own output on an empty document, once), which is how
  the tests prove the two agree.

Only what this evaluator reproduces exactly is taken: plain element contexts (child steps, ``//``, predicates),
XPath 1.0 core functions and ``current()``, text, ``value-of`` and ``name`` in messages, rule and assert ids,
roles and flags. Anything else (phases, pattern lets, diagnostics, abstract rules, keys and other XSLT functions,
attribute or text contexts, context-dependent schema lets, position() or last() outside a predicate, whose value is
the stylesheet's, markup in messages) makes :func:`direct_rules` return ``None`` and the file runs on the
stylesheet; a let that holds attribute or text nodes at run time, or any XPath error, makes that one document run on
the stylesheet (:class:`Fallback`). ``tests/exchange/test_rules_direct.py`` checks both give the same report on
every sample document of the catalogue and on edge cases.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from lxml import etree, isoschematron

SCH_NS = "http://purl.oclc.org/dsdl/schematron"
SVRL_NS = "http://purl.oclc.org/dsdl/svrl"
_S = f"{{{SCH_NS}}}"
_SVRL = f"{{{SVRL_NS}}}"
_CURRENT = "ptx-current"
_FIRED = "ptx-fired"  # a bulk check's variable: the nodes the rule's context selected
_XML_SPACE = " \t\r\n"

#: the XPath 1.0 core function library (current() is replaced by a variable holding the fired node)
_CORE_FUNCTIONS = frozenset((
    "last", "position", "count", "id", "local-name", "namespace-uri", "name", "string", "concat", "starts-with",
    "contains", "substring-before", "substring-after", "substring", "string-length", "normalize-space",
    "translate", "boolean", "not", "true", "false", "lang", "number", "sum", "floor", "ceiling", "round",
    "current",
))
#: functions that read the context node: always, or when called without an argument
_CONTEXT_ALWAYS = frozenset(("last", "position", "lang", "current"))
_CONTEXT_WITHOUT_ARGUMENT = frozenset(("local-name", "namespace-uri", "name", "string", "string-length",
                                       "normalize-space", "number"))
_NODE_TYPES = frozenset(("comment", "text", "processing-instruction", "node"))
_OPERATOR_NAMES = frozenset(("and", "or", "div", "mod"))
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<lit>"[^"]*"|'[^']*')
  | (?P<num>\d+(?:\.\d*)?|\.\d+)
  | (?P<var>\$[A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?)
  | (?P<name>[A-Za-z_][\w.\-]*(?::(?:[A-Za-z_][\w.\-]*|\*))?)
  | (?P<sym>::|//|\.\.|!=|<=|>=|[()\[\]@,/|+\-=<>*.])
""", re.VERBOSE)


class Unsupported(Exception):
    """This rules file uses something the evaluator does not reproduce exactly: the stylesheet runs it."""


class Fallback(Exception):
    """This document needs the stylesheet (a let holding attribute or text nodes, an XPath error)."""


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # lit num var name sym func nodetype axis operator
    text: str
    start: int
    end: int
    depth: int  # predicate ([...]) depth
    parens: int  # parenthesis depth


def _tokens(text: str) -> list[_Token]:
    """XPath 1.0 tokens with the lexical disambiguation of its section 3.7 (operator names, ``*``)."""
    raw: list[tuple[str, str, int, int]] = []
    at = 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None:
            raise Unsupported(f"cannot read the XPath {text!r}")
        if match.lastgroup != "space":
            raw.append((match.lastgroup or "", match.group(), match.start(), match.end()))
        at = match.end()
    tokens: list[_Token] = []
    depth = parens = 0
    operand_before = False
    for index, (kind, value, start, end) in enumerate(raw):
        following = raw[index + 1][1] if index + 1 < len(raw) else ""
        if kind == "sym":
            if value == "*" and operand_before:
                kind, operand_before = "operator", False
            else:
                operand_before = value in (")", "]", ".", "..", "*")
            if value == "[":
                depth += 1
            elif value == "]":
                depth -= 1
            elif value == "(":
                parens += 1
            elif value == ")":
                parens -= 1
        elif kind == "name":
            if operand_before and value in _OPERATOR_NAMES:
                kind, operand_before = "operator", False
            elif following == "(":
                kind = "nodetype" if value in _NODE_TYPES else "func"
                operand_before = False
            elif following == "::":
                kind, operand_before = "axis", False
            else:
                operand_before = True
        else:
            operand_before = True
        if depth < 0 or parens < 0:
            raise Unsupported(f"cannot read the XPath {text!r}")
        tokens.append(_Token(kind, value, start, end, depth, parens))
    if depth or parens:
        raise Unsupported(f"cannot read the XPath {text!r}")
    return tokens


def _check_functions(tokens: list[_Token], text: str) -> None:
    for token in tokens:
        if token.kind == "func" and token.text not in _CORE_FUNCTIONS:
            raise Unsupported(f"{token.text}() in {text!r} is not an XPath 1.0 core function")


def _uses_context(tokens: list[_Token]) -> bool:
    """Whether an expression reads its context node outside predicates (a relative path, ``.``, ``name()``...)."""
    for index, token in enumerate(tokens):
        if token.depth:
            continue
        before = tokens[index - 1].text if index else ""
        after2 = tokens[index + 2].text if index + 2 < len(tokens) else ""
        if token.kind == "func":
            if token.text in _CONTEXT_ALWAYS or (token.text in _CONTEXT_WITHOUT_ARGUMENT and after2 == ")"):
                return True
        elif (token.kind in ("name", "axis", "nodetype") or token.text in ("@", ".", "..", "*")) and token.kind != (
                "operator") and before not in ("/", "//", "::", "@"):
            return True
    return False


def _with_current(text: str, tokens: list[_Token]) -> tuple[str, bool]:
    """``text`` with each ``current()`` replaced by the variable holding the fired node."""
    calls = [index for index, token in enumerate(tokens) if token.kind == "func" and token.text == "current"]
    if not calls:
        return text, False
    out = text
    for index in reversed(calls):
        opening, closing = tokens[index + 1], tokens[index + 2] if index + 2 < len(tokens) else None
        if opening.text != "(" or closing is None or closing.text != ")":
            raise Unsupported(f"current() with an argument in {text!r}")
        out = f"{out[:tokens[index].start]}${_CURRENT}{out[closing.end:]}"
    return out, True


class _Expression:
    """One XPath of the rules, compiled once, with the variables it reads."""

    __slots__ = ("text", "xpath", "names")

    def __init__(self, text: str, namespaces: dict[str, str], *, wrap: str = "", lets: frozenset[str],
                 context_free: bool = False) -> None:
        tokens = _tokens(text)
        _check_functions(tokens, text)
        if any(token.kind == "func" and token.text in ("position", "last") and not token.depth for token in tokens):
            # the stylesheet's position is the node's among all the nodes its templates are applied to
            raise Unsupported(f"position() or last() outside a predicate in {text!r}")
        if context_free and _uses_context(tokens):
            raise Unsupported(f"the schema's let {text!r} depends on the context node")
        source, current = _with_current(text, tokens)
        if current and context_free:
            raise Unsupported(f"current() in the schema's let {text!r}")
        names = {token.text[1:] for token in tokens if token.kind == "var"}
        unknown = names - lets
        if unknown:
            raise Unsupported(f"${sorted(unknown)[0]} is not a let in scope in {text!r}")
        self.text = text
        self.names = tuple(sorted(names)) + ((_CURRENT,) if current else ())
        try:
            self.xpath = etree.XPath(f"{wrap}({source})" if wrap else source, namespaces=namespaces,
                                     smart_strings=False)
        except etree.XPathSyntaxError as exc:
            raise Unsupported(f"{text!r}: {exc}") from exc

    def __call__(self, node: etree._Element, values: dict[str, Any]) -> Any:
        try:
            if self.names:
                return self.xpath(node, **{name: values[name] for name in self.names})
            return self.xpath(node)
        except etree.XPathError as exc:
            raise Fallback(f"{self.text!r}: {exc}") from exc


def _let_value(value: Any, text: str) -> Any:
    if isinstance(value, list) and not all(isinstance(item, etree._Element) for item in value):
        raise Fallback(f"the let {text!r} holds attribute, text or namespace nodes")
    return value


class RuleResult(NamedTuple):
    """One failed assert (``report`` false) or successful report, as the SVRL element would give it."""

    report: bool
    attributes: tuple[tuple[str, str], ...]  # test (whitespace normalised), then id, role, flag as given
    location: str  # the skeleton's path of the node
    message: str  # the text, before whitespace is normalised

    def get(self, name: str) -> str | None:
        return next((value for key, value in self.attributes if key == name), None)


@dataclass(frozen=True, slots=True)
class _Check:
    report: bool  # sch:report (a successful-report when true) or sch:assert (a failed-assert when false)
    test: _Expression  # on one fired node, with the rule's lets as variables
    bulk: _Expression | None  # every node of the rule's context the check reports on, in one evaluation
    attributes: tuple[tuple[str, str], ...]  # the SVRL element's attributes before location
    message: tuple[str | _Expression, ...]


@dataclass(frozen=True, slots=True)
class _Rule:
    select: etree.XPath
    attributes: tuple[tuple[str, str], ...]  # the fired-rule element's
    lets: tuple[tuple[str, _Expression], ...]
    checks: tuple[_Check, ...]


@dataclass(frozen=True, slots=True)
class _Pattern:
    rules: tuple[_Rule, ...]
    union: etree.XPath | None  # every rule's nodes in document order, when the pattern has several rules


def _inline(text: str, lets: dict[str, str | None]) -> str | None:
    """``text`` with each reference to one of the rule's ``lets`` replaced by its expression in parentheses, or
    ``None`` when that would change its value.

    Outside predicates, within a predicate on the rule's context nodes, the context is the node the rule fires on,
    which is the context the let is evaluated in: ``$hs`` with ``hs = normalize-space(.)`` and
    ``(normalize-space(.))`` are the same value there. Inside a predicate of the expression itself the context is
    another node (``preceding-sibling::x[. = $v]``), so such a reference is not inlined; nor is a let that could
    not be (``None``). Expressions reading current() are not inlined either (they run per node)."""
    out = text
    for token in reversed(_tokens(text)):
        if token.kind == "var" and token.text[1:] in lets:
            expression = lets[token.text[1:]]
            if expression is None or token.depth:
                return None
            out = f"{out[:token.start]}({expression}){out[token.end:]}"
    return out


def _own_name(name: str) -> None:
    """The evaluator's own variables (``ptx-current``, ``ptx-fired``) must not be a let's name."""
    if name.startswith("ptx-"):
        raise Unsupported(f"a let named {name!r}: the ptx- names are the evaluator's own")


def _reads_current(text: str) -> bool:
    return any(token.kind == "func" and token.text == "current" for token in _tokens(text))


def _normalize_space(text: str) -> str:
    """XPath's normalize-space(): XML whitespace runs to one space, none at either end."""
    return " ".join(part for part in re.split(r"[ \t\r\n]+", text) if part)


def _no_text(element: etree._Element, what: str) -> None:
    if (element.text or "").strip() or any((child.tail or "").strip() for child in element):
        raise Unsupported(f"text directly in {what}")


def _elements(parent: etree._Element) -> list[etree._Element]:
    """The Schematron children of ``parent`` (comments skipped; foreign elements refused)."""
    found = []
    for child in parent:
        if not isinstance(child.tag, str):
            if isinstance(child, etree._ProcessingInstruction):
                raise Unsupported("a processing instruction in the rules")
            continue
        if not child.tag.startswith(_S):
            raise Unsupported(f"foreign element {child.tag} in the rules")
        found.append(child)
    return found


def _context_select(context: str, namespaces: dict[str, str]) -> tuple[etree.XPath, str]:
    """The XPath selecting the elements a rule's match pattern matches: ``//p`` for each union part ``p``."""
    tokens = _tokens(context)
    _check_functions(tokens, context)
    parts: list[list[_Token]] = [[]]
    for token in tokens:
        if token.text == "|" and not token.depth and not token.parens:
            parts.append([])
        else:
            parts[-1].append(token)
    selects = []
    for part in parts:
        outside = [token for token in part if not token.depth and token.text not in ("[", "]")]
        if not outside or any(token.kind == "var" or (token.kind == "func" and token.text == "current")
                              for token in part):
            raise Unsupported(f"the rule context {context!r} is not a plain element pattern")
        if any(token.kind != "name" and token.text not in ("/", "//", "*") for token in outside):
            raise Unsupported(f"the rule context {context!r} is not a plain element pattern")
        if outside[-1].text in ("/", "//") or any(a.text in ("/", "//") and b.text in ("/", "//")
                                                  for a, b in zip(outside, outside[1:], strict=False)):
            raise Unsupported(f"the rule context {context!r} is not a plain element pattern")
        text = context[part[0].start:part[-1].end]
        selects.append(text if text.startswith("/") else f"//{text}")
    union = " | ".join(selects)
    try:
        return etree.XPath(union, namespaces=namespaces, smart_strings=False), union
    except etree.XPathSyntaxError as exc:
        raise Unsupported(f"the rule context {context!r}: {exc}") from exc


class DirectRules:
    """A Schematron file compiled for direct evaluation; :meth:`svrl` gives the report the skeleton would."""

    def __init__(self, schema: etree._Element, prologue: etree._Element, patterns: list[etree._Element]) -> None:
        self._namespaces = dict(prologue.nsmap)
        self._prologue = prologue
        namespaces = {ns.get("prefix", ""): ns.get("uri", "") for ns in schema.iter(f"{_S}ns")}
        self._lets: list[tuple[str, _Expression]] = []
        names: set[str] = set()
        for element in _elements(schema):
            if element.tag == f"{_S}let":
                name, value = element.get("name"), element.get("value")
                if not name or value is None or len(element) or set(element.attrib) - {"name", "value"}:
                    raise Unsupported("a schema let without a value attribute")
                _own_name(name)
                self._lets.append((name, _Expression(value, namespaces, lets=frozenset(names), context_free=True)))
                names.add(name)
            elif element.tag not in (f"{_S}ns", f"{_S}title", f"{_S}pattern", f"{_S}p"):
                raise Unsupported(f"{etree.QName(element).localname} in the schema")
        self._patterns = [self._pattern(element, namespaces, frozenset(names)) for element in patterns]
        self._actives = [
            child for child in prologue if isinstance(child.tag, str) and child.tag == f"{_SVRL}active-pattern"
        ]
        if len(self._actives) != len(self._patterns):
            raise Unsupported("the skeleton's active patterns do not match the rules' patterns")
        for active in self._actives:
            prologue.remove(active)

    def _pattern(self, element: etree._Element, namespaces: dict[str, str], lets: frozenset[str]) -> _Pattern:
        if set(element.attrib) - {"id", "name"}:
            raise Unsupported("a pattern attribute the evaluator does not reproduce")
        rules = []
        for child in _elements(element):
            if child.tag == f"{_S}rule":
                rules.append(self._rule(child, namespaces, lets))
            elif child.tag not in (f"{_S}title", f"{_S}p"):
                raise Unsupported(f"{etree.QName(child).localname} in a pattern")
        union = None
        if len(rules) > 1:
            contexts = [child.get("context", "") for child in element.iter(f"{_S}rule")]
            union = _context_select(" | ".join(contexts), namespaces)[0]
        return _Pattern(tuple(rules), union)

    def _rule(self, element: etree._Element, namespaces: dict[str, str], lets: frozenset[str]) -> _Rule:
        if set(element.attrib) - {"context", "id", "role", "flag"} or not element.get("context"):
            raise Unsupported("a rule the evaluator does not reproduce (abstract, subject, no context...)")
        _no_text(element, "a rule")
        context = element.get("context", "")
        select = _context_select(context, namespaces)[0]
        scope = set(lets)
        rule_lets: list[tuple[str, _Expression]] = []
        inlined: dict[str, str | None] = {}  # each rule let's expression with earlier rule lets inlined (or None)
        bulk = True  # no let or test reads current(): every test runs once for all the rule's nodes
        checks: list[_Check] = []
        for child in _elements(element):
            tag = etree.QName(child).localname
            if tag == "let":
                name, value = child.get("name"), child.get("value")
                if not name or value is None or len(child) or set(child.attrib) - {"name", "value"} or checks:
                    raise Unsupported("a rule let without a value, or after a test")
                _own_name(name)
                rule_lets.append((name, _Expression(value, namespaces, lets=frozenset(scope))))
                scope.add(name)
                bulk = bulk and not _reads_current(value)
                inlined[name] = _inline(value, inlined)
            elif tag in ("assert", "report"):
                checks.append(self._check(child, tag == "report", namespaces, frozenset(scope),
                                          (inlined, lets) if bulk else None))
            else:
                raise Unsupported(f"{tag} in a rule")
        attributes = [("context", context)] + [(name, element.get(name, "")) for name in ("id", "role", "flag")
                                               if element.get(name) is not None]
        return _Rule(select, tuple(attributes), tuple(rule_lets), tuple(checks))

    def _check(self, element: etree._Element, report: bool, namespaces: dict[str, str], lets: frozenset[str],
               bulk: tuple[dict[str, str | None], frozenset[str]] | None) -> _Check:
        if set(element.attrib) - {"test", "id", "role", "flag"} or element.get("test") is None:
            raise Unsupported("an assert or report attribute the evaluator does not reproduce")
        test = element.get("test", "")
        message: list[str | _Expression] = []
        if element.text and element.text.strip(_XML_SPACE):
            message.append(element.text)
        for child in element:
            if not isinstance(child.tag, str):
                raise Unsupported("a comment or processing instruction in a message")
            tag = child.tag
            if tag == f"{_S}value-of" and set(child.attrib) == {"select"} and not len(child):
                message.append(_Expression(child.get("select", ""), namespaces, wrap="string", lets=lets))
            elif tag == f"{_S}name" and set(child.attrib) <= {"path"} and not len(child):
                path = child.get("path")
                message.append(_Expression(f"name({path})" if path else "name(.)", namespaces, lets=lets))
            else:
                raise Unsupported(f"{child.tag} in a message")
            if child.tail and child.tail.strip(_XML_SPACE):  # the stylesheet drops whitespace-only text
                message.append(child.tail)
        attributes = [("test", _normalize_space(test))] + [
            (name, element.get(name, "")) for name in ("id", "role", "flag") if element.get(name) is not None]
        reported = None
        if bulk is not None and not _reads_current(test):
            inlined, shared = bulk
            condition = _inline(test, inlined)
            if condition is not None:
                # on the nodes the context selected (a variable), not on the context again: ``//`` walks the tree
                reported = _Expression(f"${_FIRED}[{'boolean' if report else 'not'}({condition})]", namespaces,
                                       lets=shared | {_FIRED})
        return _Check(report, _Expression(test, namespaces, wrap="boolean", lets=lets), reported,
                      tuple(attributes), tuple(message))

    def svrl(self, tree: etree._ElementTree) -> etree._ElementTree:
        """The SVRL report of these rules on ``tree``; :class:`Fallback` when it needs the stylesheet."""
        output = etree.Element(self._prologue.tag, self._prologue.attrib, nsmap=self._namespaces)
        output.text = self._prologue.text
        for child in self._prologue:
            output.append(_copy(child))
        for event in self._events(tree):
            if isinstance(event, _Rule):
                etree.SubElement(output, f"{_SVRL}fired-rule", dict(event.attributes))
            elif isinstance(event, RuleResult):
                tag = "successful-report" if event.report else "failed-assert"
                result = etree.SubElement(output, f"{_SVRL}{tag}", dict(event.attributes))
                result.set("location", event.location)
                etree.SubElement(result, f"{_SVRL}text").text = event.message
            else:
                output.append(_copy(self._actives[event]))
        return etree.ElementTree(output)

    def results(self, tree: etree._ElementTree) -> list[RuleResult]:
        """The failed asserts and successful reports of :meth:`svrl`, in its order, without building the report."""
        return [event for event in self._events(tree) if isinstance(event, RuleResult)]

    def _events(self, tree: etree._ElementTree) -> Iterator[int | _Rule | RuleResult]:
        """What the report holds, in its order: a pattern's index as it becomes active, each rule as it fires, each
        result."""
        root = tree.getroot()
        values: dict[str, Any] = {}
        for name, expression in self._lets:
            values[name] = _let_value(expression(root, values), expression.text)
        for index, pattern in enumerate(self._patterns):
            yield index
            if pattern.union is None:
                rule = pattern.rules[0]
                fired = _nodes(rule.select, root)
                if fired:
                    reported = self._reported(rule, fired, root, values)
                    for node in fired:
                        yield rule
                        yield from self._fire(rule, node, values, reported)
                continue
            firing: dict[etree._Element, _Rule] = {}
            selected: dict[int, list[etree._Element]] = {}  # by id(rule): rules are compared by value, slowly
            for rule in pattern.rules:
                selected[id(rule)] = nodes = _nodes(rule.select, root)
                for node in nodes:
                    firing.setdefault(node, rule)
            reports: dict[int, list[set[etree._Element] | None]] = {}
            for node in _nodes(pattern.union, root):
                rule = firing[node]
                if id(rule) not in reports:
                    reports[id(rule)] = self._reported(rule, selected[id(rule)], root, values)
                yield rule
                yield from self._fire(rule, node, values, reports[id(rule)])

    @staticmethod
    def _reported(rule: _Rule, selected: list[etree._Element], root: etree._Element, values: dict[str, Any]
                  ) -> list[set[etree._Element] | None]:
        """For each check of the rule evaluated in bulk, the nodes it reports on among ``selected`` (the rule's
        context nodes; None: evaluated per node)."""
        if not any(check.bulk is not None for check in rule.checks):
            return [None] * len(rule.checks)
        bound = {**values, _FIRED: selected}
        return [None if check.bulk is None else set(_nodes_of(check.bulk(root, bound))) for check in rule.checks]

    @staticmethod
    def _fire(rule: _Rule, node: etree._Element, shared: dict[str, Any],
              reported: list[set[etree._Element] | None]) -> Iterator[RuleResult]:
        values: dict[str, Any] | None = None
        for check, nodes in zip(rule.checks, reported, strict=True):
            if nodes is not None and node not in nodes:
                continue
            if values is None:
                values = dict(shared)
                values[_CURRENT] = node
                for name, expression in rule.lets:
                    values[name] = _let_value(expression(node, values), expression.text)
            if nodes is None and bool(check.test(node, values)) is not check.report:
                continue
            message = "".join(part if isinstance(part, str) else str(part(node, values)) for part in check.message)
            yield RuleResult(check.report, check.attributes, location(node), message)


def _nodes_of(found: Any) -> list[etree._Element]:
    if not isinstance(found, list):
        raise Fallback(f"a check gave {type(found).__name__}, not nodes")
    return found


def _nodes(select: etree.XPath, root: etree._Element) -> list[etree._Element]:
    try:
        found = select(root)
    except etree.XPathError as exc:
        raise Fallback(str(exc)) from exc
    assert isinstance(found, list)
    return found


def _copy(element: etree._Element) -> etree._Element:
    copied = etree.Element(element.tag, element.attrib) if isinstance(element.tag, str) else etree.Comment(
        element.text)
    copied.tail = element.tail
    return copied


def location(node: etree._Element) -> str:
    """The skeleton's ``schematron-get-full-path`` of an element: ``/*[local-name()='X' and namespace-uri()='U'][n]``
    steps (``/name[n]`` without a namespace), the position counted among same-named siblings and shown only when
    there are several."""
    steps = []
    element: etree._Element | None = node
    while element is not None:
        qname = etree.QName(element)
        local, uri = qname.localname, qname.namespace or ""
        if uri:
            step = f"*[local-name()='{local}' and namespace-uri()='{uri}']"
            same = _same_local_name
        else:
            step = str(element.tag)
            same = _same_tag
        before = sum(1 for sibling in element.itersiblings(preceding=True) if same(sibling, element))
        if before or any(same(sibling, element) for sibling in element.itersiblings()):
            step += f"[{before + 1}]"
        steps.append(step)
        element = element.getparent()
    return "".join(f"/{step}" for step in reversed(steps))


def _same_local_name(sibling: etree._Element, element: etree._Element) -> bool:
    return isinstance(sibling.tag, str) and etree.QName(sibling).localname == etree.QName(element).localname


def _same_tag(sibling: etree._Element, element: etree._Element) -> bool:
    return isinstance(sibling.tag, str) and sibling.tag == element.tag


_EMPTY = etree.ElementTree(etree.Element("ptx-no-document"))


def direct_rules(schema: etree._ElementTree, skeleton: isoschematron.Schematron) -> DirectRules | None:
    """``schema`` (ISO Schematron, XSLT 1 binding) for direct evaluation, or ``None`` when it must run on
    ``skeleton``'s stylesheet (lxml's compilation of the same file, used for the report's prologue)."""
    try:
        expanded = isoschematron.iso_abstract_expand(isoschematron.iso_dsdl_include(schema)).getroot()
        if expanded is None or expanded.tag != f"{_S}schema" or list(expanded.iter(f"{_S}phase", f"{_S}diagnostics")):
            raise Unsupported("phases or diagnostics")
        patterns = [element for element in _elements(expanded) if element.tag == f"{_S}pattern"]
        skeleton.validate(_EMPTY)
        report = skeleton.validation_report
        if report is None:
            raise Unsupported("the skeleton gave no report")
        prologue = report.getroot() if isinstance(report, etree._ElementTree) else report
        if any(isinstance(child.tag, str) and child.tag not in (f"{_SVRL}ns-prefix-in-attribute-values",
                                                                 f"{_SVRL}active-pattern") for child in prologue):
            raise Unsupported("the skeleton's report on an empty document has results")
        return DirectRules(expanded, _copy_tree(prologue), patterns)
    except (Unsupported, etree.LxmlError, ValueError, IndexError, KeyError):
        return None  # what it cannot compile stays on the stylesheet, which is always right


def _copy_tree(element: etree._Element) -> etree._Element:
    return copy.deepcopy(element)


__all__ = ["DirectRules", "Fallback", "RuleResult", "direct_rules", "location"]
