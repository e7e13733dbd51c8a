"""Gateway fixtures: a real demo workspace created at a pinned moment, and helpers to make signed messages."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from exchange._catalogue import default_catalogue
from exchange._dsig import sign_document
from exchange._envelope import Party, build_envelope
from exchange._workspace import Workspace, init_workspace

CREATED = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
MOMENT = CREATED + timedelta(days=3)


@pytest.fixture(scope="session")
def workspace_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ws-template") / "workspace"
    init_workspace(path, moment=CREATED)
    return path


@pytest.fixture
def workspace(workspace_template: Path, tmp_path: Path) -> Workspace:
    """A private copy (tests may revoke issuers)."""
    path = tmp_path / "workspace"
    shutil.copytree(workspace_template, path)
    return Workspace.open(path)


def sample(type_id: str, name: str = "basic.xml") -> bytes:
    doc_type = default_catalogue().get(type_id)
    return next(s for s in doc_type.samples if s.path.name == name).path.read_bytes()


ISSUER_OF = {
    "certificate-of-origin": "chamber-of-commerce",
    "commercial-invoice": "chamber-of-commerce",
    "phytosanitary-certificate": "nppo",
    "customs-declaration": "customs",
}

MessageFactory = Callable[..., bytes]


@pytest.fixture
def make_message(workspace: Workspace) -> MessageFactory:
    def make(
        type_id: str = "certificate-of-origin",
        *,
        document: bytes | None = None,
        issuer: str | None = None,
        sender: str = "AA",
        receiver: str = "BB",
        signed_by_node: str | None = None,
        envelope_type: str | None = None,
        message_id: str | None = "msg-0000000000000001",
        sign_document_: bool = True,
        sign_envelope: bool = True,
        tamper_document: Callable[[bytes], bytes] | None = None,
    ) -> bytes:
        doc_type = default_catalogue().get(type_id)
        data = document if document is not None else sample(type_id)
        if sign_document_:
            authority = workspace.authority(sender if sender in workspace.countries else "AA",
                                            issuer or ISSUER_OF[type_id])
            data = sign_document(data, authority.key, authority.signing_chain)
        if tamper_document is not None:
            data = tamper_document(data)
        envelope = build_envelope(
            data,
            sender=Party(sender),
            receiver=Party(receiver),
            document_type=envelope_type or doc_type.id,
            type_version=doc_type.version,
            standard=doc_type.namespace,
            message_id=message_id,
            created=MOMENT,
        )
        if not sign_envelope:
            return envelope
        node = workspace.node(signed_by_node or (sender if sender in workspace.countries else "AA"))
        return sign_document(envelope, node.key, node.signing_chain)

    return make
