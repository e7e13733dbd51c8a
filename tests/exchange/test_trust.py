"""Trust evaluation (exchange._trust): every decision and each refusal code, at pinned moments.

The test PKI is built from a declarative spec: country AA has its demo authorities plus a few that are
wrong on purpose (expired, not yet valid, wrong key usage, unlisted); BB is a partner; CC is a third
country whose list is known but not recognised.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, replace

import pytest
from cryptography import x509

from exchange._errors import Code, ConfigurationError, Severity
from exchange._pki import (
    AuthoritySpec,
    CountryPki,
    CountrySpec,
    Credential,
    Role,
    build_country_pki,
    demo_country,
    generate_key,
    issue_certificate,
    make_crl,
    make_name,
    revoke,
)
from exchange._trust import Recognition, TrustContext, TrustDecision, TrustStatus
from exchange._trustlist import AuthorisationStatus, IssuerEntry, TrustList

MOMENT = dt.datetime(2030, 1, 15, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
SECOND = dt.timedelta(seconds=1)
COO = "certificate-of-origin"
PHYTO = "phytosanitary-certificate"

SPEC = CountrySpec(
    code="AA",
    name="Country AA",
    authorities=(
        *demo_country("AA").authorities,
        AuthoritySpec("expired", "AA Expired Chamber", (COO,), valid_from=-400 * DAY, valid_for=365 * DAY),
        AuthoritySpec("future", "AA Future Chamber", (COO,), valid_from=30 * DAY),
        AuthoritySpec("encipher-only", "AA Misconfigured Chamber", (COO,), key_usage_bits=("key_encipherment",)),
        AuthoritySpec("unlisted", "AA Unlisted Office", (COO,)),
    ),
)


@dataclass(frozen=True)
class World:
    aa: CountryPki
    bb: CountryPki
    cc: CountryPki
    aa_list: TrustList
    bb_list: TrustList
    cc_list: TrustList


def _published(pki: CountryPki, *, skip: tuple[str, ...] = ()) -> TrustList:
    trust_list = TrustList.from_pki(pki, sequence_number=1, issued_at=MOMENT - HOUR, granted_since=MOMENT - DAY)
    return replace(trust_list, issuers=tuple(i for i in trust_list.issuers if i.name not in skip))


@pytest.fixture(scope="module")
def world() -> World:
    aa = build_country_pki(SPEC, moment=MOMENT)
    bb = build_country_pki(demo_country("BB"), moment=MOMENT)
    cc = build_country_pki(demo_country("CC"), moment=MOMENT)
    return World(aa, bb, cc, _published(aa, skip=("AA Unlisted Office",)), _published(bb), _published(cc))


@pytest.fixture(scope="module")
def receiver_bb(world: World) -> TrustContext:
    """BB as a receiver: its own list, AA's list under an agreement for the trade types, CC known only."""
    return TrustContext(
        moment=MOMENT,
        recognitions=(
            Recognition(world.bb_list, basis="BB's own trust list"),
            Recognition(
                world.aa_list,
                document_types=frozenset({COO, PHYTO, "customs-declaration", "envelope"}),
                valid_from=MOMENT - 30 * DAY,
                valid_until=MOMENT + 365 * DAY,
                basis="agreement AA-BB",
            ),
        ),
        known=(world.cc_list,),
    )


def _evaluate(context: TrustContext, credential: Credential, document_type: str | None = COO,
              chain: tuple[x509.Certificate, ...] | None = None) -> TrustDecision:
    return context.evaluate(
        credential.certificate, credential.signing_chain if chain is None else chain, document_type=document_type
    )


def _codes(decision: TrustDecision, severity: Severity = Severity.ERROR) -> list[str]:
    return [finding.code for finding in decision.findings if finding.severity is severity]


# --- accepted ---------------------------------------------------------------------------------------------


def test_authorised_issuer_of_a_recognised_partner_is_trusted(world: World, receiver_bb: TrustContext) -> None:
    decision = _evaluate(receiver_bb, world.aa.authority("chamber-of-commerce"))
    assert decision.trusted and decision.findings == ()
    assert decision.chain == (
        world.aa.authority("chamber-of-commerce").certificate,
        world.aa.issuing_ca.certificate,
        world.aa.root.certificate,
    )
    assert decision.issuer is not None and decision.issuer.name == "AA Chamber of Commerce"
    assert decision.scheme == "AA"
    assert decision.recognition is not None and decision.recognition.basis == "agreement AA-BB"


def test_own_issuers_are_recognised_for_everything_they_are_granted(world: World, receiver_bb: TrustContext) -> None:
    decision = _evaluate(receiver_bb, world.bb.authority("chamber-of-commerce"), "commercial-invoice")
    assert decision.trusted and decision.scheme == "BB"


def test_intermediate_missing_from_keyinfo_comes_from_the_trust_list(world: World, receiver_bb: TrustContext) -> None:
    nppo = world.aa.authority("nppo")
    decision = _evaluate(receiver_bb, nppo, PHYTO, chain=(nppo.certificate,))
    assert decision.trusted
    assert decision.chain[1] == world.aa.issuing_ca.certificate


# --- the path ---------------------------------------------------------------------------------------------


def test_self_signed_certificate_in_keyinfo_is_untrusted(world: World, receiver_bb: TrustContext) -> None:
    key = generate_key()
    impostor = issue_certificate(
        subject=world.aa.authority("chamber-of-commerce").certificate.subject,
        public_key=key.public_key(),
        issuer=None,
        issuer_key=key,
        role=Role.DOCUMENT_SIGNER,
        not_before=MOMENT - DAY,
        not_after=MOMENT + DAY,
    )
    decision = receiver_bb.evaluate(impostor, (impostor,), document_type=COO)
    assert _codes(decision) == ["TRUST-CHAIN-UNTRUSTED"]
    assert "self-signed" in decision.findings[0].message
    assert decision.chain == () and not decision.trusted


def test_a_fake_root_in_keyinfo_does_not_become_an_anchor(world: World, receiver_bb: TrustContext) -> None:
    """An attacker's own 'AA Root CA' and 'AA Issuing CA' sent along in KeyInfo change nothing."""
    root_key, ca_key, leaf_key = generate_key(), generate_key(), generate_key()
    fake_root = Credential(root_key, issue_certificate(
        subject=world.aa.root.certificate.subject, public_key=root_key.public_key(), issuer=None,
        issuer_key=root_key, role=Role.ROOT_CA, not_before=MOMENT - DAY, not_after=MOMENT + DAY, path_length=1,
    ))
    fake_ca = Credential(ca_key, issue_certificate(
        subject=world.aa.issuing_ca.certificate.subject, public_key=ca_key.public_key(), issuer=fake_root,
        role=Role.ISSUING_CA, not_before=MOMENT - DAY, not_after=MOMENT + DAY, path_length=0,
    ))
    leaf = issue_certificate(
        subject=make_name("AA Chamber of Commerce", country="AA"), public_key=leaf_key.public_key(),
        issuer=fake_ca, role=Role.DOCUMENT_SIGNER, not_before=MOMENT - DAY, not_after=MOMENT + DAY,
    )
    decision = receiver_bb.evaluate(leaf, (leaf, fake_ca.certificate, fake_root.certificate), document_type=COO)
    assert _codes(decision) == ["TRUST-CHAIN-UNTRUSTED"]


def test_expired_issuer(world: World, receiver_bb: TrustContext) -> None:
    decision = _evaluate(receiver_bb, world.aa.authority("expired"))
    assert _codes(decision) == ["TRUST-CERT-EXPIRED"]
    assert "signer certificate 'AA Expired Chamber' expired" in decision.findings[0].message
    assert decision.chain[-1] == world.aa.root.certificate  # the path that held while it was valid


def test_not_yet_valid_issuer(world: World, receiver_bb: TrustContext) -> None:
    decision = _evaluate(receiver_bb, world.aa.authority("future"))
    assert _codes(decision) == ["TRUST-CERT-NOT-YET-VALID"]
    assert not decision.trusted


def test_a_valid_issuer_becomes_expired_when_the_moment_moves(world: World, receiver_bb: TrustContext) -> None:
    chamber = world.aa.authority("chamber-of-commerce")
    assert _evaluate(receiver_bb, chamber).trusted  # fills the path memo
    later = receiver_bb.at(chamber.certificate.not_valid_after_utc + DAY)
    assert "TRUST-CERT-EXPIRED" in _codes(_evaluate(later, chamber))
    earlier = receiver_bb.at(chamber.certificate.not_valid_before_utc - HOUR)
    assert "TRUST-CERT-NOT-YET-VALID" in _codes(_evaluate(earlier, chamber))


def test_expired_issuing_ca_is_named_as_such() -> None:
    """Root -> short-lived CA -> leaf: at the moment the leaf is valid but its CA has expired."""
    root_key, ca_key, leaf_key = generate_key(), generate_key(), generate_key()
    root = Credential(root_key, issue_certificate(
        subject=make_name("ZZ Root"), public_key=root_key.public_key(), issuer=None, issuer_key=root_key,
        role=Role.ROOT_CA, not_before=MOMENT - 100 * DAY, not_after=MOMENT + 100 * DAY, path_length=1,
    ))
    ca = Credential(ca_key, issue_certificate(
        subject=make_name("ZZ Short CA"), public_key=ca_key.public_key(), issuer=root, role=Role.ISSUING_CA,
        not_before=MOMENT - 50 * DAY, not_after=MOMENT - DAY, path_length=0,
    ))
    leaf = issue_certificate(
        subject=make_name("ZZ Signer"), public_key=leaf_key.public_key(), issuer=ca, role=Role.DOCUMENT_SIGNER,
        not_before=MOMENT - 10 * DAY, not_after=MOMENT + 10 * DAY,
    )
    context = TrustContext.from_anchors([root.certificate], moment=MOMENT, require_revocation=False)
    decision = context.evaluate(leaf, (leaf, ca.certificate))
    assert _codes(decision) == ["TRUST-CERT-EXPIRED"]
    assert "issuing CA certificate 'ZZ Short CA'" in decision.findings[0].message


def test_third_country_known_but_not_recognised(world: World, receiver_bb: TrustContext) -> None:
    decision = _evaluate(receiver_bb, world.cc.authority("customs"), "customs-declaration")
    assert _codes(decision) == ["TRUST-NOT-RECOGNISED"]
    assert "CC's trust list" in decision.findings[0].message


def test_third_country_nobody_knows_is_untrusted(world: World) -> None:
    context = TrustContext(moment=MOMENT, recognitions=(Recognition(world.bb_list),))
    assert _codes(_evaluate(context, world.cc.authority("customs"), "customs-declaration")) == [
        "TRUST-CHAIN-UNTRUSTED"
    ]


# --- key usage --------------------------------------------------------------------------------------------


def test_wrong_key_usage(world: World, receiver_bb: TrustContext) -> None:
    decision = _evaluate(receiver_bb, world.aa.authority("encipher-only"))
    assert _codes(decision) == ["TRUST-KEY-USAGE"]
    assert "key_encipherment" in decision.findings[0].message


def test_tls_certificate_may_not_sign_documents(world: World, receiver_bb: TrustContext) -> None:
    decision = _evaluate(receiver_bb, world.aa.tls_server)
    assert "TRUST-KEY-USAGE" in _codes(decision)
    assert any("extended key usage" in f.message for f in decision.findings)


def test_a_ca_may_not_sign_documents(world: World, receiver_bb: TrustContext) -> None:
    decision = _evaluate(receiver_bb, world.aa.issuing_ca)
    assert _codes(decision).count("TRUST-KEY-USAGE") == 2  # no digitalSignature, and a CA
    assert "TRUST-ISSUER-NOT-AUTHORISED" in _codes(decision)


# --- revocation -------------------------------------------------------------------------------------------


def _with_crls(context: TrustContext, trust_list: TrustList, crls: tuple[x509.CertificateRevocationList, ...],
               **changes: object) -> TrustContext:
    recognitions = tuple(
        replace(r, trust_list=replace(r.trust_list, crls=crls)) if r.trust_list == trust_list else r
        for r in context.recognitions
    )
    return TrustContext(moment=context.moment, recognitions=recognitions, known=context.known,
                        **changes)  # type: ignore[arg-type]


def test_revoked_issuer(world: World, receiver_bb: TrustContext) -> None:
    crl = revoke(world.aa.issuing_ca_crl, world.aa.issuing_ca, world.aa.authority("chamber-of-commerce").certificate,
                 moment=MOMENT - HOUR, reason=x509.ReasonFlags.cessation_of_operation)
    context = _with_crls(receiver_bb, world.aa_list, (world.aa.root_crl, crl))
    decision = _evaluate(context, world.aa.authority("chamber-of-commerce"))
    assert _codes(decision) == ["TRUST-CERT-REVOKED"]
    assert "cessationOfOperation" in decision.findings[0].message
    assert _evaluate(context, world.aa.authority("nppo"), PHYTO).trusted


def test_revocation_after_the_moment_is_a_warning_unless_the_key_was_compromised(
    world: World, receiver_bb: TrustContext
) -> None:
    chamber = world.aa.authority("chamber-of-commerce")
    later = revoke(world.aa.issuing_ca_crl, world.aa.issuing_ca, chamber.certificate, moment=MOMENT + HOUR,
                   reason=x509.ReasonFlags.superseded)
    decision = _evaluate(_with_crls(receiver_bb, world.aa_list, (world.aa.root_crl, later)), chamber)
    assert decision.trusted and _codes(decision, Severity.WARNING) == ["TRUST-CERT-REVOKED"]
    compromised = revoke(world.aa.issuing_ca_crl, world.aa.issuing_ca, chamber.certificate, moment=MOMENT + HOUR,
                         reason=x509.ReasonFlags.key_compromise)
    decision = _evaluate(_with_crls(receiver_bb, world.aa_list, (world.aa.root_crl, compromised)), chamber)
    assert _codes(decision) == ["TRUST-CERT-REVOKED"]


def test_revoked_issuing_ca_taints_its_issuers(world: World, receiver_bb: TrustContext) -> None:
    root_crl = revoke(world.aa.root_crl, world.aa.root, world.aa.issuing_ca.certificate, moment=MOMENT - HOUR)
    decision = _evaluate(_with_crls(receiver_bb, world.aa_list, (root_crl, world.aa.issuing_ca_crl)),
                         world.aa.authority("nppo"), PHYTO)
    assert _codes(decision) == ["TRUST-CERT-REVOKED"]
    assert "AA Issuing CA" in decision.findings[0].message


def test_missing_or_stale_or_forged_crl_means_revocation_unknown(world: World, receiver_bb: TrustContext) -> None:
    chamber = world.aa.authority("chamber-of-commerce")
    missing = _with_crls(receiver_bb, world.aa_list, (world.aa.root_crl,))
    assert _codes(_evaluate(missing, chamber)) == ["TRUST-REVOCATION-UNKNOWN"]
    stale = make_crl(world.aa.issuing_ca, this_update=MOMENT - 10 * DAY, next_update=MOMENT - DAY, number=7)
    decision = _evaluate(_with_crls(receiver_bb, world.aa_list, (world.aa.root_crl, stale)), chamber)
    assert _codes(decision) == ["TRUST-REVOCATION-UNKNOWN"]
    assert "next update due" in decision.findings[0].message
    # a CRL carrying AA Issuing CA's name but signed by BB's issuing CA key proves nothing
    forged_ca = Credential(world.bb.issuing_ca.key, world.aa.issuing_ca.certificate)
    forged = make_crl(forged_ca, this_update=MOMENT - HOUR, next_update=MOMENT + DAY, number=99)
    forged_context = _with_crls(receiver_bb, world.aa_list, (world.aa.root_crl, forged))
    assert _codes(_evaluate(forged_context, chamber)) == ["TRUST-REVOCATION-UNKNOWN"]
    relaxed = _with_crls(receiver_bb, world.aa_list, (world.aa.root_crl,), require_revocation=False)
    assert _evaluate(relaxed, chamber).trusted


# --- recognition and authorisation ------------------------------------------------------------------------


def test_plant_protection_issuer_may_not_sign_a_certificate_of_origin(world: World, receiver_bb: TrustContext) -> None:
    decision = _evaluate(receiver_bb, world.aa.authority("nppo"), COO)
    assert _codes(decision) == ["TRUST-ISSUER-NOT-AUTHORISED"]
    assert "authorised in AA's trust list (sequence 1) for phytosanitary-certificate" in decision.findings[0].message


def test_issuer_not_in_the_list(world: World, receiver_bb: TrustContext) -> None:
    decision = _evaluate(receiver_bb, world.aa.authority("unlisted"))
    assert _codes(decision) == ["TRUST-ISSUER-NOT-AUTHORISED"]
    assert "not listed" in decision.findings[0].message


def test_unknown_document_type_cannot_be_authorised(world: World, receiver_bb: TrustContext) -> None:
    assert _codes(_evaluate(receiver_bb, world.aa.authority("chamber-of-commerce"), None)) == [
        "TRUST-ISSUER-NOT-AUTHORISED"
    ]


def test_withdrawn_authorisation(world: World, receiver_bb: TrustContext) -> None:
    def withdraw(issuer: IssuerEntry) -> IssuerEntry:
        if issuer.name != "AA Chamber of Commerce":
            return issuer
        current = issuer.authorisation(COO)
        assert current is not None
        return issuer.with_authorisation(current.changed(AuthorisationStatus.WITHDRAWN, MOMENT - HOUR / 2))

    changed = replace(world.aa_list, issuers=tuple(withdraw(i) for i in world.aa_list.issuers))
    context = TrustContext(moment=MOMENT, recognitions=(Recognition(changed, basis="agreement AA-BB"),))
    decision = _evaluate(context, world.aa.authority("chamber-of-commerce"))
    assert _codes(decision) == ["TRUST-ISSUER-NOT-AUTHORISED"]
    assert "withdrawn" in decision.findings[0].message
    assert _evaluate(context.at(MOMENT - HOUR * 0.75), world.aa.authority("chamber-of-commerce")).trusted
    assert _evaluate(context, world.aa.authority("chamber-of-commerce"), "commercial-invoice").trusted


def test_type_not_covered_by_the_agreement_is_not_recognised(world: World, receiver_bb: TrustContext) -> None:
    decision = _evaluate(receiver_bb, world.aa.authority("chamber-of-commerce"), "commercial-invoice")
    assert _codes(decision) == ["TRUST-NOT-RECOGNISED"]
    assert "agreement AA-BB" in decision.findings[0].message


def test_recognition_is_bounded_in_time(world: World, receiver_bb: TrustContext) -> None:
    after = receiver_bb.at(MOMENT + 366 * DAY)
    codes = _codes(_evaluate(after, world.aa.authority("chamber-of-commerce")))
    assert "TRUST-NOT-RECOGNISED" in codes
    before = receiver_bb.at(MOMENT - 31 * DAY)
    assert "TRUST-NOT-RECOGNISED" in _codes(_evaluate(before, world.aa.authority("customs"), "customs-declaration"))


def test_expired_trust_list_recognises_nothing(world: World, receiver_bb: TrustContext) -> None:
    short = replace(world.aa_list, next_update=MOMENT - dt.timedelta(minutes=1))
    context = TrustContext(moment=MOMENT, recognitions=(Recognition(short),))
    decision = _evaluate(context, world.aa.authority("chamber-of-commerce"))
    assert _codes(decision) == ["TRUST-LIST-EXPIRED"]


def test_bare_anchor_accepts_any_correctly_issued_signer_and_says_so(world: World) -> None:
    context = TrustContext.from_anchors([world.aa.root.certificate], moment=MOMENT, crls=world.aa.crls)
    decision = _evaluate(context, world.aa.authority("unlisted"), None)
    assert decision.trusted
    assert _codes(decision, Severity.INFO) == ["TRUST-AUTHORISATION-UNCHECKED"]
    assert decision.issuer is None
    assert _codes(TrustContext.from_anchors([world.aa.root.certificate], moment=MOMENT).evaluate(
        world.aa.authority("nppo").certificate, world.aa.authority("nppo").signing_chain
    )) == ["TRUST-REVOCATION-UNKNOWN", "TRUST-REVOCATION-UNKNOWN"]  # signer and issuing CA


# --- the context itself ----------------------------------------------------------------------------------


def test_context_needs_explicit_aware_time_and_some_trust(world: World) -> None:
    with pytest.raises(ConfigurationError):
        TrustContext(moment=dt.datetime(2030, 1, 15), recognitions=(Recognition(world.aa_list),))  # noqa: DTZ001
    with pytest.raises(ConfigurationError) as raised:
        TrustContext(moment=MOMENT)
    assert raised.value.code is Code.CONFIG_INVALID


def test_at_shares_the_derived_index(receiver_bb: TrustContext) -> None:
    moved = receiver_bb.at(MOMENT + DAY)
    assert moved.moment == MOMENT + DAY and moved.recognitions == receiver_bb.recognitions
    assert moved._index is receiver_bb._index


def test_concurrent_evaluations_agree(world: World, receiver_bb: TrustContext) -> None:
    cases = [
        (world.aa.authority("chamber-of-commerce"), COO, True),
        (world.aa.authority("nppo"), COO, False),
        (world.aa.authority("expired"), COO, False),
        (world.cc.authority("customs"), "customs-declaration", False),
    ]
    failures: list[str] = []

    def run() -> None:
        for _ in range(25):
            for credential, doc_type, expected in cases:
                if _evaluate(receiver_bb, credential, doc_type).trusted is not expected:
                    failures.append(credential.name)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_rsa_scheme_is_evaluated_the_same_way() -> None:
    from exchange._pki import KeyType

    pki = build_country_pki(demo_country("DD", key_type=KeyType.RSA_2048), moment=MOMENT)
    context = TrustContext(moment=MOMENT, recognitions=(Recognition(_published(pki)),))
    assert _evaluate(context, pki.authority("customs"), "customs-declaration").trusted
    assert _codes(_evaluate(context, pki.authority("customs"), COO)) == ["TRUST-ISSUER-NOT-AUTHORISED"]


# --- three-valued outcome (issue 13, item 3) --------------------------------------------------------------


def test_outcome_is_passed_failed_or_indeterminate(world: World, receiver_bb: TrustContext) -> None:
    """As pyHanko's certvalidator: a definite fault FAILS, missing information is INDETERMINATE, and
    `trusted` is true only for PASSED, so a caller that looks only at `trusted` refuses both."""
    chamber = world.aa.authority("chamber-of-commerce")
    passed = _evaluate(receiver_bb, chamber)
    assert passed.status is TrustStatus.PASSED and passed.trusted

    unknown = _evaluate(_with_crls(receiver_bb, world.aa_list, (world.aa.root_crl,)), chamber)
    assert _codes(unknown) == ["TRUST-REVOCATION-UNKNOWN"]
    assert unknown.status is TrustStatus.INDETERMINATE and not unknown.trusted

    stale = make_crl(world.aa.issuing_ca, this_update=MOMENT - 10 * DAY, next_update=MOMENT - DAY, number=7)
    past_next_update = _evaluate(_with_crls(receiver_bb, world.aa_list, (world.aa.root_crl, stale)), chamber)
    assert past_next_update.status is TrustStatus.INDETERMINATE

    expired_list = replace(world.aa_list, next_update=MOMENT - dt.timedelta(minutes=1))
    stale_list = _evaluate(TrustContext(moment=MOMENT, recognitions=(Recognition(expired_list),)), chamber)
    assert _codes(stale_list) == ["TRUST-LIST-EXPIRED"] and stale_list.status is TrustStatus.INDETERMINATE

    assert _evaluate(receiver_bb, world.aa.authority("expired")).status is TrustStatus.FAILED
    assert _evaluate(receiver_bb, world.aa.authority("nppo"), COO).status is TrustStatus.FAILED
    assert _evaluate(receiver_bb, world.cc.authority("customs")).status is TrustStatus.FAILED


def test_a_definite_fault_outweighs_missing_information(world: World, receiver_bb: TrustContext) -> None:
    """Revocation unknown and not authorised for the type: FAILED, not INDETERMINATE."""
    context = _with_crls(receiver_bb, world.aa_list, (world.aa.root_crl,))
    decision = _evaluate(context, world.aa.authority("nppo"), COO)
    assert set(_codes(decision)) == {"TRUST-REVOCATION-UNKNOWN", "TRUST-ISSUER-NOT-AUTHORISED"}
    assert decision.status is TrustStatus.FAILED


def test_unchecked_revocation_by_named_weakening_passes(world: World, receiver_bb: TrustContext) -> None:
    relaxed = _with_crls(receiver_bb, world.aa_list, (world.aa.root_crl,), require_revocation=False)
    assert _evaluate(relaxed, world.aa.authority("chamber-of-commerce")).status is TrustStatus.PASSED


# --- issuer entries given by key identifier (issue 13, item 4) --------------------------------------------


def _with_ski(credential: Credential, issuer: Credential, ski: bytes) -> x509.Certificate:
    """A certificate for ``credential``'s key and name, issued by ``issuer``, whose SKI extension says ``ski``."""
    from cryptography.hazmat.primitives import hashes

    certificate = credential.certificate
    builder = (
        x509.CertificateBuilder()
        .subject_name(certificate.subject)
        .issuer_name(issuer.certificate.subject)
        .public_key(credential.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(certificate.not_valid_before_utc)
        .not_valid_after(certificate.not_valid_after_utc)
    )
    for extension in certificate.extensions:
        if not isinstance(extension.value, x509.SubjectKeyIdentifier):
            builder = builder.add_extension(extension.value, critical=extension.critical)
    builder = builder.add_extension(x509.SubjectKeyIdentifier(ski), critical=False)
    return builder.sign(issuer.key, hashes.SHA256())


def test_issuer_by_key_identifier_is_matched_on_the_key_not_the_ski_extension(world: World) -> None:
    """A list names the chamber by key identifier only. A certificate for another key under the same CA that
    copies the chamber's SKI extension value is not the chamber; the chamber's own certificate with an SKI
    value its CA chose differently still is."""
    chamber = world.aa.authority("chamber-of-commerce")
    entry = replace(IssuerEntry.for_credential(chamber, [COO], since=MOMENT - DAY), certificate=None)
    by_key = replace(world.aa_list, issuers=(entry,))
    context = TrustContext(moment=MOMENT, recognitions=(Recognition(by_key),))
    assert context.evaluate(chamber.certificate, chamber.signing_chain, document_type=COO).trusted

    unlisted = world.aa.authority("unlisted")
    copied = chamber.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    impostor = _with_ski(unlisted, world.aa.issuing_ca, copied)
    decision = context.evaluate(impostor, (impostor, world.aa.issuing_ca.certificate), document_type=COO)
    assert _codes(decision) == ["TRUST-ISSUER-NOT-AUTHORISED"]
    assert "not listed" in decision.findings[0].message

    other_ski = _with_ski(chamber, world.aa.issuing_ca, b"\x01" * 20)  # the same key, an SKI chosen by method 2
    assert context.evaluate(other_ski, (other_ski, world.aa.issuing_ca.certificate), document_type=COO).trusted


def test_remembered_decisions_follow_the_moment_across_every_instant_that_matters(
    world: World, receiver_bb: TrustContext
) -> None:
    """One context, the moment moving back and forth across a revocation date and a CRL's dates: the decision
    remembered per interval of time is always the one a fresh evaluation gives."""
    chamber = world.aa.authority("chamber-of-commerce")
    revoked_at = MOMENT + HOUR
    crl = revoke(world.aa.issuing_ca_crl, world.aa.issuing_ca, chamber.certificate, moment=revoked_at,
                 reason=x509.ReasonFlags.superseded)
    context = _with_crls(receiver_bb, world.aa_list, (world.aa.root_crl, crl))
    moments = [MOMENT, revoked_at + HOUR, MOMENT + 30 * SECOND, revoked_at, revoked_at - SECOND, revoked_at + HOUR,
               MOMENT, crl.last_update_utc, crl.next_update_utc + SECOND]
    for moment in moments:
        remembered = _evaluate(context.at(moment), chamber)
        fresh = _evaluate(_with_crls(receiver_bb, world.aa_list, (world.aa.root_crl, crl)).at(moment), chamber)
        assert (remembered.status, remembered.findings) == (fresh.status, fresh.findings), moment
    assert _codes(_evaluate(context.at(revoked_at + HOUR), chamber)) == ["TRUST-CERT-REVOKED"]
    assert _evaluate(context.at(MOMENT), chamber).trusted
