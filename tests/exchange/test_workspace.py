"""The demo workspace (exchange._workspace): init, agreements as data, trust per receiver, revoke, import."""

from __future__ import annotations

import datetime as dt
import logging
import stat
from pathlib import Path

import pytest
import yaml

from exchange._dsig import sign_document
from exchange._errors import Code, ConfigurationError, InputError, TrustError
from exchange._pki import KeyType, fingerprint
from exchange._signed import AGREEMENT_CODES, countersign, dumps, parse, sign
from exchange._verify import VerificationResult, verify_document
from exchange._workspace import (
    AGREEMENT_KIND,
    Agreement,
    Workspace,
    agreement_terms,
    init_workspace,
    sign_agreement_terms,
)
from tests.support.agreements import resign, terms

MOMENT = dt.datetime(2030, 1, 15, 12, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
COO = b"<CertificateOfOrigin xmlns='urn:ptx:trade:CertificateOfOrigin:1'><ID>CO-1</ID></CertificateOfOrigin>"
DECLARATION = b"<CustomsDeclaration xmlns='urn:ptx:trade:CustomsDeclaration:1'><ID>D-1</ID></CustomsDeclaration>"


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    init_workspace(tmp_path / "ws", moment=MOMENT, countries=["AA", "BB", "CC"], agreements=[("AA", "BB")])
    return Workspace.open(tmp_path / "ws")


def _signed(ws: Workspace, issuer: str, data: bytes = COO) -> bytes:
    credential = ws.signer(issuer)
    return sign_document(data, credential.key, list(credential.signing_chain))


def _verify(ws: Workspace, data: bytes, receiver: str | None, at: dt.datetime = MOMENT + HOUR,
            document_type: str | None = None) -> VerificationResult:
    return verify_document(data, trust=ws.trust_context(receiver, moment=at), document_type=document_type)


def _errors(result: VerificationResult) -> list[str]:
    return [finding.code for finding in result.findings if finding.is_error]


def test_init_writes_every_part_with_private_keys_0600(ws: Workspace) -> None:
    assert ws.countries == ("AA", "BB", "CC")
    files = ws.index.files()
    assert all((ws.path / name).is_file() for name in files)
    keys = [name for name in files if name.endswith(".key")]
    assert len(keys) == 3 * 9 + 4  # per country: root, CA, list signer, 4 authorities, 2 TLS; gateway: 4
    for name in keys:
        assert stat.S_IMODE((ws.path / name).stat().st_mode) == 0o600, name
    assert ws.index.agreements == ("agreements/AA-BB.json",)
    agreement = ws.verified_agreements(MOMENT)[0][0]
    assert agreement.party("AA") is not None
    assert agreement.party("AA").anchor_sha256 == fingerprint(ws.root("AA"))  # type: ignore[union-attr]
    assert "certificate-of-origin" in agreement.document_types("AA", "BB")
    assert agreement.allows("BB", "AA", "receipt", moment=MOMENT)
    assert not agreement.allows("AA", "CC", "receipt", moment=MOMENT)
    assert ws.gateway_signer().name == "PTX Gateway"
    assert ws.trust_list("AA", moment=MOMENT).sequence_number == 1


def test_init_is_idempotent_and_force_regenerates(ws: Workspace) -> None:
    before = {name: (ws.path / name).read_bytes() for name in ws.index.files()}
    old_root = fingerprint(ws.root("AA"))
    again = init_workspace(ws.path, moment=MOMENT + HOUR, countries=["AA", "BB", "CC"])
    assert not again.changed and "nothing changed" in again.message
    assert {name: (ws.path / name).read_bytes() for name in ws.index.files()} == before
    forced = init_workspace(ws.path, moment=MOMENT, countries=["AA", "BB"], force=True)
    assert forced.changed and forced.countries == ("AA", "BB")
    reopened = Workspace.open(ws.path)
    assert reopened.countries == ("AA", "BB")
    assert fingerprint(reopened.root("AA")) != old_root
    assert not (ws.path / "CC").exists()


def test_init_refuses_to_overwrite_without_force(ws: Workspace) -> None:
    with pytest.raises(ConfigurationError) as raised:
        init_workspace(ws.path, moment=MOMENT, countries=["AA", "BB"])
    assert "--force" in raised.value.message
    (ws.path / "AA" / "pki" / "root.pem").unlink()
    with pytest.raises(ConfigurationError) as raised:
        init_workspace(ws.path, moment=MOMENT, countries=["AA", "BB", "CC"])
    assert "incomplete" in raised.value.message


def test_init_refuses_bad_countries(tmp_path: Path) -> None:
    for countries in (["AA"], ["AA", "B1"]):
        with pytest.raises(InputError):
            init_workspace(tmp_path / "x", moment=MOMENT, countries=countries)
    with pytest.raises(InputError):
        init_workspace(tmp_path / "x", moment=MOMENT, countries=["AA", "BB"], agreements=[("AA", "ZZ")])


def test_rsa_workspace(tmp_path: Path) -> None:
    init_workspace(tmp_path, moment=MOMENT, key_type=KeyType.RSA_2048)
    ws = Workspace.open(tmp_path)
    assert ws.index.key_type is KeyType.RSA_2048
    assert _verify(ws, _signed(ws, "AA Customs", DECLARATION), "BB").valid


# --- recognition per receiver ------------------------------------------------------------------------------


def test_partner_document_is_recognised_under_the_agreement(ws: Workspace) -> None:
    result = _verify(ws, _signed(ws, "AA Chamber of Commerce"), "BB")
    assert result.valid, result.findings
    assert result.scheme == "AA" and result.document_type == "certificate-of-origin"
    assert _verify(ws, _signed(ws, "BB/customs", DECLARATION), "BB").valid  # its own issuer


def test_third_country_nobody_recognises(ws: Workspace) -> None:
    result = _verify(ws, _signed(ws, "CC Customs", DECLARATION), "BB")
    assert _errors(result) == ["TRUST-NOT-RECOGNISED"]
    assert _verify(ws, _signed(ws, "CC Customs", DECLARATION), None).valid  # the workspace view knows all


def test_plant_protection_issuer_cannot_sign_a_certificate_of_origin(ws: Workspace) -> None:
    assert _errors(_verify(ws, _signed(ws, "AA NPPO"), "BB")) == ["TRUST-ISSUER-NOT-AUTHORISED"]


AGREEMENT = Path("agreements") / "AA-BB.json"


def _terms(ws: Workspace) -> dict[str, object]:
    return terms(ws.path / AGREEMENT)


def _edit_agreement(ws: Workspace, change: dict[str, object]) -> None:
    """New terms, signed again by both parties (the network folder holds both trust-list signers' keys)."""
    resign(ws, ws.path / AGREEMENT, lambda current: current.update(change))


def test_agreement_decides_which_types_flow(ws: Workspace) -> None:
    flows = _terms(ws)["flows"]
    assert isinstance(flows, list)
    flows[0]["document_types"] = ["phytosanitary-certificate"]
    _edit_agreement(ws, {"flows": flows})
    assert _errors(_verify(ws, _signed(ws, "AA Chamber of Commerce"), "BB")) == ["TRUST-NOT-RECOGNISED"]
    assert _verify(ws, _signed(ws, "BB Chamber of Commerce"), "AA").valid  # the other direction is untouched


def test_agreement_period_bounds_recognition(ws: Workspace) -> None:
    _edit_agreement(ws, {"valid_until": (MOMENT + HOUR / 2).isoformat()})
    assert _errors(_verify(ws, _signed(ws, "AA Chamber of Commerce"), "BB")) == ["TRUST-NOT-RECOGNISED"]


@pytest.mark.parametrize("edit", ["payload", "signature", "protected"])
def test_one_changed_byte_of_an_agreement_refuses_it(ws: Workspace, edit: str) -> None:
    """Either party's signature covers the terms and who signed: any change refuses the agreement, so the partner
    is no longer recognised under it (and the refusal carries its code)."""
    path = ws.path / AGREEMENT
    raw = __import__("json").loads(path.read_bytes())
    if edit == "payload":
        raw["payload"] = raw["payload"][:40] + ("A" if raw["payload"][40] != "A" else "B") + raw["payload"][41:]
    elif edit == "signature":
        signature = raw["signatures"][1]["signature"]
        raw["signatures"][1]["signature"] = ("A" if signature[0] != "A" else "B") + signature[1:]
    else:
        raw["signatures"][0]["protected"] = raw["signatures"][1]["protected"]
    path.write_bytes(dumps(raw))
    accepted, refused = ws.verified_agreements(MOMENT + HOUR)
    assert accepted == ()
    assert [error.code for error in refused] in ([Code.AGREEMENT_SIGNATURE_INVALID], [Code.AGREEMENT_INVALID])
    assert _errors(_verify(ws, _signed(ws, "AA Chamber of Commerce"), "BB")) == ["TRUST-NOT-RECOGNISED"]


def test_an_agreement_signed_by_one_party_only_is_refused(ws: Workspace) -> None:
    terms = agreement_terms(parse((ws.path / AGREEMENT).read_bytes(), kind=AGREEMENT_KIND,
                                  codes=AGREEMENT_CODES).payload)
    (ws.path / AGREEMENT).write_bytes(dumps(sign_agreement_terms(terms, ws.trust_list_signer("AA"), country="AA")))
    [error] = ws.verified_agreements(MOMENT + HOUR)[1]
    assert error.code is Code.AGREEMENT_UNSIGNED and "BB" in error.message


def test_an_agreement_signed_with_another_key_than_the_trust_list_signer_is_refused(ws: Workspace) -> None:
    """BB's customs authority chains to BB's root, but only BB's trust-list signer speaks for BB."""
    document = parse((ws.path / AGREEMENT).read_bytes(), kind=AGREEMENT_KIND, codes=AGREEMENT_CODES)
    forged = countersign(document, ws.authority("BB", "customs"), country="BB")
    (ws.path / AGREEMENT).write_bytes(dumps(forged))
    [error] = ws.verified_agreements(MOMENT + HOUR)[1]
    assert error.code is Code.AGREEMENT_SIGNATURE_INVALID


def test_agreement_with_unknown_key_is_refused(ws: Workspace) -> None:
    payload = yaml.safe_dump({**_terms(ws), "recognise_everything": True}).encode()
    signed = sign(payload, ws.trust_list_signer("AA"), country="AA", kind=AGREEMENT_KIND)
    signed = countersign(parse(dumps(signed), kind=AGREEMENT_KIND, codes=AGREEMENT_CODES),
                         ws.trust_list_signer("BB"), country="BB")
    (ws.path / AGREEMENT).write_bytes(dumps(signed))
    [error] = ws.verified_agreements(MOMENT + HOUR)[1]
    assert error.code is Code.AGREEMENT_INVALID and "recognise_everything" in error.message
    assert _errors(_verify(ws, _signed(ws, "AA Chamber of Commerce"), "BB")) == ["TRUST-NOT-RECOGNISED"]


def test_agreement_model_checks_its_parties() -> None:
    party = {"anchor_sha256": "0" * 64}
    base = {
        "id": "AA-BB", "title": "t", "valid_from": "2030-01-01T00:00:00Z",
        "parties": [{"country": "AA", **party}, {"country": "BB", **party}],
    }
    assert Agreement.model_validate({**base, "flows": [{"from": "AA", "to": "BB", "document_types": ["receipt"]}]})
    for flows in (
        [{"from": "AA", "to": "ZZ", "document_types": ["receipt"]}],
        [{"from": "AA", "to": "AA", "document_types": ["receipt"]}],
        [{"from": "AA", "to": "BB", "document_types": ["Not An Id"]}],
        [{"from": "AA", "to": "BB", "document_types": []}],
    ):
        with pytest.raises(ValueError):
            Agreement.model_validate({**base, "flows": flows})
    with pytest.raises(ValueError):
        Agreement.model_validate({**base, "valid_from": "2030-01-01T00:00:00", "flows": []})


# --- revocation, renewal, expiry -------------------------------------------------------------------------


def test_revoke_is_seen_by_the_next_verification(ws: Workspace) -> None:
    signed = _signed(ws, "AA Chamber of Commerce")
    assert _verify(ws, signed, "BB").valid  # also fills the context memo
    result = ws.revoke("AA Chamber of Commerce", moment=MOMENT + 2 * HOUR)
    assert result.changed and result.crl_number == 2 and result.trust_list_sequence == 2
    assert _errors(_verify(ws, signed, "BB", at=MOMENT + 3 * HOUR)) == ["TRUST-CERT-REVOKED"]
    before = _verify(ws, signed, "BB", at=MOMENT + HOUR)  # as of before the revocation: still valid, warned
    assert before.valid and [f.code for f in before.findings] == ["TRUST-CERT-REVOKED"]
    assert _verify(ws, _signed(ws, "AA Customs", DECLARATION), "BB", at=MOMENT + 3 * HOUR).valid
    again = ws.revoke("AA/chamber-of-commerce", moment=MOMENT + 4 * HOUR)
    assert not again.changed and again.trust_list_sequence == 2


def test_renew_moves_the_next_update(ws: Workspace) -> None:
    later, stale = MOMENT + dt.timedelta(days=80), MOMENT + dt.timedelta(days=95)
    signed = _signed(ws, "AA Chamber of Commerce")
    assert set(_errors(_verify(ws, signed, "BB", at=stale))) == {"TRUST-LIST-EXPIRED", "TRUST-REVOCATION-UNKNOWN"}
    old = ws.trust_list("AA", moment=MOMENT)
    assert ws.renew("AA", moment=later) == 2
    new = ws.trust_list("AA", moment=later)
    assert new.next_update > old.next_update
    assert _verify(ws, signed, "BB", at=stale).valid


def test_expired_trust_list_is_a_finding_not_a_crash(ws: Workspace) -> None:
    after = ws.trust_list("AA", moment=MOMENT).next_update + HOUR
    result = _verify(ws, _signed(ws, "AA Chamber of Commerce"), "BB", at=after)
    assert "TRUST-LIST-EXPIRED" in _errors(result)


def test_badly_signed_partner_list_is_a_configuration_fault(ws: Workspace) -> None:
    path = ws.path / "AA" / "trust-list.xml"
    path.write_bytes(path.read_bytes().replace(b"AA NPPO", b"AA NPP0"))
    with pytest.raises(TrustError) as raised:
        ws.trust_context("BB", moment=MOMENT)
    assert raised.value.code is Code.TRUST_LIST_SIGNATURE


def test_a_bad_list_of_an_unrelated_country_is_logged_not_silently_dropped(
    ws: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    """CC is no party to BB's agreements: its list only sharpens messages (TRUST-NOT-RECOGNISED), so BB's trust
    is built without it, but an operator learns that the file is bad."""
    path = ws.path / "CC" / "trust-list.xml"
    path.write_bytes(path.read_bytes().replace(b"CC NPPO", b"CC NPP0"))
    caplog.set_level(logging.WARNING, logger="exchange.workspace")
    context = ws.trust_context("BB", moment=MOMENT)
    assert "CC" not in {trust_list.country for trust_list in context.known}
    [record] = [r for r in caplog.records if r.name == "exchange.workspace"]
    assert record.levelno == logging.WARNING
    assert getattr(record, "code", None) == "TRUST-LIST-SIGNATURE" and getattr(record, "country", None) == "CC"
    assert "CC" in record.getMessage() and "TRUST-LIST-SIGNATURE" in record.getMessage()
    assert _errors(_verify(ws, _signed(ws, "AA Chamber of Commerce"), "BB")) == []  # AA -> BB is unaffected


# --- issuers and imports ---------------------------------------------------------------------------------


def test_issuer_names_resolve(ws: Workspace) -> None:
    assert ws.resolve_issuer("aa chamber of commerce") == ("AA", "chamber-of-commerce")
    assert ws.resolve_issuer("CC/nppo") == ("CC", "nppo")
    with pytest.raises(InputError) as raised:
        ws.resolve_issuer("nppo")
    assert "AA/nppo" in raised.value.message
    with pytest.raises(InputError):
        ws.resolve_issuer("DD Customs")


def test_import_third_party_list(tmp_path: Path) -> None:
    init_workspace(tmp_path / "home", moment=MOMENT)
    init_workspace(tmp_path / "far", moment=MOMENT, countries=["CC", "DD"])
    home, far = Workspace.open(tmp_path / "home"), Workspace.open(tmp_path / "far")
    data = far.trust_list_bytes("CC")
    with pytest.raises(TrustError) as raised:
        home.import_trust_list(data, anchor=home.root("AA"), moment=MOMENT)
    assert raised.value.code is Code.TRUST_NOT_RECOGNISED
    imported = home.import_trust_list(data, anchor=far.root("CC"), moment=MOMENT)
    assert imported.country == "CC"
    reopened = Workspace.open(tmp_path / "home")
    assert "CC" in reopened.index.imported
    signed = _signed(far, "CC Customs", DECLARATION)
    assert _errors(_verify(reopened, signed, "BB")) == ["TRUST-NOT-RECOGNISED"]
    with pytest.raises(ConfigurationError):
        home.import_trust_list(home.trust_list_bytes("AA"), anchor=home.root("AA"), moment=MOMENT)


def test_missing_workspace_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Workspace.open(tmp_path / "nowhere")
    assert "ptx init" in raised.value.message


def test_broken_index_needs_force(ws: Workspace) -> None:
    (ws.path / "workspace.yaml").write_text("format: 1\nsurprise: true\n")
    with pytest.raises(ConfigurationError) as raised:
        init_workspace(ws.path, moment=MOMENT, countries=["AA", "BB", "CC"])
    assert "surprise" in raised.value.message
    result = init_workspace(ws.path, moment=MOMENT, countries=["AA", "BB"], force=True)
    assert result.changed and Workspace.open(ws.path).countries == ("AA", "BB")


def test_an_older_list_of_an_imported_country_is_refused(tmp_path: Path) -> None:
    """No rollback through ``ptx trust import``: sequence 1 again after sequence 2 is TRUST-LIST-ROLLBACK."""
    init_workspace(tmp_path / "home", moment=MOMENT)
    init_workspace(tmp_path / "far", moment=MOMENT, countries=["CC", "DD"])
    home, far = Workspace.open(tmp_path / "home"), Workspace.open(tmp_path / "far")
    first = far.trust_list_bytes("CC")
    later = MOMENT + dt.timedelta(days=1)
    assert far.renew("CC", moment=later) == 2
    second = far.trust_list_bytes("CC")
    assert home.import_trust_list(first, anchor=far.root("CC"), moment=later).sequence_number == 1
    assert home.import_trust_list(second, anchor=far.root("CC"), moment=later).sequence_number == 2
    assert home.import_trust_list(second, anchor=far.root("CC"), moment=later).sequence_number == 2  # again: fine
    with pytest.raises(TrustError) as raised:
        home.import_trust_list(first, anchor=far.root("CC"), moment=later)
    assert raised.value.code is Code.TRUST_LIST_ROLLBACK
    assert Workspace.open(tmp_path / "home").trust_list("CC", moment=later).sequence_number == 2
