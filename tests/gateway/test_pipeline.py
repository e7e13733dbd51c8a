"""The pipeline matrix, in process: each bad input is refused by its named check with its code and status."""

from __future__ import annotations

from pathlib import Path

import pytest

from exchange._catalogue import default_catalogue
from exchange._findings import CheckStatus
from exchange._parties import WorkspaceView
from exchange._workspace import Workspace
from gateway._pipeline import CHECK_ORDER, Outcome, Pipeline, Previous, Verdict, WorkspaceMembers
from tests.gateway.conftest import MOMENT, MessageFactory, sample

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def pipeline(workspace: Workspace) -> Pipeline:
    return Pipeline(catalogue=default_catalogue(), members=WorkspaceMembers(workspace), max_bytes=512 * 1024)


def run(pipeline: Pipeline, body: bytes, **kwargs: object) -> Outcome:
    return pipeline.run(body, moment=MOMENT, **kwargs)  # type: ignore[arg-type]


def failed(outcome: Outcome) -> dict[str, list[str]]:
    return {c.name: [f.code for f in c.findings] for c in outcome.checks if c.status is CheckStatus.FAILED}


@pytest.mark.parametrize(
    "type_id", ["certificate-of-origin", "phytosanitary-certificate", "commercial-invoice", "customs-declaration"]
)
def test_each_trade_document_is_accepted(pipeline: Pipeline, make_message: MessageFactory, type_id: str) -> None:
    outcome = run(pipeline, make_message(type_id))
    assert outcome.verdict is Verdict.ACCEPTED and outcome.http_status == 202, failed(outcome)
    assert [c.name for c in outcome.checks] == list(CHECK_ORDER)
    assert all(c.status is CheckStatus.PASSED for c in outcome.checks)
    assert outcome.header is not None and outcome.header.payload.startswith(b"<?xml")
    assert outcome.agreement_id and outcome.message_id == "msg-0000000000000001"
    body = outcome.to_dict()
    assert set(body) >= {"message_id", "verdict", "status", "checks", "received_at"}


def test_too_large(pipeline: Pipeline) -> None:
    outcome = run(pipeline, b"<a>" + b"x" * (600 * 1024) + b"</a>")
    assert (outcome.http_status, failed(outcome)) == (413, {"size": ["XML-TOO-LARGE"]})
    assert all(c.status is CheckStatus.SKIPPED for c in outcome.checks[1:])


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"<Envelope", "XML-MALFORMED"),
        (b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>', "XML-EXTERNAL-FORBIDDEN"),
        (b"<a>" * 5000 + b"</a>" * 5000, "XML-TOO-DEEP"),
    ],
)
def test_hostile_or_broken_xml(pipeline: Pipeline, body: bytes, code: str) -> None:
    outcome = run(pipeline, body)
    assert (outcome.http_status, failed(outcome)) == (422, {"parse": [code]})


def test_not_an_envelope(pipeline: Pipeline) -> None:
    outcome = run(pipeline, sample("certificate-of-origin"))
    assert outcome.http_status == 422 and failed(outcome) == {"envelope-schema": ["DOCTYPE-MISMATCH"]}


def test_envelope_schema_findings_are_located(pipeline: Pipeline, make_message: MessageFactory) -> None:
    body = make_message().replace(b"<HeaderVersion>1.0</HeaderVersion>", b"<HeaderVersion>2.0</HeaderVersion>")
    outcome = run(pipeline, body)
    [finding] = outcome.check("envelope-schema").findings
    assert outcome.http_status == 422 and finding.path == "/Envelope/Header/HeaderVersion" and finding.line


def test_unsigned_envelope(pipeline: Pipeline, make_message: MessageFactory) -> None:
    outcome = run(pipeline, make_message(sign_envelope=False))
    assert outcome.http_status == 401
    assert failed(outcome) == {"sender-authentication": ["SIG-MISSING", "GW-SENDER-NOT-AUTHENTICATED"]}
    assert outcome.check("routing").status is CheckStatus.SKIPPED and not outcome.authenticated


def test_header_changed_after_node_signed(pipeline: Pipeline, make_message: MessageFactory) -> None:
    body = make_message().replace(b"<Identifier Authority=\"iso3166-1\">BB<", b"<Identifier Authority=\"iso3166-1\">CC<")
    outcome = run(pipeline, body)
    assert outcome.http_status == 401
    assert failed(outcome)["sender-authentication"][0] == "SIG-DIGEST-MISMATCH"


def test_sender_spoofing(pipeline: Pipeline, make_message: MessageFactory) -> None:
    outcome = run(pipeline, make_message(signed_by_node="BB"))
    assert (outcome.http_status, failed(outcome)) == (403, {"sender-authentication": ["GW-SENDER-MISMATCH"]})


def test_unknown_sender(pipeline: Pipeline, make_message: MessageFactory) -> None:
    outcome = run(pipeline, make_message(sender="ZZ"))
    assert (outcome.http_status, failed(outcome)) == (401, {"sender-authentication": ["GW-SENDER-UNKNOWN"]})


def test_transport_identity_must_match(pipeline: Pipeline, make_message: MessageFactory) -> None:
    outcome = run(pipeline, make_message(), transport_party="BB")
    assert (outcome.http_status, failed(outcome)) == (403, {"sender-authentication": ["GW-TRANSPORT-IDENTITY"]})
    assert run(pipeline, make_message(), transport_party="AA").accepted


def test_routing(pipeline: Pipeline, make_message: MessageFactory) -> None:
    outcome = run(pipeline, make_message(receiver="CC"))
    assert outcome.http_status == 403 and failed(outcome) == {"routing": ["GW-RECEIVER-UNKNOWN"]}
    assert outcome.check("issuer-trust").status is CheckStatus.SKIPPED
    assert outcome.check("document-signature").status is CheckStatus.PASSED  # still checked, for the report


def test_self_addressed_is_the_envelope_rule_at_gateway_and_node(pipeline: Pipeline, make_message: MessageFactory) -> None:
    """One fault, one code: the envelope's own rule ENV-PARTY-01 (the node runs the same step)."""
    outcome = run(pipeline, make_message(receiver="AA"))
    assert outcome.http_status == 422 and failed(outcome) == {"envelope-schema": ["ENV-PARTY-01"]}


def test_no_agreement_for_this_flow(workspace: Workspace, make_message: MessageFactory) -> None:
    class NoInvoices(WorkspaceView):
        def agreements_for(self, sender: str, receiver: str, document_type: str) -> tuple[str, ...]:
            return () if document_type == "commercial-invoice" else super().agreements_for(
                sender, receiver, document_type)

    pipeline = Pipeline(catalogue=default_catalogue(), members=WorkspaceMembers(workspace, view=NoInvoices),
                        max_bytes=512 * 1024)
    outcome = run(pipeline, make_message("commercial-invoice"))
    assert outcome.http_status == 403 and failed(outcome) == {"routing": ["GW-NO-AGREEMENT"]}
    assert run(pipeline, make_message("certificate-of-origin")).accepted


def test_every_finding_is_reported_not_only_the_first(workspace: Workspace, make_message: MessageFactory) -> None:
    class NoAgreements(WorkspaceView):
        def agreements_for(self, sender: str, receiver: str, document_type: str) -> tuple[str, ...]:
            return ()

    pipeline = Pipeline(catalogue=default_catalogue(), members=WorkspaceMembers(workspace, view=NoAgreements),
                        max_bytes=512 * 1024)
    invalid = sample("certificate-of-origin", "gross-below-net.xml")
    outcome = run(pipeline, make_message(document=invalid))
    assert failed(outcome) == {"routing": ["GW-NO-AGREEMENT"], "document-rules": ["COO-MASS-01"]}


def test_unknown_document_type(pipeline: Pipeline, make_message: MessageFactory) -> None:
    outcome = run(pipeline, make_message(envelope_type="bill-of-lading"))
    assert failed(outcome)["document-type"] == ["DOCTYPE-UNKNOWN"]
    assert "routing" in failed(outcome)  # no agreement names an unknown type either


def test_payload_does_not_match_the_named_type(pipeline: Pipeline, make_message: MessageFactory) -> None:
    body = make_message("certificate-of-origin", document=sample("phytosanitary-certificate"), issuer="nppo")
    outcome = run(pipeline, body)
    assert outcome.http_status == 422 and failed(outcome) == {"document-type": ["GW-PAYLOAD-MISMATCH"]}


def test_schema_invalid_document_is_located(pipeline: Pipeline, make_message: MessageFactory) -> None:
    invalid = sample("certificate-of-origin", "issue-time-without-t.xml")
    outcome = run(pipeline, make_message(document=invalid))
    assert outcome.http_status == 422 and failed(outcome) == {"document-schema": ["SCHEMA-VALUE-INVALID"]}
    [finding] = outcome.check("document-schema").findings
    assert finding.line and finding.path and finding.path.startswith("/CertificateOfOrigin/")
    assert outcome.check("document-rules").status is CheckStatus.SKIPPED


def test_business_rule(pipeline: Pipeline, make_message: MessageFactory) -> None:
    outcome = run(pipeline, make_message(document=sample("certificate-of-origin", "gross-below-net.xml")))
    assert outcome.http_status == 422 and failed(outcome) == {"document-rules": ["COO-MASS-01"]}


def test_one_byte_changed_after_signing(pipeline: Pipeline, make_message: MessageFactory) -> None:
    outcome = run(pipeline, make_message(tamper_document=lambda d: d.replace(b"AA-COO-2026-000184",
                                                                             b"AA-COO-2026-000185")))
    assert outcome.http_status == 422 and failed(outcome) == {"document-signature": ["SIG-DIGEST-MISMATCH"]}
    assert outcome.check("issuer-trust").status is CheckStatus.SKIPPED


def test_unsigned_document(pipeline: Pipeline, make_message: MessageFactory) -> None:
    outcome = run(pipeline, make_message(sign_document_=False))
    assert failed(outcome) == {"document-signature": ["SIG-MISSING"]}


def test_issuer_not_authorised_for_the_type(pipeline: Pipeline, make_message: MessageFactory) -> None:
    outcome = run(pipeline, make_message("certificate-of-origin", issuer="nppo"))
    assert outcome.http_status == 422 and failed(outcome) == {"issuer-trust": ["TRUST-ISSUER-NOT-AUTHORISED"]}


def test_revoked_issuer(workspace: Workspace, make_message: MessageFactory) -> None:
    body = make_message()
    workspace.revoke("AA/chamber-of-commerce", moment=MOMENT.replace(hour=1))
    pipeline = Pipeline(catalogue=default_catalogue(), members=WorkspaceMembers(workspace), max_bytes=512 * 1024)
    outcome = run(pipeline, body)
    assert "TRUST-CERT-REVOKED" in failed(outcome)["issuer-trust"]


def test_identical_resend_and_conflict(pipeline: Pipeline, make_message: MessageFactory) -> None:
    body = make_message()
    first = run(pipeline, body)
    previous = Previous(digest=first.digest, answer=first.to_dict())
    again = run(pipeline, body, duplicates=lambda message_id: previous)
    assert again.http_status == 200 and again.previous is previous
    other = make_message("phytosanitary-certificate")  # same message id, other bytes
    conflict = run(pipeline, other, duplicates=lambda message_id: previous)
    assert (conflict.http_status, failed(conflict)) == (409, {"duplicate": ["GW-DUPLICATE-CONFLICT"]})


def test_a_type_without_business_rules_is_accepted(workspace: Workspace, make_message: MessageFactory,
                                                   tmp_path: Path) -> None:
    """Rules are optional in a manifest: a type without them passes with document-rules skipped."""
    import shutil

    from exchange._catalogue import Catalogue, load_document_type

    folder = tmp_path / "certificate-of-origin"
    shutil.copytree(default_catalogue().get("certificate-of-origin").folder, folder)
    manifest = folder / "manifest.yaml"
    manifest.write_text(manifest.read_text().replace("rules: rules.sch\n", ""))
    rules_less = load_document_type(folder)
    assert rules_less.rules_path is None
    catalogue = Catalogue([*(t for t in default_catalogue() if t.id != rules_less.id), rules_less])
    pipeline = Pipeline(catalogue=catalogue, members=WorkspaceMembers(workspace), max_bytes=512 * 1024)
    outcome = run(pipeline, make_message())
    assert outcome.http_status == 202 and outcome.accepted, failed(outcome)
    assert outcome.check("document-rules").status is CheckStatus.SKIPPED
    assert outcome.check("document-schema").status is CheckStatus.PASSED
    rule_broken = run(pipeline, make_message(document=sample("certificate-of-origin", "gross-below-net.xml"),
                                            message_id="msg-0000000000000002"))
    assert rule_broken.accepted, "without rules, a rule-only fault is not checked"
