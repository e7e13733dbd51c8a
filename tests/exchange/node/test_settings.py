"""Node settings: PTX_NODE_* variables, failing closed."""

from __future__ import annotations

from pathlib import Path

import pytest

from exchange._errors import Code, ConfigurationError
from exchange.node import get_settings, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("PTX_"):
            monkeypatch.delenv(key)
    get_settings.cache_clear()


def refused(**overrides: object) -> str:
    with pytest.raises(ConfigurationError) as info:
        load_settings(**overrides)
    assert info.value.code is Code.CONFIG_INVALID
    return info.value.message


def test_country_is_required(tmp_path: Path) -> None:
    assert "country" in refused(workspace=tmp_path)


def test_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTX_NODE_COUNTRY", "bb")
    monkeypatch.setenv("PTX_WORKSPACE", str(tmp_path))
    monkeypatch.setenv("PTX_NODE_GATEWAY_URL", "http://127.0.0.1:9000/")
    settings = get_settings()
    assert (settings.country, settings.workspace, settings.gateway_url) == ("BB", tmp_path, "http://127.0.0.1:9000")
    assert settings.store_url == f"sqlite:///{(tmp_path / 'nodes' / 'BB.sqlite').resolve()}"
    assert get_settings() is settings


def test_node_workspace_wins_over_the_shared_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "node").mkdir()
    monkeypatch.setenv("PTX_WORKSPACE", str(tmp_path))
    monkeypatch.setenv("PTX_NODE_WORKSPACE", str(tmp_path / "node"))
    assert load_settings(country="AA").workspace == tmp_path / "node"


def test_the_gateways_node_urls_may_share_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTX_NODE_URLS", '{"BB": "http://127.0.0.1:8002"}')
    assert load_settings(country="AA", workspace=tmp_path).country == "AA"


def test_misspelt_variable_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTX_NODE_GATEWAY", "http://127.0.0.1:9000")
    assert "PTX_NODE_GATEWAY" in refused(country="AA", workspace=tmp_path)


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"country": "AAA"}, "country"),
        ({"country": "AA", "workspace": Path("/nonexistent/ws")}, "does not exist"),
        ({"country": "AA", "gateway_url": "ftp://gateway"}, "http"),
        ({"country": "AA", "database_url": "sqlite:///:memory:"}, "in-memory"),
        ({"country": "AA", "database_url": "postgresql://db/node"}, "not supported"),
        ({"country": "AA", "max_message_bytes": 10}, "max_message_bytes"),
        ({"country": "AA", "colour": "red"}, "colour"),
    ],
)
def test_bad_settings_are_refused(tmp_path: Path, overrides: dict[str, object], needle: str) -> None:
    assert needle in refused(**{"workspace": tmp_path, **overrides})


def test_database_url_frees_the_store_from_the_workspace(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'elsewhere.sqlite'}"
    settings = load_settings(country="AA", workspace=Path("/nonexistent/ws"), database_url=url)
    assert settings.store_url == url


def test_demo_mode_is_off_unless_asked_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings(country="AA", workspace=tmp_path).demo is False
    monkeypatch.setenv("PTX_NODE_DEMO", "true")
    assert load_settings(country="AA", workspace=tmp_path).demo is True
