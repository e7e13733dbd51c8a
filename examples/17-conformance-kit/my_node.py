"""Your own single-window node: a small stand-in for the one your country builds, to run through the kit.

It serves one country's inbox (``POST /v1/inbox``) the way docs/protocol.md says a node must: it runs the
checks of the ptx library's engine with its own trust, deduplicates by message id, and answers a receipt signed
with its node key. Edit it, break it, fix it, and run ``ptx conformance node`` against it to see which clause
you broke.

    python my_node.py --folder workspace/parties/BB --port 8601
"""

from __future__ import annotations

import argparse
import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from exchange import (
    DELIVERY_HEADER,
    NODE_PROFILE,
    Engine,
    Party,
    ReceiptStatus,
    Severity,
    Workspace,
    WorkspaceParties,
    XmlLimits,
    default_catalogue,
    load_certificate_file,
    parse_xml,
    read_envelope,
    sign_receipt,
    verify_delivery,
)

MESSAGE_ID = re.compile(r"(?:^|;)\s*m=([^;]*)")


def create_app(folder: Path) -> FastAPI:
    workspace = Workspace.open(folder)
    country = workspace.own_country()
    node = workspace.node(country)
    # the gateway's signing certificate, from the gateway package this folder joined
    gateway = load_certificate_file(workspace.file(workspace.gateway_record.signer))[0]
    engine = Engine(NODE_PROFILE, catalogue=default_catalogue(), parties=WorkspaceParties(workspace, country),
                    limits=XmlLimits())
    received: dict[str, tuple[str, bytes]] = {}  # message id -> (SHA-256 of the bytes, the receipt answered)
    app = FastAPI()

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/inbox")
    async def inbox(request: Request) -> Response:
        body = await request.body()
        now = datetime.now(UTC)
        header = request.headers.get(DELIVERY_HEADER) or ""
        named = MESSAGE_ID.search(header)
        message_id = named.group(1).strip() if named else read_envelope(parse_xml(body)).message_id
        problems = []  # who sent this? nobody checks yet
        if problems:
            return JSONResponse({"code": problems[0].code, "message": problems[0].message}, status_code=401)
        digest = hashlib.sha256(body).hexdigest()
        if message_id in received:
            earlier_digest, earlier_receipt = received[message_id]
            if earlier_digest != digest:
                return JSONResponse({"code": "NODE-DUPLICATE-CONFLICT",
                                     "message": f"message id {message_id} was received with other bytes"}, 409)
            return Response(earlier_receipt, media_type="application/xml")
        outcome = engine.run(body, moment=now, delivery_id=message_id)
        reasons = [finding for finding in outcome.findings if finding.severity is not Severity.INFO]
        status = ReceiptStatus.RECEIVED if outcome.accepted else ReceiptStatus.REJECTED
        receipt = sign_receipt(node=node, issuer=Party(country), message_id=message_id, envelope=body,
                               status=status, reasons=reasons, issued=now)
        received[message_id] = (digest, receipt)
        return Response(receipt, media_type="application/xml")

    return app


if __name__ == "__main__":
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--folder", type=Path, required=True, help="your country's folder")
    arguments.add_argument("--port", type=int, default=8601)
    options = arguments.parse_args()
    uvicorn.run(create_app(options.folder), host="127.0.0.1", port=options.port, log_level="warning")
