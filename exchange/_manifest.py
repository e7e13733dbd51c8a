"""The manifest of a document type folder, validated with unknown keys rejected (see schemas/README.md)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


class SampleModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str
    expect: Literal["valid", "invalid"]
    codes: list[str] = Field(default_factory=list)


_ROUTE_PATTERN = re.compile(r"^(?:/doc:[A-Za-z_][\w.-]*){1,16}$")


class ManifestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    title: str
    version: str
    namespace: str
    root: str
    schema_: str = Field(alias="schema")
    rules: str | None = None
    input_example: str | None = None
    origin: str
    kind: Literal["trade", "protocol"] = "trade"
    #: where the document names its route, for a type that travels to several receivers (a transit declaration):
    #: a location path to the country codes in order, origin first, with the prefix ``doc`` for the type's namespace
    route: str | None = None
    #: who sends a document along its route: ``origin`` (its first country, to every country after it: a transit
    #: declaration) or ``member`` (any country on it after the origin, to every other one: a progress event)
    route_sender: Literal["origin", "member"] = "origin"
    samples: list[SampleModel] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not _ID_PATTERN.match(value):
            raise ValueError("must be lowercase letters, digits and dashes (2-63 characters)")
        return value

    @field_validator("route")
    @classmethod
    def _check_route(cls, value: str | None) -> str | None:
        if value is not None and not _ROUTE_PATTERN.match(value):
            raise ValueError("must be a plain location path such as /doc:Root/doc:Route/doc:Country/doc:ID "
                             "(steps of doc:Name only: no functions, predicates or other prefixes)")
        return value

    @field_validator("root")
    @classmethod
    def _check_root(cls, value: str) -> str:
        if not re.match(r"^[A-Za-z_][\w.-]*$", value):
            raise ValueError("must be an XML local name without prefix")
        return value


__all__ = ["ManifestModel", "SampleModel"]
