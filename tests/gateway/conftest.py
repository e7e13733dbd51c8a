"""Gateway fixtures: a real demo workspace created at a pinned moment, helpers to make signed messages, and the
store's two backends.

Backends: a test that takes ``database_url`` (directly or through a ``store`` fixture built on it) runs twice,
``[sqlite]`` on a new file in its tmp folder and ``[postgresql]`` on a database of its own on the session's
PostgreSQL server: a throwaway one (initdb as an unprivileged user, a free loopback port, stopped and deleted at
the end) unless ``PTX_TEST_POSTGRES_URL`` names a server where we may create databases. PostgreSQL databases are
reused: emptied of the previous test's rows, schema kept (a database whose schema a test changed is dropped).
``empty_database_url`` is a brand-new empty database on either backend, for the migration tests. On a machine
without PostgreSQL's server binaries the ``[postgresql]`` half skips saying so (``make deps`` installs them; under
``CI=true`` it fails instead); binaries that are there but cannot start a server fail the tests with the reason.
``-m "not postgresql"`` leaves them out.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from exchange._catalogue import default_catalogue
from exchange._dsig import sign_document
from exchange._envelope import Party, build_envelope
from exchange._workspace import Workspace, init_workspace
from exchange.testing.postgres import PostgresServer, PostgresUnavailable, server_from_environment
from gateway._migrate import head_revision
from gateway._settings import normalise_database_url
from gateway._store import Store, metadata
from tests.gateway.store_support import FakeClock, open_store
from tests.support.needs import require

CREATED = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
MOMENT = CREATED + timedelta(days=3)


@pytest.fixture(scope="session")
def workspace_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ws-template") / "workspace"
    init_workspace(path, moment=CREATED)
    return path


@pytest.fixture
def workspace(workspace_template: Path, tmp_path: Path) -> Workspace:
    """A private copy (tests may revoke issuers)."""
    path = tmp_path / "workspace"
    shutil.copytree(workspace_template, path)
    return Workspace.open(path)


def sample(type_id: str, name: str = "basic.xml") -> bytes:
    doc_type = default_catalogue().get(type_id)
    return next(s for s in doc_type.samples if s.path.name == name).path.read_bytes()


ISSUER_OF = {
    "certificate-of-origin": "chamber-of-commerce",
    "commercial-invoice": "chamber-of-commerce",
    "phytosanitary-certificate": "nppo",
    "customs-declaration": "customs",
}

MessageFactory = Callable[..., bytes]


@pytest.fixture
def make_message(workspace: Workspace) -> MessageFactory:
    def make(
        type_id: str = "certificate-of-origin",
        *,
        document: bytes | None = None,
        issuer: str | None = None,
        sender: str = "AA",
        receiver: str = "BB",
        signed_by_node: str | None = None,
        envelope_type: str | None = None,
        message_id: str | None = "msg-0000000000000001",
        sign_document_: bool = True,
        sign_envelope: bool = True,
        tamper_document: Callable[[bytes], bytes] | None = None,
    ) -> bytes:
        doc_type = default_catalogue().get(type_id)
        data = document if document is not None else sample(type_id)
        if sign_document_:
            authority = workspace.authority(sender if sender in workspace.countries else "AA",
                                            issuer or ISSUER_OF[type_id])
            data = sign_document(data, authority.key, authority.signing_chain)
        if tamper_document is not None:
            data = tamper_document(data)
        envelope = build_envelope(
            data,
            sender=Party(sender),
            receiver=Party(receiver),
            document_type=envelope_type or doc_type.id,
            type_version=doc_type.version,
            standard=doc_type.namespace,
            message_id=message_id,
            created=MOMENT,
        )
        if not sign_envelope:
            return envelope
        node = workspace.node(signed_by_node or (sender if sender in workspace.countries else "AA"))
        return sign_document(envelope, node.key, node.signing_chain)

    return make


# --- the store's backends -------------------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgresql: runs against a real PostgreSQL server (see tests/gateway/conftest.py)")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server (one per xdist worker); a failure to start fails the tests that need it."""
    require("postgresql")
    try:
        server = server_from_environment()
    except PostgresUnavailable as exc:
        pytest.fail(f"PostgreSQL is required for the [postgresql] tests and none could be used: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


BACKENDS = [pytest.param("sqlite", id="sqlite"),
            pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql)]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """``sqlite`` or ``postgresql``; pin a test to one with ``@pytest.mark.parametrize("backend", ["sqlite"])``."""
    return str(request.param)


#: Every table of the store's schema (a list written out went stale as tables came, and no database was reused).
STORE_TABLES = frozenset(metadata.tables)


def empty_store(conn: psycopg.Connection[tuple[object, ...]]) -> bool:
    """Empty a used store database for the next test, if its schema is exactly the current one."""
    tables = {str(row[0]) for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    if tables != STORE_TABLES | {"alembic_version"}:
        return False
    if conn.execute("SELECT version_num FROM alembic_version").fetchall() != [(head_revision(),)]:
        return False
    conn.execute(f"TRUNCATE {', '.join(sorted(STORE_TABLES))} RESTART IDENTITY")
    return True


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A store database of the test's own, without rows, as the SQLAlchemy URL ``Store.open`` takes."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'gateway.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    with server.database(reset=empty_store) as url:
        yield normalise_database_url(url)


@pytest.fixture
def empty_database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A brand-new database without tables (a new SQLite file, a new PostgreSQL database)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    with server.database() as url:
        yield normalise_database_url(url)


@pytest.fixture
def clock() -> FakeClock:
    """A clock that moves only when a test says so."""
    return FakeClock()


@pytest.fixture
def store(database_url: str, clock: FakeClock) -> Iterator[Store]:
    """A store on the test's backend (see ``database_url``), closed after the test."""
    opened = open_store(database_url, clock)
    yield opened
    opened.close()
