"""The whole attack catalogue against the gateway as a real uvicorn process (``ptx serve gateway``), delivering
to a receiver process: over real sockets, with real time, the same refusals as in process, no 5xx, the process
alive after every attack, the next valid message accepted and delivered, nothing refused ever delivered, and at
the end the receiver's application holding exactly the valid messages, once each."""

from __future__ import annotations

import hashlib
import sqlite3
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from exchange.testing.processes import PTX, OperatorAuth, free_port, running
from tests.attacks.catalogue import ATTACKS, Attack
from tests.attacks.forge import XML, Canary, Forge, build_world
from tests.attacks.rawhttp import wait_acknowledged
from tests.attacks.test_gateway_attacks import assert_refused

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("attack-process")]  # one gateway process for all
RECEIVER = str(Path(__file__).resolve().parents[1] / "support" / "receiver.py")
FAST = {"PTX_DELIVERY__BASE_DELAY": "0.05", "PTX_DELIVERY__MAX_DELAY": "0.2", "PTX_DELIVERY__POLL_INTERVAL": "0.05",
        "PTX_DELIVERY__REQUEST_TIMEOUT": "5", "PTX_DELIVERY__LEASE": "10"}


@dataclass
class Live:
    base: str
    forge: Forge
    application: Path
    sent: dict[str, str]  # message id -> digest of every valid message sent
    refused: set[str]  # digests of every hostile body
    http: httpx.Client


@pytest.fixture(scope="session")  # session: one pair of processes per worker, whatever order tests run in
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("attack-process")
    created = datetime.now(UTC) - timedelta(minutes=5)
    canary = Canary()
    world = build_world(folder / "workspace", created=created, moment=datetime.now(UTC), canary=canary)
    gateway_port, receiver_port = free_port(), free_port()
    application = folder / "receiver.db"
    receiver = [sys.executable, RECEIVER, "--workspace", str(world.workspace.path), "--port", str(receiver_port),
                "--db", str(application)]
    gateway = [PTX, "serve", "gateway", "--workspace", str(world.workspace.path), "--port", str(gateway_port),
               "--node", f"BB=http://127.0.0.1:{receiver_port}", "--database-url", f"sqlite:///{folder / 'gw.db'}",
               "--log-level", "warning"]
    with running(receiver, health_url=f"http://127.0.0.1:{receiver_port}/healthz", log=folder / "receiver.log"), \
         running(gateway, health_url=f"http://127.0.0.1:{gateway_port}/readyz", env=FAST, log=folder / "gateway.log"):
        live = Live(f"http://127.0.0.1:{gateway_port}", Forge(world), application, {}, set(),
                    httpx.Client(auth=OperatorAuth(world.workspace.path)))
        yield live
        # after this worker's attacks: the application holds exactly the valid messages, once each
        handed, delivered = receiver_tables(application)
        assert handed == live.sent and not delivered & live.refused
        assert live.http.get(f"{live.base}/v1/audit/verify", timeout=30).json()["ok"] is True
    live.http.close()
    canary.close()


@pytest.mark.parametrize("attack", ATTACKS, ids=str)
def test_gateway_process_refuses(attack: Attack, live: Live) -> None:
    message_id = f"atk-{attack.name}"
    if attack.prelude is not None:
        first = attack.prelude(live.forge, message_id)
        assert live.http.post(f"{live.base}/v1/messages", content=first, headers=XML, timeout=30).status_code == 202
        live.sent[message_id] = hashlib.sha256(first).hexdigest()
    body = attack.build(live.forge, message_id)
    live.refused.add(hashlib.sha256(body).hexdigest())
    assert_refused(live.http.post(f"{live.base}/v1/messages", content=body, headers=XML, timeout=60), attack.gateway)
    if attack.network:
        assert not live.forge.canary.contacted()
    assert live.http.get(f"{live.base}/healthz", timeout=5).status_code == 200
    valid_id = f"ok-after-{attack.name}"
    valid = live.forge.message(valid_id)
    assert live.http.post(f"{live.base}/v1/messages", content=valid, headers=XML, timeout=30).status_code == 202
    live.sent[valid_id] = hashlib.sha256(valid).hexdigest()
    wait_acknowledged(live.http, live.base, valid_id)
    handed, delivered = receiver_tables(live.application)
    assert handed[valid_id] == live.sent[valid_id]
    assert hashlib.sha256(body).hexdigest() not in delivered


def receiver_tables(application: Path) -> tuple[dict[str, str], set[str]]:
    """(message id -> digest handed to the application, digests of every delivery)."""
    with sqlite3.connect(application) as conn:
        handed = dict(conn.execute("SELECT message_id, digest FROM application").fetchall())
        delivered = {row[0] for row in conn.execute("SELECT digest FROM deliveries")}
    return handed, delivered
