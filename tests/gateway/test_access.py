"""Who may read what at the gateway (gateway/_access.py), in process: each node its own messages, identified by a
request signed with its node key (RFC 9421) or its TLS client certificate; the operator everything, with its token;
the dashboard open on loopback only. Three countries: AA and BB exchange, CC is a member that is party to nothing."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from exchange._operator import operator_token_path
from exchange._request_signing import sign_request
from exchange._tls import gateway_transport_policy
from exchange._workspace import Workspace, init_workspace
from gateway._access import DASHBOARD_COOKIE, is_loopback
from gateway._app import create_app
from gateway._settings import load_settings
from tests.gateway.conftest import CREATED, MOMENT, MessageFactory
from tests.gateway.test_app import XML, Receiver
from tests.gateway.test_ephyto import AsNppo

BASE = "http://gateway.test"
TLS = "X-Test-NPPO"  # the country whose TLS client certificate the request comes with (AsNppo)
DASHBOARD = ("/ui", "/ui/audit", "/ui/messages/{id}", "/ui/messages/{id}/envelope", "/ui/events?seconds=0")
MESSAGE = "msg-0000000000000001"  # AA -> BB


@pytest.fixture(scope="module")
def workspace_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three countries (conftest's ``workspace`` copies this one here): CC is a member party to nothing."""
    path = tmp_path_factory.mktemp("ws-three") / "workspace"
    init_workspace(path, moment=CREATED, countries=("AA", "BB", "CC"))
    return path


async def serve(workspace: Workspace, tmp_path: Path, clock: list[Any], *, listen_host: str | None = None,
                tls: bool = False) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    settings = load_settings(workspace=workspace.path, database_url=f"sqlite:///{tmp_path / 'gw.db'}",
                             node_urls={"BB": "http://bb.test", "AA": "http://aa.test", "CC": "http://cc.test"},
                             listen_host=listen_host)
    delivery = httpx.AsyncClient(transport=httpx.MockTransport(Receiver(workspace)))
    app = create_app(settings, http_client=delivery, now=lambda: clock[0], run_worker=False)
    async with app.router.lifespan_context(app):
        gateway = app.state.gateway
        if tls:  # as with --tls: the registered TLS client certificates name the parties
            gateway.transport = gateway_transport_policy(workspace)
        asgi = AsNppo(app, workspace) if tls else app  # X-Test-NPPO: CC plays CC's TLS client certificate
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url=BASE) as client:
            yield client, gateway
    await delivery.aclose()


@pytest.fixture
def clock() -> list[Any]:
    return [MOMENT]


@pytest.fixture
async def gw(workspace: Workspace, tmp_path: Path, clock: list[Any]) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    async for served in serve(workspace, tmp_path, clock):
        yield served


def signed(workspace: Workspace, country: str, path: str, *, moment: Any = MOMENT, key_of: str | None = None,
           method: str = "GET") -> dict[str, str]:
    """A read of ``path`` signed as ``country`` (with the key of ``key_of``, default its own) at ``moment``."""
    key = workspace.node(key_of or country).key
    return sign_request(method, f"{BASE}{path}", party=country, key=key, moment=moment)


def operator(gateway: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {gateway.access.token}"}


def refused(response: httpx.Response, status: int, code: str) -> None:
    assert (response.status_code, response.json()["code"]) == (status, code), response.text


async def send(client: httpx.AsyncClient, make_message: MessageFactory, **kwargs: Any) -> str:
    response = await client.post("/v1/messages", content=make_message(**kwargs), headers=XML)
    assert response.status_code in (202, 422), response.text
    message_id: str = response.json()["message_id"]
    return message_id


# --- a node reads its own messages ----------------------------------------------------------------------------


async def test_the_sender_and_the_receiver_read_their_message(gw: Any, workspace: Workspace,
                                                               make_message: MessageFactory) -> None:
    client, gateway = gw
    await send(client, make_message)
    for country in ("AA", "BB"):
        for suffix in ("", "/envelope"):
            path = f"/v1/messages/{MESSAGE}{suffix}"
            response = await client.get(path, headers=signed(workspace, country, path))
            assert response.status_code == 200, (country, suffix, response.text)
    path = f"/v1/messages/{MESSAGE}/receipt"
    refused(await client.get(path, headers=signed(workspace, "AA", path)), 404, "GW-RECEIPT-MISSING")  # entitled
    await gateway.deliverer.run_once()
    receipt = await client.get(path, headers=signed(workspace, "AA", path))
    assert receipt.status_code == 200 and b"<RefToMessageID>" in receipt.content


async def test_a_sender_reads_the_rejection_of_its_refused_message(gw: Any, workspace: Workspace,
                                                                    make_message: MessageFactory) -> None:
    client, _ = gw
    await send(client, make_message, tamper_document=lambda data: data.replace(b"Golden", b"Holden", 1))
    path = f"/v1/messages/{MESSAGE}/rejection"
    response = await client.get(path, headers=signed(workspace, "AA", path))
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/xml")


async def test_another_pairs_message_is_forbidden_and_looks_like_one_that_does_not_exist(
    gw: Any, workspace: Workspace, make_message: MessageFactory
) -> None:
    client, gateway = gw
    await send(client, make_message)
    for suffix in ("", "/receipt", "/rejection", "/envelope"):
        path = f"/v1/messages/{MESSAGE}{suffix}"
        refused(await client.get(path, headers=signed(workspace, "CC", path)), 403, "GW-READ-FORBIDDEN")
    path, unknown = f"/v1/messages/{MESSAGE}", "/v1/messages/msg-0000000000009999"
    theirs = (await client.get(path, headers=signed(workspace, "CC", path))).json()
    missing = (await client.get(unknown, headers=signed(workspace, "CC", unknown))).json()
    assert theirs == {**missing, "message": missing["message"].replace("msg-0000000000009999", MESSAGE)}
    # the operator is told the truth
    refused(await client.get(unknown, headers=operator(gateway)), 404, "GW-MESSAGE-UNKNOWN")
    assert (await client.get(path, headers=operator(gateway))).json()["sender"] == "AA"


# --- no credential, or one that does not hold -------------------------------------------------------------------


async def test_an_unsigned_read_is_refused_and_told_how_to_sign(gw: Any, make_message: MessageFactory) -> None:
    client, _ = gw
    await send(client, make_message)
    response = await client.get(f"/v1/messages/{MESSAGE}")
    refused(response, 401, "GW-READ-NOT-AUTHENTICATED")
    assert 'tag="ptx-gateway-read"' in response.headers["accept-signature"]
    assert response.headers["www-authenticate"].startswith("Bearer")


def _tamper_signature(headers: dict[str, str]) -> dict[str, str]:
    value = headers["Signature"]
    inner = value.split(":")[1]
    flipped = ("B" if inner[0] == "A" else "A") + inner[1:]
    return {**headers, "Signature": value.replace(inner, flipped)}


BAD_SIGNATURES = {
    "another path": lambda ws, path: signed(ws, "AA", "/v1/messages/msg-0000000000000002"),
    "another method": lambda ws, path: signed(ws, "AA", path, method="POST"),
    "another node's key": lambda ws, path: signed(ws, "AA", path, key_of="BB"),
    "no such party": lambda ws, path: sign_request("GET", f"{BASE}{path}", party="ZZ", key=ws.node("AA").key,
                                                   moment=MOMENT),
    "changed signature": lambda ws, path: _tamper_signature(signed(ws, "AA", path)),
    "another authority": lambda ws, path: sign_request("GET", f"http://elsewhere.test{path}", party="AA",
                                                       key=ws.node("AA").key, moment=MOMENT),
    "stale": lambda ws, path: signed(ws, "AA", path, moment=MOMENT - timedelta(seconds=91)),
    "from the future": lambda ws, path: signed(ws, "AA", path, moment=MOMENT + timedelta(seconds=31)),
    "another tag": lambda ws, path: {name: value.replace("ptx-gateway-read", "something-else")
                                     for name, value in signed(ws, "AA", path).items()},
}


@pytest.mark.parametrize("how", list(BAD_SIGNATURES))
async def test_a_badly_signed_or_stale_read_is_refused(gw: Any, workspace: Workspace, make_message: MessageFactory,
                                                       how: str) -> None:
    client, _ = gw
    await send(client, make_message)
    path = f"/v1/messages/{MESSAGE}"
    refused(await client.get(path, headers=BAD_SIGNATURES[how](workspace, path)), 401, "GW-READ-NOT-AUTHENTICATED")


async def test_fresh_signatures_count_inside_the_window(gw: Any, workspace: Workspace,
                                                        make_message: MessageFactory) -> None:
    """The other side of the stale and future cases: just inside the window is accepted."""
    client, _ = gw
    await send(client, make_message)
    path = f"/v1/messages/{MESSAGE}"
    for offset in (-89, 29):
        response = await client.get(path, headers=signed(workspace, "AA", path, moment=MOMENT + timedelta(seconds=offset)))
        assert response.status_code == 200, (offset, response.text)


async def test_a_replayed_signed_read_is_refused(gw: Any, workspace: Workspace, make_message: MessageFactory) -> None:
    client, _ = gw
    await send(client, make_message)
    path = f"/v1/messages/{MESSAGE}"
    headers = signed(workspace, "AA", path)
    assert (await client.get(path, headers=headers)).status_code == 200
    replayed = await client.get(path, headers=headers)
    refused(replayed, 401, "GW-READ-NOT-AUTHENTICATED")
    assert "replayed" in replayed.json()["message"]


async def test_a_revoked_node_certificate_reads_nothing(gw: Any, workspace: Workspace,
                                                        make_message: MessageFactory) -> None:
    client, _ = gw
    await send(client, make_message)
    path = f"/v1/messages/{MESSAGE}"
    assert (await client.get(path, headers=signed(workspace, "AA", path))).status_code == 200
    workspace.revoke("AA/single-window", moment=MOMENT - timedelta(hours=1))
    response = await client.get(path, headers=signed(workspace, "AA", path))
    refused(response, 401, "GW-READ-NOT-AUTHENTICATED")
    assert "cannot be relied on" in response.json()["message"]


async def test_a_wrong_token_is_refused_even_with_a_good_signature(gw: Any, workspace: Workspace,
                                                                    make_message: MessageFactory) -> None:
    client, _ = gw
    await send(client, make_message)
    path = f"/v1/messages/{MESSAGE}"
    headers = {**signed(workspace, "AA", path), "Authorization": "Bearer " + "x" * 43}
    refused(await client.get(path, headers=headers), 401, "GW-READ-NOT-AUTHENTICATED")


# --- mutual TLS: the client certificate names the node ------------------------------------------------------


async def test_under_mutual_tls_the_client_certificate_identifies_the_node(
    workspace: Workspace, tmp_path: Path, clock: list[Any], make_message: MessageFactory
) -> None:
    async for client, _ in serve(workspace, tmp_path, clock, tls=True):
        assert (await client.post("/v1/messages", content=make_message(), headers={**XML, TLS: "AA"})
                ).status_code == 202
        path = f"/v1/messages/{MESSAGE}"
        assert (await client.get(path, headers={TLS: "BB"})).status_code == 200
        refused(await client.get(path, headers={TLS: "CC"}), 403, "GW-READ-FORBIDDEN")
        refused(await client.get(path), 401, "GW-READ-NOT-AUTHENTICATED")
        # both together must name the same node
        both = {TLS: "AA", **signed(workspace, "BB", path)}
        refused(await client.get(path, headers=both), 401, "GW-READ-NOT-AUTHENTICATED")
        assert (await client.get(path, headers={TLS: "AA", **signed(workspace, "AA", path)})
                ).status_code == 200


# --- the operator's endpoints ----------------------------------------------------------------------------------


OPERATOR_CALLS = [("GET", "/v1/messages"), ("GET", "/v1/audit"), ("GET", "/v1/audit/verify"),
                  ("POST", f"/v1/messages/{MESSAGE}/retry")]


@pytest.mark.parametrize(("method", "path"), OPERATOR_CALLS)
async def test_operator_endpoints_need_the_operator_token(gw: Any, workspace: Workspace, make_message: MessageFactory,
                                                          method: str, path: str) -> None:
    client, gateway = gw
    await send(client, make_message)
    refused(await client.request(method, path), 401, "GW-OPERATOR-REQUIRED")
    refused(await client.request(method, path, headers={"Authorization": "Bearer " + "x" * 43}), 401,
            "GW-OPERATOR-REQUIRED")
    refused(await client.request(method, path, headers={"Authorization": "Basic b3BlcmF0b3I6eA=="}), 401,
            "GW-OPERATOR-REQUIRED")
    refused(await client.request(method, path, headers=signed(workspace, "AA", path, method=method)), 401,
            "GW-OPERATOR-REQUIRED")  # a node's signature is no operator's credential
    answer = await client.request(method, path, headers=operator(gateway))
    if method == "POST":  # past the credential: the store's own answer (only a dead letter is retried)
        refused(answer, 409, "GW-RETRY-NOT-ALLOWED")
    else:
        assert answer.status_code == 200, answer.text


async def test_the_token_lives_in_the_gateways_folder_with_mode_0600(gw: Any, workspace: Workspace) -> None:
    _, gateway = gw
    path = operator_token_path(workspace.path)
    assert path.read_text().strip() == gateway.access.token and len(gateway.access.token) >= 43
    assert path.stat().st_mode & 0o777 == 0o600


# --- the dashboard --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "[::1]", "localhost", "127.0.0.2"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "gateway.example", "", None])
def test_other_hosts(host: str | None) -> None:
    assert not is_loopback(host)


async def test_the_dashboard_is_open_on_loopback(workspace: Workspace, tmp_path: Path, clock: list[Any],
                                                 make_message: MessageFactory) -> None:
    async for client, _ in serve(workspace, tmp_path, clock, listen_host="127.0.0.1"):
        await send(client, make_message)
        for path in (page.format(id=MESSAGE) for page in DASHBOARD):
            assert (await client.get(path)).status_code == 200, path
        refused(await client.get(f"/v1/messages/{MESSAGE}"), 401, "GW-READ-NOT-AUTHENTICATED")  # the API is not


@pytest.mark.parametrize("host", ["0.0.0.0", None])
async def test_the_dashboard_elsewhere_needs_the_operator(workspace: Workspace, tmp_path: Path, clock: list[Any],
                                                          make_message: MessageFactory, host: str | None) -> None:
    async for client, gateway in serve(workspace, tmp_path, clock, listen_host=host):
        await send(client, make_message)
        for path in (page.format(id=MESSAGE) for page in DASHBOARD):
            response = await client.get(path)
            assert response.status_code == 401 and 'id="login-form"' in response.text, path
            assert MESSAGE not in response.text.replace(f"next\" value=\"{path}", ""), "nothing of the store shows"
        assert (await client.get("/ui/static/app.css")).status_code == 200
        refused_token = await client.get("/ui", headers={"Authorization": "Bearer " + "x" * 43})
        assert refused_token.status_code == 401
        assert (await client.get("/ui", headers=operator(gateway))).status_code == 200


async def test_the_login_form_sets_a_strict_cookie_that_is_not_the_token(
    workspace: Workspace, tmp_path: Path, clock: list[Any], make_message: MessageFactory
) -> None:
    async for client, gateway in serve(workspace, tmp_path, clock, listen_host="0.0.0.0"):
        await send(client, make_message)
        form = {"Content-Type": "application/x-www-form-urlencoded", "Origin": BASE}
        wrong = await client.post("/ui/login", content="token=nope&next=/ui/audit", headers=form)
        assert wrong.status_code == 401 and 'id="login-error"' in wrong.text and "set-cookie" not in wrong.headers
        cross = await client.post("/ui/login", content=f"token={gateway.access.token}",
                                  headers={**form, "Origin": "http://evil.test"})
        assert cross.status_code == 403 and "set-cookie" not in cross.headers
        right = await client.post("/ui/login", content=f"token={gateway.access.token}&next=/ui/audit", headers=form)
        assert right.status_code == 303 and right.headers["location"] == "/ui/audit"
        cookie = right.headers["set-cookie"]
        assert {"HttpOnly", "SameSite=strict", "Path=/ui"} <= {part.strip() for part in cookie.split(";")}, cookie
        value = re.match(rf"{DASHBOARD_COOKIE}=([^;]+)", cookie)
        assert value and gateway.access.token not in cookie
        client.cookies.set(DASHBOARD_COOKIE, value.group(1))
        assert (await client.get("/ui/audit")).status_code == 200
        refused(await client.get("/v1/audit"), 401, "GW-OPERATOR-REQUIRED")  # the cookie is the dashboard's only
        client.cookies.set(DASHBOARD_COOKIE, "0" * 64)
        assert (await client.get("/ui/audit")).status_code == 401
        away = await client.post("/ui/login", content=f"token={gateway.access.token}&next=//evil.test/ui",
                                 headers=form)
        assert away.headers["location"] == "/ui"
