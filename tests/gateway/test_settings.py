"""Gateway settings: PTX_* variables, safe defaults inside the demo workspace, fail closed outside it."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from exchange._errors import Code, ConfigurationError
from gateway._settings import MIB, DeliverySettings, GatewaySettings, get_settings, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.upper().startswith("PTX_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()


def test_defaults_inside_the_demo_workspace(tmp_path: Path) -> None:
    (tmp_path / "workspace").mkdir()
    settings = load_settings()
    assert settings.store_url == f"sqlite:///{(tmp_path / 'workspace' / 'gateway.db').resolve()}"
    assert settings.max_message_bytes == 10 * MIB
    delivery = settings.delivery
    assert delivery.max_attempts == 12 and delivery.workers == 4 and delivery.jitter is True
    assert delivery.base_delay == timedelta(seconds=2) and delivery.max_delay == timedelta(minutes=5)
    assert delivery.max_age == timedelta(hours=24)
    assert delivery.lease >= 2 * delivery.request_timeout


def test_no_workspace_and_no_database_url_fails_closed() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert caught.value.code is Code.CONFIG_INVALID
    assert "ptx init" in caught.value.message and "PTX_DATABASE_URL" in caught.value.message


def test_environment_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    workspace = tmp_path / "elsewhere"
    workspace.mkdir()
    monkeypatch.setenv("PTX_WORKSPACE", str(workspace))
    monkeypatch.setenv("PTX_MAX_MESSAGE_BYTES", "2048")
    monkeypatch.setenv("PTX_DELIVERY__MAX_ATTEMPTS", "5")
    monkeypatch.setenv("PTX_DELIVERY__BASE_DELAY", "0.5")
    monkeypatch.setenv("PTX_DELIVERY__MAX_AGE", "PT2H")
    monkeypatch.setenv("PTX_DELIVERY__JITTER", "false")
    monkeypatch.setenv("PTX_CATALOGUE", "/somewhere")  # another part of ptx reads this one: not an error here
    settings = load_settings()
    assert settings.workspace == workspace
    assert settings.store_url.endswith("elsewhere/gateway.db")
    assert settings.max_message_bytes == 2048
    assert settings.delivery.max_attempts == 5
    assert settings.delivery.base_delay == timedelta(milliseconds=500)
    assert settings.delivery.max_age == timedelta(hours=2)
    assert settings.delivery.jitter is False


def test_database_url_from_the_environment_needs_no_workspace(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PTX_DATABASE_URL", f"sqlite:///{tmp_path}/store.db")
    assert load_settings().store_url == f"sqlite:///{tmp_path}/store.db"


def test_postgresql_urls_name_psycopg_3() -> None:
    settings = load_settings(database_url="postgresql://ptx:secret@127.0.0.1:5432/ptx")
    assert settings.store_url == "postgresql+psycopg://ptx:secret@127.0.0.1:5432/ptx"


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("sqlite://", "in-memory"),
        ("sqlite:///:memory:", "in-memory"),
        ("sqlite:///file:x?mode=memory", "in-memory"),
        ("mysql://h/db", "not supported"),
        ("gateway.db", "no scheme"),
    ],
)
def test_unusable_database_urls_are_refused(url: str, needle: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(database_url=url)
    assert needle in caught.value.message


def test_misspelt_delivery_variable_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "workspace").mkdir()
    monkeypatch.setenv("PTX_DELIVERY__MAX_ATTEMTPS", "3")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert "max_attemtps" in caught.value.message.lower()


def test_unknown_keyword_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "workspace").mkdir()
    with pytest.raises(ConfigurationError):
        load_settings(databse_url="sqlite:///x.db")


@pytest.mark.parametrize(
    ("values", "needle"),
    [
        ({"lease": 20, "request_timeout": 15}, "twice request_timeout"),
        ({"base_delay": 600, "max_delay": 60}, "base_delay"),
        ({"max_age": 0}, "max_age must be positive"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"workers": 0}, "workers"),
    ],
)
def test_delivery_bounds_are_checked(values: dict[str, float], needle: str) -> None:
    with pytest.raises(ValidationError) as caught:
        DeliverySettings(**values)  # type: ignore[arg-type]
    assert needle in str(caught.value)


def test_message_size_bounds(tmp_path: Path) -> None:
    (tmp_path / "workspace").mkdir()
    with pytest.raises(ConfigurationError):
        load_settings(max_message_bytes=10)
    assert load_settings(max_message_bytes=40_894_464).max_message_bytes == 40_894_464  # Domibus's sample maxSize


def test_settings_are_frozen(tmp_path: Path) -> None:
    (tmp_path / "workspace").mkdir()
    settings = load_settings()
    with pytest.raises(ValidationError):
        settings.max_message_bytes = 1


def test_get_settings_is_cached_until_cleared(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "workspace").mkdir()
    first = get_settings()
    assert get_settings() is first
    monkeypatch.setenv("PTX_MAX_MESSAGE_BYTES", "4096")
    assert get_settings().max_message_bytes == 10 * MIB
    get_settings.cache_clear()
    assert get_settings().max_message_bytes == 4096


def test_constructed_directly_it_is_still_validated(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        GatewaySettings(workspace=tmp_path / "missing")
