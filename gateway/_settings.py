"""Gateway settings from ``PTX_*`` environment variables (pydantic-settings), validated and failing closed.

=================================  ==========================================  ================================
variable                           meaning                                     default
=================================  ==========================================  ================================
``PTX_WORKSPACE``                  workspace folder (``ptx init`` makes it)    ``./workspace``
``PTX_DATABASE_URL``               SQLAlchemy URL of the store                 ``sqlite:///<workspace>/gateway.db``
``PTX_MAX_MESSAGE_BYTES``          largest envelope accepted (HTTP 413 above)  10 MiB
``PTX_NODE_URLS``                  JSON: party id -> node base URL             ``{}`` (nothing deliverable)
``PTX_DELIVERY__MAX_ATTEMPTS``     attempts before the dead letter             12
``PTX_DELIVERY__BASE_DELAY``       backoff before the 2nd attempt (cap grows)  2 s
``PTX_DELIVERY__MAX_DELAY``        backoff cap                                 5 min
``PTX_DELIVERY__MAX_AGE``          no retry later than this after receipt      24 h
``PTX_DELIVERY__JITTER``           full jitter on the backoff                  true
``PTX_DELIVERY__WORKERS``          deliveries in flight per gateway process    4
``PTX_DELIVERY__REQUEST_TIMEOUT``  whole budget of one delivery attempt        15 s
``PTX_DELIVERY__LEASE``            how long a claimed message stays claimed    60 s
``PTX_DELIVERY__POLL_INTERVAL``    idle wait between looks at the queue        1 s
``PTX_TLS__FROM_WORKSPACE``        TLS material from the workspace             false (plain HTTP)
``PTX_TLS__CERT``                  HTTPS: the server certificate chain (PEM)   unset (plain HTTP)
``PTX_TLS__KEY``                   its private key                             unset
``PTX_TLS__CLIENT_CA``             mutual TLS: CA bundle of the nodes' certs   unset (no client certificates)
``PTX_TLS__REQUIRE_CLIENT_CERT``   handshake fails without a client cert       true
``PTX_TLS__CLIENT_CERT``           deliveries: the gateway's client cert       unset
``PTX_TLS__CLIENT_KEY``            its private key                             unset
``PTX_TLS__SERVER_CA``             deliveries: CA bundle of nodes' servers     unset (``https://`` refused)
``PTX_LISTEN_HOST``                the interface the server listens on         unset (not loopback)
=================================  ==========================================  ================================

``PTX_LISTEN_HOST`` is set by ``ptx serve gateway --host``; run the app another way and set it yourself. The
dashboard is open without a credential only when it names a loopback address (``127.0.0.1``, ``::1``,
``localhost``); unset, the gateway assumes it is reachable from elsewhere and the dashboard asks for the operator
token (:mod:`gateway._access`).

TLS is described in :mod:`exchange._tls`; with mutual TLS, each submission's client certificate names a party
(the country whose registered TLS client certificate it is), and the sender check refuses an envelope that
claims another sender.

Durations take seconds (``90``, ``1.5``) or ISO 8601 (``PT90S``, ``PT24H``). A misspelt ``PTX_DELIVERY__*``
variable or an unknown keyword argument is an error, not ignored.

Failing closed:

- without ``PTX_DATABASE_URL`` the store lives in the workspace, which must already exist: the gateway never
  creates a database in whatever folder it happened to start in;
- the URL must name a backend the store supports (SQLite file, PostgreSQL with psycopg 3); an in-memory SQLite
  database is refused, because an accepted message must survive a restart;
- the lease must outlast a whole delivery attempt (``lease >= 2 * request_timeout``), otherwise a slow attempt
  could be claimed again while still in flight, and the backoff bounds must be ordered.

Use :func:`load_settings` (errors become :class:`~exchange.ConfigurationError`) or the cached :func:`get_settings`.
"""

from __future__ import annotations

import re
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from exchange import Code, ConfigurationError, TlsSettings, redact_url, require_verifiable

MIB = 1024 * 1024

_NUMBER = re.compile(r"^\s*[0-9]+(\.[0-9]+)?\s*$")


def _seconds(value: Any) -> Any:
    """Let a duration be given as a plain number of seconds, also as a string (environment variables)."""
    if isinstance(value, str) and _NUMBER.match(value):
        return timedelta(seconds=float(value))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    return value


Duration = Annotated[timedelta, BeforeValidator(_seconds)]


class DeliverySettings(BaseModel):
    """How the gateway forwards accepted messages: backoff, bounds, concurrency and leases."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: int = Field(default=12, ge=1, le=1000)
    base_delay: Duration = timedelta(seconds=2)
    max_delay: Duration = timedelta(minutes=5)
    max_age: Duration = timedelta(hours=24)
    jitter: bool = True
    workers: int = Field(default=4, ge=1, le=256)
    request_timeout: Duration = timedelta(seconds=15)
    lease: Duration = timedelta(seconds=60)
    poll_interval: Duration = timedelta(seconds=1)

    @model_validator(mode="after")
    def _check_bounds(self) -> Self:
        for name in ("base_delay", "max_delay", "max_age", "request_timeout", "lease", "poll_interval"):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"{name} must be positive")
        if self.base_delay > self.max_delay:
            raise ValueError("base_delay must not exceed max_delay")
        if self.lease < 2 * self.request_timeout:
            raise ValueError(
                "lease must be at least twice request_timeout, or a slow attempt could be claimed again in flight"
            )
        return self


class GatewaySettings(BaseSettings):
    """Everything the gateway's store and delivery workers need. See the module docstring for variables."""

    model_config = SettingsConfigDict(
        env_prefix="PTX_", env_nested_delimiter="__", extra="forbid", frozen=True, validate_default=True
    )

    workspace: Path = Path("workspace")
    database_url: str | None = None
    max_message_bytes: int = Field(default=10 * MIB, ge=1024, le=1024 * MIB)
    delivery: DeliverySettings = DeliverySettings()
    node_urls: dict[str, str] = Field(
        default_factory=dict, description="base URL of each receiving node by party id; its inbox is URL/v1/inbox"
    )
    tls: TlsSettings = TlsSettings()
    listen_host: str | None = Field(
        default=None, description="the interface the server listens on; the dashboard is open only on loopback"
    )
    hub_listener: bool = Field(
        default=False,
        description="a second listener with mutual TLS serves the ePhyto hub interface beside a plain-HTTP main "
                    "listener in the same process (`ptx serve gateway --hub-port`): TLS identities count on it only",
    )

    @model_validator(mode="after")
    def _check_store(self) -> Self:
        if self.database_url is None:
            if not self.workspace.is_dir():
                raise ValueError(
                    f"workspace {str(self.workspace)!r} does not exist: run `ptx init` or set PTX_WORKSPACE, "
                    "or set PTX_DATABASE_URL"
                )
        else:
            normalise_database_url(self.database_url)
        require_verifiable(self.node_urls.values(), self.tls, "node URL")
        return self

    @property
    def store_url(self) -> str:
        """The SQLAlchemy URL the store opens (the workspace default filled in, PostgreSQL on psycopg 3)."""
        if self.database_url is None:
            return f"sqlite:///{(self.workspace / 'gateway.db').resolve()}"
        return normalise_database_url(self.database_url)


def normalise_database_url(url: str) -> str:
    """Check a store URL and name the driver: ``postgresql://`` means psycopg 3. Raises ``ValueError``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"database URL {redact_url(url)!r} has no scheme (sqlite:///FILE or postgresql://...)")
    if scheme in ("sqlite", "sqlite+pysqlite"):
        path = rest[1:] if rest.startswith("/") else rest
        if path in ("", ":memory:") or "mode=memory" in path:
            raise ValueError("an in-memory SQLite store loses accepted messages on restart: name a file")
        return url
    if scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        return f"postgresql+psycopg://{rest}"
    raise ValueError(f"database URL scheme {scheme!r} is not supported (sqlite, postgresql)")


def load_settings(**overrides: Any) -> GatewaySettings:
    """Read settings from the environment, ``overrides`` winning; any problem is a ``ConfigurationError``."""
    try:
        return GatewaySettings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'settings'}: {error['msg']}" for error in exc.errors()
        )
        raise ConfigurationError(f"gateway settings: {problems}", code=Code.CONFIG_INVALID) from exc


@lru_cache(maxsize=1)
def get_settings() -> GatewaySettings:
    """The process's settings, read once (``get_settings.cache_clear()`` forgets them, e.g. in tests)."""
    return load_settings()


__all__ = ["DeliverySettings", "GatewaySettings", "get_settings", "load_settings", "normalise_database_url"]
