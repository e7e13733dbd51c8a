"""Party folders for the conformance tests, and our own services as real processes on them.

One network is made once per module (``ptx init``'s layout) with AA's NPPO revoked (not its customs: the transit scenarios need one), so the revoked
issuer scenarios apply; then every party gets its own copy in an unrelated place, as on its own machine. The
tester holds AA's folder (its own country), BB's folder only where BB is the tester's *own* second country (the
gateway tests: the kit plays BB's inbox), and the gateway's folder only where it is the tester's *test gateway*
(the node tests: the node under test trusts it). The system under test never gets a folder of the tester's.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from exchange._workspace import PARTIES_DIR, Workspace, init_workspace
from exchange.testing.processes import PTX, free_port, running

FAST = {"PTX_DELIVERY__POLL_INTERVAL": "0.05", "PTX_DELIVERY__BASE_DELAY": "0.1", "PTX_DELIVERY__MAX_DELAY": "0.5"}
REVOKED = "nppo"  # not customs: the transit scenarios need a customs issuer


@dataclass(frozen=True)
class Folders:
    """Pristine party folders; :meth:`copy` gives a test its own copy of one (a service keeps its store there)."""

    root: Path

    def copy(self, party: str, where: Path) -> Path:
        target = where / f"home-{party.lower()}"
        shutil.copytree(self.root / PARTIES_DIR / party, target)
        return target


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> Folders:
    network = tmp_path_factory.mktemp("conformance") / "network"
    moment = datetime.now(UTC)
    init_workspace(network, moment=moment - timedelta(minutes=5))
    Workspace.open(network).revoke("AA NPPO", moment=moment - timedelta(minutes=2))  # published to every party
    return Folders(network)


@contextmanager
def node(folder: Path, country: str, *, log: Path) -> Iterator[str]:
    """``ptx serve node`` on ``folder``; yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [PTX, "serve", "node", "--country", country, "--workspace", str(folder), "--port", str(port),
               "--gateway", f"http://127.0.0.1:{free_port()}", "--log-level", "warning"]
    with running(command, health_url=f"{url}/readyz", env={"PTX_WORKSPACE": str(folder)}, log=log):
        yield url


@contextmanager
def gateway(folder: Path, *, deliver_bb_to: str, log: Path) -> Iterator[str]:
    """``ptx serve gateway`` on ``folder``, delivering BB's messages to ``deliver_bb_to``; yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [PTX, "serve", "gateway", "--workspace", str(folder), "--port", str(port),
               "--node", f"BB={deliver_bb_to}", "--log-level", "warning"]
    with running(command, health_url=f"{url}/readyz", env={**FAST, "PTX_WORKSPACE": str(folder)}, log=log):
        yield url
