"""Real TLS in tests: client contexts from workspace files, services started and waited for over HTTPS, and a
signed envelope to send through them."""

from __future__ import annotations

import os
import ssl
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx

from exchange._catalogue import default_catalogue
from exchange._dsig import sign_document
from exchange._envelope import Party, build_envelope
from exchange._workspace import Workspace
from exchange.testing.processes import stop

#: What a client sees when the server refuses its certificate (TLS 1.3: after the client's side of the
#: handshake, so on the first read) or the handshake fails outright.
HANDSHAKE_REFUSED = (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError)


def context(*cas: Path, cert: Path | None = None, key: Path | None = None, password: str | None = None) -> ssl.SSLContext:
    """A client context that trusts only ``cas`` and presents ``cert`` (a chain file) when given (its key
    encrypted under ``password`` when given)."""
    result = ssl.create_default_context(cadata="".join(path.read_text() for path in cas))
    if cert is not None:
        result.load_cert_chain(cert, key, password=password)
    return result


def country_client(workspace: Workspace, code: str, *cas: Path, password: str | None = None) -> ssl.SSLContext:
    """Country ``code``'s single window as a TLS client (its registered TLS client certificate)."""
    record = workspace.country(code)
    return context(*cas, cert=workspace.file(record.tls_client), key=workspace.file(record.tls_client_key),
                   password=password)


def gateway_ca(workspace: Workspace) -> Path:
    return workspace.file(workspace.index.gateway.ca)


def root(workspace: Workspace, code: str) -> Path:
    return workspace.file(workspace.country(code).root)


def envelope(workspace: Workspace, message_id: str, *, sender: str = "AA", receiver: str = "BB") -> bytes:
    """A certificate of origin signed by ``sender``'s chamber of commerce, in an envelope signed by its node."""
    doc_type = default_catalogue().get("certificate-of-origin")
    document = next(s for s in doc_type.samples if s.path.name == "basic.xml").path.read_bytes()
    chamber, node = workspace.authority(sender, "chamber-of-commerce"), workspace.node(sender)
    signed = sign_document(document, chamber.key, chamber.signing_chain)
    wrapped = build_envelope(signed, sender=Party(sender), receiver=Party(receiver), document_type=doc_type.id,
                             type_version=doc_type.version, standard=doc_type.namespace, message_id=message_id,
                             created=datetime.now(UTC))  # real processes on the real clock
    return sign_document(wrapped, node.key, node.signing_chain)


def wait_ready(url: str, process: subprocess.Popen[bytes], verify: ssl.SSLContext, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"process exited with {process.returncode} before {url} answered")
        try:
            if httpx.get(url, verify=verify, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} not ready after {timeout} s")


@contextmanager
def serving(
    command: Sequence[str], *, ready_url: str, verify: ssl.SSLContext, log: Path, env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``command``, wait until ``ready_url`` answers 200 over TLS, and always stop it."""
    with open(log, "ab") as out:
        process = subprocess.Popen(list(command), env={**os.environ, **(env or {})}, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_ready(ready_url, process, verify)
            yield process
        finally:
            stop(process)
