"""Signed messages for tests with real processes: envelopes from AA to BB carrying a signed certificate of origin."""

from __future__ import annotations

from datetime import UTC, datetime

from exchange._catalogue import default_catalogue
from exchange._dsig import sign_document
from exchange._envelope import Party, build_envelope
from exchange._workspace import Workspace


def signed_envelopes(workspace: Workspace, count: int, *, prefix: str = "msg") -> list[tuple[str, bytes]]:
    """``count`` (message id, envelope) pairs, each envelope signed by AA's node around one certificate of origin
    signed by AA's chamber of commerce (signed once: a document signature does not depend on the envelope)."""
    doc_type = default_catalogue().get("certificate-of-origin")
    document = next(s for s in doc_type.samples if s.path.name == "basic.xml").path.read_bytes()
    chamber, node = workspace.authority("AA", "chamber-of-commerce"), workspace.node("AA")
    signed = sign_document(document, chamber.key, chamber.signing_chain)
    created = datetime.now(UTC)  # real processes on the real clock
    made = []
    for index in range(count):
        message_id = f"{prefix}-{index:06d}"
        envelope = build_envelope(signed, sender=Party("AA"), receiver=Party("BB"), document_type=doc_type.id,
                                  type_version=doc_type.version, standard=doc_type.namespace, message_id=message_id,
                                  created=created)
        made.append((message_id, sign_document(envelope, node.key, node.signing_chain)))
    return made
