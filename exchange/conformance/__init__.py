"""The conformance kit: plays the protocol of docs/protocol.md against another implementation, over HTTP(S) only.

``ptx conformance node URL`` plays the gateway towards a single-window node; ``ptx conformance gateway URL``
plays a sending node and the receiver's inbox towards a gateway. Each scenario of :data:`SCENARIOS` names the
clauses it tests and reports pass, fail or not applicable with what was sent, what came back and why
(:class:`Result`); the reports are text, JSON, JUnit XML and one self-contained HTML page
(:mod:`exchange.conformance._report`). The kit uses the tester's own folders and the public packages they
imported, nothing else (:mod:`exchange.conformance._material`).
"""

from __future__ import annotations

from exchange.conformance._gateway import GatewaySuite, GatewayTarget, run_gateway_suite
from exchange.conformance._material import Country, Material
from exchange.conformance._model import (
    SCENARIOS,
    Exchange,
    Outcome,
    Report,
    Result,
    Scenario,
    Target,
    referenced_clauses,
    scenarios_for,
)
from exchange.conformance._node import NodeSuite, NodeTarget, run_node_suite
from exchange.conformance._probe import Delivery, Listening, Probe

__all__ = [
    "SCENARIOS",
    "Country",
    "Delivery",
    "Exchange",
    "GatewaySuite",
    "GatewayTarget",
    "Listening",
    "Material",
    "NodeSuite",
    "NodeTarget",
    "Outcome",
    "Probe",
    "Report",
    "Result",
    "Scenario",
    "Target",
    "referenced_clauses",
    "run_gateway_suite",
    "run_node_suite",
    "scenarios_for",
]
