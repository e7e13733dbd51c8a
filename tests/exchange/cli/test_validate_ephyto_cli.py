"""``ptx validate --format ephyto``: the hub's validation result form, mapped from our codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from exchange._ephyto import ValidationArea, area_of
from exchange.cli import app

runner = CliRunner()
SAMPLES = Path(__file__).resolve().parents[3] / "schemas" / "ephyto-sps-certificate" / "samples"


def run(*paths: Path) -> tuple[int, list[dict[str, Any]]]:
    result = runner.invoke(app, ["validate", "--format", "ephyto", *map(str, paths)])
    return result.exit_code, json.loads(result.stdout)["results"]


def test_a_valid_certificate_has_an_empty_result() -> None:
    code, results = run(SAMPLES / "valid" / "three-lines-attachment-languages.xml")
    assert code == 0 and results[0]["ValidationResult"] == []
    assert results[0]["document_type"] == "ephyto-sps-certificate"


def test_each_finding_in_the_hub_form() -> None:
    code, results = run(SAMPLES / "invalid" / "reexport-without-original.xml", SAMPLES / "invalid" / "no-consignee.xml",
                        SAMPLES / "valid" / "note-without-subject.xml")
    assert code == 1
    by_file: dict[str, list[dict[str, Any]]] = {Path(r["path"]).name: r["ValidationResult"] for r in results}
    (reexport,) = by_file["reexport-without-original.xml"]
    assert reexport == {
        "area": "MandatoryElements", "field": "/SPSCertificate/SPSExchangedDocument/TypeCode", "level": "SEVERE",
        "msg": reexport["msg"], "code": "EPHYTO-REEXPORT-01",
    }
    assert str(reexport["msg"]).startswith("EPHYTO-REEXPORT-01: ")
    (schema,) = by_file["no-consignee.xml"]
    assert (schema["area"], schema["level"], schema["code"]) == ("Schema", "SEVERE", "SCHEMA-ELEMENT-UNEXPECTED")
    (warning,) = by_file["note-without-subject.xml"]
    assert (warning["area"], warning["level"]) == ("MandatoryElements", "WARNING")


def test_areas_by_code() -> None:
    assert area_of("SCHEMA-ELEMENT-MISSING") is ValidationArea.MANDATORY_ELEMENTS
    assert area_of("EPHYTO-TYPE-01") is ValidationArea.MAPPING
    assert area_of("EPHYTO-SOMETHING-NEW") is ValidationArea.MAPPING
    assert area_of("XML-MALFORMED") is ValidationArea.SCHEMA
