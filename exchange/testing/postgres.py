"""A throwaway PostgreSQL server for tests and benchmarks, or an existing one named by ``PTX_TEST_POSTGRES_URL``.

:func:`start_server` runs ``initdb`` into a new temporary folder, then ``pg_ctl start`` listening on a free
loopback port only, with its unix socket in the same folder and trust authentication (nothing but this machine
can reach it). As root it runs the server as an unprivileged user (``postgres`` if the system has one, else
``nobody``), because PostgreSQL refuses to run as root. :meth:`PostgresServer.stop` stops it and deletes the
folder. The binaries are found in ``$PTX_POSTGRES_BINDIR``, ``/usr/lib/postgresql/<newest>/bin`` (Debian) or
on ``PATH`` (:func:`postgres_bindir`); ``make deps`` installs Debian's ``postgresql`` package.

``durable=False`` (tests) turns fsync off: a crash of the machine would lose the throwaway data, nothing else
changes. Benchmarks keep the defaults (``durable=True``) so figures compare with SQLite's full sync.

:meth:`PostgresServer.database` makes a fresh, empty database and drops it afterwards: each test gets its own.
With ``reset`` it hands out a database a previous user left, after ``reset`` emptied it (faster than making one:
a test then finds the schema in place), and takes it back afterwards if ``reset`` can empty it again.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import stat
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from exchange.testing.processes import free_port

ENV_URL = "PTX_TEST_POSTGRES_URL"
ENV_BINDIR = "PTX_POSTGRES_BINDIR"
POSTGRES_TOOLS = ("initdb", "pg_ctl", "postgres")

#: Empties a database for its next user (connection in autocommit); False: it cannot be reused, drop it.
Reset = Callable[[psycopg.Connection[tuple[object, ...]]], bool]
SUPERUSER = "ptx"


class PostgresUnavailable(Exception):
    """No PostgreSQL server could be started or reached (the message says what to install or set)."""


def postgres_bindir() -> Path | None:
    """The folder holding PostgreSQL's server binaries: ``$PTX_POSTGRES_BINDIR``, Debian's newest
    ``/usr/lib/postgresql/<version>/bin`` (where the ``postgresql`` package puts them, off PATH), or PATH."""
    named = os.environ.get(ENV_BINDIR)
    if named:
        candidates = [Path(named)]
    else:
        candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
        on_path = shutil.which("initdb")
        if on_path:
            candidates.append(Path(on_path).parent)
    for folder in candidates:
        if all((folder / tool).is_file() for tool in POSTGRES_TOOLS):
            return folder
    return None


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.name)) or (0,)


def find_bindir() -> Path:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres``."""
    folder = postgres_bindir()
    if folder is None:
        raise PostgresUnavailable(
            f"PostgreSQL server binaries ({', '.join(POSTGRES_TOOLS)}) are not in ${ENV_BINDIR}, "
            f"/usr/lib/postgresql/*/bin or PATH: `sudo make deps` installs them (Debian package postgresql), or set "
            f"{ENV_URL} to a server where this user may create databases"
        )
    return folder


def _run_as() -> pwd.struct_passwd | None:
    """The unprivileged account to run the server as when we are root; None when we are not root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise PostgresUnavailable("running as root and neither a 'postgres' nor a 'nobody' account exists")


def _traversable_by_all(folder: Path) -> bool:
    return all(os.stat(part).st_mode & stat.S_IXOTH for part in [folder, *folder.parents])


@dataclass
class PostgresServer:
    """A running server: ``url`` connects as a superuser to its ``postgres`` database."""

    url: str
    folder: Path | None = None  # None: an existing server we did not start and must not stop
    _bindir: Path | None = None
    _account: pwd.struct_passwd | None = None
    _databases: list[str] = field(default_factory=list)
    _spare: list[str] = field(default_factory=list)

    @property
    def owned(self) -> bool:
        return self.folder is not None

    def _admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.url, autocommit=True, connect_timeout=10)

    def create_database(self, prefix: str = "ptx_test") -> str:
        """A new empty database; returns its URL (``postgresql://``, for settings and ``Store.open``)."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with self._admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self._databases.append(name)
        return _with_database(self.url, name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1].split("?", 1)[0]
        with self._admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if name in self._databases:
            self._databases.remove(name)

    @contextmanager
    def database(self, prefix: str = "ptx_test", *, reset: Reset | None = None) -> Iterator[str]:
        """A database of one's own for the ``with`` block (see the module docstring for ``reset``)."""
        url = _with_database(self.url, self._spare.pop()) if reset is not None and self._spare else None
        url = url or self.create_database(prefix)
        try:
            yield url
        finally:
            if reset is not None and self._recycle(url, reset):
                self._spare.append(url.rsplit("/", 1)[1])
            else:
                self.drop_database(url)

    def _recycle(self, url: str, reset: Reset) -> bool:
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
                conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = current_database() AND pid <> pg_backend_pid()")
                conn.execute("SET lock_timeout = '5s'")
                return reset(conn)
        except psycopg.Error:
            return False

    def stop(self) -> None:
        """Stop a server we started and delete its folder; on an existing server, drop what we created."""
        if self.folder is None:
            self._spare.clear()
            for name in list(self._databases):
                self.drop_database(_with_database(self.url, name))
            return
        data = self.folder / "data"
        try:
            if (data / "postmaster.pid").exists():
                self._tool("pg_ctl", "-D", str(data), "-m", "fast", "-w", "-t", "30", "stop", check=False)
                if (data / "postmaster.pid").exists():  # pg_ctl gave up: end the postmaster ourselves
                    pid = int((data / "postmaster.pid").read_text().split()[0])
                    _kill(pid)
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def _tool(self, tool: str, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        assert self._bindir is not None and self.folder is not None
        account = self._account
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C",
               "HOME": str(self.folder), "TZ": "UTC"}
        result = subprocess.run(
            [str(self._bindir / tool), *args], cwd=self.folder, env=env, capture_output=True, text=True,
            timeout=timeout, check=False,
            user=None if account is None else account.pw_uid,
            group=None if account is None else account.pw_gid,
            extra_groups=None if account is None else [],
        )
        if check and result.returncode != 0:
            raise PostgresUnavailable(f"{tool} failed ({result.returncode}): {(result.stderr or result.stdout).strip()}")
        return result


def _kill(pid: int) -> None:
    import signal

    for sig in (signal.SIGINT, signal.SIGKILL):  # SIGINT: PostgreSQL's fast shutdown
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)


def _with_database(url: str, name: str) -> str:
    base, _, query = url.partition("?")
    prefix = base.rsplit("/", 1)[0] if base.count("/") >= 3 else base
    return f"{prefix}/{name}" + (f"?{query}" if query else "")


def start_server(*, durable: bool = False, attempts: int = 5) -> PostgresServer:
    """initdb into a new temporary folder and start the server on a free loopback port (see the module doc)."""
    bindir = find_bindir()
    account = _run_as()
    parent = Path(tempfile.gettempdir())
    if account is not None and not _traversable_by_all(parent):
        parent = Path("/tmp")
    folder = Path(tempfile.mkdtemp(prefix="ptx-pg-", dir=parent))
    if account is not None:
        os.chown(folder, account.pw_uid, account.pw_gid)
    server = PostgresServer(url="", folder=folder, _bindir=bindir, _account=account)
    try:
        data = folder / "data"
        server._tool("initdb", "-D", str(data), "--username", SUPERUSER, "--auth", "trust", "--encoding", "UTF8",
                     "--locale", "C", "--no-sync", "--no-instructions")
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{folder}'",
            "max_connections": "200",
            "shared_buffers": "64MB",
            "log_min_messages": "warning",
            "timezone": "'UTC'",
        }
        if not durable:
            settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        with open(data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("\n# ptx throwaway server\n" + "".join(f"{k} = {v}\n" for k, v in settings.items()))
        log = folder / "server.log"
        last = ""
        for _ in range(attempts):
            port = free_port()
            started = server._tool("pg_ctl", "-D", str(data), "-l", str(log), "-w", "-t", "60",
                                   "-o", f"-p {port}", "start", check=False)
            if started.returncode == 0:
                server.url = f"postgresql://{SUPERUSER}@127.0.0.1:{port}/postgres"
                return server
            last = log.read_text(errors="replace")[-2000:] if log.exists() else started.stderr
            if "already in use" not in last and "could not bind" not in last:
                break
        raise PostgresUnavailable(f"pg_ctl start failed: {last.strip()}")
    except BaseException:
        server.stop()
        raise


def external_server(url: str) -> PostgresServer:
    """An existing server (``PTX_TEST_POSTGRES_URL``): we only create and drop our own databases on it."""
    plain = re.sub(r"^postgres(ql)?(\+psycopg)?://", "postgresql://", url)
    server = PostgresServer(url=plain)
    try:
        with server._admin() as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        raise PostgresUnavailable(f"cannot connect to {ENV_URL}={url!r}: {exc}") from exc
    return server


def server_from_environment(*, durable: bool = False) -> PostgresServer:
    """``PTX_TEST_POSTGRES_URL`` when set, else a throwaway server."""
    url = os.environ.get(ENV_URL)
    return external_server(url) if url else start_server(durable=durable)


__all__ = [
    "ENV_URL",
    "PostgresServer",
    "Reset",
    "PostgresUnavailable",
    "external_server",
    "find_bindir",
    "server_from_environment",
    "start_server",
]
