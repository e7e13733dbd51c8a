"""Three real gateway processes on one PostgreSQL database: 1,000 messages, each delivered exactly once.

The gateways start together on an empty database (one migrates, the others wait for it), take submissions
round-robin from a few concurrent clients, and deliver from the one shared queue to a stand-in receiving node
(tests/support/receiver.py) that records every delivery it accepts with its message id. A few messages are sent
to all three gateways at the same moment: the unique constraint lets exactly one of them accept each.

Exactly once, not merely at least once: a message is delivered again only when a lease expires during an
attempt, and here the lease (10 min) outlasts any attempt (cut off at 60 s); the receiver never fails.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest

from exchange._workspace import Workspace, init_workspace
from exchange.testing.postgres import PostgresServer
from exchange.testing.processes import PTX, OperatorAuth, free_port, running, running_together
from tests.support.messages import signed_envelopes

pytestmark = [pytest.mark.slow, pytest.mark.postgresql]

RECEIVER = str(Path(__file__).resolve().parents[1] / "support" / "receiver.py")
XML = {"Content-Type": "application/xml"}
GATEWAYS = 3
MESSAGES = 1000
RACED = 20  # of the MESSAGES, sent to every gateway at once
CLIENTS = 6
DELIVERY = {
    "PTX_DELIVERY__REQUEST_TIMEOUT": "60", "PTX_DELIVERY__LEASE": "600", "PTX_DELIVERY__POLL_INTERVAL": "0.2",
    "PTX_DELIVERY__WORKERS": "8",
}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    path = tmp_path_factory.mktemp("several") / "workspace"
    init_workspace(path, moment=datetime.now(UTC) - timedelta(minutes=5))
    return Workspace.open(path)


async def submit_round_robin(bases: list[str], messages: list[tuple[str, bytes]]) -> Counter[int]:
    """Message i goes to gateway i mod n, from CLIENTS concurrent clients; returns the HTTP statuses."""
    statuses: Counter[int] = Counter()
    queue: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue()
    for index, (_, body) in enumerate(messages):
        queue.put_nowait((index, body))

    async def client(http: httpx.AsyncClient) -> None:
        while not queue.empty():
            index, body = queue.get_nowait()
            response = await http.post(f"{bases[index % len(bases)]}/v1/messages", content=body, headers=XML)
            statuses[response.status_code] += 1

    async with httpx.AsyncClient(timeout=60) as http:
        await asyncio.gather(*(client(http) for _ in range(CLIENTS)))
    return statuses


async def submit_to_all_at_once(bases: list[str], messages: list[tuple[str, bytes]]) -> list[list[int]]:
    """Each message to every gateway at the same moment; per message, the statuses the gateways answered."""
    async with httpx.AsyncClient(timeout=60) as http:
        async def race(body: bytes) -> list[int]:
            answers = await asyncio.gather(*(http.post(f"{base}/v1/messages", content=body, headers=XML)
                                             for base in bases))
            return sorted(answer.status_code for answer in answers)

        return list(await asyncio.gather(*(race(body) for _, body in messages)))


def statuses_in(database: str) -> dict[str, int]:
    with psycopg.connect(database) as conn:
        rows = conn.execute("SELECT status, count(*) FROM messages GROUP BY status").fetchall()
    return {str(status): int(str(count)) for status, count in rows}


def wait_all_acknowledged(database: str, total: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if statuses_in(database) == {"ACKNOWLEDGED": total}:
            return
        time.sleep(0.25)
    raise AssertionError(f"not all {total} ACKNOWLEDGED after {timeout} s: {statuses_in(database)}")


def test_three_gateways_on_one_postgresql_deliver_each_of_1000_messages_exactly_once(
    workspace: Workspace, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    messages = signed_envelopes(workspace, MESSAGES, prefix="msg-several")
    raced, rest = messages[:RACED], messages[RACED:]
    receiver_port, ports = free_port(), [free_port() for _ in range(GATEWAYS)]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    receiver_db = tmp_path / "receiver.db"
    receiver = [sys.executable, RECEIVER, "--workspace", str(workspace.path), "--port", str(receiver_port),
                "--db", str(receiver_db)]
    with postgres_server.database("ptx_several") as database:
        gateways = [
            [PTX, "serve", "gateway", "--workspace", str(workspace.path), "--port", str(port),
             "--node", f"BB=http://127.0.0.1:{receiver_port}", "--database-url", database, "--log-level", "warning"]
            for port in ports
        ]
        with running(receiver, health_url=f"http://127.0.0.1:{receiver_port}/healthz",
                     log=tmp_path / "receiver.log"), \
             running_together(gateways, health_urls=[f"{base}/readyz" for base in bases], env=DELIVERY,
                              logs=[tmp_path / f"gateway-{n}.log" for n in range(GATEWAYS)]) as processes:
            races = asyncio.run(submit_to_all_at_once(bases, raced))
            statuses = asyncio.run(submit_round_robin(bases, rest))
            wait_all_acknowledged(database, MESSAGES)
            operator = OperatorAuth(workspace.path)  # one folder, one token for every gateway on it
            verifications = [httpx.get(f"{base}/v1/audit/verify", timeout=60, auth=operator).json() for base in bases]
            resent = httpx.post(f"{bases[1]}/v1/messages", content=messages[0][1], headers=XML, timeout=30)
            pids = {str(process.pid) for process in processes}

        # Duplicates across processes: one gateway accepted each raced message, the others answered the resend.
        assert races == [[200] * (GATEWAYS - 1) + [202]] * RACED
        assert statuses == Counter({202: MESSAGES - RACED})
        assert resent.status_code == 200  # an identical resend, answered by another gateway, later

        # The application saw every message once, and no delivery was ever repeated.
        with sqlite3.connect(receiver_db) as conn:
            seen = conn.execute("SELECT count(DISTINCT message_id) FROM application").fetchone()[0]
            per_id = Counter(dict(conn.execute("SELECT message_id, count(*) FROM deliveries GROUP BY message_id")))
        assert seen == MESSAGES
        assert len(per_id) == MESSAGES and set(per_id.values()) == {1}

        with psycopg.connect(database) as conn:
            attempts = conn.execute("SELECT outcome, count(*) FROM delivery_attempts GROUP BY outcome").fetchall()
            workers = [row[0] for row in conn.execute("SELECT DISTINCT worker FROM delivery_attempts")]
            actions = {str(action): int(str(n)) for action, n in
                       conn.execute("SELECT action, count(*) FROM audit_log GROUP BY action")}
            entries = conn.execute("SELECT count(*), max(seq) FROM audit_log").fetchone()
        assert attempts == [("acknowledged", MESSAGES)]
        assert len({worker.split(":")[1] for worker in workers} & pids) >= 2  # the work was shared

        # One gapless chain with every decision of all three processes, verified by each of them.
        assert actions == {"message.accepted": MESSAGES, "receipt.acknowledged": MESSAGES,
                           "message.duplicate": RACED * (GATEWAYS - 1) + 1}
        assert entries is not None and entries[0] == entries[1] == sum(actions.values())
        assert all(result["ok"] for result in verifications), verifications
        assert {result["checked"] for result in verifications} >= {2 * MESSAGES + RACED * (GATEWAYS - 1)}
