"""Real processes for the fault tests: a gateway (``ptx serve gateway``) and a receiving node stand-in
(``tests/support/receiver.py``) on free loopback ports, messages signed in a workspace made minutes ago, and
what the tests count: statuses at the gateway, what the receiver's application was handed and how often.
"""

from __future__ import annotations

import hashlib
import sqlite3
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from exchange._catalogue import default_catalogue
from exchange._dsig import sign_document
from exchange._envelope import Party, build_envelope
from exchange._workspace import Workspace, init_workspace
from exchange.testing.processes import PTX, free_port

RECEIVER = str(Path(__file__).resolve().parents[1] / "support" / "receiver.py")
XML = {"Content-Type": "application/xml"}
#: retries that never give up during a test and come quickly once the receiver is back
PATIENT = {
    "PTX_DELIVERY__BASE_DELAY": "0.1", "PTX_DELIVERY__MAX_DELAY": "0.5", "PTX_DELIVERY__POLL_INTERVAL": "0.05",
    "PTX_DELIVERY__REQUEST_TIMEOUT": "2", "PTX_DELIVERY__LEASE": "4", "PTX_DELIVERY__MAX_ATTEMPTS": "1000",
}


def make_workspace(folder: Path) -> Workspace:
    """A demo workspace created five minutes ago (the services run on real time)."""
    init_workspace(folder, moment=datetime.now(UTC) - timedelta(minutes=5))
    return Workspace.open(folder)


class Messages:
    """Legitimate messages AA -> BB: one document signed by AA's chamber, a fresh envelope per message id."""

    def __init__(self, workspace: Workspace) -> None:
        self._type = default_catalogue().get("certificate-of-origin")
        sample = next(s for s in self._type.samples if s.path.name == "basic.xml").path.read_bytes()
        chamber = workspace.authority("AA", "chamber-of-commerce")
        self._document = sign_document(sample, chamber.key, chamber.signing_chain)
        self._node = workspace.node("AA")

    def __call__(self, message_id: str) -> bytes:
        envelope = build_envelope(
            self._document, sender=Party("AA"), receiver=Party("BB"), document_type=self._type.id,
            type_version=self._type.version, standard=self._type.namespace, message_id=message_id,
            created=datetime.now(UTC),  # real processes on the real clock
        )
        return sign_document(envelope, self._node.key, self._node.signing_chain)


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


@dataclass
class Cluster:
    """Where the processes of one test listen and keep their data."""

    workspace: Workspace
    folder: Path
    gateway_port: int = field(default_factory=free_port)
    receiver_port: int = field(default_factory=free_port)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    @property
    def receiver_url(self) -> str:
        return f"http://127.0.0.1:{self.receiver_port}"

    @property
    def application(self) -> Path:
        return self.folder / "receiver.db"

    def gateway_command(self, database_url: str | None = None) -> list[str]:
        url = database_url or f"sqlite:///{self.folder / 'gateway.db'}"
        return [PTX, "serve", "gateway", "--workspace", str(self.workspace.path), "--port", str(self.gateway_port),
                "--node", f"BB={self.receiver_url}", "--database-url", url, "--log-level", "warning"]

    def receiver_command(self, *, fail_first: int = 0, fail_mode: str = "503", slow_seconds: float = 5) -> list[str]:
        return [sys.executable, RECEIVER, "--workspace", str(self.workspace.path), "--port", str(self.receiver_port),
                "--db", str(self.application), "--fail-first", str(fail_first), "--fail-mode", fail_mode,
                "--slow-seconds", str(slow_seconds)]

    # --- what the gateway says ---------------------------------------------------------------------------

    def statuses(self, http: httpx.Client) -> dict[str, str]:
        """Every message id the gateway holds, with its status (paging through ``GET /v1/messages``)."""
        found: dict[str, str] = {}
        cursor = None
        while True:
            params: dict[str, str | int] = {"limit": 500}
            if cursor:
                params["cursor"] = cursor
            page = http.get(f"{self.base}/v1/messages", params=params, timeout=30).json()
            found.update({item["message_id"]: item["status"] for item in page["items"]})
            cursor = page.get("next_cursor")
            if not cursor:
                return found

    def wait_all(self, http: httpx.Client, message_ids: set[str], status: str, timeout: float) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.statuses(http)
            missing = {m for m in message_ids if found.get(m) != status}
            if not missing:
                return found
            if time.monotonic() > deadline:
                sample = {m: found.get(m) for m in sorted(missing)[:5]}
                raise AssertionError(f"{len(missing)} of {len(message_ids)} not {status} after {timeout} s: {sample}")
            time.sleep(0.25)

    def audit_ok(self, http: httpx.Client) -> bool:
        return bool(http.get(f"{self.base}/v1/audit/verify", timeout=60).json()["ok"])

    def audit_count(self, http: httpx.Client) -> int:
        entries, after = 0, 0
        while True:
            page = http.get(f"{self.base}/v1/audit", params={"after": after, "limit": 1000}, timeout=30).json()
            if not page["entries"]:
                return entries
            entries += len(page["entries"])
            after = page["entries"][-1]["seq"]

    # --- what the receiver's application got ---------------------------------------------------------------

    def handed(self) -> dict[str, str]:
        """Message id -> digest of what the receiver's application was handed (once per id by construction)."""
        with sqlite3.connect(self.application) as conn:
            return dict(conn.execute("SELECT message_id, digest FROM application").fetchall())

    def deliveries(self) -> Counter[str]:
        """How many deliveries of each message id the receiver answered with a receipt."""
        with sqlite3.connect(self.application) as conn:
            return Counter(row[0] for row in conn.execute("SELECT message_id FROM deliveries"))

    def faults(self) -> int:
        with sqlite3.connect(self.application) as conn:
            return int(conn.execute("SELECT count(*) FROM faults").fetchone()[0])


__all__ = ["PATIENT", "XML", "Cluster", "Messages", "digest", "make_workspace"]
