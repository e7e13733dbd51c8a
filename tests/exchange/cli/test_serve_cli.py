"""``ptx serve gateway`` and ``ptx serve node`` start-up lines: what they listen on and talk to, never a secret."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

from exchange._workspace import init_workspace
from exchange.cli import app

SECRET = "s3cret-Pa55"
runner = CliRunner()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("serve-lines") / "workspace"
    init_workspace(path, moment=datetime(2026, 11, 1, tzinfo=UTC))
    return path


@pytest.fixture
def not_served(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Everything up to uvicorn's run: no port is bound, no server runs."""
    served: list[Any] = []
    monkeypatch.setattr("exchange.cli._gateway.bind_socket", lambda host, port: socket.socket())
    monkeypatch.setattr("exchange.cli._node.bind_socket", lambda host, port: socket.socket())
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: served.append(self.config))
    for name in ("PTX_DATABASE_URL", "PTX_NODE_URLS", "PTX_WORKSPACE", "PTX_NODE_GATEWAY_URL"):
        monkeypatch.delenv(name, raising=False)
    yield served


def test_the_gateway_start_up_line_masks_the_database_password(workspace: Path, not_served: list[Any]) -> None:
    result = runner.invoke(app, [
        "serve", "gateway", "--workspace", str(workspace), "--port", "8999",
        "--database-url", f"postgresql://ptx:{SECRET}@db.example:5432/ptx",
        "--node", f"BB=http://bb:{SECRET}@bb.example",
    ])
    assert result.exit_code == 0, result.output
    assert len(not_served) == 1
    assert SECRET not in result.output
    assert "store postgresql+psycopg://ptx:***@db.example:5432/ptx" in result.output
    assert "BB=http://bb:***@bb.example" in result.output


def test_the_node_start_up_line_masks_the_gateway_password(workspace: Path, not_served: list[Any]) -> None:
    result = runner.invoke(app, [
        "serve", "node", "--country", "BB", "--workspace", str(workspace), "--port", "8998",
        "--gateway", f"http://gw:{SECRET}@gateway.example:8000",
    ])
    assert result.exit_code == 0, result.output
    assert len(not_served) == 1
    assert SECRET not in result.output
    assert "gateway http://gw:***@gateway.example:8000" in result.output


def test_a_refused_store_url_is_named_without_its_password(workspace: Path, not_served: list[Any]) -> None:
    result = runner.invoke(app, [
        "serve", "gateway", "--workspace", str(workspace), "--database-url", f"mysql://ptx:{SECRET}@db/ptx",
    ])
    assert result.exit_code != 0 and "mysql" in result.output
    assert SECRET not in result.output
    node = runner.invoke(app, [
        "serve", "node", "--country", "BB", "--workspace", str(workspace),
        "--database-url", f"postgresql://ptx:{SECRET}@db/ptx",
    ])
    assert node.exit_code != 0 and "postgresql" in node.output
    assert SECRET not in node.output
    unverifiable = runner.invoke(app, [
        "serve", "gateway", "--workspace", str(workspace), "--node", f"BB=https://bb:{SECRET}@bb.example",
    ])
    assert unverifiable.exit_code != 0 and "https://bb:***@bb.example" in unverifiable.output
    assert SECRET not in unverifiable.output


def test_only_a_node_started_in_demo_mode_accepts_tamper(workspace: Path, not_served: list[Any]) -> None:
    for flags, demo in (([], False), (["--demo"], True)):
        result = runner.invoke(app, ["serve", "node", "--country", "BB", "--workspace", str(workspace), *flags])
        assert result.exit_code == 0, result.output
        assert not_served[-1].app.state.node.settings.demo is demo
        assert ("demo mode" in result.output) is demo


def test_ptx_up_and_ptx_demo_start_their_nodes_in_demo_mode(tmp_path: Path) -> None:
    from exchange._demo import Demo
    from exchange.cli._up import plan

    services = plan(tmp_path, ["AA", "BB"], "127.0.0.1", 8000, 8001)
    assert [("--demo" in service.command) for service in services] == [False, True, True]
    demo = Demo(tmp_path, log=lambda line: None)
    assert "--demo" in demo._command("AA") and "--demo" not in demo._command("gateway")
