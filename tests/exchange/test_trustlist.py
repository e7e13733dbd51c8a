"""Signed trust lists (exchange._trustlist): content round trip, schema, and every refusal with its code."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from cryptography import x509
from lxml import etree

from exchange._dsig import sign_document
from exchange._errors import Code, TrustError
from exchange._pki import CountryPki, build_country_pki, demo_country, fingerprint, make_crl, revoke
from exchange._trustlist import (
    Authorisation,
    AuthorisationStatus,
    IssuerEntry,
    StatusChange,
    TrustList,
    TrustNamespace,
    check_succession,
    load_trust_list,
)
from exchange._validation import Validator
from exchange._xml import parse_xml
from tests.support.certificates import (
    crl_with_an_unpreparable_issuer,
    duplicate_extension,
    unknown_signature_algorithm,
)

MOMENT = dt.datetime(2030, 1, 15, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
TL = TrustNamespace.TRUST_LIST


@pytest.fixture(scope="module")
def aa() -> CountryPki:
    return build_country_pki(demo_country("AA"), moment=MOMENT)


@pytest.fixture(scope="module")
def bb() -> CountryPki:
    return build_country_pki(demo_country("BB"), moment=MOMENT)


@pytest.fixture(scope="module")
def aa_list(aa: CountryPki) -> TrustList:
    return TrustList.from_pki(aa, sequence_number=4, issued_at=MOMENT, granted_since=MOMENT - DAY)


@pytest.fixture(scope="module")
def aa_signed(aa: CountryPki, aa_list: TrustList) -> bytes:
    return aa_list.sign(aa.trust_list_signer)


def _refusal(data: bytes, **kwargs: object) -> Code:
    arguments: dict[str, object] = {"moment": MOMENT, **kwargs}
    with pytest.raises(TrustError) as raised:
        load_trust_list(data, **arguments)  # type: ignore[arg-type]
    return raised.value.code


def test_round_trip_keeps_every_part(aa: CountryPki, aa_list: TrustList, aa_signed: bytes) -> None:
    loaded = load_trust_list(aa_signed, roots=[aa.root.certificate], moment=MOMENT, country="AA")
    assert loaded == aa_list
    assert loaded.signer == aa.trust_list_signer.certificate
    assert loaded.signed_xml == aa_signed
    assert loaded.sequence_number == 4 and loaded.country == "AA"
    assert loaded.anchors == (aa.root.certificate,)
    assert loaded.intermediates == (aa.issuing_ca.certificate,)
    assert [crl.issuer for crl in loaded.crls] == [aa.root.certificate.subject, aa.issuing_ca.certificate.subject]
    chamber = loaded.issuer_for(aa.authority("chamber-of-commerce").certificate)
    assert chamber is not None and chamber.name == "AA Chamber of Commerce"
    assert chamber.granted_types(MOMENT) == ("certificate-of-origin", "commercial-invoice")
    node = loaded.issuer_named("aa single window")
    assert node is not None and node.role.value == "node" and node.granted_types(MOMENT) == ("envelope", "receipt")


def test_pinning_by_fingerprint_is_enough(aa: CountryPki, aa_signed: bytes) -> None:
    loaded = load_trust_list(aa_signed, root_fingerprints=[fingerprint(aa.root.certificate).upper()], moment=MOMENT)
    assert loaded.country == "AA"


def test_published_list_conforms_to_its_schema_in_the_catalogue(aa_signed: bytes) -> None:
    report = Validator().validate(aa_signed)
    assert report.document_type == "trust-list"
    assert report.valid, report.findings


def test_status_history_decides_at_each_moment() -> None:
    authorisation = Authorisation.granted("phytosanitary-certificate", MOMENT - 10 * DAY).changed(
        AuthorisationStatus.WITHDRAWN, MOMENT - 5 * DAY
    ).changed(AuthorisationStatus.GRANTED, MOMENT - DAY)
    assert authorisation.status_at(MOMENT - 11 * DAY) is None
    assert authorisation.status_at(MOMENT - 6 * DAY) == StatusChange(AuthorisationStatus.GRANTED, MOMENT - 10 * DAY)
    withdrawn = authorisation.status_at(MOMENT - 2 * DAY)
    assert withdrawn is not None and withdrawn.status is AuthorisationStatus.WITHDRAWN
    current = authorisation.status_at(MOMENT)
    assert current is not None and current.status is AuthorisationStatus.GRANTED


def test_history_survives_publication(aa: CountryPki, aa_list: TrustList) -> None:
    nppo = aa_list.issuer_named("AA NPPO")
    assert nppo is not None
    withdrawn = nppo.authorisation("phytosanitary-certificate")
    assert withdrawn is not None
    changed = nppo.with_authorisation(withdrawn.changed(AuthorisationStatus.WITHDRAWN, MOMENT - DAY / 2))
    issuers = tuple(changed if issuer.name == "AA NPPO" else issuer for issuer in aa_list.issuers)
    signed = replace(aa_list, issuers=issuers).sign(aa.trust_list_signer)
    loaded = load_trust_list(signed, roots=[aa.root.certificate], moment=MOMENT)
    entry = loaded.issuer_named("AA NPPO")
    assert entry is not None
    assert entry.granted_types(MOMENT) == ("ephyto-sps-certificate",)  # only the one withdrawn is gone
    assert set(entry.granted_types(MOMENT - DAY * 0.75)) == {"phytosanitary-certificate", "ephyto-sps-certificate"}
    history = entry.authorisation("phytosanitary-certificate")
    assert history is not None and [c.status.value for c in history.history] == ["granted", "withdrawn"]


def test_issuer_identified_by_key_identifier_only(aa: CountryPki, aa_list: TrustList) -> None:
    chamber = aa.authority("chamber-of-commerce")
    by_key = IssuerEntry.for_credential(chamber, ["certificate-of-origin"], since=MOMENT)
    by_key = replace(by_key, certificate=None)
    signed = replace(aa_list, issuers=(by_key,)).sign(aa.trust_list_signer)
    assert b"<tl:SubjectKeyIdentifier>" in signed
    loaded = load_trust_list(signed, roots=[aa.root.certificate], moment=MOMENT)
    assert loaded.issuers[0].certificate is None
    assert loaded.issuer_for(chamber.certificate) is not None
    assert loaded.issuer_for(aa.authority("nppo").certificate) is None


def test_reissue_increments_the_sequence(aa_list: TrustList) -> None:
    later = aa_list.reissued(issued_at=MOMENT + DAY)
    assert later.sequence_number == aa_list.sequence_number + 1
    assert later.next_update - later.issued_at == aa_list.next_update - aa_list.issued_at


# --- refusals ---------------------------------------------------------------------------------------------


def test_one_changed_byte_breaks_the_signature(aa: CountryPki, aa_signed: bytes) -> None:
    tampered = aa_signed.replace(b"<tl:DocumentType>customs-declaration<", b"<tl:DocumentType>customs-declaratioN<")
    assert tampered != aa_signed
    assert _refusal(tampered, roots=[aa.root.certificate]) is Code.TRUST_LIST_SIGNATURE


def test_unsigned_list_is_refused(aa: CountryPki, aa_list: TrustList) -> None:
    assert _refusal(aa_list.to_xml(), roots=[aa.root.certificate]) is Code.TRUST_LIST_SIGNATURE


def test_malformed_input_is_invalid_not_a_signature_problem(aa: CountryPki) -> None:
    assert _refusal(b"<tl:TrustList", roots=[aa.root.certificate]) is Code.TRUST_LIST_INVALID


def test_list_signed_by_a_document_signer_is_refused(aa: CountryPki, aa_list: TrustList) -> None:
    chamber = aa.authority("chamber-of-commerce")
    with pytest.raises(TrustError) as raised:
        aa_list.sign(chamber)
    assert raised.value.code is Code.PKI_INVALID
    forged = sign_document(aa_list.to_xml(), chamber.key, list(chamber.signing_chain))
    assert _refusal(forged, roots=[aa.root.certificate]) is Code.TRUST_LIST_SIGNATURE


def test_list_signed_under_another_root_is_refused(aa: CountryPki, bb: CountryPki, aa_list: TrustList) -> None:
    """BB's signer signs a list that declares AA's root: the signature is fine, the path is not."""
    forged = aa_list.sign(bb.trust_list_signer)
    assert _refusal(forged, roots=[aa.root.certificate]) is Code.TRUST_LIST_SIGNATURE


def test_list_under_an_anchor_nobody_configured_is_not_recognised(bb: CountryPki, aa_signed: bytes) -> None:
    assert _refusal(aa_signed, roots=[bb.root.certificate]) is Code.TRUST_NOT_RECOGNISED


def test_wrong_country_is_refused(aa: CountryPki, aa_signed: bytes) -> None:
    assert _refusal(aa_signed, roots=[aa.root.certificate], country="BB") is Code.TRUST_LIST_INVALID


def test_expired_list_is_refused_unless_allowed(aa: CountryPki, aa_list: TrustList, aa_signed: bytes) -> None:
    after = aa_list.next_update + dt.timedelta(seconds=1)
    assert _refusal(aa_signed, roots=[aa.root.certificate], moment=after) is Code.TRUST_LIST_EXPIRED
    kept = load_trust_list(aa_signed, roots=[aa.root.certificate], moment=after, allow_expired=True)
    assert not kept.is_current(after) and kept.is_current(aa_list.next_update)


def test_list_whose_signer_is_revoked_is_refused(aa: CountryPki, aa_list: TrustList) -> None:
    root_crl = revoke(aa.root_crl, aa.root, aa.trust_list_signer.certificate, moment=MOMENT - dt.timedelta(hours=1))
    signed = replace(aa_list, crls=(root_crl, aa.issuing_ca_crl)).sign(aa.trust_list_signer)
    assert _refusal(signed, roots=[aa.root.certificate]) is Code.TRUST_LIST_SIGNATURE


def test_signed_content_that_breaks_the_schema_is_invalid(aa: CountryPki, aa_list: TrustList) -> None:
    tree = parse_xml(aa_list.to_xml())
    sequence = tree.getroot().find(f"{TL.tag('SchemeInformation')}/{TL.tag('SequenceNumber')}")
    assert sequence is not None
    sequence.text = "zero"
    signer = aa.trust_list_signer
    signed = sign_document(etree.tostring(tree), signer.key, list(signer.signing_chain))
    assert _refusal(signed, roots=[aa.root.certificate]) is Code.TRUST_LIST_INVALID


def test_another_document_signed_by_the_list_signer_is_not_a_list(aa: CountryPki) -> None:
    signer = aa.trust_list_signer
    signed = sign_document(b"<Other xmlns='urn:example'/>", signer.key, list(signer.signing_chain))
    assert _refusal(signed, roots=[aa.root.certificate]) is Code.TRUST_LIST_INVALID


# --- rollback (issue 13, item 4) --------------------------------------------------------------------------


def test_an_older_signed_list_does_not_replace_the_held_one(aa: CountryPki, aa_list: TrustList) -> None:
    """Replaying last month's list (validly signed, still inside its NextUpdate) must not undo a revocation."""
    held = load_trust_list(aa_list.sign(aa.trust_list_signer), roots=[aa.root.certificate], moment=MOMENT)
    older = replace(aa_list, sequence_number=aa_list.sequence_number - 1, issued_at=MOMENT - DAY)
    with pytest.raises(TrustError) as raised:
        check_succession(held, older)
    assert raised.value.code is Code.TRUST_LIST_ROLLBACK
    assert "sequence 3" in raised.value.message and "sequence 4" in raised.value.message
    older_signed = older.sign(aa.trust_list_signer)
    assert _refusal(older_signed, roots=[aa.root.certificate], previous=held) is Code.TRUST_LIST_ROLLBACK


def test_the_same_sequence_number_with_other_content_is_refused(aa: CountryPki, aa_list: TrustList) -> None:
    held = load_trust_list(aa_list.sign(aa.trust_list_signer), roots=[aa.root.certificate], moment=MOMENT)
    fork = replace(aa_list, issuers=aa_list.issuers[1:])
    with pytest.raises(TrustError) as raised:
        check_succession(held, fork)
    assert raised.value.code is Code.TRUST_LIST_SEQUENCE_REUSED
    check_succession(held, aa_list)  # the same list again (a reload) is fine


def test_a_newer_list_replaces_the_held_one(aa: CountryPki, aa_list: TrustList) -> None:
    held = load_trust_list(aa_list.sign(aa.trust_list_signer), roots=[aa.root.certificate], moment=MOMENT)
    newer = aa_list.reissued(issued_at=MOMENT)
    check_succession(held, newer)
    check_succession(None, newer)
    loaded = load_trust_list(newer.sign(aa.trust_list_signer), roots=[aa.root.certificate], moment=MOMENT,
                             previous=held)
    assert loaded.sequence_number == aa_list.sequence_number + 1


def test_another_countrys_list_is_no_successor(aa: CountryPki, bb: CountryPki, aa_list: TrustList) -> None:
    bb_list = TrustList.from_pki(bb, sequence_number=9, issued_at=MOMENT)
    with pytest.raises(TrustError) as raised:
        check_succession(aa_list, bb_list)
    assert raised.value.code is Code.TRUST_LIST_INVALID


# --- the list signer's revocation (issue 13, item 4) ------------------------------------------------------


def _root_crl(aa: CountryPki, *, this_update: dt.datetime, next_update: dt.datetime,
              critical_unknown: bool = False) -> x509.CertificateRevocationList:
    from cryptography.hazmat.primitives import hashes

    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(aa.root.certificate.subject)
        .last_update(this_update)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(7), critical=False)
    )
    if critical_unknown:
        unknown = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55555.2"), b"\x05\x00")
        builder = builder.add_extension(unknown, critical=True)
    return builder.sign(aa.root.key, hashes.SHA256())


def test_list_without_a_crl_for_its_signer_is_refused_not_trusted(aa: CountryPki, aa_list: TrustList) -> None:
    """The list carries only the issuing CA's CRL: nothing says its signer is not revoked (it failed open)."""
    signed = replace(aa_list, crls=(aa.issuing_ca_crl,)).sign(aa.trust_list_signer)
    with pytest.raises(TrustError) as raised:
        load_trust_list(signed, roots=[aa.root.certificate], moment=MOMENT)
    assert raised.value.code is Code.TRUST_REVOCATION_UNKNOWN
    assert "AA Trust List Signer" in raised.value.message


def test_list_whose_root_crl_is_past_its_next_update_is_refused(aa: CountryPki, aa_list: TrustList) -> None:
    stale = _root_crl(aa, this_update=MOMENT - 10 * DAY, next_update=MOMENT - DAY)
    signed = replace(aa_list, crls=(stale, aa.issuing_ca_crl)).sign(aa.trust_list_signer)
    assert _refusal(signed, roots=[aa.root.certificate]) is Code.TRUST_REVOCATION_UNKNOWN


def test_list_whose_root_crl_is_issued_after_the_moment_is_refused(aa: CountryPki, aa_list: TrustList) -> None:
    """thisUpdate after the moment: that CRL did not exist then, so it cannot vouch for the signer then."""
    future = _root_crl(aa, this_update=MOMENT + DAY, next_update=MOMENT + 30 * DAY)
    signed = replace(aa_list, crls=(future, aa.issuing_ca_crl)).sign(aa.trust_list_signer)
    assert _refusal(signed, roots=[aa.root.certificate]) is Code.TRUST_REVOCATION_UNKNOWN


def test_list_whose_root_crl_has_an_unknown_critical_extension_is_refused(aa: CountryPki, aa_list: TrustList) -> None:
    unusable = _root_crl(aa, this_update=MOMENT - DAY, next_update=MOMENT + DAY, critical_unknown=True)
    signed = replace(aa_list, crls=(unusable, aa.issuing_ca_crl)).sign(aa.trust_list_signer)
    assert _refusal(signed, roots=[aa.root.certificate]) is Code.TRUST_REVOCATION_UNKNOWN


def test_a_stale_crl_still_proves_the_signer_revoked(aa: CountryPki, aa_list: TrustList) -> None:
    revoked = revoke(aa.root_crl, aa.root, aa.trust_list_signer.certificate, moment=MOMENT - 3 * DAY,
                     lifetime=DAY)
    signed = replace(aa_list, crls=(revoked, aa.issuing_ca_crl)).sign(aa.trust_list_signer)
    assert _refusal(signed, roots=[aa.root.certificate]) is Code.TRUST_LIST_SIGNATURE


def test_an_expired_list_kept_for_reporting_checks_its_signer_as_of_its_next_update(aa: CountryPki) -> None:
    """Loaded with allow_expired, a list past its NextUpdate (and its CRLs) still loads, so that every
    decision reports TRUST-LIST-EXPIRED; its signer's revocation is checked as of that NextUpdate."""
    short = TrustList.from_pki(aa, sequence_number=2, issued_at=MOMENT, next_update=MOMENT + DAY)
    crls = (make_crl(aa.root, this_update=MOMENT - DAY, next_update=MOMENT + 2 * DAY, number=2), aa.issuing_ca_crl)
    signed = replace(short, crls=crls).sign(aa.trust_list_signer)
    much_later = MOMENT + 10 * DAY
    assert _refusal(signed, roots=[aa.root.certificate], moment=much_later) is Code.TRUST_LIST_EXPIRED
    kept = load_trust_list(signed, roots=[aa.root.certificate], moment=much_later, allow_expired=True)
    assert not kept.is_current(much_later)


#: damaged material in a list, and what the refusal says: each is loaded by cryptography but cannot be read in full
#: for path validation (found by fuzz/run.py in KeyInfo, then in review)
UNREADABLE = {
    "an unknown signature algorithm": (
        lambda pki: {"intermediates": (unknown_signature_algorithm(pki.issuing_ca.certificate),)},
        "a certificate of the list cannot be read for path validation (Signature algorithm not known for "
        "1.2.840.10232.4.3.2)"),
    "a duplicate extension": (
        lambda pki: {"intermediates": (duplicate_extension(pki.issuing_ca.certificate),)},
        "a certificate of the list cannot be read for path validation (Duplicate 2.5.29.19 extension found)"),
    "a CRL issuer name that cannot be prepared": (
        lambda pki: {"crls": (pki.root_crl, crl_with_an_unpreparable_issuer(pki.issuing_ca.key, MOMENT))},
        "a CRL of the list cannot be read for path validation (X.509 Name objects may not contain unassigned "
        "code points)"),
}


@pytest.mark.parametrize("case", sorted(UNREADABLE))
def test_a_list_holding_what_path_validation_cannot_read_is_refused(aa: CountryPki, aa_list: TrustList,
                                                                    case: str) -> None:
    """Refused with the list, not met later as an exception while a document's path is built."""
    damage, reason = UNREADABLE[case]
    signed = replace(aa_list, **damage(aa)).sign(aa.trust_list_signer)  # type: ignore[arg-type]
    with pytest.raises(TrustError) as raised:
        load_trust_list(signed, roots=[aa.root.certificate], moment=MOMENT)
    assert raised.value.code is Code.TRUST_LIST_INVALID
    assert reason in raised.value.message
