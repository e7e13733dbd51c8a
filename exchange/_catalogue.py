"""The document catalogue: document types are data, found by reading folders.

A type folder holds ``manifest.yaml`` (see ``schemas/README.md``), an XSD, optional Schematron rules, a
structured input example and labelled samples. :func:`load_catalogue` reads one or more catalogue folders;
:func:`default_catalogue` reads the built-in ``schemas/`` folder plus any folders named in ``PTX_CATALOGUE``
(``os.pathsep``-separated) and the workspace's own ``schemas/`` folder, where ``ptx schemas add`` puts types.
Adding a type is dropping a folder: no code changes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from exchange._errors import Code, ConfigurationError
from exchange._findings import Finding

MANIFEST_NAME = "manifest.yaml"
BUILTIN_CATALOGUE = Path(__file__).resolve().parent.parent / "schemas"

@dataclass(frozen=True, slots=True)
class Sample:
    """A labelled sample document of a type."""

    path: Path
    expect: Literal["valid", "invalid"]
    codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DocumentType:
    """One document type of the catalogue, resolved to absolute paths."""

    id: str
    title: str
    version: str
    namespace: str
    root: str
    folder: Path
    schema_path: Path
    rules_path: Path | None
    input_example: Path | None
    origin: str
    samples: tuple[Sample, ...]
    #: ``trade``: a document an authority issues and an envelope carries. ``protocol``: a document of the exchange
    #: itself (envelope, receipt, trust list), which is never the payload of an envelope.
    kind: Literal["trade", "protocol"] = "trade"
    #: the manifest's ``route``: where a document of this type names the countries it travels through, in order
    #: (origin first), as a location path with the prefix ``doc`` for :attr:`namespace`; None: one receiver only
    route: str | None = None
    #: the manifest's ``route_sender``: ``origin`` (the route's first country sends to every country after it) or
    #: ``member`` (a country on the route after the origin sends to every other country on it)
    route_sender: Literal["origin", "member"] = "origin"

    @property
    def qname(self) -> str:
        """The root element in Clark notation, ``{namespace}root``."""
        return f"{{{self.namespace}}}{self.root}"

    @property
    def is_trade(self) -> bool:
        """True for a trade document type, the only kind an envelope may carry."""
        return self.kind == "trade"


def _resolve_inside(folder: Path, relative: str, what: str, manifest: Path) -> Path:
    path = (folder / relative).resolve()
    if folder.resolve() not in path.parents and path != folder.resolve():
        raise ConfigurationError(
            f"{manifest}: {what} {relative!r} points outside the type folder",
            code=Code.CATALOGUE_MANIFEST_INVALID,
        )
    if not path.is_file():
        raise ConfigurationError(
            f"{manifest}: {what} {relative!r} does not exist", code=Code.CATALOGUE_MANIFEST_INVALID
        )
    return path


def load_document_type(folder: str | os.PathLike[str]) -> DocumentType:
    """Read and check one type folder. Raises :class:`ConfigurationError` naming the bad key."""
    import yaml  # imported here: the CLI's --schema path never needs YAML or pydantic
    from pydantic import ValidationError

    from exchange._manifest import ManifestModel

    folder_path = Path(folder).resolve()
    manifest_path = folder_path / MANIFEST_NAME
    try:
        raw = yaml.safe_load(manifest_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(
            f"{manifest_path}: cannot read ({exc.strerror})", code=Code.CATALOGUE_MANIFEST_INVALID
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigurationError(
            f"{manifest_path}: not valid YAML ({exc})", code=Code.CATALOGUE_MANIFEST_INVALID
        ) from exc
    if not isinstance(raw, dict):
        raise ConfigurationError(
            f"{manifest_path}: expected a mapping of keys", code=Code.CATALOGUE_MANIFEST_INVALID
        )
    try:
        model = ManifestModel.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '(top)'}: {error['msg']}" for error in exc.errors()
        )
        raise ConfigurationError(
            f"{manifest_path}: {problems}", code=Code.CATALOGUE_MANIFEST_INVALID
        ) from exc

    samples = tuple(
        Sample(
            path=_resolve_inside(folder_path, sample.file, "sample", manifest_path),
            expect=sample.expect,
            codes=tuple(sample.codes),
        )
        for sample in model.samples
    )
    return DocumentType(
        id=model.id,
        title=model.title,
        version=model.version,
        namespace=model.namespace,
        root=model.root,
        folder=folder_path,
        schema_path=_resolve_inside(folder_path, model.schema_, "schema", manifest_path),
        rules_path=_resolve_inside(folder_path, model.rules, "rules", manifest_path) if model.rules else None,
        input_example=(
            _resolve_inside(folder_path, model.input_example, "input_example", manifest_path)
            if model.input_example
            else None
        ),
        origin=model.origin,
        samples=samples,
        kind=model.kind,
        route=model.route,
        route_sender=model.route_sender,
    )


class Catalogue:
    """An immutable set of document types, looked up by id or by root element."""

    def __init__(self, types: Iterable[DocumentType]) -> None:
        by_id: dict[str, DocumentType] = {}
        by_qname: dict[str, DocumentType] = {}
        for doc_type in types:
            if doc_type.id in by_id:
                raise ConfigurationError(
                    f"document type id {doc_type.id!r} is defined twice "
                    f"({by_id[doc_type.id].folder} and {doc_type.folder})",
                    code=Code.CATALOGUE_DUPLICATE,
                )
            if doc_type.qname in by_qname:
                raise ConfigurationError(
                    f"root {doc_type.qname} is claimed by both {by_qname[doc_type.qname].id!r} "
                    f"and {doc_type.id!r}",
                    code=Code.CATALOGUE_DUPLICATE,
                )
            by_id[doc_type.id] = doc_type
            by_qname[doc_type.qname] = doc_type
        self._by_id = by_id
        self._by_qname = by_qname

    def __iter__(self) -> Iterator[DocumentType]:
        return iter(sorted(self._by_id.values(), key=lambda t: t.id))

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, type_id: object) -> bool:
        return type_id in self._by_id

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(sorted(self._by_id))

    def get(self, type_id: str) -> DocumentType:
        """The type with this id, or :class:`ConfigurationError` (``DOCTYPE-UNKNOWN``)."""
        try:
            return self._by_id[type_id]
        except KeyError:
            known = ", ".join(self.ids) or "none"
            raise ConfigurationError(
                f"unknown document type {type_id!r} (known: {known})", code=Code.DOCTYPE_UNKNOWN
            ) from None

    def payload_type(self, type_id: str, *, check: str) -> DocumentType | Finding:
        """The type an envelope names for its payload, or the finding that refuses it (for ``check``).

        The one decision the gateway and the nodes share: the type must be in the catalogue
        (``DOCTYPE-UNKNOWN``) and a trade document type; a protocol type (envelope, receipt, trust list) is never
        a payload (``DOCTYPE-NOT-TRADE``), even where an agreement lets it flow.
        """
        path = "/Envelope/Header/DocumentIdentification/Type"
        doc_type = self._by_id.get(type_id)
        if doc_type is None:
            return Finding.of(Code.DOCTYPE_UNKNOWN, check, f"document type {type_id!r} is not in the catalogue",
                              path=path)
        if not doc_type.is_trade:
            return Finding.of(
                Code.DOCTYPE_NOT_TRADE, check,
                f"document type {type_id!r} is a {doc_type.kind} type of the exchange, not a trade document: only "
                "trade documents travel as an envelope's payload", path=path,
            )
        return doc_type

    def detect(self, qname: str) -> DocumentType | None:
        """The type whose root element is ``qname`` (Clark notation), if any."""
        return self._by_qname.get(qname)

    def with_types(self, extra: Iterable[DocumentType]) -> Catalogue:
        return Catalogue([*self._by_id.values(), *extra])


def _type_folders(root: Path) -> list[Path]:
    if (root / MANIFEST_NAME).is_file():
        return [root]
    if not root.is_dir():
        raise ConfigurationError(f"catalogue folder {root} does not exist", code=Code.CONFIG_INVALID)
    return sorted(child for child in root.iterdir() if (child / MANIFEST_NAME).is_file())


def load_catalogue(folders: Sequence[str | os.PathLike[str]]) -> Catalogue:
    """Load every type folder found in ``folders`` (each a catalogue folder or a single type folder)."""
    types: list[DocumentType] = []
    for folder in folders:
        types.extend(load_document_type(type_folder) for type_folder in _type_folders(Path(folder)))
    return Catalogue(types)


def catalogue_paths() -> tuple[Path, ...]:
    """The folders the default catalogue reads: built-in, ``PTX_CATALOGUE`` entries, workspace types."""
    paths = [BUILTIN_CATALOGUE]
    extra = os.environ.get("PTX_CATALOGUE", "")
    paths.extend(Path(entry) for entry in extra.split(os.pathsep) if entry)
    workspace_types = user_catalogue_dir()
    if workspace_types.is_dir():
        paths.append(workspace_types)
    return tuple(dict.fromkeys(path.resolve() for path in paths))


def user_catalogue_dir() -> Path:
    """Where ``ptx schemas add`` installs types: ``$PTX_WORKSPACE/schemas`` (default ``./workspace/schemas``)."""
    return Path(os.environ.get("PTX_WORKSPACE", "workspace")) / "schemas"


@lru_cache(maxsize=8)
def _cached_catalogue(paths: tuple[Path, ...]) -> Catalogue:
    return load_catalogue(paths)


def default_catalogue() -> Catalogue:
    """The catalogue the CLI and services use by default (cached per set of folders)."""
    return _cached_catalogue(catalogue_paths())


__all__ = [
    "BUILTIN_CATALOGUE",
    "Catalogue",
    "DocumentType",
    "Sample",
    "catalogue_paths",
    "default_catalogue",
    "load_catalogue",
    "load_document_type",
    "user_catalogue_dir",
]
