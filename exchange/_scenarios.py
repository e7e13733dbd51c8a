"""Validation scenarios: which schema and which rules apply to which documents (the KoSIT validator's idea).

A scenario file is YAML, validated with unknown keys refused (``SCENARIOS-INVALID``)::

    scenarios:
      - id: en16931-ubl-invoice
        title: EN 16931 invoice in UBL 2.1
        match:
          root: Invoice
          namespace: urn:oasis:names:specification:ubl:schema:xsd:Invoice-2
          xpath: starts-with(normalize-space(/*/cbc:CustomizationID), 'urn:cen.eu:en16931:2017')   # optional
          namespaces: {cbc: "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"}
        schema: ubl/xsd/maindoc/UBL-Invoice-2.1.xsd      # optional; relative to this file
        rules: [en16931/ubl/xslt/EN16931-UBL-validation.xslt]   # zero or more, run in order

Paths are relative to the scenario file and may name environment variables, ``${PTX_CORPUS:-../shared/corpus}``.
The first scenario whose root, namespace and XPath (XPath 1, evaluated by lxml on the document) all match is the
one; a document none matches is ``SCENARIO-NO-MATCH``. The catalogue's document types are scenarios too
(:meth:`ScenarioSet.from_catalogue`), so ``ptx validate`` without ``--scenarios`` takes the same path.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lxml import etree

from exchange._errors import Code, ConfigurationError

if TYPE_CHECKING:
    from exchange._catalogue import Catalogue, DocumentType


@dataclass(frozen=True, slots=True)
class Scenario:
    """What applies to one kind of document: a schema and rules files, picked by root, namespace and XPath."""

    id: str
    title: str
    root: str
    namespace: str
    schema: Path | None = None
    rules: tuple[Path, ...] = ()
    xpath: str | None = None
    namespaces: tuple[tuple[str, str], ...] = ()
    document_type: str | None = None  #: the catalogue type this scenario is, when it is one
    _compiled: etree.XPath | None = field(default=None, compare=False, repr=False)

    @property
    def qname(self) -> str:
        return f"{{{self.namespace}}}{self.root}"

    def matches(self, tree: etree._ElementTree) -> bool:
        root = tree.getroot()
        if root.tag != self.qname:
            return False
        if self._compiled is None:
            return True
        try:
            return bool(self._compiled(tree))
        except etree.XPathError:
            return False


def _xpath(expression: str, namespaces: dict[str, str], where: str) -> etree.XPath:
    try:
        return etree.XPath(expression, namespaces=namespaces)
    except etree.XPathSyntaxError as exc:
        raise ConfigurationError(f"{where}: match.xpath {expression!r}: {exc}", code=Code.SCENARIOS_INVALID) from exc


def make_scenario(id: str, title: str, root: str, namespace: str, *, schema: Path | None = None,
                  rules: tuple[Path, ...] = (), xpath: str | None = None, namespaces: dict[str, str] | None = None,
                  document_type: str | None = None, where: str = "scenario") -> Scenario:
    names = dict(namespaces or {})
    compiled = _xpath(xpath, names, where) if xpath else None
    return Scenario(id=id, title=title, root=root, namespace=namespace, schema=schema, rules=rules, xpath=xpath,
                    namespaces=tuple(sorted(names.items())), document_type=document_type, _compiled=compiled)


def scenario_for_type(doc_type: DocumentType) -> Scenario:
    """A catalogue document type as a scenario (its schema and its rules)."""
    return make_scenario(
        doc_type.id, doc_type.title, doc_type.root, doc_type.namespace, schema=doc_type.schema_path,
        rules=(doc_type.rules_path,) if doc_type.rules_path is not None else (), document_type=doc_type.id,
    )


@dataclass(frozen=True, slots=True)
class ScenarioSet:
    """An ordered set of scenarios; :meth:`match` picks the first that matches a document."""

    scenarios: tuple[Scenario, ...]
    source: str

    def match(self, tree: etree._ElementTree) -> Scenario | None:
        return next((scenario for scenario in self.scenarios if scenario.matches(tree)), None)

    def get(self, scenario_id: str) -> Scenario:
        for scenario in self.scenarios:
            if scenario.id == scenario_id:
                return scenario
        raise ConfigurationError(f"{self.source}: no scenario {scenario_id!r}", code=Code.SCENARIOS_INVALID)

    @property
    def rules_files(self) -> tuple[Path, ...]:
        return tuple(dict.fromkeys(path for scenario in self.scenarios for path in scenario.rules))

    @classmethod
    def from_catalogue(cls, catalogue: Catalogue) -> ScenarioSet:
        return cls(tuple(scenario_for_type(doc_type) for doc_type in catalogue), "the catalogue")


_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _expand(text: str) -> str:
    """``${NAME}`` and ``${NAME:-default}`` from the environment (a scenario file can name ``$PTX_CORPUS``)."""
    return _VARIABLE.sub(lambda m: os.environ.get(m.group(1)) or (m.group(2) or ""), text)


def _problems(exc: Any) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or '(top)'}: {error['msg']}" for error in exc.errors()
    )


def load_scenarios(path: str | os.PathLike[str]) -> ScenarioSet:
    """Read and check a scenario file; every schema and rules file must exist. Raises ``SCENARIOS-INVALID``."""
    import yaml
    from pydantic import BaseModel, ConfigDict, Field, ValidationError

    class MatchModel(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)
        root: str = Field(min_length=1)
        namespace: str = ""
        xpath: str | None = None
        namespaces: dict[str, str] = Field(default_factory=dict)

    class ScenarioModel(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)
        id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
        title: str = ""
        match: MatchModel
        schema_: str | None = Field(default=None, alias="schema")
        rules: list[str] = Field(default_factory=list)

    class FileModel(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)
        scenarios: list[ScenarioModel] = Field(min_length=1)

    file = Path(path)
    where = str(path)
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"{where}: cannot read ({exc.strerror})", code=Code.SCENARIOS_INVALID) from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{where}: not valid YAML ({exc})", code=Code.SCENARIOS_INVALID) from exc
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{where}: expected a mapping with the key 'scenarios'", code=Code.SCENARIOS_INVALID)
    try:
        model = FileModel.model_validate(raw)
    except ValidationError as exc:
        raise ConfigurationError(f"{where}: {_problems(exc)}", code=Code.SCENARIOS_INVALID) from exc
    base = file.resolve().parent

    def resolve(relative: str, what: str, scenario_id: str) -> Path:
        target = (base / _expand(relative)).resolve()
        if not target.is_file():
            raise ConfigurationError(f"{where}: scenario {scenario_id!r}: {what} {relative!r} does not exist "
                                     f"(looked for {target})", code=Code.SCENARIOS_INVALID)
        return target

    seen: set[str] = set()
    scenarios = []
    for entry in model.scenarios:
        if entry.id in seen:
            raise ConfigurationError(f"{where}: scenario id {entry.id!r} is used twice", code=Code.SCENARIOS_INVALID)
        seen.add(entry.id)
        scenarios.append(make_scenario(
            entry.id, entry.title or entry.id, entry.match.root, entry.match.namespace,
            schema=resolve(entry.schema_, "schema", entry.id) if entry.schema_ else None,
            rules=tuple(resolve(rules, "rules", entry.id) for rules in entry.rules),
            xpath=entry.match.xpath, namespaces=entry.match.namespaces, where=f"{where}: scenario {entry.id!r}",
        ))
    return ScenarioSet(tuple(scenarios), where)


__all__ = ["Scenario", "ScenarioSet", "load_scenarios", "make_scenario", "scenario_for_type"]
