"""Scale benchmark: the gateway on SQLite (1 process) beside PostgreSQL with 1 and 2 gateway processes.

Run: ``.venv/bin/python bench/scale.py`` (``--quick`` for a shorter run; ``--postgres-url URL`` to use an
existing server where this user may create databases, else a throwaway one is started and removed). Prints a
table; asserts nothing beyond every message arriving.

For each setup, in the same run and on the same machine: real ``ptx serve gateway`` processes with their store
(SQLite file in WAL mode with full sync; or one PostgreSQL database with its default durability, fsync on), the
stand-in receiving node of the tests (tests/support/receiver.py: checks the gateway's delivery signature and
answers a signed receipt), a warm-up, then N signed 10 KB certificates of origin submitted round-robin across
the gateways by a few concurrent clients. Figures:

- *submitted/s* and p50/p99 latency: every 202 means the message was committed to the store first;
- *acknowledged/s*: N over the time from the first submission until all N are ACKNOWLEDGED (checked, stored,
  delivered, receipt verified and stored: the whole exchange).

Everything shares the machine's cores (gateways, receiver, PostgreSQL, clients), so a second gateway process
helps only where a core is left over; the table prints the core count.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from exchange._workspace import Workspace, init_workspace  # noqa: E402
from exchange.testing.postgres import PostgresServer, external_server, start_server  # noqa: E402
from exchange.testing.processes import PTX, free_port, running, running_together  # noqa: E402


def _bench_gateway() -> object:
    """bench/gateway.py (its module name would shadow the ``gateway`` package), for its signed messages."""
    spec = importlib.util.spec_from_file_location("bench_gateway", REPO / "bench" / "gateway.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MESSAGES = _bench_gateway()
XML = {"Content-Type": "application/xml"}


@dataclass(frozen=True)
class Setup:
    backend: str
    gateways: int


@dataclass(frozen=True)
class Figures:
    setup: Setup
    count: int
    submit_seconds: float
    latencies: list[float]
    acknowledged_seconds: float

    def row(self) -> str:
        ordered = sorted(self.latencies)
        p50 = statistics.median(ordered) * 1000
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        return (f"  {self.setup.backend:<11} {self.setup.gateways:>8}   {self.count / self.submit_seconds:>11.1f}"
                f"   {p50:>7.1f}  {p99:>7.1f}   {self.count / self.acknowledged_seconds:>14.1f}"
                f"   {self.acknowledged_seconds:>13.2f}")


HEADER = ("  backend     gateways   submitted/s   p50 ms   p99 ms   acknowledged/s   all ACK after s\n"
          "  ----------  --------   -----------   ------   ------   --------------   ---------------")


async def submit(bases: list[str], bodies: list[bytes], clients: int) -> tuple[float, list[float]]:
    """Body i to gateway i mod n from ``clients`` concurrent clients; (seconds, latencies). Any non-202 stops."""
    latencies: list[float] = []
    queue: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue()
    for item in enumerate(bodies):
        queue.put_nowait(item)

    async def client(http: httpx.AsyncClient) -> None:
        while not queue.empty():
            index, body = queue.get_nowait()
            started = time.perf_counter()
            response = await http.post(f"{bases[index % len(bases)]}/v1/messages", content=body, headers=XML)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 202:
                raise SystemExit(f"unexpected {response.status_code}: {response.text[:300]}")

    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=60) as http:
        await asyncio.gather(*(client(http) for _ in range(clients)))
    return time.perf_counter() - started, latencies


def wait_acknowledged(count_acknowledged: Callable[[], int], total: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while (done := count_acknowledged()) < total:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {done} of {total} messages ACKNOWLEDGED after {timeout:.0f} s")
        time.sleep(0.05)


def acknowledged_counter(url: str) -> Callable[[], int]:
    query = "SELECT count(*) FROM messages WHERE status = 'ACKNOWLEDGED'"
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")

        def sqlite_count() -> int:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
                return int(conn.execute(query).fetchone()[0])

        return sqlite_count

    def postgres_count() -> int:
        with psycopg.connect(url) as conn:
            row = conn.execute(query).fetchone()
            return int(row[0]) if row else 0

    return postgres_count


def run_setup(setup: Setup, workspace: Workspace, folder: Path, database: str, bodies: list[bytes],
              warmup: list[bytes], clients: int) -> Figures:
    receiver_port, ports = free_port(), [free_port() for _ in range(setup.gateways)]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    tag = f"{setup.backend}-{setup.gateways}"
    receiver = [sys.executable, str(REPO / "tests" / "support" / "receiver.py"), "--workspace", str(workspace.path),
                "--port", str(receiver_port), "--db", str(folder / f"receiver-{tag}.db")]
    gateways = [[PTX, "serve", "gateway", "--workspace", str(workspace.path), "--port", str(port),
                 "--node", f"BB=http://127.0.0.1:{receiver_port}", "--database-url", database,
                 "--log-level", "warning"] for port in ports]
    counted = acknowledged_counter(database)
    with ExitStack() as stack:
        stack.enter_context(running(receiver, health_url=f"http://127.0.0.1:{receiver_port}/healthz"))
        stack.enter_context(running_together(gateways, health_urls=[f"{base}/readyz" for base in bases],
                                             logs=[folder / f"gateway-{tag}-{n}.log" for n in range(len(gateways))]))
        asyncio.run(submit(bases, warmup, clients))  # imports, compiled schemas, pools: out of the figures
        wait_acknowledged(counted, len(warmup))
        started = time.perf_counter()
        submit_seconds, latencies = asyncio.run(submit(bases, bodies, clients))
        wait_acknowledged(counted, len(warmup) + len(bodies))
        acknowledged_seconds = time.perf_counter() - started
    return Figures(setup, len(bodies), submit_seconds, latencies, acknowledged_seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer messages per setup")
    parser.add_argument("--messages", type=int, help="messages per setup (default 1000, 200 with --quick)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent submitting clients (default 8)")
    parser.add_argument("--postgres-url", help="an existing PostgreSQL server (postgresql://USER@HOST:PORT/DB)")
    args = parser.parse_args()
    count = args.messages or (200 if args.quick else 1000)
    setups = [Setup("sqlite", 1), Setup("postgresql", 1), Setup("postgresql", 2)]

    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        folder = Path(tmp)
        init_workspace(folder / "workspace", moment=datetime.now(UTC) - timedelta(minutes=5))
        workspace = Workspace.open(folder / "workspace")
        server: PostgresServer = external_server(args.postgres_url) if args.postgres_url else start_server(durable=True)
        stack.callback(server.stop)
        with psycopg.connect(server.url) as conn:
            row = conn.execute("SELECT current_setting('server_version'), current_setting('fsync'), "
                               "current_setting('synchronous_commit')").fetchone()
        assert row is not None
        document = MESSAGES.ten_kb_document()  # type: ignore[attr-defined]
        make = MESSAGES.signed_message  # type: ignore[attr-defined]
        print(f"ptx gateway scale benchmark: {count} messages per setup, {args.clients} clients, "
              f"{os.cpu_count()} cores; Python {sys.version.split()[0]}; PostgreSQL {row[0]} "
              f"(fsync {row[1]}, synchronous_commit {row[2]}); SQLite WAL, synchronous FULL")
        results = []
        offset = 0
        for setup in setups:
            warmup = [make(workspace, document, offset + i) for i in range(20)]
            bodies = [make(workspace, document, offset + 20 + i) for i in range(count)]
            offset += 20 + count
            if setup.backend == "sqlite":
                database = f"sqlite:///{folder / 'gateway.db'}"
                figures = run_setup(setup, workspace, folder, database, bodies, warmup, args.clients)
            else:
                with server.database("ptx_bench") as database:
                    figures = run_setup(setup, workspace, folder, database, bodies, warmup, args.clients)
            results.append(figures)
            print(f"  ... {setup.backend} x{setup.gateways} done", file=sys.stderr)
        print(HEADER)
        for figures in results:
            print(figures.row())


if __name__ == "__main__":
    main()
