"""A stand-in receiving node for gateway process tests, run as its own uvicorn process.

It checks the gateway's delivery signature, hands each message id to its "application" once (SQLite,
``INSERT OR IGNORE``, like a node's inbox keyed by message id), records every delivery it answered with the
message id and the SHA-256 of the body, and returns a receipt signed with the receiving country's node key.

Faults, for the first N deliveries (``--fail-first N``): ``--fail-mode 503`` (default) or any other status
answers that status; ``--fail-mode timeout`` sleeps ``--slow-seconds`` (longer than the gateway's request
timeout, so the gateway gives up first) and then handles the delivery as usual: the application already has
the message when the gateway tries again, as after a real timeout.

    python tests/support/receiver.py --workspace WS --country BB --port P --db FILE [--fail-first N]
        [--fail-mode 503|500|timeout] [--slow-seconds S]

Tables: ``application(message_id PRIMARY KEY, digest)`` (what the application was handed, once per id),
``deliveries(n, message_id, digest)`` (every delivery answered with a receipt) and ``faults(n)`` (every
delivery answered with a fault).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sqlite3
import threading
from datetime import UTC, datetime

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from exchange._dsig import sign_document
from exchange._envelope import Party, ReceiptStatus, build_receipt, read_envelope
from exchange._transport import HEADER, verify_delivery
from exchange._workspace import Workspace
from exchange._xml import parse_xml


def make_app(
    workspace: Workspace, country: str, db: str, fail_first: int, fail_mode: str = "503", slow_seconds: float = 5.0
) -> FastAPI:
    app = FastAPI()
    lock = threading.Lock()
    state = {"calls": 0}
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS application (message_id TEXT PRIMARY KEY, digest TEXT)")
        conn.execute("CREATE TABLE IF NOT EXISTS deliveries (n INTEGER, message_id TEXT, digest TEXT)")
        conn.execute("CREATE TABLE IF NOT EXISTS faults (n INTEGER)")
    node = workspace.node(country)
    gateway_cert = workspace.gateway_signer().certificate

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/inbox")
    async def inbox(request: Request) -> Response:
        body = await request.body()
        with lock:
            state["calls"] += 1
            faulty = state["calls"] <= fail_first
        if faulty:
            with lock, sqlite3.connect(db) as conn:
                conn.execute("INSERT INTO faults VALUES (1)")
            if fail_mode != "timeout":
                return JSONResponse({"code": "BUSY"}, status_code=int(fail_mode))
            await asyncio.sleep(slow_seconds)  # then handled as usual, after the gateway has given up waiting
        header = read_envelope(parse_xml(body))
        problems = verify_delivery(request.headers.get(HEADER), body, header.message_id, gateway_cert,
                                   moment=datetime.now(UTC))
        if problems:
            return JSONResponse({"code": problems[0].code, "message": problems[0].message}, status_code=401)
        digest = hashlib.sha256(body).hexdigest()
        with lock, sqlite3.connect(db) as conn:
            conn.execute("INSERT OR IGNORE INTO application VALUES (?, ?)", (header.message_id, digest))
            conn.execute("INSERT INTO deliveries VALUES (1, ?, ?)", (header.message_id, digest))
        receipt = build_receipt(ref_to_message_id=header.message_id, envelope=body, issuer=Party(country),
                                status=ReceiptStatus.RECEIVED, issued=datetime.now(UTC))
        return Response(sign_document(receipt, node.key, node.signing_chain), media_type="application/xml")

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--country", default="BB")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--fail-mode", default="503", help="an HTTP status, or 'timeout'")
    parser.add_argument("--slow-seconds", type=float, default=5.0)
    args = parser.parse_args()
    app = make_app(Workspace.open(args.workspace), args.country, args.db, args.fail_first, args.fail_mode,
                   args.slow_seconds)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
