"""The parties as a demo workspace describes them, for the check engine (:mod:`exchange._engine`).

:class:`WorkspaceParties` answers for one service: the gateway (``country=None``: every country of the workspace
is a member, every agreement counts, a party's node is evaluated in that party's own trust and a document's
issuer in what its receiver recognises) or the node of one country (it takes messages only for itself, only its
own agreements count, and every trust decision is made in its own trust).

Only public material is read: node certificates, agreements, trust lists and CRLs; no private key is opened.

:meth:`WorkspaceParties.view` is the service's one reload point. It reads the state of every input file (trust
lists, agreements, imported lists, node certificates) once; when that changed since the last snapshot, it builds
a new one from the files: the agreements, the node certificates and every trust context this service uses,
then reads the state again and builds anew if a file changed meanwhile. A view answers from one snapshot only,
so routing, sender authentication and trust never see different versions, and a change on disk counts from the
next message. A trust context that cannot be built (a damaged trust list) fails only the questions that need it.

No rollback: the service remembers the newest trust list of each country it has used; a file replaced by an
older signed list (a lower SequenceNumber, or the same number with other content) makes every trust context that
includes it fail with ``TRUST-LIST-ROLLBACK`` / ``TRUST-LIST-SEQUENCE-REUSED`` (the gateway answers 503
``GW-CONFIG-FAULT`` and logs it) until a list at least as new is back. The memory is the process's; across a
restart the lists on disk are the baseline (``ptx trust import`` refuses an older list than the one held).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from cryptography import x509

from exchange._engine import Parties, PartyView
from exchange._errors import Code, ConfigurationError, TrustError
from exchange._pki import load_certificate_file
from exchange._trustlist import TrustList, check_succession

if TYPE_CHECKING:
    from exchange._trust import TrustContext
    from exchange._workspace import Agreement, Workspace

log = logging.getLogger("exchange.parties")

#: how many times a snapshot is rebuilt when its files keep changing while it is built
_ATTEMPTS = 3

Stamps = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class Snapshot:
    """One version of a service's public material."""

    stamps: Stamps
    agreements: tuple[Agreement, ...]
    #: each member's node certificates with the moment each retires (None: the current one)
    nodes: dict[str, tuple[tuple[x509.Certificate, datetime | None], ...]]
    #: trust contexts by whose they are (a country code), or the error that kept one from being built
    contexts: dict[str, TrustContext | TrustError | ConfigurationError] = field(default_factory=dict)
    #: a node's: the gateway's signing certificate, which signs envelopes relayed from its hub interface
    relay: x509.Certificate | None = None
    #: agreements of the folder that were refused (a bad signature, an unknown party), with their codes
    refused: tuple[TrustError, ...] = ()
    #: each member's endpoint from its public package (the gateway delivers there unless configured otherwise)
    endpoints: dict[str, str] = field(default_factory=dict)
    #: the folder as read for this snapshot
    workspace: Workspace | None = None

    def trust(self, whose: str, moment: datetime) -> TrustContext:
        built = self.contexts.get(whose)
        if built is None:
            raise ConfigurationError(f"no trust context for {whose!r} in this service's view",
                                     code=Code.CONFIG_INVALID)
        if isinstance(built, TrustError | ConfigurationError):
            raise built
        return built.at(moment)


class WorkspaceView(PartyView):
    """What one service of a workspace knows at ``moment``; subclass to change one answer (tests do)."""

    def __init__(self, snapshot: Snapshot, country: str | None, *, moment: datetime) -> None:
        self.snapshot = snapshot
        self.country = country
        self.moment = moment

    @property
    def agreements(self) -> tuple[Agreement, ...]:
        return self.snapshot.agreements

    def node_certificate(self, party: str) -> x509.Certificate | None:
        return next((certificate for certificate, retires in self.snapshot.nodes.get(party, ())
                     if retires is None), None)

    def node_certificates(self, party: str) -> tuple[tuple[x509.Certificate, datetime | None], ...]:
        return self.snapshot.nodes.get(party, ())

    def refused_agreements(self) -> tuple[TrustError, ...]:
        return self.snapshot.refused

    def endpoint(self, party: str) -> str | None:
        return self.snapshot.endpoints.get(party)

    def receiver_known(self, party: str) -> bool:
        return party == self.country if self.country is not None else party in self.snapshot.nodes

    def agreements_for(self, sender: str, receiver: str, document_type: str) -> tuple[str, ...]:
        return tuple(str(agreement.id) for agreement in self.snapshot.agreements
                     if agreement.allows(sender, receiver, document_type, moment=self.moment))

    def node_trust(self, party: str) -> TrustContext:
        return self.snapshot.trust(self.country or party, self.moment)

    def trust_for(self, receiver: str) -> TrustContext:
        return self.snapshot.trust(self.country or receiver, self.moment)

    def relay_certificate(self) -> x509.Certificate | None:
        return self.snapshot.relay


class WorkspaceParties(Parties):
    """The gateway's (``country=None``) or one node's parties, read from a workspace. Thread-safe."""

    def __init__(self, workspace: Workspace, country: str | None = None,
                 *, view: type[WorkspaceView] = WorkspaceView) -> None:
        self.workspace = workspace
        self.country = country.upper() if country is not None else None
        self._view_type = view
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        #: the newest trust list of each country this service has used (no rollback below it)
        self._held: dict[str, TrustList] = {}
        self._index_stamp: tuple[int, int] | None = None
        #: the files a snapshot depends on, for the workspace index they were listed from (the list changes only
        #: with the index: :meth:`_reopen` replaces the workspace then)
        self._watched: tuple[Workspace, tuple[str, ...]] | None = None

    def view(self, *, moment: datetime) -> WorkspaceView:
        return self._view_type(self.snapshot(moment), self.country, moment=moment)

    def snapshot(self, moment: datetime) -> Snapshot:
        """The current snapshot, rebuilt when any of its files changed."""
        with self._lock:
            stamps = self._stamps()
            if self._snapshot is not None and self._snapshot.stamps == stamps:
                return self._snapshot
            for _ in range(_ATTEMPTS):
                built = self._build(stamps, moment)
                after = self._stamps()
                if after == stamps:
                    break
                stamps = after  # a file changed while we read: read again
            self._snapshot = built
            return built

    def _stamps(self) -> Stamps:
        """The state of every file the snapshot depends on (stat'ed at every call; listed once per index)."""
        workspace = self._reopen()
        if self._watched is None or self._watched[0] is not workspace:
            nodes = [path for code in workspace.members for path in workspace.node_files(code)]
            relay = [workspace.file(workspace.gateway_record.signer)] \
                if self.country is not None and workspace.index.gateway is not None else []
            self._watched = (workspace, tuple(str(path) for path in [*workspace.context_inputs(), *nodes, *relay]))
        return workspace.stamps(self._watched[1])

    def _reopen(self) -> Workspace:
        """The folder's index as it is now: re-read when ``workspace.yaml`` changed (a partner admitted or
        withdrawn, an agreement installed), so the next snapshot sees the new members."""
        from exchange._workspace import INDEX_NAME, Workspace

        index = self.workspace.path / INDEX_NAME
        try:
            stat = index.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            return self.workspace
        if stamp != self._index_stamp:
            try:
                self.workspace = Workspace.open(self.workspace.path)
            except ConfigurationError as exc:  # a broken index: keep serving on the one read before, and say so
                log.error("%s", exc, extra={"code": exc.code.value})
            self._index_stamp = stamp
        return self.workspace

    def _build(self, stamps: Stamps, moment: datetime) -> Snapshot:
        workspace = self.workspace
        agreements, refused = workspace.verified_agreements(moment)
        if self.country is not None:
            agreements = tuple(agreement for agreement in agreements if agreement.party(self.country) is not None)
        nodes = {code: workspace.node_certificates(code) for code in workspace.members}
        endpoints = {code: url for code in workspace.members if (url := workspace.endpoint(code))}
        contexts: dict[str, TrustContext | TrustError | ConfigurationError] = {}
        newest: dict[str, TrustList] = {}
        for whose in (self.country,) if self.country is not None else workspace.members:
            try:
                context = workspace.build_trust_context(whose, moment)
                for trust_list in (*context.trust_lists, *context.known):
                    check_succession(self._held.get(trust_list.country), trust_list)
                    newest[trust_list.country] = trust_list
                contexts[whose] = context
            except (TrustError, ConfigurationError) as exc:  # fails the questions that need it, logged there
                contexts[whose] = exc
        self._held.update(newest)
        relay = None
        if self.country is not None and workspace.index.gateway is not None:
            # a node: the gateway's public signing certificate (no key is opened)
            relay = load_certificate_file(workspace.file(workspace.gateway_record.signer))[0]
        return Snapshot(stamps=stamps, agreements=agreements, nodes=nodes, contexts=contexts, relay=relay,
                        refused=refused, endpoints=endpoints, workspace=workspace)


__all__ = ["Snapshot", "WorkspaceParties", "WorkspaceView"]
