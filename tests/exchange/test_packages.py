"""Public packages (exchange._packages) and their import into a party's folder (Workspace.import_package)."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import pytest

from exchange._errors import Code, TrustError
from exchange._packages import read_country_package, read_gateway_package
from exchange._signed import PACKAGE_CODES, countersign, dumps, parse
from exchange._workspace import Workspace, init_country, init_gateway

MOMENT = dt.datetime(2030, 1, 15, 12, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


@pytest.fixture
def cc(tmp_path: Path) -> Workspace:
    return init_country(tmp_path / "cc", "CC", moment=MOMENT, endpoint="http://127.0.0.1:9101")


@pytest.fixture
def dd(tmp_path: Path) -> Workspace:
    return init_country(tmp_path / "dd", "DD", moment=MOMENT)


def _edit_payload(data: bytes, change: dict[str, object]) -> bytes:
    raw = json.loads(data)
    manifest = json.loads(base64.urlsafe_b64decode(raw["payload"] + "=="))
    manifest.update(change)
    raw["payload"] = base64.urlsafe_b64encode(json.dumps(manifest).encode()).decode().rstrip("=")
    return dumps(raw)


def test_a_package_round_trips_under_its_anchor(cc: Workspace, dd: Workspace) -> None:
    data, anchor = cc.export_package("CC", moment=MOMENT)
    assert b"PRIVATE KEY" not in data
    package = read_country_package(data, anchor_sha256=anchor, moment=MOMENT + HOUR)
    assert package.country == "CC" and package.manifest.endpoint == "http://127.0.0.1:9101"
    assert package.nodes[0][0] == cc.node_certificate("CC") and package.nodes[0][1] is None
    assert dd.import_package(data, anchor_sha256=" ".join(anchor[i:i + 4] for i in range(0, 64, 4)),
                             moment=MOMENT + HOUR).country == "CC"  # grouped for reading aloud: accepted
    assert dd.node_certificate("CC") == cc.node_certificate("CC")
    assert Workspace.open(dd.path).index.partners["CC"].sequence == 1
    again, _ = cc.export_package("CC", moment=MOMENT + HOUR)
    assert again == data  # nothing changed: the same package, the same sequence


def test_the_fingerprint_given_out_of_band_decides(cc: Workspace, dd: Workspace) -> None:
    data, _ = cc.export_package("CC", moment=MOMENT)
    with pytest.raises(TrustError) as raised:
        dd.import_package(data, anchor_sha256=dd.anchor_sha256("DD"), moment=MOMENT + HOUR)
    assert raised.value.code is Code.PACKAGE_ANCHOR_MISMATCH
    assert "CC" not in Workspace.open(dd.path).index.partners  # nothing kept


@pytest.mark.parametrize("change", [{"endpoint": "http://attacker.example"}, {"name": "Country Elsewhere"}])
def test_a_changed_package_is_refused(cc: Workspace, change: dict[str, object]) -> None:
    data, anchor = cc.export_package("CC", moment=MOMENT)
    with pytest.raises(TrustError) as raised:
        read_country_package(_edit_payload(data, change), anchor_sha256=anchor, moment=MOMENT + HOUR)
    assert raised.value.code is Code.PACKAGE_SIGNATURE_INVALID


def test_a_package_signed_by_another_country_is_refused(cc: Workspace, dd: Workspace) -> None:
    data, anchor = cc.export_package("CC", moment=MOMENT)
    document = parse(data, kind="ptx-country-package+json", codes=PACKAGE_CODES)
    forged = countersign(document, dd.trust_list_signer("DD"), country="CC")  # DD's key, claiming to be CC
    with pytest.raises(TrustError) as raised:
        read_country_package(dumps(forged), anchor_sha256=anchor, moment=MOMENT + HOUR)
    assert raised.value.code is Code.PACKAGE_SIGNATURE_INVALID


def test_a_package_signed_by_an_authority_not_the_trust_list_signer_is_refused(cc: Workspace) -> None:
    data, anchor = cc.export_package("CC", moment=MOMENT)
    document = parse(data, kind="ptx-country-package+json", codes=PACKAGE_CODES)
    forged = countersign(document, cc.authority("CC", "customs"), country="CC")
    with pytest.raises(TrustError) as raised:
        read_country_package(dumps(forged), anchor_sha256=anchor, moment=MOMENT + HOUR)
    assert raised.value.code is Code.PACKAGE_SIGNATURE_INVALID


def test_an_older_package_is_refused_and_a_newer_one_replaces_it(cc: Workspace, dd: Workspace) -> None:
    first, anchor = cc.export_package("CC", moment=MOMENT)
    dd.import_package(first, anchor_sha256=anchor, moment=MOMENT + HOUR)
    second, _ = cc.export_package("CC", moment=MOMENT + HOUR, endpoint="http://127.0.0.1:9102")
    package = dd.import_package(second, anchor_sha256=anchor, moment=MOMENT + 2 * HOUR)
    assert package.manifest.sequence == 2 and dd.endpoint("CC") == "http://127.0.0.1:9102"
    with pytest.raises(TrustError) as raised:
        dd.import_package(first, anchor_sha256=anchor, moment=MOMENT + 2 * HOUR)
    assert raised.value.code is Code.PACKAGE_ROLLBACK
    assert Workspace.open(dd.path).index.partners["CC"].sequence == 2
    audit = [json.loads(line) for line in (dd.path / "audit" / "imports.jsonl").read_text().splitlines()]
    assert [(entry["sequence"], entry["previous_sequence"]) for entry in audit] == [(1, None), (2, 1)]


def test_the_same_sequence_with_other_content_is_refused(cc: Workspace, dd: Workspace, tmp_path: Path) -> None:
    first, anchor = cc.export_package("CC", moment=MOMENT)
    dd.import_package(first, anchor_sha256=anchor, moment=MOMENT + HOUR)
    (cc.path / "packages" / "CC.json").unlink()  # CC lost track of its numbering and starts again at 1
    record = cc.index.countries["CC"].model_copy(update={"package": None})
    cc.index = cc.index.model_copy(update={"countries": {"CC": record}})
    fork, _ = cc.export_package("CC", moment=MOMENT + HOUR, endpoint="http://127.0.0.1:9199")
    with pytest.raises(TrustError) as raised:
        dd.import_package(fork, anchor_sha256=anchor, moment=MOMENT + 2 * HOUR)
    assert raised.value.code is Code.PACKAGE_SEQUENCE_REUSED


def test_a_package_whose_trust_list_has_expired_is_refused(cc: Workspace) -> None:
    data, anchor = cc.export_package("CC", moment=MOMENT)
    with pytest.raises(TrustError) as raised:
        read_country_package(data, anchor_sha256=anchor, moment=MOMENT + dt.timedelta(days=120))
    assert raised.value.code is Code.PACKAGE_EXPIRED


@pytest.mark.parametrize("data", [b"", b"not json", b"[]", b'{"payload": "x", "signatures": []}',
                                  b'{"payload": "!!", "signatures": [{"protected": "e30", "signature": "AA"}]}'])
def test_what_is_not_a_package_is_refused_with_a_code(data: bytes) -> None:
    with pytest.raises(TrustError) as raised:
        read_country_package(data, anchor_sha256="0" * 64, moment=MOMENT)
    assert raised.value.code is Code.PACKAGE_INVALID


def test_a_country_joins_a_gateway_by_its_package(tmp_path: Path, cc: Workspace) -> None:
    gateway = init_gateway(tmp_path / "gw", moment=MOMENT)
    data, anchor = gateway.export_gateway_package(moment=MOMENT)
    assert b"PRIVATE KEY" not in data
    with pytest.raises(TrustError) as raised:
        cc.join_gateway(data, anchor_sha256=cc.anchor_sha256("CC"), moment=MOMENT + HOUR)
    assert raised.value.code is Code.PACKAGE_ANCHOR_MISMATCH
    cc.join_gateway(data, anchor_sha256=anchor, moment=MOMENT + HOUR)
    assert Workspace.open(cc.path).gateway_record.signer_key is None
    changed = _edit_payload(data, {"name": "Another Gateway"})
    with pytest.raises(TrustError) as raised:
        read_gateway_package(changed, anchor_sha256=anchor, moment=MOMENT + HOUR)
    assert raised.value.code is Code.PACKAGE_SIGNATURE_INVALID


def test_the_gateway_admits_a_country_and_learns_its_node(tmp_path: Path, cc: Workspace) -> None:
    gateway = init_gateway(tmp_path / "gw", moment=MOMENT)
    data, anchor = cc.export_package("CC", moment=MOMENT)
    gateway.import_package(data, anchor_sha256=anchor, moment=MOMENT + HOUR)
    reopened = Workspace.open(gateway.path)
    assert reopened.members == ("CC",) and reopened.node_certificate("CC") == cc.node_certificate("CC")
    assert reopened.endpoint("CC") == "http://127.0.0.1:9101"
    assert not any(path.suffix == ".key" for path in (gateway.path / "partners").rglob("*"))
    assert reopened.withdraw_partner("CC", moment=MOMENT + 2 * HOUR)
    assert Workspace.open(gateway.path).members == ()
