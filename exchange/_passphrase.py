"""Where the passphrase of encrypted private keys comes from (:mod:`exchange._keystore` uses it).

``PTX_KEY_PASSPHRASE``, else the interactive prompt a command line installed (:func:`use_prompt`; ``ptx`` does
when stdin is a terminal), asked at most once per process and only when an encrypted key is opened, else none.
Never from a file, never logged. Kept apart from the key store so that the command line installs its prompt
without loading cryptography at start-up.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

PASSPHRASE_ENV = "PTX_KEY_PASSPHRASE"

#: Where a store gets the passphrase: called only when one is needed; None means there is none.
Passphrase = Callable[[], bytes | None]


def no_passphrase() -> bytes | None:
    """No passphrase: an encrypted key is refused, a stored key is written plain."""
    return None


def environment_passphrase() -> bytes | None:
    """``PTX_KEY_PASSPHRASE`` (UTF-8), or None when it is unset or empty."""
    value = os.environ.get(PASSPHRASE_ENV, "")
    return value.encode("utf-8") if value else None


class _Prompt:
    """The process's interactive prompt: asked at most once, the answer kept in memory for the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ask: Callable[[], str] | None = None
        self._answer: bytes | None = None

    def install(self, ask: Callable[[], str] | None) -> None:
        with self._lock:
            self._ask, self._answer = ask, None

    def __call__(self) -> bytes | None:
        with self._lock:
            if self._answer is None and self._ask is not None:
                self._answer = self._ask().encode("utf-8") or None
            return self._answer


_PROMPT = _Prompt()


def use_prompt(ask: Callable[[], str] | None) -> None:
    """Install the interactive passphrase prompt of this process (``None`` removes it). ``ptx`` installs one when
    stdin is a terminal; it is asked only when an encrypted key is opened and ``PTX_KEY_PASSPHRASE`` is unset."""
    _PROMPT.install(ask)


def configured_passphrase() -> bytes | None:
    """``PTX_KEY_PASSPHRASE``, else the installed prompt's answer, else None."""
    return environment_passphrase() or _PROMPT()


__all__ = [
    "PASSPHRASE_ENV",
    "Passphrase",
    "configured_passphrase",
    "environment_passphrase",
    "no_passphrase",
    "use_prompt",
]
