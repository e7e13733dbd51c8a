"""Ports for the services the demo, tests and benchmarks start: below the kernel's ephemeral range (which client
connections take their source ports from), one window per xdist worker, never the same port twice in a process."""

from __future__ import annotations

import socket

import pytest

from exchange import _ports
from exchange._ports import bindable, free_port


def _ephemeral_low() -> int:
    try:
        return int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    except OSError:
        return 32768


def test_ports_are_below_the_range_connections_take_theirs_from() -> None:
    ports = [free_port() for _ in range(50)]
    assert all(_ports.LOWEST <= port < _ephemeral_low() for port in ports)
    assert len(set(ports)) == len(ports), "a port is handed out once, even before its service binds it"
    assert all(bindable(port) for port in ports)


def test_consecutive_ports_are_all_free_and_not_handed_out_again() -> None:
    first = free_port(consecutive=3)
    assert all(bindable(port) for port in (first, first + 1, first + 2))
    following = [free_port() for _ in range(20)]
    assert not {first, first + 1, first + 2} & set(following)


def test_a_listening_port_is_skipped() -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", free_port()))
        held.listen()
        taken = held.getsockname()[1]
        assert not bindable(taken)
        _ports._cursor = taken - _ports._window()[0]  # the next candidate is the taken port
        assert free_port() != taken


def test_each_xdist_worker_draws_from_its_own_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "2")
    windows = []
    for worker in ("gw0", "gw1"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        windows.append(_ports._window())
    (low0, high0), (low1, high1) = windows
    assert low0 == _ports.LOWEST and high0 <= low1 and high1 <= _ephemeral_low()
    monkeypatch.delenv("PYTEST_XDIST_WORKER")
    assert _ports._window() == (_ports.LOWEST, max(_ephemeral_low(), _ports.LOWEST + 1000))
