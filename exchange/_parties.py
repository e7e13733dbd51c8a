"""The parties as a demo workspace describes them, for the check engine (:mod:`exchange._engine`).

:class:`WorkspaceParties` answers for one service: the gateway (``country=None``: every country of the workspace
is a member, every agreement counts, a sending node is evaluated in the workspace's view of every country's own
trust list, and a document's issuer in what its receiver recognises) or the node of one country (it takes messages
only for itself, only its own agreements count, and every trust decision is made in its own trust).

Only public material is read: node certificates, agreements, trust lists and CRLs; no private key is opened.
:meth:`WorkspaceParties.view` is the one reload point: it re-reads the agreements when their files change (the
trust contexts are rebuilt by the workspace when the trust lists or agreements change), so that routing, sender
authentication and trust answer from the same files on every message and a change takes effect on the next one.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import TYPE_CHECKING

from cryptography import x509

from exchange._engine import Parties, PartyView

if TYPE_CHECKING:
    from exchange._trust import TrustContext
    from exchange._workspace import Agreement, Workspace


class WorkspaceView(PartyView):
    """What one service of a workspace knows at ``moment``; subclass to change one answer (tests do)."""

    def __init__(
        self,
        workspace: Workspace,
        country: str | None,
        *,
        moment: datetime,
        agreements: tuple[Agreement, ...],
        nodes: dict[str, x509.Certificate],
    ) -> None:
        self.workspace = workspace
        self.country = country
        self.moment = moment
        self.agreements = agreements
        self.nodes = nodes

    def node_certificate(self, party: str) -> x509.Certificate | None:
        return self.nodes.get(party)

    def receiver_known(self, party: str) -> bool:
        return party == self.country if self.country is not None else party in self.nodes

    def agreements_for(self, sender: str, receiver: str, document_type: str) -> tuple[str, ...]:
        return tuple(str(agreement.id) for agreement in self.agreements
                     if agreement.allows(sender, receiver, document_type, moment=self.moment))

    def sender_trust(self) -> TrustContext:
        context: TrustContext = self.workspace.trust_context(self.country, moment=self.moment)
        return context

    def trust_for(self, receiver: str) -> TrustContext:
        context: TrustContext = self.workspace.trust_context(self.country or receiver, moment=self.moment)
        return context


class WorkspaceParties(Parties):
    """The gateway's (``country=None``) or one node's parties, read from a workspace. Thread-safe."""

    def __init__(self, workspace: Workspace, country: str | None = None,
                 *, view: type[WorkspaceView] = WorkspaceView) -> None:
        self.workspace = workspace
        self.country = country.upper() if country is not None else None
        self._view_type = view
        self._lock = threading.Lock()
        self._snapshot: tuple[object, tuple[Agreement, ...], dict[str, x509.Certificate]] | None = None

    def view(self, *, moment: datetime) -> WorkspaceView:
        agreements, nodes = self._material()
        return self._view_type(self.workspace, self.country, moment=moment, agreements=agreements, nodes=nodes)

    def _material(self) -> tuple[tuple[Agreement, ...], dict[str, x509.Certificate]]:
        workspace = self.workspace
        paths = [workspace.file(relative) for relative in workspace.index.agreements]
        stamps = workspace._stamps(paths)
        with self._lock:
            if self._snapshot is not None and self._snapshot[0] == stamps:
                return self._snapshot[1], self._snapshot[2]
            agreements = workspace.agreements if self.country is None else workspace.agreements_of(self.country)
            nodes = {code: workspace.node_certificate(code) for code in workspace.countries}
            self._snapshot = (stamps, agreements, nodes)
            return agreements, nodes


__all__ = ["WorkspaceParties", "WorkspaceView"]
