"""What the benchmark scripts share: the machine's state when a run starts, documents of a given size, a process
tree's own CPU time and resident memory from ``/proc``, and percentiles.

Not a benchmark itself. Imported as ``_common`` (each script runs with ``bench/`` first on ``sys.path``).
"""

from __future__ import annotations

import asyncio
import copy
import math
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from lxml import etree

REPO = Path(__file__).resolve().parent.parent
TYPE_ID = "certificate-of-origin"
LINE_ITEM = "IncludedSupplyChainTradeLineItem"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- the machine ------------------------------------------------------------------------------------------------


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def banner(title: str) -> None:
    """The first lines of a script's output: what it is and the state of the machine as it starts (shared
    machines: a load average well above 0 means other work ran beside these figures)."""
    print(title)
    print(f"  started {time.strftime('%Y-%m-%d %H:%M:%S')}; {os.cpu_count()} CPU(s); load average at start "
          f"{load_average()} (1/5/15 min); Python {sys.version.split()[0]}; libxml2 "
          f"{'.'.join(map(str, etree.LIBXML_VERSION))}", flush=True)


def finished(started: float) -> None:
    print(f"  finished after {time.perf_counter() - started:.0f} s; load average at end {load_average()}", flush=True)


# --- figures ----------------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` 0.5 for p50, 0.99 for p99) of a non-empty sequence."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


# --- processes: their own CPU time and memory -------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()  # fields from the 3rd (state) on: the name may hold spaces


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) one process has used itself (not its children)."""
    fields = _stat_fields(pid)
    if fields is None:
        raise RuntimeError(f"no process {pid}")
    return sum(int(value) for value in fields[11:13]) / CLOCK_TICKS


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process and all its descendants have used: their own times plus those of
    children that ended and were waited for (``cutime``/``cstime``), so the figure never goes back."""
    parents: dict[int, list[int]] = {}
    own: dict[int, float] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is None:
            continue
        child = int(entry.name)
        parents.setdefault(int(fields[1]), []).append(child)
        own[child] = sum(int(value) for value in fields[11:15]) / CLOCK_TICKS  # utime stime cutime cstime
    total, stack = 0.0, [pid]
    while stack:
        current = stack.pop()
        total += own.get(current, 0.0)
        stack.extend(parents.get(current, ()))
    return total


def resident_kib(pid: int, field: str = "VmRSS") -> int:
    """A process's resident memory in KiB (``VmRSS`` now, ``VmHWM`` its peak) from ``/proc/<pid>/status``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no {field}")


def process_io(pid: int) -> dict[str, int]:
    """What a process has read and written through system calls, from ``/proc/<pid>/io``: ``rchar``/``wchar`` bytes
    (files and sockets alike, from the page cache or not) and ``syscr``/``syscw`` calls."""
    fields = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    return {name: int(fields[name]) for name in ("rchar", "wchar", "syscr", "syscw")}


def io_line(before: Mapping[str, int], after: Mapping[str, int], count: int) -> str:
    spent = {name: (after[name] - before[name]) / count for name in before}
    return (f"read {spent['rchar'] / 1024:.1f} KiB in {spent['syscr']:.0f} calls, written {spent['wchar'] / 1024:.1f} "
            f"KiB in {spent['syscw']:.0f} calls")


class CpuMeter:
    """CPU seconds of named process trees between :meth:`start` and :meth:`stop`, from their own times, and of
    this process itself (``clients``: the benchmark's clients; the services it started are not counted there)."""

    def __init__(self, pids: Mapping[str, int], *, clients: bool = True) -> None:
        self.pids = dict(pids)
        self.clients = clients
        self._before: dict[str, float] = {}
        self.spent: dict[str, float] = {}
        self.wall = 0.0
        self._started = 0.0

    def _now(self) -> dict[str, float]:
        found = {name: process_tree_cpu(pid) for name, pid in self.pids.items()}
        if self.clients:
            found["clients"] = process_cpu(os.getpid())
        return found

    def start(self) -> None:
        self._before = self._now()
        self._started = time.perf_counter()

    def stop(self) -> None:
        self.wall = time.perf_counter() - self._started
        self.spent = {name: spent - self._before[name] for name, spent in self._now().items()}

    def per_message_ms(self, count: int) -> dict[str, float]:
        return {name: seconds / count * 1000 for name, seconds in self.spent.items()}

    def line(self, count: int) -> str:
        """``gateway 3.1, AA 2.0, ...`` ms of CPU per message, then the total and the cores it kept busy."""
        per = self.per_message_ms(count)
        total = sum(self.spent.values())
        return (", ".join(f"{name} {ms:.2f}" for name, ms in per.items())
                + f"; all {total / count * 1000:.2f} ms/msg, {total / self.wall:.2f} of {os.cpu_count()} cores busy")


# --- documents ----------------------------------------------------------------------------------------------------


def certificate_of_origin(target_bytes: int) -> bytes:
    """The catalogue's basic certificate of origin (valid: XSD and Schematron) with its last trade line item
    repeated, numbered on, until the document is about ``target_bytes`` long (within one line item)."""
    from exchange import default_catalogue, parse_xml

    doc_type = default_catalogue().get(TYPE_ID)
    sample = next(s for s in doc_type.samples if s.path.name == "basic.xml")
    tree = parse_xml(sample.path.read_bytes())
    items = [e for e in tree.getroot().iter() if isinstance(e.tag, str) and etree.QName(e).localname == LINE_ITEM]
    if not items:
        raise SystemExit(f"{sample.path} has no {LINE_ITEM} to repeat")
    template = items[-1]
    last, sequence = template, len(items)

    def add(count: int) -> None:
        nonlocal last, sequence
        for _ in range(count):
            sequence += 1
            clone = copy.deepcopy(template)
            for child in clone:
                if etree.QName(child).localname == "SequenceNumeric":
                    child.text = str(sequence)
            last.addnext(clone)
            last = clone

    size = len(etree.tostring(tree))
    if size < target_bytes:
        add(1)  # one item's size in place (alone it would carry a namespace declaration)
        item_size = len(etree.tostring(tree)) - size
        add(max(0, (target_bytes - size) // item_size - 1))
    return bytes(etree.tostring(tree, xml_declaration=True, encoding="UTF-8"))


# --- the services as real processes, started as ``ptx up`` starts them -------------------------------------------


class WrongAnswer(Exception):
    """A service answered something other than what the benchmark expects: its figures would mean nothing."""


@dataclass(frozen=True)
class Service:
    """One running service: its name (``gateway``, ``gateway-2``, ``AA``, ``AA-2``, ``BB``), URL and process."""

    name: str
    url: str
    process: subprocess.Popen[bytes]


def _free_pair() -> int:
    """A port p with p + 1 free too (``ptx up``'s plan numbers node ports on from the first)."""
    from exchange.testing.processes import free_port

    return free_port(consecutive=2)


def service_commands(
    root: Path, *, folder: Path, tag: str, gateway_database: str, gateways: int = 1, senders: int = 1,
    receiver_down: bool = False,
) -> list[tuple[str, str, list[str]]]:
    """(name, URL, command) of ``gateways`` gateway processes, ``senders`` AA nodes (AA node i submits to gateway
    i mod n) and one BB node, each command exactly as ``ptx up``'s plan (exchange/cli/_up.py) builds it, on
    the party's own folder, plus ``--database-url``: the gateways share ``gateway_database``, each node has a
    fresh SQLite file of its own in ``folder``. ``senders=0``: no AA node. ``receiver_down``: the gateways
    deliver to BB's address but no BB node runs there."""
    from exchange.cli._up import plan
    from exchange.testing.processes import free_port

    gateway_ports = [free_port() for _ in range(gateways)]
    bb_port = _free_pair()
    found: list[tuple[str, str, list[str]]] = []
    for index, port in enumerate(gateway_ports):
        gateway = plan(root, ["BB"], "127.0.0.1", port, bb_port)[0]  # delivers to BB's node
        found.append((_numbered("gateway", index), gateway.url,
                      [*gateway.command, "--database-url", gateway_database]))
    for index in range(senders):
        aa = plan(root, ["AA"], "127.0.0.1", gateway_ports[index % gateways], _free_pair())[1]
        found.append((_numbered("AA", index), aa.url,
                      [*aa.command, "--database-url", f"sqlite:///{folder / f'node-{tag}-aa-{index}.sqlite'}"]))
    if not receiver_down:
        bb = plan(root, ["BB"], "127.0.0.1", gateway_ports[0], bb_port)[1]
        found.append(("BB", bb.url, [*bb.command, "--database-url", f"sqlite:///{folder / f'node-{tag}-bb.sqlite'}"]))
    return found


def _numbered(name: str, index: int) -> str:
    return name if index == 0 else f"{name}-{index + 1}"


@contextmanager
def running_services(commands: Sequence[tuple[str, str, list[str]]], logs: Path) -> Iterator[list[Service]]:
    """Start every command at once, wait for each ``/readyz``, stop them all afterwards (logs in the folder
    ``logs``, made here); if anything fails meanwhile, print the end of each log first."""
    from exchange.testing.processes import running_together

    logs.mkdir(parents=True, exist_ok=True)
    paths = [logs / f"{name}.log" for name, _, _ in commands]
    try:
        with running_together([command for _, _, command in commands],
                              health_urls=[f"{url}/readyz" for _, url, _ in commands],
                              env={"PYTHONUNBUFFERED": "1"}, logs=paths) as processes:
            yield [Service(name, url, process) for (name, url, _), process in zip(commands, processes, strict=True)]
    except BaseException:
        for path in paths:  # what the services said, before the temporary folder goes
            lines = path.read_text(errors="replace").splitlines() if path.exists() else []
            errors = [line for line in lines if "Traceback" in line or "ERROR" in line or "error" in line.lower()]
            print(f"--- {path.name}: {len(lines)} lines, {len(errors)} naming an error; the last 15:", file=sys.stderr)
            print("\n".join(lines[-15:]), file=sys.stderr)
        raise


def postgres_pid(server: object) -> int | None:
    """The postmaster of a PostgreSQL server the benchmark started (None for an existing server)."""
    folder = getattr(server, "folder", None)
    if folder is None:
        return None
    return int((Path(folder) / "data" / "postmaster.pid").read_text().split()[0])


# --- the gateway's store, read from outside ------------------------------------------------------------------------


def status_counter(database_url: str) -> Callable[[], dict[str, int]]:
    """Messages by status in a gateway store (read-only for SQLite; one short query)."""
    query = "SELECT status, count(*) FROM messages GROUP BY status"
    if database_url.startswith("sqlite"):
        path = database_url.removeprefix("sqlite:///")

        def sqlite_counts() -> dict[str, int]:
            with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as conn:
                return {str(status): int(count) for status, count in conn.execute(query)}

        return sqlite_counts

    import psycopg

    def postgres_counts() -> dict[str, int]:
        with psycopg.connect(database_url) as conn:
            return {str(status): int(count) for status, count in conn.execute(query)}

    return postgres_counts


def store_work(database_url: str) -> dict[str, int]:
    """Counters of the work a gateway store did, to difference over a run: delivery attempts and audit entries
    written, and for PostgreSQL the database's committed and rolled-back transactions and deadlocks
    (``pg_stat_database``, flushed by the server about once a second: read it after a pause)."""
    counts = {
        "attempts": "SELECT count(*) FROM delivery_attempts",
        "audit entries": "SELECT count(*) FROM audit_log",
    }
    if database_url.startswith("sqlite"):
        path = database_url.removeprefix("sqlite:///")
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as conn:
            return {name: int(conn.execute(query).fetchone()[0]) for name, query in counts.items()}
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        found = {name: int(row[0]) for name, query in counts.items() if (row := conn.execute(query).fetchone())}
        row = conn.execute("SELECT xact_commit, xact_rollback, deadlocks FROM pg_stat_database "
                           "WHERE datname = current_database()").fetchone()
        assert row is not None
        found.update(commits=int(row[0]), rollbacks=int(row[1]), deadlocks=int(row[2]))
        return found


def wait_for_status(counts: Callable[[], dict[str, int]], status: str, total: int, *, timeout: float = 900,
                    interval: float = 0.1) -> dict[str, int]:
    """Poll until ``total`` messages have ``status``; fail loudly if they do not get there in ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while (found := counts()).get(status, 0) < total:
        if time.monotonic() > deadline:
            raise WrongAnswer(f"only {found.get(status, 0)} of {total} messages {status} after {timeout:.0f} s: {found}")
        time.sleep(interval)
    return found


# --- concurrent clients --------------------------------------------------------------------------------------------


async def post_all(
    requests: Sequence[tuple[str, dict[str, Any]]], clients: int, *, expect: Callable[[httpx.Response], str | None],
    after_each: Callable[[int], None] | None = None,
) -> tuple[float, list[float]]:
    """POST every (url, httpx keyword arguments) from ``clients`` concurrent clients, in order; (seconds,
    latencies). ``expect`` returns why an answer is wrong (None: right); the first wrong answer stops the run.
    ``after_each(done)`` is called after each answer (e.g. to sample memory)."""
    latencies: list[float] = []
    pending = list(reversed(requests))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client(http: httpx.AsyncClient) -> None:
        while pending:
            url, arguments = pending.pop()
            started = time.perf_counter()
            response = await http.post(url, **arguments)
            latencies.append(time.perf_counter() - started)
            problem = expect(response)
            if problem is not None:
                raise WrongAnswer(f"{url}: {problem}")
            if after_each is not None:
                after_each(len(latencies))

    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        await asyncio.gather(*(client(http) for _ in range(clients)))
    return time.perf_counter() - started, latencies


def latency_line(latencies: Sequence[float]) -> str:
    return (f"p50 {percentile(latencies, 0.5) * 1000:6.1f} ms   p99 {percentile(latencies, 0.99) * 1000:6.1f} ms"
            f"   max {max(latencies) * 1000:6.1f} ms")
