"""Secrets never reach a start-up line, a log or an error message: URLs are shown with their password masked."""

from __future__ import annotations

import pytest

from exchange._redact import MASK, redact_url, strip_userinfo


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://ptx:s3cret@db.example:5432/ptx", f"postgresql://ptx:{MASK}@db.example:5432/ptx"),
        ("postgresql+psycopg://ptx:p%40ss%2Fword@db/ptx", f"postgresql+psycopg://ptx:{MASK}@db/ptx"),
        ("postgresql://ptx:pa/ss@db/ptx", f"postgresql://ptx:{MASK}@db/ptx"),  # an unencoded slash in it
        ("postgresql://ptx:@db/ptx", f"postgresql://ptx:{MASK}@db/ptx"),
        ("postgresql://db/ptx?user=ptx&password=s3cret&sslmode=require",
         f"postgresql://db/ptx?user=ptx&password={MASK}&sslmode=require"),
        ("postgresql://db/ptx?PassWord=s3cret", f"postgresql://db/ptx?PassWord={MASK}"),
        ("https://gw:t0ken@gateway.example/api", f"https://gw:{MASK}@gateway.example/api"),
        ("ptx:s3cret@db.example/ptx", f"ptx:{MASK}@db.example/ptx"),  # no scheme: still masked
    ],
)
def test_passwords_are_masked(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert "s3cret" not in redact_url(url) and "t0ken" not in redact_url(url)


@pytest.mark.parametrize(
    "url",
    ["sqlite:////tmp/workspace/gateway.db", "sqlite:///relative.db", "postgresql://ptx@db/ptx",
     "postgresql://db/ptx?sslmode=require", "http://127.0.0.1:8001", "https://[::1]:8443/v1/inbox", ""],
)
def test_urls_without_secrets_are_shown_as_they_are(url: str) -> None:
    assert redact_url(url) == url


@pytest.mark.parametrize(
    ("url", "link"),
    [
        ("http://gw:s3cret@gateway.example:8000", "http://gateway.example:8000"),
        ("https://gw@gateway.example/ui", "https://gateway.example/ui"),
        ("https://gw:pa/ss@gateway.example/ui", "https://gateway.example/ui"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://gateway.example/a@b", "http://gateway.example/a@b"),
    ],
)
def test_links_lose_their_credentials(url: str, link: str) -> None:
    assert strip_userinfo(url) == link
