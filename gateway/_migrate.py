"""Schema migrations of the gateway store: Alembic revisions in ``gateway/migrations``, on SQLite and PostgreSQL.

:func:`migrate` brings a database to the newest revision (*head*) inside the caller's write transaction, so a
migration commits completely or not at all (DDL is transactional on both backends):

- *PostgreSQL*: it first takes a transaction-scoped advisory lock (``pg_advisory_xact_lock``). When several
  gateway processes start at once, one migrates and the others wait for its commit, then find the schema at
  head and change nothing. The wait is bounded (``lock_timeout``, then ``STORE-LOCKED``).
- *SQLite*: the store's write transaction (``BEGIN IMMEDIATE``) already admits one writer at a time.
- A database created before migrations existed (tables made by ``create_all``, no ``alembic_version``) has
  exactly the schema of the baseline revision: it is stamped with it, then upgraded like any other.

A database at a revision this code does not know (a newer gateway migrated it) is refused with
``STORE-SCHEMA``; so is a database not at head when the store is opened without migrating
(``Store.open(create=False)``): run ``ptx gateway migrate`` first.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, func, inspect, select, text

from exchange import Code, StoreError

if TYPE_CHECKING:  # alembic is imported when a store is opened, not when this module is
    from alembic.config import Config
    from alembic.script import ScriptDirectory

#: Where the revisions live (``env.py``, ``versions/``).
MIGRATIONS = Path(__file__).with_name("migrations")

#: The first revision: the schema as ``metadata.create_all`` made it before migrations existed.
BASELINE = "0001"

#: Key of the PostgreSQL advisory lock held while migrating (a fixed 64-bit value derived from a name).
MIGRATION_LOCK = int.from_bytes(hashlib.sha256(b"ptx gateway store migrations").digest()[:8], "big", signed=True)

VERSION_TABLE = "alembic_version"


@dataclass(frozen=True, slots=True)
class SchemaRevision:
    """What :func:`migrate` did: the revision before (``None``: an empty database) and after (always head)."""

    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


def _config(connection: Connection | None = None, *, output: io.StringIO | None = None) -> Config:
    from alembic.config import Config

    config = Config(output_buffer=output)
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@lru_cache(maxsize=1)
def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config())


def head_revision() -> str:
    """The newest revision this code knows."""
    head = _scripts().get_current_head()
    if head is None:  # pragma: no cover - the package ships its revisions
        raise StoreError(f"no migrations found in {MIGRATIONS}", code=Code.STORE_SCHEMA)
    return head


def _known(revision: str) -> bool:
    from alembic.util import CommandError

    try:
        return _scripts().get_revision(revision) is not None
    except CommandError:
        return False


def hold_migration_lock(conn: Connection, *, timeout: float = 60.0) -> None:
    """Serialise migrations across processes (PostgreSQL advisory lock until the transaction ends).

    On SQLite the write transaction already does, and this is a no-op.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{int(timeout * 1000)}ms'")
        conn.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK)))


def current_revision(conn: Connection) -> str | None:
    """The database's revision; the baseline for a pre-migration database; ``None`` for an empty one."""
    inspector = inspect(conn)
    if inspector.has_table(VERSION_TABLE):
        versions = list(conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())
        if len(versions) > 1:
            raise StoreError(f"the store has several schema heads {sorted(versions)}: merge them first",
                             code=Code.STORE_SCHEMA)
        return str(versions[0]) if versions else None
    return BASELINE if inspector.has_table("messages") else None


def check_schema(conn: Connection) -> str:
    """Raise ``STORE-SCHEMA`` unless the database is at head; returns the revision."""
    current, head = current_revision(conn), head_revision()
    if current == head:
        return head
    if current is None:
        raise StoreError("the store has no tables: open it with migrations (or run `ptx gateway migrate`)",
                         code=Code.STORE_SCHEMA)
    if not _known(current):
        raise StoreError(f"the store's schema is at revision {current!r}, which this gateway does not know "
                         f"(its newest is {head!r}): a newer version migrated it", code=Code.STORE_SCHEMA)
    raise StoreError(f"the store's schema is at revision {current!r}, not {head!r}: run `ptx gateway migrate`",
                     code=Code.STORE_SCHEMA)


def migrate(conn: Connection, *, lock_timeout: float = 60.0) -> SchemaRevision:
    """Upgrade to head inside the caller's write transaction (see the module docstring)."""
    hold_migration_lock(conn, timeout=lock_timeout)
    before, head = current_revision(conn), head_revision()
    adopt = before == BASELINE and not inspect(conn).has_table(VERSION_TABLE)
    if before == head and not adopt:
        return SchemaRevision(before, head)
    if before is not None and not _known(before):
        check_schema(conn)  # raises the explanation
    from alembic import command
    from alembic.util import CommandError

    config = _config(conn)
    try:
        if adopt:
            command.stamp(config, BASELINE)
        command.upgrade(config, "head")
    except CommandError as exc:
        raise StoreError(f"the store could not be migrated: {exc}", code=Code.STORE_SCHEMA) from exc
    after = current_revision(conn)
    if after != head:  # pragma: no cover - alembic reported success
        raise StoreError(f"migration ended at {after!r}, not {head!r}", code=Code.STORE_SCHEMA)
    return SchemaRevision(before, head)


def migration_sql(url: str) -> str:
    """The DDL that brings an empty database at ``url``'s backend to head, for a DBA to run (nothing is run)."""
    from alembic import command
    from alembic.util import CommandError

    output = io.StringIO()
    config = _config(output=output)
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    try:
        command.upgrade(config, "head", sql=True)
    except CommandError as exc:
        raise StoreError(f"cannot write the migration SQL: {exc}", code=Code.STORE_SCHEMA) from exc
    return output.getvalue()


__all__ = [
    "BASELINE",
    "MIGRATIONS",
    "MIGRATION_LOCK",
    "SchemaRevision",
    "check_schema",
    "current_revision",
    "head_revision",
    "hold_migration_lock",
    "migrate",
    "migration_sql",
]
