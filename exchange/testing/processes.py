"""Real processes on free loopback ports, waited for and always cleaned up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

# the tests' and benchmarks' one way to choose a port, re-exported
from exchange._ports import bindable as bindable
from exchange._ports import free_port as free_port

PTX = str(Path(sys.executable).parent / "ptx")


def wait_healthy(url: str, process: subprocess.Popen[bytes], *, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode(errors="replace") if process.stdout else ""
            raise AssertionError(f"process exited with {process.returncode} before {url} was healthy:\n{output}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} not healthy after {timeout} s")


@contextmanager
def running(
    command: Sequence[str], *, health_url: str, env: dict[str, str] | None = None, log: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``command``, wait for ``health_url``, and stop it (SIGTERM, then SIGKILL) whatever happens."""
    full_env = {**os.environ, **(env or {})}
    out = open(log, "ab") if log is not None else subprocess.DEVNULL  # noqa: SIM115 - closed below
    process = subprocess.Popen(list(command), env=full_env, stdout=out, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        wait_healthy(health_url, process)
        yield process
    finally:
        stop(process)
        if log is not None and hasattr(out, "close"):
            out.close()


@contextmanager
def running_together(
    commands: Sequence[Sequence[str]], *, health_urls: Sequence[str], env: dict[str, str] | None = None,
    logs: Sequence[Path] | None = None,
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start several processes at once (e.g. gateways racing to migrate one database), wait until all are
    healthy, and stop them all whatever happens."""
    full_env = {**os.environ, **(env or {})}
    outs = [open(log, "ab") for log in logs] if logs is not None else []  # noqa: SIM115 - closed below
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for index, command in enumerate(commands):
            out = outs[index] if outs else subprocess.DEVNULL
            processes.append(subprocess.Popen(list(command), env=full_env, stdout=out, stderr=subprocess.STDOUT,
                                              start_new_session=True))
        for url, process in zip(health_urls, processes, strict=True):
            wait_healthy(url, process)
        yield processes
    finally:
        for process in processes:
            stop(process)
        for out in outs:
            out.close()


def stop(process: subprocess.Popen[bytes], *, kill: bool = False) -> None:
    if process.poll() is not None:
        return
    try:
        leader = os.getpgid(process.pid) == process.pid
    except ProcessLookupError:
        return

    def send(sig: signal.Signals) -> None:  # the process's own group when it leads one, else the process alone
        try:
            os.killpg(process.pid, sig) if leader else process.send_signal(sig)
        except ProcessLookupError:
            pass

    send(signal.SIGKILL if kill else signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        process.wait(timeout=10)


class OperatorAuth(httpx.Auth):
    """``Authorization: Bearer`` with the operator token of the gateway that runs on ``folder``, read when a request
    goes out (the gateway writes it when it starts, so a client made before the gateway runs still works)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        from exchange._operator import read_operator_token

        request.headers["Authorization"] = f"Bearer {read_operator_token(self.folder)}"
        yield request
