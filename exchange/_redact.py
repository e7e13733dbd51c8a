"""Show a URL without its secrets: start-up lines, logs and error messages name a store or a peer, never a password.

:func:`redact_url` masks the password of the userinfo (``postgresql://ptx:***@db/ptx``) and the values of query
parameters that carry secrets (``?password=***``; libpq and psycopg read ``password`` there, and SQLAlchemy's
``URL.render_as_string(hide_password=True)`` does not mask it). It works on any URL, database or HTTP, with the
standard library alone (the library imports no database driver), and errs on the side of masking: a password
may hold an unencoded ``/`` (SQLAlchemy takes everything up to the ``@``), so everything from the first ``:`` of
the userinfo to the last ``@`` before the query is masked. A URL without secrets is returned unchanged.
"""

from __future__ import annotations

import re

MASK = "***"

#: Query parameters whose value is a secret (compared case-insensitively).
SECRET_PARAMETERS = frozenset({
    "password", "passwd", "pwd", "pass", "sslpassword", "secret", "token", "access_token", "api_key", "apikey",
})

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
# user ":" password "@" host..., the password running to the last "@" before any query or fragment
_USERINFO = re.compile(r"^(?P<user>[^:/@?#]*):(?P<password>[^?#]*)@(?P<rest>[^@?#]*)$")
_PARAMETER = re.compile(r"(?P<key>[^&=;]+)=(?P<value>[^&;]*)")


def _mask_query(query: str) -> str:
    def mask(match: re.Match[str]) -> str:
        key = match.group("key")
        return f"{key}={MASK}" if key.strip().lower() in SECRET_PARAMETERS else match.group(0)

    return _PARAMETER.sub(mask, query)


def _split(url: str) -> tuple[str, str, str]:
    """``scheme://``, what comes before the query or fragment, and the query and fragment."""
    scheme_match = _SCHEME.match(url)
    scheme = scheme_match.group(0) if scheme_match else ""
    rest = url[len(scheme):]
    cut = min((index for index in (rest.find("?"), rest.find("#")) if index >= 0), default=len(rest))
    return scheme, rest[:cut], rest[cut:]


def _mask_tail(tail: str) -> str:
    if not tail.startswith("?"):
        return tail
    query, sep, fragment = tail[1:].partition("#")
    return "?" + _mask_query(query) + sep + fragment


def redact_url(url: str) -> str:
    """``url`` with its password and secret query values replaced by ``***`` (see the module docstring)."""
    scheme, head, tail = _split(url)
    userinfo = _USERINFO.match(head)
    if userinfo is not None:
        head = f"{userinfo.group('user')}:{MASK}@{userinfo.group('rest')}"
    return scheme + head + _mask_tail(tail)


def strip_userinfo(url: str) -> str:
    """``url`` without its ``user[:password]@`` part (and secret query values masked): for links a browser
    follows, which would otherwise carry the credentials along."""
    scheme, head, tail = _split(url)
    at = head.rfind("@")
    if at >= 0 and (_USERINFO.match(head) or "/" not in head[:at]):
        head = head[at + 1:]
    return scheme + head + _mask_tail(tail)


__all__ = ["MASK", "SECRET_PARAMETERS", "redact_url", "strip_userinfo"]
