"""Free loopback ports for the services one machine starts for itself: the demo, the tests and the benchmarks.

A port the kernel hands out for ``bind(("127.0.0.1", 0))`` comes from its ephemeral range, the range it also takes
the source port of every outgoing connection from. Between choosing such a port and the service binding it, any
client connection on the machine may be given it, and the service then fails with "address in use" (seen in CI: a
node refused to start on a port an HTTP client of a parallel test had just taken). Ports are therefore chosen below
the ephemeral range, where no connection is ever given one, each pytest-xdist worker in a window of its own, and
probed the way a server binds them (``SO_REUSEADDR``, so a port in TIME_WAIT counts as free).
"""

from __future__ import annotations

import os
import random
import socket
from pathlib import Path

#: The lowest port handed out: above the well-known and registered ports services like PostgreSQL (5432) and the
#: exercises' defaults (8600-8799) use.
LOWEST = 10000
_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_cursor: int | None = None


def bindable(port: int, host: str = "127.0.0.1") -> bool:
    """True when a server could listen on ``host:port`` now (as ``ptx serve`` binds: with ``SO_REUSEADDR``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _window() -> tuple[int, int]:
    """The ports this process draws from: below the ephemeral range, this xdist worker's share of it."""
    try:
        ephemeral_low = int(_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32768  # Linux's default; elsewhere, the IANA dynamic range starts higher still
    low, high = LOWEST, max(ephemeral_low, LOWEST + 1000)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw") and worker[2:].isdigit():
        count = max(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1), int(worker[2:]) + 1)
        share = (high - low) // count
        low += share * int(worker[2:])
        high = low + share
    return low, high


def free_port(consecutive: int = 1) -> int:
    """A loopback port nothing listens on, outside the range outgoing connections take theirs from; with
    ``consecutive``, the first of that many free ports in a row (``ptx up`` gives the countries' nodes a port each
    from its ``--node-port`` on).

    Successive calls in one process return different ports (a service a port was chosen for may not have bound it
    yet), starting from a random place in the window so that processes sharing a window rarely meet.
    """
    global _cursor
    low, high = _window()
    span = high - low - consecutive
    if _cursor is None:
        _cursor = random.randrange(span)
    for _ in range(span):
        first = low + _cursor % span
        _cursor += 1
        if all(bindable(port) for port in range(first, first + consecutive)):
            _cursor += consecutive - 1
            return first
    raise OSError(f"no {consecutive} free loopback port(s) in a row between {low} and {high}")
