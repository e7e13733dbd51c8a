"""The app factory fails closed; health and readiness; errors are JSON with codes; the API is documented."""

from __future__ import annotations

import pytest

from exchange._errors import Category, Code, ConfigurationError
from exchange._workspace import Workspace
from exchange.node import create_app, load_settings
from exchange.node._app import http_status
from tests.exchange.node.conftest import NodeFactory


def test_a_country_outside_the_workspace_is_refused(workspace: Workspace) -> None:
    with pytest.raises(ConfigurationError) as info:
        create_app(load_settings(country="CC", workspace=workspace.path))
    assert info.value.code is Code.CONFIG_INVALID and "CC" in info.value.message


def test_a_missing_workspace_index_is_refused(workspace: Workspace) -> None:
    (workspace.path / "workspace.yaml").unlink()
    with pytest.raises(ConfigurationError):
        create_app(load_settings(country="AA", workspace=workspace.path))


def test_health_and_readiness(node_app: NodeFactory, workspace: Workspace) -> None:
    aa = node_app("AA")
    assert aa.get("/healthz").json() == {"status": "ok", "country": "AA"}
    ready = aa.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert (workspace.path / "nodes" / "AA.sqlite").is_file()


def test_openapi_lists_every_endpoint(node_app: NodeFactory) -> None:
    paths = set(node_app("AA").get("/openapi.json").json()["paths"])
    assert paths >= {
        "/healthz", "/readyz", "/v1/inbox", "/v1/inbox/{message_id}", "/v1/outbox", "/v1/outbox/{message_id}",
        "/v1/documents/{message_id}",
    }


def test_every_code_maps_to_an_http_error_status() -> None:
    for code in Code:
        status = http_status(code)
        assert 400 <= status < 600
        if code.category is Category.STORE:
            assert status == 503
    assert http_status(Code.GW_DELIVERY_NOT_AUTHENTICATED) == 401
    assert http_status(Code.NODE_DUPLICATE_CONFLICT) == 409
    assert http_status(Code.XML_MALFORMED) == 422 and http_status(Code.INPUT_FIELD_MISSING) == 422
    assert http_status(Code.TRUST_LIST_SIGNATURE) == 500, "the node's own material is broken: retry, not dead letter"
