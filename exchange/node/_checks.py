"""The receiving node's binding of the one check engine (:mod:`exchange._engine`): it trusts nothing the gateway
decided.

::

    parse -> envelope-schema -> sender-authentication -> routing -> document-type -> document-schema
          -> document-rules -> document-signature -> issuer-trust -> RECEIVED | REJECTED

The steps and their codes are the engine's, the same code the gateway runs; the node decides as ``NODE-*`` with
its own inputs (:class:`exchange._parties.WorkspaceParties` for its country): it takes messages only for
itself, only the agreements it is party to count, and every trust decision is made in *its own* trust context,
in which a partner's trust list is recognised only for the document types an agreement lets flow from that
partner to this country. The sending node is checked twice: its certificate must be the one registered for the
sender id (no spoofing), and this node's trust must recognise it for ``envelope`` at this moment. The envelope
must also be the message the gateway signed the delivery for (``NODE-DELIVERY-MISMATCH``).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from exchange import (
    ENVELOPE_POLICY,
    ENVELOPE_TYPE,
    NODE_PROFILE,
    RECEIPT_TYPE,
    Catalogue,
    Engine,
    Outcome,
    SignaturePolicy,
    WorkspaceParties,
    XmlLimits,
)

if TYPE_CHECKING:
    from exchange import TrustContext, Workspace

CHECK_ORDER: tuple[str, ...] = tuple(step.value for step in NODE_PROFILE.steps)
#: what the node's checks return (the engine's outcome)
InboxOutcome = Outcome


class InboxChecks:
    """The checks one node runs on every delivery addressed to it. Safe to share between concurrent requests."""

    def __init__(
        self,
        *,
        country: str,
        workspace: Workspace,
        catalogue: Catalogue,
        limits: XmlLimits,
        document_policy: SignaturePolicy | None = None,
    ) -> None:
        self.country = country
        self.workspace = workspace
        self.parties = WorkspaceParties(workspace, country)
        self.engine = Engine(NODE_PROFILE, catalogue=catalogue, parties=self.parties, limits=limits,
                             document_policy=document_policy)

    def trust(self, moment: datetime) -> TrustContext:
        """This node's own trust at ``moment``."""
        return self.parties.view(moment=moment).node_trust(self.country)

    def run(self, body: bytes, *, delivery_id: str, moment: datetime) -> Outcome:
        """Check one delivered envelope at ``moment``; ``delivery_id`` is the message id the gateway signed for."""
        return self.engine.run(body, moment=moment, delivery_id=delivery_id)


__all__ = ["CHECK_ORDER", "ENVELOPE_POLICY", "ENVELOPE_TYPE", "RECEIPT_TYPE", "InboxChecks", "InboxOutcome"]
