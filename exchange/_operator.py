"""The gateway operator's credential: a random token in the gateway's own folder.

The operator (whoever runs the gateway) reads what no single node may: the message list of all parties, the
audit log, the dashboard when it is reachable from other machines, and retries dead letters. The credential is
a random secret, 256 bits from :mod:`secrets`, kept at ``gateway/operator.token`` in the folder the gateway runs
on (``workspace/parties/gateway`` for ``ptx up`` and the demo), mode 0600 like the gateway's keys; it is never
copied to another party's folder. ``ptx init`` writes it for the gateway's party folder, and the gateway creates
it when it starts without one (atomically: of several gateways starting on one folder, one writes and the others
read). It is presented as ``Authorization: Bearer <token>`` and compared in constant time
(:func:`token_matches`). To change it, delete the file and restart the gateway.

The ``ptx`` commands that call operator endpoints (``ptx status``, ``ptx retry``) and ``ptx demo`` read it from the
gateway's party folder of the workspace (:func:`operator_headers`).
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from exchange._errors import Code, ConfigurationError

#: where the token lives, relative to the folder the gateway runs on
OPERATOR_TOKEN_FILE = "gateway/operator.token"
#: bytes of randomness in a new token (shown as 43 URL-safe characters)
TOKEN_BYTES = 32
#: the shortest token the gateway accepts from its file (a hand-written one must not be guessable)
MIN_TOKEN_LENGTH = 32


def operator_token_path(folder: str | os.PathLike[str]) -> Path:
    """The token file of the gateway that runs on ``folder``."""
    return Path(folder) / OPERATOR_TOKEN_FILE


def ensure_operator_token(folder: str | os.PathLike[str]) -> str:
    """The operator token of the gateway on ``folder``, created (0600) when there is none yet."""
    path = operator_token_path(folder)
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another gateway on the same folder wrote it first: use that one
            pass
        else:
            with os.fdopen(descriptor, "w", encoding="ascii") as file:
                file.write(secrets.token_urlsafe(TOKEN_BYTES) + "\n")
    return read_operator_token(folder)


def read_operator_token(folder: str | os.PathLike[str]) -> str:
    """The operator token of the gateway on ``folder``; ``CONFIG-INVALID`` when it is missing or too short."""
    path = operator_token_path(folder)
    try:
        token = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise ConfigurationError(
            f"no operator token at {path}: the gateway writes it when it starts (or run `ptx init`)",
            code=Code.CONFIG_INVALID, path=str(path),
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read the operator token at {path}: {exc}", code=Code.CONFIG_INVALID,
                                 path=str(path)) from exc
    if len(token) < MIN_TOKEN_LENGTH or any(character.isspace() for character in token):
        raise ConfigurationError(
            f"the operator token at {path} must be one word of at least {MIN_TOKEN_LENGTH} characters; "
            "delete the file and the gateway writes a new one", code=Code.CONFIG_INVALID, path=str(path),
        )
    return token


def token_matches(presented: str | None, token: str) -> bool:
    """Whether ``presented`` is the operator token, compared in constant time."""
    if not presented:
        return False
    return hmac.compare_digest(presented.encode("utf-8", errors="replace"), token.encode("ascii"))


def operator_headers(folder: str | os.PathLike[str]) -> dict[str, str]:
    """``Authorization: Bearer ...`` for a client of the gateway that runs on ``folder``."""
    return {"Authorization": f"Bearer {read_operator_token(folder)}"}


__all__ = [
    "OPERATOR_TOKEN_FILE",
    "ensure_operator_token",
    "operator_headers",
    "operator_token_path",
    "read_operator_token",
    "token_matches",
]
