"""Alembic environment of the gateway store: target is :data:`gateway._store.metadata`, SQLite and PostgreSQL.

The gateway runs it itself: :meth:`gateway._store.Store.open` (and ``ptx gateway migrate``) upgrade to head
through :func:`gateway._migrate.migrate`, which hands over a connection already inside the store's write
transaction and holding the migration lock; then everything below runs in that one transaction.

Writing a new revision (developers), against a scratch database brought to head first::

    alembic -c gateway/migrations/alembic.ini -x url=sqlite:///scratch.db upgrade head
    alembic -c gateway/migrations/alembic.ini -x url=sqlite:///scratch.db revision --autogenerate -m "what changes"

then review the file (spell types out; use ``op.batch_alter_table`` for SQLite) and add a test. With ``--sql``
(``alembic ... upgrade head --sql`` or ``ptx gateway migrate --sql``) the DDL is printed instead, for a DBA.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection

from gateway._migrate import hold_migration_lock
from gateway._settings import normalise_database_url
from gateway._store import create_store_engine, metadata

config = context.config


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    url = url or os.environ.get("PTX_DATABASE_URL")
    if not url:
        raise SystemExit("name the database: alembic ... -x url=sqlite:///FILE (or set PTX_DATABASE_URL)")
    return normalise_database_url(url)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    if context.is_offline_mode():
        context.configure(url=_url(), target_metadata=metadata, literal_binds=True,
                          dialect_opts={"paramstyle": "named"})
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:  # the gateway's own call: transaction and lock are the caller's
        _run(connection)
        return
    engine = create_store_engine(_url())
    try:
        with engine.connect() as conn, conn.begin():
            hold_migration_lock(conn)
            _run(conn)
    finally:
        engine.dispose()


main()
