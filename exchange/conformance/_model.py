"""What a conformance run is made of: the scenario registry, each scenario's result, and the run's report.

A :class:`Scenario` is one thing the kit plays against the system under test, with the clauses of
``docs/protocol.md`` it tests. Every MUST clause there is referenced by at least one scenario of
:data:`SCENARIOS` (``tests/exchange/conformance/test_coverage.py`` holds the two together). A scenario that
runs once per document type (``node.valid``) reports one :class:`Result` per type, named ``node.valid[TYPE]``.

A :class:`Result` says pass, fail or not applicable, the clauses, what was sent, what came back and why it is
judged so: enough for an integrator to see what their system did without reading the kit's code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from exchange._i18n import N_


class Outcome(StrEnum):
    """How a scenario ended. The values are what the reports show (JSON, JUnit, text)."""

    PASS = "pass"
    FAIL = "fail"
    NOT_APPLICABLE = "not-applicable"


class Target(StrEnum):
    """The role of the system under test."""

    NODE = "node"
    GATEWAY = "gateway"


@dataclass(frozen=True, slots=True)
class Scenario:
    """One scenario of the kit: its id, the role it tests, the clauses it checks and what it does (``title``: English,
    marked for the catalogues; the text and HTML reports show it translated)."""

    id: str
    target: Target
    clauses: tuple[str, ...]
    title: str
    per_type: bool = False


@dataclass(frozen=True, slots=True)
class Exchange:
    """One HTTP exchange of a scenario, as the report shows it (bodies shortened)."""

    request: str
    response: str

    def to_dict(self) -> dict[str, str]:
        return {"request": self.request, "response": self.response}


@dataclass(frozen=True, slots=True)
class Result:
    """The outcome of one scenario (``name`` adds the document type of a per-type scenario)."""

    scenario: Scenario
    name: str
    outcome: Outcome
    reason: str
    exchanges: tuple[Exchange, ...] = ()
    seconds: float = 0.0

    @property
    def clauses(self) -> tuple[str, ...]:
        return self.scenario.clauses

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.name,
            "title": self.scenario.title,
            "clauses": list(self.clauses),
            "outcome": self.outcome.value,
            "reason": self.reason,
            "exchanges": [exchange.to_dict() for exchange in self.exchanges],
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True, slots=True)
class Report:
    """One run of the kit against one system."""

    target: Target
    url: str
    started: datetime
    results: tuple[Result, ...] = field(default=())

    def count(self, outcome: Outcome) -> int:
        return sum(1 for result in self.results if result.outcome is outcome)

    @property
    def passed(self) -> bool:
        """No scenario failed (not applicable ones do not fail a run)."""
        return self.count(Outcome.FAIL) == 0

    def failed(self) -> tuple[str, ...]:
        return tuple(result.name for result in self.results if result.outcome is Outcome.FAIL)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target.value,
            "url": self.url,
            "started": self.started.isoformat().replace("+00:00", "Z"),
            "passed": self.passed,
            "counts": {outcome.value: self.count(outcome) for outcome in Outcome},
            "results": [result.to_dict() for result in self.results],
        }


def _scenarios(*items: Scenario) -> Mapping[str, Scenario]:
    return MappingProxyType({item.id: item for item in items})


_N = Target.NODE
_G = Target.GATEWAY

#: Every scenario of the kit, in the order it plays them. Clause ids are those of docs/protocol.md.
SCENARIOS: Mapping[str, Scenario] = _scenarios(
    # --- the kit plays the gateway towards a node ---------------------------------------------------------
    Scenario("node.package", _N, ("P-PKG-1", "P-PKG-2"),
             N_("the node's country package held by the tester verifies under its anchor and names a node")),
    Scenario("node.valid", _N, ("P-ENV-1", "P-ENV-2", "P-ENV-4", "P-ENV-5", "P-SIG-1", "P-SIG-2", "P-DLV-1",
                                "P-RCPT-1", "P-RCPT-2", "P-RCPT-3"),
             N_("a valid envelope delivered by the gateway is answered with a signed RECEIVED receipt"), per_type=True),
    Scenario("node.duplicate", _N, ("P-DUP-3",),
             N_("the same delivery again is answered with the same receipt, byte for byte")),
    Scenario("node.replay-other-bytes", _N, ("P-DUP-2", "P-ENV-3"),
             N_("a delivery that reuses a message id with other bytes is refused (409)")),
    Scenario("node.tampered-document", _N, ("P-SIG-4", "P-ENV-4", "P-NODE-1", "P-RCPT-4", "P-ERR-1"),
             N_("a document changed after signing is answered with a signed, coded REJECTED receipt")),
    Scenario("node.unauthorised-issuer", _N, ("P-SIG-5", "P-RCPT-4", "P-ERR-1"),
             N_("a document signed by an issuer not authorised for its type is rejected, signed and coded")),
    Scenario("node.revoked-issuer", _N, ("P-SIG-6", "P-RCPT-4", "P-ERR-1"),
             N_("a document signed by a revoked issuer is rejected, signed and coded")),
    Scenario("node.unknown-receiver", _N, ("P-ROUTE-2", "P-RCPT-4"),
             N_("an envelope addressed to another party is rejected, signed and coded")),
    Scenario("node.payload-mismatch", _N, ("P-ENV-5", "P-NODE-1", "P-RCPT-4", "P-ERR-1"),
             N_("an envelope whose Type does not name its payload's type is rejected, signed and coded")),
    Scenario("node.unsigned-envelope", _N, ("P-SIG-7", "P-RCPT-4", "P-ERR-1"),
             N_("an envelope without the sending node's signature is rejected, signed and coded")),
    Scenario("node.wrong-envelope-signer", _N, ("P-SIG-7", "P-RCPT-4", "P-ERR-1"),
             N_("an envelope signed by a key other than the sender's registered node key is rejected")),
    Scenario("node.delivery-unauthenticated", _N, ("P-DLV-2",),
             N_("a delivery without the gateway's PTX-Delivery header is refused (401)")),
    Scenario("node.delivery-wrong-key", _N, ("P-DLV-2",),
             N_("a delivery whose PTX-Delivery header is signed by another key than the gateway's is refused (401)")),
    Scenario("node.delivery-other-message", _N, ("P-DLV-2",),
             N_("a PTX-Delivery header signed for another message id or other bytes is refused (401)")),
    Scenario("node.delivery-stale", _N, ("P-DLV-3",),
             N_("a PTX-Delivery header signed outside the clock skew window is refused (401)")),
    Scenario("node.several-receivers-without-route", _N, ("P-ROUTE-3", "P-RCPT-4"),
             N_("an envelope to several receivers for a document without a route is rejected")),
    Scenario("node.transit-receiver", _N, ("P-ROUTE-6",),
             N_("a node that is one of several receivers on a route accepts for itself with its own receipt")),
    # --- the kit plays a sending node and the receiver's inbox towards a gateway --------------------------
    Scenario("gateway.valid", _G, ("P-ENV-1", "P-ENV-2", "P-ENV-4", "P-ENV-5", "P-SIG-1", "P-SIG-2", "P-GW-1", "P-GW-2",
                                   "P-GW-3", "P-GW-4", "P-GW-5", "P-DLV-1", "P-STATUS-1", "P-STATUS-2", "P-RCPT-1"),
             N_("a valid envelope is accepted (202), delivered byte for byte with a valid PTX-Delivery header, "
                "acknowledged, and its receipt returned as the receiver signed it"), per_type=True),
    Scenario("gateway.duplicate", _G, ("P-DUP-1",),
             N_("an identical resend is answered 200 with the earlier answer and is not delivered again")),
    Scenario("gateway.replay-other-bytes", _G, ("P-DUP-2", "P-ENV-3", "P-REJ-1", "P-REJ-2"),
             N_("a submission that reuses a message id with other bytes is refused (409) with a signed rejection")),
    Scenario("gateway.tampered-document", _G, ("P-SIG-4", "P-ENV-4", "P-GW-6", "P-REJ-1", "P-REJ-2", "P-ERR-1"),
             N_("a document changed after signing is refused (422) with a signed, coded rejection report")),
    Scenario("gateway.unauthorised-issuer", _G, ("P-SIG-5", "P-GW-6", "P-REJ-1", "P-REJ-2", "P-ERR-1"),
             N_("a document signed by an issuer not authorised for its type is refused with a signed rejection")),
    Scenario("gateway.revoked-issuer", _G, ("P-SIG-6", "P-GW-6", "P-REJ-1", "P-REJ-2", "P-ERR-1"),
             N_("a document signed by a revoked issuer is refused with a signed rejection")),
    Scenario("gateway.unknown-receiver", _G, ("P-ROUTE-1", "P-GW-6", "P-REJ-1", "P-REJ-2", "P-ERR-1"),
             N_("an envelope addressed to a party the gateway does not know is refused with a signed rejection")),
    Scenario("gateway.payload-mismatch", _G, ("P-ENV-5", "P-GW-6", "P-REJ-1", "P-REJ-2", "P-ERR-1"),
             N_("an envelope whose Type does not name its payload's type is refused with a signed rejection")),
    Scenario("gateway.unsigned-envelope", _G, ("P-SIG-7", "P-GW-6", "P-REJ-1", "P-REJ-2", "P-ERR-1"),
             N_("an envelope without the sending node's signature is refused with a signed rejection")),
    Scenario("gateway.wrong-envelope-signer", _G, ("P-SIG-7", "P-GW-6", "P-REJ-1", "P-REJ-2", "P-ERR-1"),
             N_("an envelope signed by a key other than the sender's registered node key is refused")),
    Scenario("gateway.retry-keeps-message-id", _G, ("P-RETRY-1", "P-RETRY-2", "P-ENV-3"),
             N_("after the receiver answers 503, the gateway delivers again: the same bytes, the same message id")),
    Scenario("gateway.transit-receiver-unknown", _G, ("P-ROUTE-4", "P-GW-6", "P-REJ-1"),
             N_("a transit declaration whose route crosses a country the gateway does not know is refused whole")),
    Scenario("gateway.route-deliveries", _G, ("P-ROUTE-5",),
             N_("a declaration with a route is delivered and tracked per receiver, each with its own receipt")),
    Scenario("gateway.not-forwarded", _G, ("P-GW-7",),
             N_("no refused submission ever reaches the receiver's inbox")),
)


def scenarios_for(target: Target) -> tuple[Scenario, ...]:
    return tuple(scenario for scenario in SCENARIOS.values() if scenario.target is target)


def referenced_clauses() -> frozenset[str]:
    """Every clause id some scenario tests."""
    return frozenset(clause for scenario in SCENARIOS.values() for clause in scenario.clauses)


__all__ = [
    "SCENARIOS",
    "Exchange",
    "Outcome",
    "Report",
    "Result",
    "Scenario",
    "Target",
    "referenced_clauses",
    "scenarios_for",
]
