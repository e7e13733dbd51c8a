"""Fuzzing envelope handling: the reader, the gateway's pipeline and a node's inbox checks on damaged envelopes.

Nothing raises; every finding has a catalogue code (or a business-rule id); statuses stay in the documented
set; and a damaged envelope is accepted only if what was signed is exactly the original (same header, same
payload bytes): no edit that slips past the signatures can change what is delivered.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange._catalogue import default_catalogue
from exchange._envelope import read_envelope
from exchange._errors import ExchangeError, XmlError
from exchange._transport import HEADER, sign_delivery
from exchange._xml import XmlLimits, parse_xml
from exchange.node._checks import InboxChecks
from gateway._pipeline import Pipeline, WorkspaceMembers
from tests.attacks.forge import XML
from tests.fuzz.conftest import KNOWN_CODES, MOMENT, Seeds, budget
from tests.fuzz.strategies import mutated_bytes, mutated_tree
from tests.support.inprocess import InProcessGateway, InProcessNode, RecordingReceiver

STATUSES = {202, 401, 403, 409, 413, 422}


def damaged(seeds: Seeds, data: st.DataObject) -> bytes:
    return data.draw(st.one_of(mutated_bytes(seeds.envelope), mutated_tree(seeds.envelope)))


@budget(300)
@given(st.data())
def test_reader_raises_only_project_errors(seeds: Seeds, data: st.DataObject) -> None:
    try:
        tree = parse_xml(data.draw(mutated_tree(seeds.envelope)))
    except XmlError:
        return
    try:
        read_envelope(tree)
    except ExchangeError as error:
        assert error.code.value in KNOWN_CODES


@budget(300)
@given(st.data())
def test_gateway_pipeline(seeds: Seeds, data: st.DataObject) -> None:
    pipeline = Pipeline(catalogue=default_catalogue(), members=WorkspaceMembers(seeds.world.workspace),
                        max_bytes=10 * 1024 * 1024)
    original = pipeline.run(seeds.envelope, moment=MOMENT)
    assert original.accepted and original.header is not None
    outcome = pipeline.run(damaged(seeds, data), moment=MOMENT)
    assert outcome.http_status in STATUSES
    assert set(outcome.codes) <= KNOWN_CODES, outcome.codes
    if outcome.accepted:
        assert outcome.header == original.header  # the same signed header and payload bytes, nothing else


@budget(200)
@given(st.data())
def test_node_inbox_checks(seeds: Seeds, data: st.DataObject) -> None:
    checks = InboxChecks(country="BB", workspace=seeds.world.workspace, catalogue=default_catalogue(),
                         limits=XmlLimits(max_bytes=10 * 1024 * 1024))
    original = checks.run(seeds.envelope, delivery_id=seeds.message_id, moment=MOMENT)
    assert original.accepted
    outcome = checks.run(damaged(seeds, data), delivery_id=seeds.message_id, moment=MOMENT)
    assert set(finding.code for finding in outcome.findings) <= KNOWN_CODES
    if outcome.accepted:
        assert outcome.header == original.header and outcome.document == original.document
    else:
        assert outcome.document is None and any(finding.is_error for finding in outcome.findings) or \
            outcome.header is None


@pytest.fixture(scope="module")
def services(seeds: Seeds, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[InProcessGateway, InProcessNode]]:
    folder = tmp_path_factory.mktemp("fuzz-services")
    world = seeds.world
    gateway = InProcessGateway(world.workspace, folder / "gateway.db", MOMENT, RecordingReceiver(world.workspace, MOMENT))
    node = InProcessNode(world.workspace, "BB", folder / "bb.sqlite", MOMENT)
    yield gateway, node
    gateway.close()
    node.close()


@budget(150)
@given(st.data())
def test_over_http(seeds: Seeds, services: tuple[InProcessGateway, InProcessNode], data: st.DataObject) -> None:
    """Through the apps, store included: never a 5xx, always a coded JSON answer (or a signed receipt)."""
    gateway, node = services
    body = damaged(seeds, data)
    answer = gateway.post("/v1/messages", content=body, headers=XML)
    assert answer.status_code in STATUSES | {200}, answer.text[:1000]
    assert answer.json()["verdict"] in ("ACCEPTED", "REJECTED")
    header = sign_delivery(body, seeds.message_id, seeds.world.workspace.gateway_signer().key, moment=MOMENT)
    delivered = node.post("/v1/inbox", content=body, headers={**XML, HEADER: header})
    assert delivered.status_code in (200, 409, 413), delivered.text[:1000]
    if delivered.status_code == 200:
        assert delivered.headers["PTX-Receipt-Status"] in ("RECEIVED", "REJECTED")
    else:
        assert delivered.json()["code"] in KNOWN_CODES
