"""The catalogue: types are data read from folders; a bad manifest fails loudly with the key it names."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from exchange import Code, ConfigurationError
from exchange._catalogue import BUILTIN_CATALOGUE, Catalogue, default_catalogue, load_catalogue, load_document_type
from exchange._validation import check_type_folder

REPO = Path(__file__).resolve().parents[2]
EXTRA_TYPES = REPO / "tests" / "data" / "extra-types"
REQUIRED_TYPES = {"certificate-of-origin", "phytosanitary-certificate", "commercial-invoice", "customs-declaration"}

XSD = """<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:test:Note:1"
    xmlns="urn:test:Note:1" elementFormDefault="qualified">
  <xs:element name="Note"><xs:complexType><xs:sequence>
    <xs:element name="Text" type="xs:string"/>
  </xs:sequence></xs:complexType></xs:element>
</xs:schema>
"""


def make_type(folder: Path, manifest: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "schema.xsd").write_text(XSD)
    (folder / "ok.xml").write_text('<Note xmlns="urn:test:Note:1"><Text>hi</Text></Note>')
    (folder / "manifest.yaml").write_text(manifest)
    return folder


GOOD = """id: note
title: A note
version: "1"
namespace: urn:test:Note:1
root: Note
schema: schema.xsd
origin: test
samples:
  - {file: ok.xml, expect: valid}
"""


def test_builtin_catalogue_has_the_four_trade_documents() -> None:
    catalogue = default_catalogue()
    assert REQUIRED_TYPES <= set(catalogue.ids)
    for type_id in REQUIRED_TYPES:
        doc_type = catalogue.get(type_id)
        assert doc_type.folder.parent == BUILTIN_CATALOGUE
        assert doc_type.rules_path is not None and doc_type.input_example is not None
        assert catalogue.detect(doc_type.qname) is doc_type


@pytest.mark.parametrize("type_id", sorted(REQUIRED_TYPES))
def test_each_trade_document_has_rules_and_labelled_samples(type_id: str) -> None:
    from exchange.cli._schemas import rule_summaries

    doc_type = default_catalogue().get(type_id)
    assert doc_type.rules_path is not None
    rule_ids = [rule_id for rule_id, _, _ in rule_summaries(doc_type.rules_path)]
    assert len(set(rule_ids)) >= 3 and "-" not in rule_ids
    valid = [s for s in doc_type.samples if s.expect == "valid"]
    invalid = [s for s in doc_type.samples if s.expect == "invalid"]
    assert len(valid) >= 2 and len(invalid) >= 4
    assert all(s.codes for s in invalid), "every invalid sample names the code it must produce"
    texts = [s.path.read_text(encoding="utf-8") for s in valid]
    assert any(any("\u4e00" <= ch <= "\u9fff" or "\u0400" <= ch <= "\u04ff" for ch in text) for text in texts)


@pytest.mark.parametrize("type_id", sorted(REQUIRED_TYPES))
def test_samples_behave_as_labelled(type_id: str) -> None:
    assert check_type_folder(default_catalogue().get(type_id)) == []


def test_a_type_is_added_by_dropping_a_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A type that exists only in the tests joins the catalogue with no code change."""
    extra = sorted(p for p in EXTRA_TYPES.iterdir() if (p / "manifest.yaml").is_file())
    assert extra, "tests/data/extra-types holds at least one type"
    catalogue_dir = tmp_path / "catalogue"
    for folder in extra:
        shutil.copytree(folder, catalogue_dir / folder.name)
    monkeypatch.setenv("PTX_CATALOGUE", str(catalogue_dir))
    catalogue = default_catalogue()
    for folder in extra:
        doc_type = load_document_type(folder)
        assert doc_type.id in catalogue
        assert check_type_folder(catalogue.get(doc_type.id)) == []
        sample = next(s for s in doc_type.samples if s.expect == "valid")
        from exchange._validation import validate_file

        report = validate_file(sample.path)  # detected from its root, through the default catalogue
        assert report.valid and report.document_type == doc_type.id


def test_manifest_unknown_key_is_named(tmp_path: Path) -> None:
    folder = make_type(tmp_path / "note", GOOD + "colour: blue\n")
    with pytest.raises(ConfigurationError) as info:
        load_document_type(folder)
    assert info.value.code is Code.CATALOGUE_MANIFEST_INVALID
    assert "colour" in info.value.message


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (("schema: schema.xsd", "schema: missing.xsd"), "missing.xsd"),
        (("schema: schema.xsd", "schema: ../../etc/passwd"), "outside"),
        (("id: note", "id: Not Valid"), "id"),
        (("root: Note", "root: ns:Note"), "root"),
        (('version: "1"\n', ""), "version"),
    ],
)
def test_manifest_problems_are_configuration_errors(tmp_path: Path, change: tuple[str, str], needle: str) -> None:
    folder = make_type(tmp_path / "note", GOOD.replace(*change))
    with pytest.raises(ConfigurationError) as info:
        load_document_type(folder)
    assert info.value.code is Code.CATALOGUE_MANIFEST_INVALID
    assert needle in info.value.message


def test_duplicate_ids_and_roots_are_refused(tmp_path: Path) -> None:
    make_type(tmp_path / "a" / "note", GOOD)
    make_type(tmp_path / "b" / "note", GOOD)
    with pytest.raises(ConfigurationError) as info:
        load_catalogue([tmp_path / "a", tmp_path / "b"])
    assert info.value.code is Code.CATALOGUE_DUPLICATE
    make_type(tmp_path / "c" / "other", GOOD.replace("id: note", "id: other"))
    with pytest.raises(ConfigurationError) as root_clash:
        load_catalogue([tmp_path / "a", tmp_path / "c"])
    assert root_clash.value.code is Code.CATALOGUE_DUPLICATE


def test_unknown_type_id() -> None:
    with pytest.raises(ConfigurationError) as info:
        Catalogue([]).get("nope")
    assert info.value.code is Code.DOCTYPE_UNKNOWN
