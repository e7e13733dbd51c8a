"""The one check engine (exchange/_engine.py) under both profiles: the same question is decided by the same code
at the gateway and at the node, codes say who decided, and the trust defects a review found stay fixed."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import pytest

from exchange._catalogue import default_catalogue
from exchange._engine import GATEWAY_PROFILE, NODE_PROFILE, STEP_ORDER, Engine, Outcome, Previous, Profile, Step
from exchange._errors import Code, Severity, TrustError
from exchange._findings import CheckStatus, Finding
from exchange._parties import WorkspaceParties, WorkspaceView
from exchange._trust import TrustDecision
from exchange._workspace import Workspace
from exchange._xml import XmlLimits
from tests.gateway import conftest as gateway_fixtures
from tests.gateway.conftest import MOMENT, MessageFactory
from tests.support.agreements import resign

# the gateway tests' demo workspace and message factory, shared (fixtures, used by name)
workspace_template = gateway_fixtures.workspace_template
workspace = gateway_fixtures.workspace
make_message = gateway_fixtures.make_message

LIMITS = XmlLimits(max_bytes=512 * 1024)
MESSAGE_ID = "msg-0000000000000001"


def engines(workspace: Workspace, view: type[WorkspaceView] = WorkspaceView) -> dict[str, Engine]:
    catalogue = default_catalogue()
    return {
        "gateway": Engine(GATEWAY_PROFILE, catalogue=catalogue, parties=WorkspaceParties(workspace, view=view),
                          limits=LIMITS),
        "node": Engine(NODE_PROFILE, catalogue=catalogue, parties=WorkspaceParties(workspace, "BB", view=view),
                       limits=LIMITS),
    }


def run(engine: Engine, body: bytes, **kwargs: Any) -> Outcome:
    if engine.profile is NODE_PROFILE:
        kwargs.setdefault("delivery_id", MESSAGE_ID)
    return engine.run(body, moment=MOMENT, **kwargs)


def failed(outcome: Outcome) -> dict[str, list[str]]:
    return {c.name: [f.code for f in c.findings] for c in outcome.checks if c.status is CheckStatus.FAILED}


def test_both_profiles_accept_a_good_message_with_their_own_steps(workspace: Workspace,
                                                                  make_message: MessageFactory) -> None:
    message = make_message()
    for name, engine in engines(workspace).items():
        outcome = run(engine, message)
        assert outcome.accepted and outcome.http_status == 202, (name, failed(outcome))
        assert [c.name for c in outcome.checks] == [step.value for step in engine.profile.steps]
        assert outcome.document is not None and outcome.issuer == "AA Chamber of Commerce"
    assert {Step.SIZE, Step.DUPLICATE}.isdisjoint(NODE_PROFILE.steps) and GATEWAY_PROFILE.steps == STEP_ORDER


@pytest.mark.parametrize(("make", "step", "suffix"), [
    ({"signed_by_node": "BB"}, "sender-authentication", "SENDER-MISMATCH"),
    ({"envelope_type": "phytosanitary-certificate"}, "document-type", "PAYLOAD-MISMATCH"),
])
def test_a_decision_of_the_service_carries_its_prefix(workspace: Workspace, make_message: MessageFactory,
                                                      make: dict[str, Any], step: str, suffix: str) -> None:
    message = make_message(**make)
    for name, engine in engines(workspace).items():
        codes = failed(run(engine, message))[step]
        assert f"{engine.profile.decider}-{suffix}" in codes, (name, codes)


def test_the_same_document_fault_has_the_same_code_at_both(workspace: Workspace,
                                                           make_message: MessageFactory) -> None:
    tampered = make_message(tamper_document=lambda data: data.replace(b"Growers", b"Grovers", 1)
                            if b"Growers" in data else data.replace(b"</", b" </", 1))
    self_addressed = make_message(receiver="AA")
    answers = {name: (failed(run(engine, tampered)), failed(run(engine, self_addressed)))
               for name, engine in engines(workspace).items()}
    assert answers["gateway"] == answers["node"]
    assert answers["gateway"][1] == {"envelope-schema": ["ENV-PARTY-01"]}  # the envelope rule, at both
    assert "SIG-DIGEST-MISMATCH" in answers["gateway"][0]["document-signature"]


def test_an_identical_resend_has_its_own_code_at_info(workspace: Workspace, make_message: MessageFactory) -> None:
    """Was: GW-DUPLICATE-CONFLICT at INFO, the code of a conflicting duplicate."""
    message = make_message()
    gateway = engines(workspace)["gateway"]
    first = run(gateway, message)
    earlier = Previous(digest=first.digest, answer=first.to_dict())
    again = run(gateway, message, duplicates=lambda message_id: earlier)
    assert again.http_status == 200 and again.previous is earlier
    [finding] = again.check("duplicate").findings
    assert (finding.code, finding.severity) == ("GW-DUPLICATE-RESEND", Severity.INFO)
    other = run(gateway, make_message("commercial-invoice"), duplicates=lambda message_id: earlier)
    assert other.http_status == 409 and failed(other) == {"duplicate": ["GW-DUPLICATE-CONFLICT"]}


@dataclass(frozen=True)
class _FixedTrust:
    """A trust context whose every evaluation gives ``decision``."""

    decision: Any

    def evaluate(self, *args: Any, **kwargs: Any) -> Any:
        return self.decision


def _view_with_sender_decision(decision: Any) -> type[WorkspaceView]:
    class View(WorkspaceView):
        def node_trust(self, party: str) -> Any:
            return _FixedTrust(decision)
    return View


@pytest.mark.parametrize("code", [Code.TRUST_KEY_USAGE, Code.TRUST_LIST_EXPIRED, Code.TRUST_NOT_RECOGNISED])
def test_every_error_about_the_sending_node_refuses(workspace: Workspace, make_message: MessageFactory,
                                                    code: Code) -> None:
    """Was: the gateway kept five node-certificate codes and dropped the rest (key usage, expired list, ...)."""
    decision = TrustDecision(False, (Finding.of(code, "trust", "as the receiver's trust says"),))
    for name, engine in engines(workspace, _view_with_sender_decision(decision)).items():
        outcome = run(engine, make_message())
        assert outcome.http_status == 403 and not outcome.accepted, name
        codes = failed(outcome)["sender-authentication"]
        assert codes[0] == code.value and codes[-1] == f"{engine.profile.decider}-SENDER-CERT-INVALID", codes


@dataclass(frozen=True)
class _Undetermined:
    """A decision that found no error but could not decide (the trust library's INDETERMINATE)."""

    findings: tuple[Finding, ...] = (Finding.of(Code.TRUST_REVOCATION_UNKNOWN, "trust", "no CRL covers it",
                                                severity=Severity.WARNING),)
    trusted: bool = False
    status: str = "INDETERMINATE"
    issuer: Any = None
    chain: tuple[Any, ...] = ()


def test_an_indeterminate_trust_decision_is_refused_with_the_deciders_code(workspace: Workspace,
                                                                           make_message: MessageFactory) -> None:
    for name, engine in engines(workspace, _view_with_sender_decision(_Undetermined())).items():
        codes = failed(run(engine, make_message()))["sender-authentication"]
        assert f"{engine.profile.decider}-TRUST-INDETERMINATE" in codes, (name, codes)
    lenient = replace(GATEWAY_PROFILE, refuse_indeterminate=False)
    engine = Engine(lenient, catalogue=default_catalogue(), limits=LIMITS,
                    parties=WorkspaceParties(workspace, view=_view_with_sender_decision(_Undetermined())))
    assert "GW-TRUST-INDETERMINATE" not in run(engine, make_message()).codes


def _without_invoices(terms: dict[str, Any]) -> None:
    for flow in terms["flows"]:
        flow["document_types"] = [t for t in flow["document_types"] if t != "commercial-invoice"]


def test_an_agreement_changed_on_disk_counts_from_the_next_message(workspace: Workspace,
                                                                   make_message: MessageFactory) -> None:
    """One reload point: routing reads the agreements of the same view as trust (was: frozen at start-up)."""
    gateway = engines(workspace)["gateway"]
    assert run(gateway, make_message("commercial-invoice")).accepted
    [relative] = workspace.index.agreements
    path = workspace.file(relative)
    resign(workspace, path, _without_invoices)
    refused = run(gateway, make_message("commercial-invoice"))
    assert refused.http_status == 403 and "GW-NO-AGREEMENT" in failed(refused)["routing"]
    assert run(gateway, make_message("certificate-of-origin", message_id="msg-0000000000000002")).accepted


def test_profiles_name_only_codes_of_the_catalogue() -> None:
    for profile in (GATEWAY_PROFILE, NODE_PROFILE):
        for suffix in ("PARTY-SCHEME", "SENDER-UNKNOWN", "SENDER-NOT-AUTHENTICATED", "SENDER-MISMATCH",
                       "SENDER-CERT-INVALID", "TRANSPORT-IDENTITY", "NO-AGREEMENT", "PAYLOAD-MISMATCH",
                       "TRUST-INDETERMINATE"):
            assert profile.code(suffix).value == f"{profile.decider}-{suffix}"
    assert GATEWAY_PROFILE.code("DUPLICATE-RESEND") is Code.GW_DUPLICATE_RESEND
    with pytest.raises(ValueError):
        Profile("backwards", "GW", (Step.PARSE, Step.SIZE), Code.GW_RECEIVER_UNKNOWN)


def test_a_view_answers_from_one_snapshot_even_when_files_change_under_it(workspace: Workspace) -> None:
    """One reload point: routing and trust of one message see the same agreement, whatever happens on disk."""
    parties = WorkspaceParties(workspace)
    view = parties.view(moment=MOMENT)
    [relative] = workspace.index.agreements
    path = workspace.file(relative)
    resign(workspace, path, _without_invoices)

    def recognised(trust: Any) -> set[str]:
        return {t for r in trust.recognitions if r.basis.startswith("agreement") for t in r.document_types or ()}

    assert view.agreements_for("AA", "BB", "commercial-invoice")  # the old version, for routing ...
    assert "commercial-invoice" in recognised(view.trust_for("BB"))  # ... and for trust alike
    fresh = parties.view(moment=MOMENT)
    assert not fresh.agreements_for("AA", "BB", "commercial-invoice")
    assert "commercial-invoice" not in recognised(fresh.trust_for("BB"))
    assert fresh.snapshot is parties.view(moment=MOMENT).snapshot  # unchanged files: the same snapshot again


def test_an_older_trust_list_put_back_on_disk_is_a_rollback_refused(workspace: Workspace) -> None:
    """No rollback under a running service: once it used sequence 2 of AA's list, sequence 1 again is refused."""
    parties = WorkspaceParties(workspace)
    path = workspace.file(workspace.country("AA").trust_list)
    first = path.read_bytes()
    assert parties.view(moment=MOMENT).trust_for("BB") is not None
    later = MOMENT + timedelta(hours=1)
    assert workspace.renew("AA", moment=later) == 2
    assert parties.view(moment=later).trust_for("BB") is not None  # sequence 2 now held
    path.write_bytes(first)
    with pytest.raises(TrustError) as raised:
        parties.view(moment=later).trust_for("BB")
    assert raised.value.code is Code.TRUST_LIST_ROLLBACK
