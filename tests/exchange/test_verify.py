"""verify_document (exchange._verify): signature and trust together, on real catalogue samples."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from exchange._dsig import sign_document, verify_signature
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
)
from exchange._trust import Recognition, TrustContext
from exchange._trustlist import TrustList
from exchange._validation import Verdict
from exchange._verify import VerificationResult, verify_document

MOMENT = dt.datetime(2030, 1, 15, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
COO_SAMPLE = SCHEMAS / "certificate-of-origin" / "samples" / "valid" / "basic.xml"
PHYTO_SAMPLE = next((SCHEMAS / "phytosanitary-certificate" / "samples" / "valid").glob("*.xml"))


@dataclass(frozen=True)
class Setup:
    aa: CountryPki
    trust: TrustContext


@pytest.fixture(scope="module")
def setup() -> Setup:
    spec = CountrySpec(
        code="AA",
        name="Country AA",
        authorities=(
            *demo_country("AA").authorities,
            AuthoritySpec("expired", "AA Expired Chamber", ("certificate-of-origin",), valid_from=-400 * DAY,
                          valid_for=365 * DAY),
            AuthoritySpec("future", "AA Future Chamber", ("certificate-of-origin",), valid_from=10 * DAY),
            AuthoritySpec("wrong-usage", "AA Wrong Usage", ("certificate-of-origin",),
                          key_usage_bits=("key_agreement",)),
        ),
    )
    aa = build_country_pki(spec, moment=MOMENT)
    published = TrustList.from_pki(aa, sequence_number=1, issued_at=MOMENT, granted_since=MOMENT - DAY)
    return Setup(aa, TrustContext(moment=MOMENT, recognitions=(Recognition(published, basis="agreement AA-BB"),)))


def _sign(credential: Credential, path: Path = COO_SAMPLE) -> bytes:
    return sign_document(path.read_bytes(), credential.key, list(credential.signing_chain))


def _errors(result: VerificationResult) -> list[str]:
    return [finding.code for finding in result.findings if finding.is_error]


def test_valid_document(setup: Setup) -> None:
    chamber = setup.aa.authority("chamber-of-commerce")
    signed = _sign(chamber)
    result = verify_document(signed, trust=setup.trust)
    assert result.verdict is Verdict.VALID and result.valid
    assert result.findings == ()
    assert result.document_type == "certificate-of-origin"  # detected from the signed root
    assert result.signer == chamber.certificate
    assert result.signer_name == "AA Chamber of Commerce"
    assert result.scheme == "AA"
    assert result.chain == (chamber.certificate, setup.aa.issuing_ca.certificate, setup.aa.root.certificate)
    assert result.signed_content == verify_signature(signed).signed_content
    assert result.moment == MOMENT and result.signing_time is None
    assert result.signature_method == "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"


def test_result_as_json(setup: Setup) -> None:
    result = verify_document(_sign(setup.aa.authority("nppo")), trust=setup.trust,
                             document_type="certificate-of-origin")
    data = json.loads(json.dumps(result.to_dict()))
    assert data["verdict"] == "invalid"
    assert data["signer"]["subject"].startswith("CN=AA NPPO")
    assert [c["subject"].split(",")[0] for c in data["chain"]] == ["CN=AA NPPO", "CN=AA Issuing CA", "CN=AA Root CA"]
    assert [f["code"] for f in data["findings"]] == ["TRUST-ISSUER-NOT-AUTHORISED"]
    assert {"code", "severity", "check", "message", "line", "column", "path"} <= set(data["findings"][0])


def test_one_changed_byte_is_a_digest_mismatch_and_trust_is_not_evaluated(setup: Setup) -> None:
    signed = _sign(setup.aa.authority("chamber-of-commerce"))
    position = signed.index(b"</", 200)
    tampered = signed[:position - 1] + bytes([signed[position - 1] ^ 0x01]) + signed[position:]
    result = verify_document(tampered, trust=setup.trust)
    assert _errors(result) == ["SIG-DIGEST-MISMATCH"]
    assert result.signed_content is None and result.chain == ()
    assert all(finding.check == "document-signature" for finding in result.findings)


def test_unsigned_document(setup: Setup) -> None:
    result = verify_document(COO_SAMPLE.read_bytes(), trust=setup.trust)
    assert _errors(result) == ["SIG-MISSING"] and not result.valid


def test_self_signed_certificate_in_keyinfo(setup: Setup) -> None:
    key = generate_key()
    certificate = issue_certificate(
        subject=setup.aa.authority("chamber-of-commerce").certificate.subject, public_key=key.public_key(),
        issuer=None, issuer_key=key, role=Role.DOCUMENT_SIGNER, not_before=MOMENT - DAY, not_after=MOMENT + DAY,
    )
    result = verify_document(_sign(Credential(key, certificate)), trust=setup.trust)
    assert _errors(result) == ["TRUST-CHAIN-UNTRUSTED"]
    assert result.signed_content is None


@pytest.mark.parametrize(
    ("slug", "code"),
    [
        ("expired", "TRUST-CERT-EXPIRED"),
        ("future", "TRUST-CERT-NOT-YET-VALID"),
        ("wrong-usage", "TRUST-KEY-USAGE"),
    ],
)
def test_issuer_refused_with_its_code(setup: Setup, slug: str, code: str) -> None:
    result = verify_document(_sign(setup.aa.authority(slug)), trust=setup.trust)
    assert _errors(result) == [code]
    assert result.verdict is Verdict.INVALID


def test_plant_protection_issuer_signing_a_certificate_of_origin(setup: Setup) -> None:
    nppo = setup.aa.authority("nppo")
    assert verify_document(_sign(nppo, PHYTO_SAMPLE), trust=setup.trust).valid
    result = verify_document(_sign(nppo), trust=setup.trust)
    assert result.document_type == "certificate-of-origin"
    assert _errors(result) == ["TRUST-ISSUER-NOT-AUTHORISED"]


def test_claimed_type_is_what_authorisation_is_checked_against(setup: Setup) -> None:
    signed = _sign(setup.aa.authority("chamber-of-commerce"))
    result = verify_document(signed, trust=setup.trust, document_type="phytosanitary-certificate")
    assert _errors(result) == ["DOCTYPE-MISMATCH", "TRUST-ISSUER-NOT-AUTHORISED"]
    assert result.findings[0].check == "document-type"


def test_a_false_claim_cannot_borrow_another_types_authorisation(setup: Setup) -> None:
    """The NPPO signs a certificate of origin and claims it is a phytosanitary certificate."""
    result = verify_document(_sign(setup.aa.authority("nppo")), trust=setup.trust,
                             document_type="phytosanitary-certificate")
    assert _errors(result) == ["DOCTYPE-MISMATCH"]
    assert not result.valid and result.signed_content is None


def test_a_claimed_type_outside_the_catalogue_is_authorised_as_claimed(setup: Setup) -> None:
    chamber = setup.aa.authority("chamber-of-commerce")
    signed = sign_document(b"<Memo xmlns='urn:example:memo'>hi</Memo>", chamber.key, list(chamber.signing_chain))
    result = verify_document(signed, trust=setup.trust, document_type="memo")
    assert _errors(result) == ["TRUST-ISSUER-NOT-AUTHORISED"]


def test_unknown_root_cannot_be_authorised(setup: Setup) -> None:
    chamber = setup.aa.authority("chamber-of-commerce")
    signed = sign_document(b"<Memo xmlns='urn:example:memo'>hi</Memo>", chamber.key, list(chamber.signing_chain))
    result = verify_document(signed, trust=setup.trust)
    assert result.document_type is None
    assert _errors(result) == ["TRUST-ISSUER-NOT-AUTHORISED"]


def test_trust_must_be_a_context(setup: Setup) -> None:
    with pytest.raises(TypeError):
        verify_document(b"<a/>", trust=None)  # type: ignore[arg-type]


def test_the_bottom_line_is_passed_failed_or_indeterminate() -> None:
    """Signature decisions are three-valued like trust decisions: a definite fault FAILS, missing information
    (revocation status unknown) is INDETERMINATE, and only PASSED is valid."""
    from exchange._errors import Code, Severity
    from exchange._findings import Finding
    from exchange._trust import TrustStatus
    from exchange._validation import Verdict
    from exchange._verify import VerificationResult

    unknown = Finding.of(Code.TRUST_REVOCATION_UNKNOWN, "issuer-trust", "no CRL covers the signer")
    digest = Finding.of(Code.SIG_DIGEST_MISMATCH, "document-signature", "changed")
    warning = Finding.of(Code.TRUST_REVOCATION_UNKNOWN, "issuer-trust", "noted", severity=Severity.WARNING)

    def result(*findings: Finding) -> VerificationResult:
        verdict = Verdict.INVALID if any(f.is_error for f in findings) else Verdict.VALID
        return VerificationResult(verdict=verdict, findings=findings, moment=MOMENT)

    assert result().status is TrustStatus.PASSED and result(warning).status is TrustStatus.PASSED
    assert result(unknown).status is TrustStatus.INDETERMINATE and not result(unknown).valid
    assert result(unknown, digest).status is TrustStatus.FAILED
    assert result(unknown).to_dict()["status"] == "indeterminate"
