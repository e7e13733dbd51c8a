"""The gateway operator's token (exchange/_operator.py): made once, 0600, in the gateway's folder only; read
strictly; compared in constant time; written by ptx init for the gateway's party folder."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from exchange._errors import Code, ConfigurationError
from exchange._operator import (
    ensure_operator_token,
    operator_headers,
    operator_token_path,
    read_operator_token,
    token_matches,
)
from exchange._workspace import GATEWAY_PARTY, PARTIES_DIR, init_workspace, party_folder


def test_made_once_with_mode_0600(tmp_path: Path) -> None:
    token = ensure_operator_token(tmp_path)
    path = operator_token_path(tmp_path)
    assert path == tmp_path / "gateway" / "operator.token" and path.stat().st_mode & 0o777 == 0o600
    assert len(token) >= 43 and ensure_operator_token(tmp_path) == token == read_operator_token(tmp_path)
    assert ensure_operator_token(tmp_path / "other") != token
    assert operator_headers(tmp_path) == {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("content", ["", "short", "two words " + "x" * 40])
def test_a_weak_or_damaged_token_file_fails_closed(tmp_path: Path, content: str) -> None:
    path = operator_token_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(content)
    with pytest.raises(ConfigurationError) as raised:
        ensure_operator_token(tmp_path)
    assert raised.value.code is Code.CONFIG_INVALID


def test_a_missing_token_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="gateway writes it"):
        read_operator_token(tmp_path)


def test_tokens_are_compared_exactly() -> None:
    token = "t" * 43
    assert token_matches(token, token)
    assert not token_matches(token[:-1], token) and not token_matches(token + "t", token)
    assert not token_matches(None, token) and not token_matches("", token) and not token_matches("é" * 43, token)


def test_init_writes_it_for_the_gateways_folder_only(tmp_path: Path) -> None:
    root = tmp_path / "workspace"
    init_workspace(root, moment=datetime(2026, 11, 1, 9, tzinfo=UTC))
    gateway = party_folder(root, GATEWAY_PARTY)
    assert gateway == root / PARTIES_DIR / GATEWAY_PARTY
    assert operator_token_path(gateway).stat().st_mode & 0o777 == 0o600
    assert sorted(path.relative_to(root).parts[:2] for path in root.rglob("operator.token")) == [
        (PARTIES_DIR, GATEWAY_PARTY)]
