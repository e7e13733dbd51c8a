"""Schemathesis against the gateway's and a node's OpenAPI, in process: valid and invalid requests for every
operation (25 examples each in CI), and not one server error.

The gateway starts with a few messages in its store (accepted, refused, delivered), so listing and paging have
something to show. The node's calls to the gateway reach a real gateway app in process, so sending from the
outbox runs end to end; a 5xx would be a fault of this node, never an unreachable gateway.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from exchange import Code
from tests.attacks.forge import XML
from tests.fuzz.conftest import MOMENT, Seeds
from tests.support.inprocess import InProcessGateway, RecordingReceiver

SOAP_PATH = "/hub/DeliveryService"
SOAP_FAULT = re.compile(rb"<faultstring>\s*([A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+)")
EXAMPLES = settings(max_examples=25, deadline=None, database=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def stocked_gateway(seeds: Seeds, tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessGateway]:
    """A gateway whose store holds an acknowledged, a refused and a waiting message."""
    world = seeds.world
    gateway = InProcessGateway(world.workspace, tmp_path_factory.mktemp("openapi") / "gateway.db", MOMENT,
                               RecordingReceiver(world.workspace, MOMENT))
    forge = seeds.forge
    assert gateway.post("/v1/messages", content=forge.message("msg-openapi-0001"), headers=XML).status_code == 202
    gateway.run(gateway.app.state.gateway.deliverer.run_once())
    refused = forge.envelope(forge.document(signer=world.nppo), "msg-openapi-0002")
    assert gateway.post("/v1/messages", content=refused, headers=XML).status_code == 422
    assert gateway.post("/v1/messages", content=forge.message("msg-openapi-0003"), headers=XML).status_code == 202
    yield gateway
    gateway.close()


@pytest.fixture(scope="module")
def gateway_api(stocked_gateway: InProcessGateway) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", stocked_gateway.app)


@pytest.fixture(scope="module")
def node_api(seeds: Seeds, stocked_gateway: InProcessGateway, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from exchange.node import create_app, load_settings

    settings_ = load_settings(country="AA", workspace=seeds.world.workspace.path, gateway_url="http://gateway.test",
                              database_url=f"sqlite:///{tmp_path_factory.mktemp('openapi-node') / 'aa.sqlite'}")
    to_gateway = httpx.AsyncClient(transport=httpx.ASGITransport(app=stocked_gateway.app),
                                   base_url="http://gateway.test")
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(settings_, client=to_gateway,
                                                                      clock=lambda: MOMENT))


def _exercise(operation: Any, mode: GenerationMode) -> Any:
    """25 generated requests to ``operation``, none a server error."""
    soap = operation.method.upper() == "POST" and operation.path == SOAP_PATH

    @EXAMPLES
    @given(case=operation.as_strategy(generation_mode=mode))
    def exercise(case: Any) -> None:
        if soap:  # SOAP 1.1 answers every fault with HTTP 500: it must be a fault that names its code
            response = case.call()
            if response.status_code >= 500:
                fault = SOAP_FAULT.search(response.content)
                assert response.status_code == 500 and fault is not None, response.content[:300]
                assert Code._value2member_map_.get(fault.group(1).decode()), fault.group(0)
            return
        case.call_and_validate(checks=[not_a_server_error])

    return exercise


def server_errors(schema: Any, mode: GenerationMode) -> list[str]:
    """Run every operation of ``schema`` with 25 generated requests; the failures of ``not_a_server_error``."""
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()

        exercise = _exercise(operation, mode)
        try:
            exercise()
        except Unsatisfiable:
            continue  # nothing to make invalid (no parameters, no body): the positive run covers it
        except Exception as error:  # noqa: BLE001 - collected and reported with the operation
            failures.append(f"{operation.method.upper()} {operation.path} ({mode.value}): {error}")
    return failures


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_gateway_api_has_no_server_errors(gateway_api: Any, mode: GenerationMode) -> None:
    failures = server_errors(gateway_api, mode)
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_node_api_has_no_server_errors(node_api: Any, mode: GenerationMode) -> None:
    failures = server_errors(node_api, mode)
    assert not failures, "\n\n".join(failures)
