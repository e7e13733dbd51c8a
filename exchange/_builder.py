"""Building trade documents from structured input (JSON or YAML), then validating them.

The input convention (the catalogue's ``input.yaml`` files follow it) mirrors the XML:

* the root element's local name is the single top-level key;
* keys are element local names, without prefixes: everything is in the type's namespace;
* a nested mapping is a child element, a list is a repeated element;
* keys starting with ``@`` are attributes, ``#text`` is the text of an element that also has attributes;
* a scalar is the element's text (ints as they are, floats and decimals without exponent, booleans as
  ``true``/``false``, dates and times in ISO 8601); ``null`` or an empty mapping is an empty element.

In YAML, ``@`` and ``#`` cannot start a plain key: write ``"@unitCode": KGM`` and ``"#text": ...`` quoted.

How the document is built, and why this way
-------------------------------------------
The builder walks the input and the schema's content model side by side, reading the model with
``xmlschema`` (off the hot path; lxml cannot introspect a schema) and creating elements with lxml's element
API. Walking the model ourselves, rather than handing the mapping to ``XMLSchema.encode``, is what lets every
problem be named by its *input* path (``CertificateOfOrigin.SupplyChainConsignment.
IncludedSupplyChainTradeLineItem[1].NetWeightMeasure.@unitCode``) and reported all at once, with a "did you
mean" for a misspelt key; the encoder reports paths in the document, stops at the first error in strict mode,
and renders values its own way. At each element the builder

1. refuses keys that are not an element or attribute of the type at that place (``INPUT-FIELD-UNKNOWN``),
   suggesting the closest known name;
2. reports required elements and attributes that are absent (``INPUT-FIELD-MISSING``), taking optional
   groups and choices into account, and values of the wrong shape (``INPUT-FIELD-INVALID``);
3. orders child elements by the schema: people writing JSON get the order wrong. A mapping cannot repeat a
   key, so the items of a repeated element are always adjacent; when every element name is declared in one
   place only, sorting the keys by the position of their declaration (stable, list order kept) is then the
   valid order whenever one exists, through optional parts, choices and repeated groups alike. Where a name
   is declared in two places (``B?, A, B``) its position is ambiguous and the given order is kept.

The built tree then goes through the same validator as every other document (lxml's XSD validator and the
type's Schematron rules). Schema and rule findings are translated back to input paths (:func:`input_path`);
schema codes become ``INPUT-FIELD-*`` codes, business-rule codes (``COO-MASS-01``) stay as they are. Line and
column are dropped: they would point into generated XML the user never wrote.

Scalars in YAML files are read as the text written (only ``null``/``~``/empty stay null): ``0101`` stays an
HS code rather than becoming the number 65, ``NO`` stays Norway, ``1.10`` keeps its zero. Numbers, booleans
and dates given as Python or JSON values are rendered canonically. YAML aliases are refused, as entity
references are in XML.
"""

from __future__ import annotations

import base64
import datetime as dt
import difflib
import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from lxml import etree

from exchange._catalogue import Catalogue, DocumentType
from exchange._errors import Code, ConfigurationError, InputError
from exchange._findings import CheckResult, CheckStatus, Finding
from exchange._validation import CHECK_RULES, CHECK_SCHEMA, ValidationReport, Validator, Verdict
from exchange._xml import DEFAULT_LIMITS

CHECK_INPUT = "input"
"""Name of the builder's own check in a build report (runs before ``schema`` and ``rules``)."""

TEXT_KEY = "#text"
ATTRIBUTE_PREFIX = "@"

_MAX_SUGGESTIONS_LISTED = 12


@dataclass(frozen=True, slots=True)
class BuildResult:
    """A built document. ``xml`` is UTF-8 with a declaration, indented by two spaces.

    ``report`` is the validation report in input terms (``None`` when built with ``validate=False``). Use
    the document only when ``report.valid``; otherwise ``xml`` is a best effort that left out what it could
    not map.
    """

    xml: bytes
    report: ValidationReport | None

    @property
    def valid(self) -> bool | None:
        """``True``/``False`` from the report, ``None`` when the document was not validated."""
        return None if self.report is None else self.report.valid


# --- reading input -----------------------------------------------------------------------------------------

_YAML_NULL = "tag:yaml.org,2002:null"


class _TextLoader(yaml.SafeLoader):
    """Safe YAML loader that keeps scalars as written (only null is resolved), refuses aliases and
    duplicate keys."""

    yaml_implicit_resolvers: dict[Any, list[tuple[str, re.Pattern[str]]]] = {
        first: [(tag, pattern) for tag, pattern in resolvers if tag == _YAML_NULL]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in document input", event.start_mark
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key_node, _value in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                if key_node.value in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key_node.value!r}", key_node.start_mark
                    )
                seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)


class _DuplicateKeyError(ValueError):
    pass


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKeyError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number XML can carry here; write it as a string")


def parse_input(
    text: str | bytes, *, format: Literal["json", "yaml"] | None = None, source: str = "input"
) -> dict[str, Any]:
    """Parse structured input from text. ``format`` defaults to JSON when the text starts with ``{``.

    Raises :class:`InputError`: ``INPUT-UNREADABLE`` (with line and column when the parser gives them) for
    text that is not valid JSON/YAML, ``INPUT-INVALID`` when the top level is not a mapping.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{source}: not UTF-8 (byte {exc.start}: {exc.reason})", code=Code.INPUT_UNREADABLE
            ) from exc
    if format is None:
        format = "json" if text.lstrip().startswith("{") else "yaml"
    try:
        if format == "json":
            data = json.loads(
                text, object_pairs_hook=_json_object, parse_float=Decimal, parse_constant=_refuse_constant
            )
        else:
            data = yaml.load(text, Loader=_TextLoader)  # noqa: S506 - a SafeLoader subclass
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{source}: not valid JSON ({exc.msg})",
            code=Code.INPUT_UNREADABLE,
            line=exc.lineno,
            column=exc.colno,
        ) from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "syntax error"
        hint = ""
        if "cannot start any token" in problem:
            hint = "; keys starting with @ or # must be quoted, e.g. \"@unitCode\": KGM"
        raise InputError(
            f"{source}: not valid YAML ({problem}{hint})",
            code=Code.INPUT_UNREADABLE,
            line=mark.line + 1 if mark is not None else None,
            column=mark.column + 1 if mark is not None else None,
        ) from exc
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        raise InputError(f"{source}: cannot be read ({exc})", code=Code.INPUT_UNREADABLE) from exc
    if not isinstance(data, dict):
        raise InputError(
            f"{source}: the input must be a mapping with the root element as its only key, "
            f"not {_kind(data)}",
            code=Code.INPUT_INVALID,
        )
    return data


def load_input(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a JSON or YAML input file (by suffix: ``.json``, ``.yaml``/``.yml``; otherwise by content)."""
    file_path = Path(path)
    try:
        size = file_path.stat().st_size
        if size > DEFAULT_LIMITS.max_bytes:
            raise InputError(
                f"{file_path} is {size:,} bytes; the limit is {DEFAULT_LIMITS.max_bytes:,}",
                code=Code.INPUT_UNREADABLE,
            )
        raw = file_path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {file_path}: {exc.strerror}", code=Code.INPUT_UNREADABLE) from exc
    suffix = file_path.suffix.lower()
    format: Literal["json", "yaml"] | None = (
        "json" if suffix == ".json" else "yaml" if suffix in (".yaml", ".yml") else None
    )
    return parse_input(raw, format=format, source=str(file_path))


# --- the schema, read with xmlschema -----------------------------------------------------------------------


@lru_cache(maxsize=16)
def _load_schema(path: str, mtime_ns: int, size: int) -> Any:
    # allow="local": imports and includes load local files only, never the network. defuse="nonlocal": the
    # catalogue's own files are trusted configuration and may carry an internal DTD subset (the W3C XML-DSig
    # schema does), exactly as exchange._xml.load_trusted_xml allows; anything else would be defused.
    import xmlschema  # imported when first needed: it adds ~170 ms to start-up, and most commands never build

    try:
        return xmlschema.XMLSchema10(path, allow="local", defuse="nonlocal")
    except (xmlschema.XMLSchemaException, SyntaxError, OSError, ValueError) as exc:
        raise ConfigurationError(f"{path}: {exc}", code=Code.SCHEMA_LOAD_FAILED) from exc


def _schema(path: Path) -> Any:
    resolved = path.resolve()
    try:
        stat = resolved.stat()
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read {resolved}: {exc.strerror}", code=Code.SCHEMA_LOAD_FAILED
        ) from exc
    return _load_schema(str(resolved), stat.st_mtime_ns, stat.st_size)


# --- content models ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Slot:
    """Where a child element may go: its tag, its declaration (``None``: build as given), rank and repeat."""

    tag: str
    declaration: Any
    rank: int
    repeatable: bool


@dataclass(slots=True)
class _Model:
    """The element children a complex type allows, flattened from its model group."""

    slots: dict[str, _Slot] = field(default_factory=dict)
    wildcards: list[tuple[Any, int, bool]] = field(default_factory=list)
    orderable: bool = True


_GROUP, _WILDCARD, _ELEMENT, _OTHER = "group", "wildcard", "element", "other"


def _particle(particle: Any) -> str:
    """What a model particle is: a model group, an element wildcard, an element declaration (or other)."""
    from xmlschema.validators import XsdAnyElement, XsdElement, XsdGroup

    if isinstance(particle, XsdGroup):
        return _GROUP
    if isinstance(particle, XsdAnyElement):
        return _WILDCARD
    if isinstance(particle, XsdElement):
        return _ELEMENT
    return _OTHER


def _repeats(particle: Any) -> bool:
    return bool(particle.max_occurs != 1)


def _model_of(group: Any) -> _Model:
    model = _Model()
    rank = 0

    def visit(group: Any, repeated: bool) -> None:
        nonlocal rank
        for particle in group:
            if _particle(particle) == _GROUP:
                visit(particle, repeated or _repeats(particle))
            elif _particle(particle) == _WILDCARD:
                model.wildcards.append((particle, rank, repeated or _repeats(particle)))
                rank += 1
            elif _particle(particle) == _ELEMENT:
                for declaration in (particle, *particle.iter_substitutes()):
                    name = declaration.local_name
                    if name in model.slots:  # the same name in two places: its position is ambiguous
                        model.orderable = False
                        previous = model.slots[name]
                        model.slots[name] = _Slot(previous.tag, previous.declaration, previous.rank, True)
                        continue
                    model.slots[name] = _Slot(
                        declaration.name, declaration, rank, repeated or _repeats(particle)
                    )
                rank += 1

    visit(group, _repeats(group))
    return model


def _names(particle: Any) -> set[str]:
    if _particle(particle) == _ELEMENT:
        return {particle.local_name, *(sub.local_name for sub in particle.iter_substitutes())}
    if _particle(particle) == _GROUP:
        return set().union(*(_names(child) for child in particle)) if len(particle) else set()
    return set()


def _missing(group: Any, present: set[str]) -> list[str]:
    """Required element names absent from ``present``, for a group that must occur."""
    if group.model == "choice":
        for alternative in group:
            if _names(alternative) & present:
                return _missing_particle(alternative, present)
        if len(group) == 0 or any(alternative.is_emptiable() for alternative in group):
            return []
        if any(_particle(alternative) == _WILDCARD for alternative in group):
            return []  # a wildcard alternative: leave the verdict to the schema validator
        return [" or ".join(sorted(set().union(*(_names(alt) for alt in group))))]
    missing: list[str] = []
    for particle in group:
        if particle.min_occurs == 0 and not (_particle(particle) == _GROUP and _names(particle) & present):
            continue
        missing.extend(_missing_particle(particle, present))
    return missing


def _missing_particle(particle: Any, present: set[str]) -> list[str]:
    if _particle(particle) == _ELEMENT:
        return [] if _names(particle) & present else [particle.local_name]
    if _particle(particle) == _GROUP:
        return _missing(particle, present)
    return []


def _leaf(path: str) -> str:
    """The last step of an input path, for messages: ``A.B[2].C`` -> ``C``."""
    return path.rsplit(".", 1)[-1]


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1]


# --- rendering values --------------------------------------------------------------------------------------


def _decimal_text(value: Decimal) -> str:
    if value.is_nan():
        return "NaN"
    if value.is_infinite():
        return "-INF" if value < 0 else "INF"
    text = format(value, "f")
    return "0" if text in ("-0", "+0") else text


def _render(value: Any) -> str | None:
    """Canonical XML text for a scalar, or ``None`` when the value is not a scalar."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "-INF" if value < 0 else "INF"
        return _decimal_text(Decimal(repr(value)))
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    return None


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return f"a {type(value).__name__}"


def _suggest(key: str, candidates: list[str]) -> str:
    if not candidates:
        return " (nothing is allowed here)"
    folded = {candidate.lower(): candidate for candidate in candidates}
    local = key.rsplit(":", 1)[-1]
    close = (
        [folded[key.lower()]]
        if key.lower() in folded
        else [folded[local.lower()]]
        if local.lower() in folded
        else difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
    )
    if close:
        return f"; did you mean {close[0]!r}?"
    listed = ", ".join(candidates[:_MAX_SUGGESTIONS_LISTED])
    more = ", ..." if len(candidates) > _MAX_SUGGESTIONS_LISTED else ""
    return f"; expected one of: {listed}{more}"


# --- the builder -------------------------------------------------------------------------------------------


class _Builder:
    """One build: the findings it collects and a memo of content models. Never shared between calls."""

    def __init__(self, schema: Any, namespace: str, max_depth: int) -> None:
        self.schema = schema
        self.namespace = namespace
        self.max_depth = max_depth
        self.findings: list[Finding] = []
        self._models: dict[int, _Model] = {}

    def problem(self, code: Code, path: str, message: str) -> None:
        self.findings.append(Finding.of(code, CHECK_INPUT, message, path=path))

    def model(self, group: Any) -> _Model:
        found = self._models.get(id(group))
        if found is None:
            found = self._models[id(group)] = _model_of(group)
        return found

    # -- elements

    def fill(self, element: etree._Element, xsd_type: Any, value: Any, path: str, depth: int) -> None:
        """Fill ``element`` (declared with ``xsd_type``; ``None`` for undeclared content) from ``value``."""
        if depth > self.max_depth:
            raise InputError(
                f"{path}: the input is nested deeper than {self.max_depth} levels",
                code=Code.INPUT_INVALID,
                path=path,
            )
        if xsd_type is None:
            self.fill_free(element, value, path, depth)
        elif isinstance(value, Mapping):
            self.fill_mapping(element, xsd_type, value, path, depth)
        elif value is None:
            self.fill_mapping(element, xsd_type, {}, path, depth)
        elif isinstance(value, list):
            self.problem(Code.INPUT_FIELD_INVALID, path, "a list inside a list is not allowed")
        elif xsd_type.is_simple() or xsd_type.has_simple_content() or xsd_type.mixed:
            self.set_text(element, value, path)
            self.check_attributes(element, xsd_type, {}, path)
        else:
            shape = (
                "is an empty element: give its attributes as" if xsd_type.is_empty() else "has child fields:"
            )
            self.problem(
                Code.INPUT_FIELD_INVALID,
                path,
                f"{_leaf(path)} {shape} a mapping, not {_kind(value)}",
            )
            self.fill_mapping(element, xsd_type, {}, path, depth)

    def set_text(self, element: etree._Element, value: Any, path: str) -> None:
        text = _render(value)
        if text is None:
            self.problem(Code.INPUT_FIELD_INVALID, path, f"expected a value, got {_kind(value)}")
            return
        try:
            element.text = text
        except ValueError as exc:  # lxml refuses control characters XML cannot carry
            self.problem(Code.INPUT_FIELD_INVALID, path, str(exc))

    def fill_mapping(
        self, element: etree._Element, xsd_type: Any, value: Mapping[Any, Any], path: str, depth: int
    ) -> None:
        attributes: dict[str, Any] = {}
        children: list[str] = []
        simple = xsd_type.is_simple() or xsd_type.has_simple_content()
        for key in value:
            if not isinstance(key, str):
                self.problem(
                    Code.INPUT_FIELD_UNKNOWN, f"{path}.{key}", f"field names are text, not {key!r}"
                )
            elif key.startswith(ATTRIBUTE_PREFIX):
                attributes[key[1:]] = value[key]
            elif key == TEXT_KEY:
                if simple or xsd_type.mixed:
                    self.set_text(element, value[key], f"{path}.{key}")
                else:
                    self.problem(
                        Code.INPUT_FIELD_UNKNOWN,
                        f"{path}.{key}",
                        f"{_leaf(path)} has child fields, not text: {TEXT_KEY!r} is not allowed here",
                    )
            else:
                children.append(key)
        self.check_attributes(element, xsd_type, attributes, path)
        if simple:
            candidates = self.attribute_keys(xsd_type) + [TEXT_KEY]
            for key in children:
                self.problem(
                    Code.INPUT_FIELD_UNKNOWN,
                    f"{path}.{key}",
                    f"unknown field {key!r}: {_leaf(path)} holds a value, not child fields"
                    + _suggest(key, candidates),
                )
            return
        self.fill_children(element, xsd_type, value, children, path, depth)

    def attribute_keys(self, xsd_type: Any) -> list[str]:
        if xsd_type.is_simple():
            return []
        return [ATTRIBUTE_PREFIX + _local(name) for name in xsd_type.attributes if name is not None]

    def check_attributes(
        self, element: etree._Element, xsd_type: Any, given: dict[str, Any], path: str
    ) -> None:
        declared: dict[str, Any] = {}
        wildcard = None
        if not xsd_type.is_simple():
            for name, attribute in xsd_type.attributes.items():
                if name is None:
                    wildcard = attribute
                else:
                    declared[_local(name)] = attribute
        for name, raw in given.items():
            where = f"{path}.{ATTRIBUTE_PREFIX}{name}"
            attribute = declared.get(name)
            if attribute is None and not (wildcard is not None and wildcard.is_matching(name)):
                candidates = [ATTRIBUTE_PREFIX + known for known in declared]
                self.problem(
                    Code.INPUT_FIELD_UNKNOWN,
                    where,
                    f"unknown attribute {ATTRIBUTE_PREFIX + name!r} of {_leaf(path)}"
                    + _suggest(ATTRIBUTE_PREFIX + name, candidates),
                )
                continue
            text = _render(raw)
            if text is None:
                self.problem(Code.INPUT_FIELD_INVALID, where, f"expected a value, got {_kind(raw)}")
                continue
            try:
                element.set(attribute.name if attribute is not None else name, text)
            except ValueError as exc:
                self.problem(Code.INPUT_FIELD_INVALID, where, str(exc))
        for name, attribute in declared.items():
            if attribute.use == "required" and name not in given:
                where = f"{path}.{ATTRIBUTE_PREFIX}{name}"
                message = f"required attribute {ATTRIBUTE_PREFIX + name!r} is missing"
                self.problem(Code.INPUT_FIELD_MISSING, where, message)

    def fill_children(
        self,
        element: etree._Element,
        xsd_type: Any,
        value: Mapping[Any, Any],
        keys: list[str],
        path: str,
        depth: int,
    ) -> None:
        group = xsd_type.content
        model = self.model(group)
        placed: list[tuple[int, str, _Slot]] = []
        for key in keys:
            slot = model.slots.get(key)
            if slot is None:
                slot = self.wildcard_slot(model, key)
            if slot is None:
                candidates = list(model.slots) + self.attribute_keys(xsd_type)
                self.problem(
                    Code.INPUT_FIELD_UNKNOWN,
                    f"{path}.{key}",
                    f"unknown field {key!r} in {_leaf(path)}" + _suggest(key, candidates),
                )
                continue
            placed.append((slot.rank, key, slot))
        if model.orderable:
            placed.sort(key=lambda entry: entry[0])
        present: set[str] = set()
        for _rank, key, slot in placed:
            item = value[key]
            items = item if isinstance(item, list) else [item]
            if items:
                present.add(key)
            if isinstance(item, list) and len(item) > 1 and not slot.repeatable:
                self.problem(
                    Code.INPUT_FIELD_INVALID,
                    f"{path}.{key}",
                    f"{key} occurs at most once here, but a list of {len(item)} was given",
                )
                continue
            for index, entry in enumerate(items):
                where = f"{path}.{key}[{index}]" if isinstance(item, list) else f"{path}.{key}"
                child = etree.SubElement(element, slot.tag)
                declaration_type = slot.declaration.type if slot.declaration is not None else None
                self.fill(child, declaration_type, entry, where, depth + 1)
        for name in _missing(group, present):
            where = f"{path}.{name}" if " or " not in name else path
            what = (
                f"required field {name!r} is missing" if " or " not in name else f"one of {name} is required"
            )
            self.problem(Code.INPUT_FIELD_MISSING, where, what)

    def wildcard_slot(self, model: _Model, key: str) -> _Slot | None:
        qname = f"{{{self.namespace}}}{key}"
        for wildcard, rank, repeatable in model.wildcards:
            if wildcard.is_matching(qname):
                declaration = self.schema.maps.elements.get(qname)
                return _Slot(qname, declaration, rank, repeatable)
        return None

    def fill_free(self, element: etree._Element, value: Any, path: str, depth: int) -> None:
        """Content a wildcard admits without a declaration: built exactly as given."""
        if not isinstance(value, Mapping):
            if value is not None:
                self.set_text(element, value, path)
            return
        for key, item in value.items():
            key_text = str(key)
            if key_text.startswith(ATTRIBUTE_PREFIX):
                text = _render(item)
                where = f"{path}.{key_text}"
                if text is None:
                    self.problem(Code.INPUT_FIELD_INVALID, where, f"expected a value, got {_kind(item)}")
                    continue
                try:
                    element.set(key_text[1:], text)
                except ValueError as exc:
                    self.problem(Code.INPUT_FIELD_INVALID, where, str(exc))
            elif key_text == TEXT_KEY:
                self.set_text(element, item, f"{path}.{key_text}")
            else:
                items = item if isinstance(item, list) else [item]
                for index, entry in enumerate(items):
                    where = f"{path}.{key_text}[{index}]" if isinstance(item, list) else f"{path}.{key_text}"
                    try:
                        child = etree.SubElement(element, f"{{{self.namespace}}}{key_text}")
                    except ValueError as exc:
                        self.problem(Code.INPUT_FIELD_INVALID, where, f"not an XML name ({exc})")
                        break
                    self.fill(child, None, entry, where, depth + 1)


# --- from document paths to input paths --------------------------------------------------------------------

_STEP = re.compile(r"^(?P<attribute>@)?(?P<name>[^\[\]/@]+)(?:\[(?P<position>\d+)\])?$")

_CODES = {code.value: code for code in Code}
_SCHEMA_CODES = {
    Code.SCHEMA_ELEMENT_MISSING.value: Code.INPUT_FIELD_MISSING,
    Code.SCHEMA_ROOT_UNEXPECTED.value: Code.INPUT_INVALID,
}


def input_path(xml_path: str | None, data: Mapping[str, Any] | None = None) -> str | None:
    """Translate a finding's document path into the input path that produced it.

    ``/CertificateOfOrigin/Item[2]/NetWeight/@unitCode`` becomes
    ``CertificateOfOrigin.Item[1].NetWeight.@unitCode``: steps joined by dots, list positions counted from 0
    as in JSON. With ``data`` (the input), an element given as a one-item list is written ``Item[0]`` as the
    user wrote it. Paths that are not simple element paths (an unresolved XPath) are returned unchanged.
    """
    return _translate(xml_path, data)[0]


def _translate(xml_path: str | None, data: Mapping[str, Any] | None) -> tuple[str | None, Any]:
    """``input_path`` and the input value found there (``None`` when unknown)."""
    if not xml_path or not xml_path.startswith("/"):
        return xml_path, None
    steps: list[str] = []
    node: Any = data
    for step in xml_path[1:].split("/"):
        match = _STEP.match(step)
        if match is None:
            return xml_path, None
        name = _local(match["name"]).rsplit(":", 1)[-1]
        if match["attribute"]:
            steps.append(ATTRIBUTE_PREFIX + name)
            node = None
            continue
        index = int(match["position"]) - 1 if match["position"] else None
        value = node.get(name) if isinstance(node, Mapping) else None
        if isinstance(value, list):
            index = index or 0
            steps.append(f"{name}[{index}]")
            node = value[index] if index < len(value) else None
        else:
            steps.append(name if index is None else f"{name}[{index}]")
            node = value
    return ".".join(steps), node


def _input_finding(finding: Finding, data: Mapping[str, Any]) -> Finding:
    path, node = _translate(finding.path, data)
    code = finding.code
    if finding.check == CHECK_SCHEMA:
        code = _SCHEMA_CODES.get(code, Code.INPUT_FIELD_INVALID).value
        if finding.code == Code.SCHEMA_VALUE_INVALID.value and isinstance(node, Mapping) and TEXT_KEY in node:
            path = f"{path}.{TEXT_KEY}"  # the bad value is the text beside the attributes
    return Finding(
        code=code,
        severity=finding.severity,
        check=finding.check,
        message=finding.message,
        path=path,
    )


def _in_input_terms(report: ValidationReport, data: Mapping[str, Any]) -> tuple[CheckResult, ...]:
    return tuple(
        CheckResult(check.name, check.status, tuple(_input_finding(f, data) for f in check.findings))
        for check in report.checks
    )


# --- the public entry point --------------------------------------------------------------------------------


def _root_value(doc_type: DocumentType, data: Any) -> Any:
    if not isinstance(data, Mapping):
        raise InputError(
            f"the input must be a mapping with {doc_type.root!r} as its only key, not {_kind(data)}",
            code=Code.INPUT_INVALID,
        )
    keys = list(data)
    if keys == [doc_type.root]:
        return data[doc_type.root]
    if doc_type.root in keys:
        others = ", ".join(repr(str(key)) for key in keys if key != doc_type.root)
        raise InputError(
            f"the input must have {doc_type.root!r} as its only top-level key; also found {others}",
            code=Code.INPUT_INVALID,
            path=str(next(key for key in keys if key != doc_type.root)),
        )
    found = ", ".join(repr(str(key)) for key in keys) or "no keys"
    hint = _suggest(str(keys[0]), [doc_type.root]) if len(keys) == 1 else ""
    if hint.startswith("; expected"):
        hint = ""
    raise InputError(
        f"a {doc_type.id} input has the single top-level key {doc_type.root!r} (the root element), "
        f"found {found}{hint}",
        code=Code.INPUT_INVALID,
        path=str(keys[0]) if len(keys) == 1 else None,
    )


def _nsmap(schema: Any, namespace: str) -> dict[str | None, str]:
    """The type's namespace as the default, and the prefixes its schema files declare for the other namespaces
    they define (a multi-namespace type such as the UN/CEFACT SPS certificate: ``ram``, ``udt``), declared
    once on the root instead of a generated prefix on every element."""
    nsmap: dict[str | None, str] = {None: namespace}
    defined = {
        component.target_namespace for component in schema.maps.iter_schemas()
        if component.target_namespace and not component.target_namespace.startswith("http://www.w3.org/")
    } - {namespace}
    for component in schema.maps.iter_schemas():
        for prefix, uri in component.namespaces.items():
            if prefix and uri in defined and uri not in nsmap.values() and prefix not in nsmap:
                nsmap[prefix] = uri
    return nsmap


def build_document(doc_type: DocumentType, data: Mapping[str, Any], *, validate: bool = True) -> BuildResult:
    """Build ``doc_type``'s document from structured input and (by default) validate it.

    Input that cannot be built at all (not a mapping, wrong root key, nested too deep) raises
    :class:`InputError` with ``INPUT-INVALID``. Field problems are findings in the report, every one at
    once, named by input path: the builder's own (``input`` check: unknown, missing and wrongly shaped
    fields) and, when those pass, the schema's and rules'. With ``validate=False`` the schema and rules are
    not run and the first field problem raises :class:`InputError` instead. A schema that cannot be read
    raises :class:`ConfigurationError`.
    """
    root_value = _root_value(doc_type, data)
    schema = _schema(doc_type.schema_path)
    declaration = schema.maps.elements.get(doc_type.qname)
    if declaration is None:
        raise ConfigurationError(
            f"{doc_type.schema_path}: declares no element {doc_type.qname} "
            f"(the root of type {doc_type.id!r})",
            code=Code.SCHEMA_LOAD_FAILED,
        )
    builder = _Builder(schema, doc_type.namespace, DEFAULT_LIMITS.max_depth)
    root = etree.Element(declaration.name, nsmap=_nsmap(schema, doc_type.namespace))
    builder.fill(root, declaration.type, root_value, doc_type.root, 1)
    xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    input_check = CheckResult.from_findings(CHECK_INPUT, builder.findings)

    if not validate:
        errors = [finding for finding in builder.findings if finding.is_error]
        if errors:
            first = errors[0]
            more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
            raise InputError(f"{first.path}: {first.message}{more}", code=_CODES[first.code], path=first.path)
        return BuildResult(xml=xml, report=None)

    if input_check.status is CheckStatus.FAILED:
        checks: tuple[CheckResult, ...] = (
            input_check,
            CheckResult.skipped(CHECK_SCHEMA),
            CheckResult.skipped(CHECK_RULES),
        )
    else:
        validator = Validator(Catalogue([doc_type]))
        report = validator.validate(etree.ElementTree(root), document_type=doc_type)
        checks = (input_check, *_in_input_terms(report, data))
    invalid = any(finding.is_error for check in checks for finding in check.findings)
    return BuildResult(
        xml=xml,
        report=ValidationReport(
            verdict=Verdict.INVALID if invalid else Verdict.VALID, document_type=doc_type.id, checks=checks
        ),
    )


__all__ = [
    "CHECK_INPUT",
    "BuildResult",
    "build_document",
    "input_path",
    "load_input",
    "parse_input",
]
