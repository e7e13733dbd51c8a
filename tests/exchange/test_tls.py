"""TLS settings, material and transport identities; and the TLS extension in the ASGI scope under a real uvicorn
server (in a thread, on a free loopback port) for both of uvicorn's HTTP protocols, across keep-alive."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from exchange._errors import Code, ConfigurationError
from exchange._pki import load_certificate_file
from exchange._tls import (
    TLS_EXTENSION,
    TlsMaterial,
    TlsSettings,
    gateway_tls,
    gateway_transport_policy,
    node_tls,
    node_transport_policy,
    peer_certificate,
)
from exchange._workspace import Workspace, init_workspace
from exchange.node._settings import load_settings as load_node_settings
from exchange.services._asgi_tls import h11_protocol_class, protocol_class, uvicorn_options
from gateway._settings import load_settings as load_gateway_settings
from tests.support.tls import context, country_client, gateway_ca, root

FROM_WORKSPACE = TlsSettings(from_workspace=True)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    path = tmp_path_factory.mktemp("tls") / "workspace"
    init_workspace(path, moment=datetime.now(UTC) - timedelta(minutes=5))
    return Workspace.open(path)


def leaf(workspace: Workspace, relative: str) -> Any:
    return load_certificate_file(workspace.file(relative))[0]


# --- settings and material ---------------------------------------------------------------------------------


def test_plain_http_unless_configured(workspace: Workspace) -> None:
    material = gateway_tls(load_gateway_settings(workspace=workspace.path).tls, workspace)
    assert material == TlsMaterial()
    assert (material.serves_tls, material.verifies_clients, material.scheme) == (False, False, "http")
    options = material.httpx_options({"BB": "http://127.0.0.1:8002"})
    assert set(options) == {"transport"} and options["transport"].ssl_context is None
    assert uvicorn_options(material) == {}


def test_the_gateway_takes_its_material_from_the_workspace(workspace: Workspace) -> None:
    material = gateway_tls(FROM_WORKSPACE, workspace)
    record = workspace.index.gateway
    assert (material.cert, material.key) == (workspace.file(record.tls_server), workspace.file(record.tls_server_key))
    assert (material.client_cert, material.client_key) == (workspace.file(record.tls_client),
                                                           workspace.file(record.tls_client_key))
    roots = {code: root(workspace, code).read_text() for code in ("AA", "BB")}
    assert material.client_ca == material.server_ca == roots["AA"] + roots["BB"]
    assert dict(material.server_ca_by_party) == roots
    assert material.verifies_clients and material.require_client_cert


def test_a_node_takes_its_material_from_the_workspace(workspace: Workspace) -> None:
    material = node_tls(TlsSettings(from_workspace=True, require_client_cert=False), workspace, "AA")
    record = workspace.country("AA")
    assert (material.cert, material.client_cert) == (workspace.file(record.tls_server), workspace.file(record.tls_client))
    assert material.client_ca == material.server_ca == gateway_ca(workspace).read_text()
    assert not material.require_client_cert


def test_explicit_settings_win_over_the_workspace(workspace: Workspace) -> None:
    bundle = root(workspace, "BB")
    material = gateway_tls(TlsSettings(from_workspace=True, server_ca=bundle), workspace)
    assert material.server_ca == bundle.read_text()
    assert dict(material.server_ca_by_party) == {}, "an explicit bundle replaces the per-receiver roots"


def test_deliveries_verify_each_receiver_against_its_own_root(workspace: Workspace) -> None:
    material = gateway_tls(FROM_WORKSPACE, workspace)
    options = material.httpx_options({"AA": "https://127.0.0.1:9001", "BB": "http://127.0.0.1:9002", "CC": "https://h:1"})
    assert set(options["mounts"]) == {"https://127.0.0.1:9001"}
    assert options["transport"].ssl_context is not None
    assert options["mounts"]["https://127.0.0.1:9001"].ssl_context is not options["transport"].ssl_context


def test_half_configurations_are_refused(workspace: Workspace) -> None:
    cert = workspace.file(workspace.index.gateway.tls_server)
    for tls, needle in (
        ({"cert": cert}, "cert and key go together"),
        ({"client_ca": root(workspace, "AA")}, "needs the service to serve TLS"),
        ({"client_cert": cert}, "client_cert and client_key go together"),
        ({"cert": workspace.path / "missing.pem"}, "tls.cert"),
        ({"certificate": cert}, "tls.certificate"),
    ):
        with pytest.raises(ConfigurationError, match=needle) as caught:
            load_gateway_settings(workspace=workspace.path, tls=tls)
        assert caught.value.code is Code.CONFIG_INVALID


def test_an_https_url_needs_a_ca_to_verify_it(workspace: Workspace) -> None:
    with pytest.raises(ConfigurationError, match="no fallback to the system CA store"):
        load_gateway_settings(workspace=workspace.path, node_urls={"BB": "https://127.0.0.1:8002"})
    with pytest.raises(ConfigurationError, match="no fallback to the system CA store"):
        load_node_settings(country="AA", workspace=workspace.path, gateway_url="https://127.0.0.1:8000")
    assert load_node_settings(country="AA", workspace=workspace.path, gateway_url="https://127.0.0.1:8000",
                              tls={"from_workspace": True}).tls.from_workspace


def test_tls_settings_from_the_environment(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTX_TLS__FROM_WORKSPACE", "true")
    monkeypatch.setenv("PTX_TLS__REQUIRE_CLIENT_CERT", "false")
    monkeypatch.setenv("PTX_NODE_TLS__FROM_WORKSPACE", "true")
    monkeypatch.setenv("PTX_NODE_TLS__SERVER_CA", str(gateway_ca(workspace)))
    gateway = load_gateway_settings(workspace=workspace.path).tls
    assert (gateway.from_workspace, gateway.require_client_cert) == (True, False)
    node = load_node_settings(country="BB", workspace=workspace.path).tls
    assert (node.from_workspace, node.server_ca, node.require_client_cert) == (True, gateway_ca(workspace), True)
    monkeypatch.setenv("PTX_NODE_TLS__CERTIFICATE", "x")
    with pytest.raises(ConfigurationError, match="tls.certificate"):
        load_node_settings(country="BB", workspace=workspace.path)


def test_unusable_material_is_a_configuration_error(workspace: Workspace, tmp_path: Path) -> None:
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("not a certificate")
    with pytest.raises(ConfigurationError) as caught:
        gateway_tls(TlsSettings(from_workspace=True, client_ca=not_pem), workspace)
    assert caught.value.code is Code.CONFIG_INVALID
    record = workspace.index.gateway
    mismatched = TlsMaterial(cert=workspace.file(record.tls_server), key=workspace.file(record.tls_client_key))
    with pytest.raises(ConfigurationError, match="does not load"):
        mismatched.server_context()


# --- transport identity ------------------------------------------------------------------------------------


def test_the_gateway_knows_each_country_by_its_registered_client_certificate(workspace: Workspace) -> None:
    policy = gateway_transport_policy(workspace)
    for code in ("AA", "BB"):
        assert policy.identify(leaf(workspace, workspace.country(code).tls_client)).party == code
    missing = policy.identify(None)
    assert (missing.party, missing.code) == (None, Code.GW_TRANSPORT_CERT_MISSING)
    chamber = policy.identify(leaf(workspace, workspace.country("AA").authorities["chamber-of-commerce"].certificate))
    assert (chamber.identified, chamber.code) == (False, Code.GW_TRANSPORT_IDENTITY)
    server = policy.identify(leaf(workspace, workspace.country("AA").tls_server))
    assert server.code is Code.GW_TRANSPORT_IDENTITY, "a server certificate is not the client certificate"


def test_a_node_knows_only_the_gateways_client_certificate(workspace: Workspace) -> None:
    policy = node_transport_policy(workspace)
    assert policy.identify(leaf(workspace, workspace.index.gateway.tls_client)).party == "gateway"
    for certificate in (leaf(workspace, workspace.index.gateway.signer), None):
        refused = policy.identify(certificate)
        assert (refused.identified, refused.code) == (False, Code.NODE_TRANSPORT_IDENTITY)


def test_peer_certificate_reads_the_asgi_tls_extension(workspace: Workspace) -> None:
    certificate = leaf(workspace, workspace.country("AA").tls_client)
    pem = workspace.file(workspace.country("AA").tls_client).read_text().split("-----END CERTIFICATE-----")[0]
    assert peer_certificate({"type": "http"}) is None
    assert peer_certificate({"extensions": {TLS_EXTENSION: {"client_cert_chain": []}}}) is None
    scope = {"extensions": {TLS_EXTENSION: {"client_cert_chain": [pem + "-----END CERTIFICATE-----\n"]}}}
    assert peer_certificate(scope) == certificate


# --- the extension under uvicorn ---------------------------------------------------------------------------


async def echo_tls(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
    """Answers with the request's TLS extension and the client's port (same port: same connection)."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    tls = (scope.get("extensions") or {}).get(TLS_EXTENSION)
    body = json.dumps({"tls": tls, "port": scope["client"][1]}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(params=["default", "h11"])
def server(request: pytest.FixtureRequest, workspace: Workspace) -> Iterator[str]:
    material = gateway_tls(TlsSettings(from_workspace=True, require_client_cert=False), workspace)
    options = uvicorn_options(material)
    assert options["http"] is protocol_class()
    if request.param == "h11":
        options["http"] = h11_protocol_class()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    instance = uvicorn.Server(uvicorn.Config(echo_tls, log_level="warning", **options))
    thread = threading.Thread(target=instance.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not instance.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        yield f"https://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        instance.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_each_request_carries_its_connections_certificate(server: str, workspace: Workspace) -> None:
    names = {}
    for code in ("AA", "BB"):
        with httpx.Client(verify=country_client(workspace, code, gateway_ca(workspace))) as client:
            answers = [client.get(server).json() for _ in range(3)]
        assert len({answer["port"] for answer in answers}) == 1, "one keep-alive connection"
        assert all(answer["tls"] == answers[0]["tls"] for answer in answers)
        tls = answers[0]["tls"]
        assert tls["tls_version"] == 0x0304 and isinstance(tls["cipher_suite"], int)
        assert len(tls["client_cert_chain"]) == 1
        names[code] = tls["client_cert_name"]
        scope = {"extensions": {TLS_EXTENSION: tls}}
        assert peer_certificate(scope) == leaf(workspace, workspace.country(code).tls_client)
    assert names == {"AA": "CN=AA Single Window TLS client,O=AA Single Window,C=AA",
                     "BB": "CN=BB Single Window TLS client,O=BB Single Window,C=BB"}
    with httpx.Client(verify=context(gateway_ca(workspace))) as anonymous:
        tls = anonymous.get(server).json()["tls"]
    assert (tls["client_cert_chain"], tls["client_cert_name"]) == ([], None)
