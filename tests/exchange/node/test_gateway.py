"""The node's calls to the gateway (exchange/node/_gateway.py): reads are signed with the node key, submissions
are not (the envelope's own signature speaks for the node)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from exchange._request_signing import NonceMemory, verify_request
from exchange._workspace import Workspace, init_workspace
from exchange.node._gateway import GatewayClient, ReadSigner

MOMENT = datetime(2026, 11, 4, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    path = tmp_path_factory.mktemp("node-gateway") / "workspace"
    init_workspace(path, moment=datetime(2026, 11, 1, 9, tzinfo=UTC))
    return Workspace.open(path)


async def test_reads_are_signed_with_the_node_key_and_submissions_are_not(workspace: Workspace) -> None:
    seen: list[httpx.Request] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "POST":
            return httpx.Response(202, json={"status": "ACCEPTED"})
        if request.url.path.endswith("/receipt"):
            return httpx.Response(404, json={"code": "GW-RECEIPT-MISSING"})
        return httpx.Response(200, json={"status": "DELIVERED"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(gateway)) as http:
        client = GatewayClient(http, "http://gateway.test:8000", timeout=5,
                               signer=ReadSigner("AA", workspace.node("AA").key, lambda: MOMENT))
        assert (await client.track("ephyto:AA:7"))["status"] == "DELIVERED"
        assert await client.receipt("ephyto:AA:7") is None
        await client.submit(b"<Envelope/>")
    reads, submission = seen[:2], seen[2]
    assert "signature" not in submission.headers
    memory = NonceMemory()
    certificates = {"AA": workspace.node_certificate("AA"), "BB": workspace.node_certificate("BB")}
    for request in reads:
        assert request.url.raw_path.startswith(b"/v1/messages/ephyto%3AAA%3A7")
        result = verify_request(request.method, str(request.url), list(request.headers.items()),
                                certificate_of=certificates.get, moment=MOMENT, nonces=memory)
        assert result.verified and result.party == "AA", result.problem
