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
    samples: list[SampleModel] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not _ID_PATTERN.match(value):
            raise ValueError("must be lowercase letters, digits and dashes (2-63 characters)")
        return value

    @field_validator("root")
    @classmethod
    def _check_root(cls, value: str) -> str:
        if not re.match(r"^[A-Za-z_][\w.-]*$", value):
            raise ValueError("must be an XML local name without prefix")
        return value


__all__ = ["ManifestModel", "SampleModel"]
