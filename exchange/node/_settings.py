"""Node settings from ``PTX_NODE_*`` environment variables (pydantic-settings), validated and failing closed.

======================================  =============================================  ==================================
variable                                meaning                                        default
======================================  =============================================  ==================================
``PTX_NODE_COUNTRY``                    the country this single window serves          required (no default)
``PTX_NODE_WORKSPACE``                  workspace folder (``ptx init`` makes it);      ``./workspace``
                                        ``PTX_WORKSPACE`` is read when it is unset
``PTX_NODE_GATEWAY_URL``                where the gateway's API is                     ``http://127.0.0.1:8000``
``PTX_NODE_DATABASE_URL``               SQLAlchemy URL of the node's store             ``sqlite:///<workspace>/nodes/<CC>.sqlite``
``PTX_NODE_MAX_MESSAGE_BYTES``          largest delivery accepted (HTTP 413 above)     10 MiB
``PTX_NODE_GATEWAY_TIMEOUT``            budget of one call to the gateway (seconds)    15
``PTX_NODE_DELIVERY_SKEW``              how far the gateway's delivery time may be     300
                                        from this node's clock (seconds)
``PTX_NODE_DEMO``                       demo mode: the outbox accepts ``tamper`` (a    false
                                        document changed after signing, to show a
                                        rejection); ``ptx up``/``ptx demo`` set it
``PTX_NODE_TLS__FROM_WORKSPACE``        TLS material from the workspace (this          false (plain HTTP)
                                        country's certificates, the gateway's CA)
``PTX_NODE_TLS__CERT``                  HTTPS: the server certificate chain (PEM)      unset (plain HTTP)
``PTX_NODE_TLS__KEY``                   its private key                                unset
``PTX_NODE_TLS__CLIENT_CA``             mutual TLS: CA bundle of the gateway's         unset (no client certificates)
                                        TLS client certificate
``PTX_NODE_TLS__REQUIRE_CLIENT_CERT``   handshake fails without a client cert          true
``PTX_NODE_TLS__CLIENT_CERT``           calls to the gateway: this node's client       unset
                                        certificate chain (PEM)
``PTX_NODE_TLS__CLIENT_KEY``            its private key                                unset
``PTX_NODE_TLS__SERVER_CA``             CA bundle of the gateway's server              unset (``https://`` refused)
======================================  =============================================  ==================================

Failing closed:

- there is no default country: a node that does not know whose single window it is must not start;
- without ``PTX_NODE_DATABASE_URL`` the store lives in the workspace, which must already exist (the node never
  creates a database in whatever folder it happened to start in), one SQLite file per country;
- the store is a SQLite *file*: an in-memory database would forget received documents on restart;
- the gateway URL must be ``http://`` or ``https://`` with a host;
- demo switches are off: a node breaks a signature on request (``tamper``) only when started in demo mode
  (``PTX_NODE_DEMO=true``, ``ptx serve node --demo``), otherwise the request is refused (``NODE-DEMO-ONLY``);
- a misspelt ``PTX_NODE_*`` variable or an unknown keyword argument is an error, not ignored;
- an ``https://`` gateway URL needs a CA to verify it (``PTX_NODE_TLS__SERVER_CA`` or ``__FROM_WORKSPACE``).

TLS is described in :mod:`exchange._tls`. With mutual TLS, the inbox takes deliveries only over a connection
that presented the gateway's registered TLS client certificate (``NODE-TRANSPORT-IDENTITY``, HTTP 401).

Use :func:`load_settings` (errors become :class:`~exchange.ConfigurationError`) or the cached :func:`get_settings`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from exchange import Code, ConfigurationError, TlsSettings, redact_url, require_verifiable

MIB = 1024 * 1024
DEFAULT_GATEWAY_URL = "http://127.0.0.1:8000"


class NodeSettings(BaseSettings):
    """Everything one single-window node needs. See the module docstring for the variables."""

    model_config = SettingsConfigDict(
        env_prefix="PTX_NODE_", env_nested_delimiter="__", extra="forbid", frozen=True, validate_default=True,
        populate_by_name=True,
    )

    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 code of the country served")
    workspace: Path = Field(
        default=Path("workspace"), validation_alias=AliasChoices("PTX_NODE_WORKSPACE", "PTX_WORKSPACE")
    )
    gateway_url: str = DEFAULT_GATEWAY_URL
    database_url: str | None = None
    max_message_bytes: int = Field(default=10 * MIB, ge=1024, le=1024 * MIB)
    gateway_timeout: float = Field(default=15.0, gt=0, le=600)
    delivery_skew: float = Field(default=300.0, gt=0, le=3600)
    demo: bool = Field(default=False, description="demo mode: accept demo switches such as tamper")
    tls: TlsSettings = TlsSettings()

    @field_validator("country", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("gateway_url")
    @classmethod
    def _check_gateway_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"gateway URL {redact_url(value)!r} must be http:// or https:// with a host")
        if parts.query or parts.fragment:
            raise ValueError(f"gateway URL {redact_url(value)!r} must not carry a query or fragment")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _check_store(self) -> Self:
        if self.database_url is None:
            if not self.workspace.is_dir():
                raise ValueError(
                    f"workspace {str(self.workspace)!r} does not exist: run `ptx init` or set PTX_NODE_WORKSPACE, "
                    "or set PTX_NODE_DATABASE_URL"
                )
        else:
            check_database_url(self.database_url)
        require_verifiable([self.gateway_url], self.tls, "gateway URL")
        return self

    @property
    def store_url(self) -> str:
        """The SQLAlchemy URL the store opens (the workspace default filled in)."""
        if self.database_url is None:
            return f"sqlite:///{(self.workspace / 'nodes' / f'{self.country}.sqlite').resolve()}"
        return self.database_url


def check_database_url(url: str) -> str:
    """A node's store is one SQLite file: refuse anything else. Raises ``ValueError``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"database URL {redact_url(url)!r} has no scheme (sqlite:///FILE)")
    if scheme not in ("sqlite", "sqlite+pysqlite"):
        raise ValueError(f"database URL scheme {scheme!r} is not supported by a node (one SQLite file per node)")
    path = rest[1:] if rest.startswith("/") else rest
    if path in ("", ":memory:") or "mode=memory" in path:
        raise ValueError("an in-memory SQLite store loses received documents on restart: name a file")
    return url


ENV_PREFIX = "PTX_NODE_"
#: Variables of other services that happen to start with the node's prefix (the gateway's ``PTX_`` +
#: ``node_urls``); a shared environment (compose file, ``ptx up``) may carry them.
OTHER_SERVICES_VARIABLES = frozenset({"PTX_NODE_URLS"})


def _unknown_variables(environ: Mapping[str, str]) -> list[str]:
    known = {f"{ENV_PREFIX}{name}".upper() for name in NodeSettings.model_fields} | OTHER_SERVICES_VARIABLES
    # Nested settings (``PTX_NODE_TLS__CERT``): the prefix is checked here, the field by the nested model.
    nested = tuple(f"{ENV_PREFIX}{name}__".upper() for name in NodeSettings.model_fields)
    return sorted(
        key for key in environ
        if key.upper().startswith(ENV_PREFIX) and key.upper() not in known and not key.upper().startswith(nested)
    )


def load_settings(**overrides: Any) -> NodeSettings:
    """Read settings from the environment, ``overrides`` winning; any problem is a ``ConfigurationError``.

    A ``PTX_NODE_*`` variable that names no setting (a typo such as ``PTX_NODE_GATEWAY``) is refused too.
    """
    unknown = _unknown_variables(os.environ)
    if unknown:
        raise ConfigurationError(
            f"node settings: unknown variable(s) {', '.join(unknown)}; known: "
            + ", ".join(f"{ENV_PREFIX}{name.upper()}" for name in NodeSettings.model_fields),
            code=Code.CONFIG_INVALID,
        )
    try:
        return NodeSettings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'settings'}: {error['msg']}" for error in exc.errors()
        )
        raise ConfigurationError(f"node settings: {problems}", code=Code.CONFIG_INVALID) from exc


@lru_cache(maxsize=1)
def get_settings() -> NodeSettings:
    """The process's settings, read once (``get_settings.cache_clear()`` forgets them, e.g. in tests)."""
    return load_settings()


__all__ = ["DEFAULT_GATEWAY_URL", "ENV_PREFIX", "NodeSettings", "check_database_url", "get_settings", "load_settings"]
