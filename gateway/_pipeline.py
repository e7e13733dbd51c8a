"""The gateway's binding of the one check engine (:mod:`exchange._engine`): its profile and its parties.

The steps, their order, their codes and the HTTP status each verdict maps to are the engine's (the same code
decides the same question at the receiving node); the gateway runs every step, including ``size`` and
``duplicate``, decides as ``GW-*``, evaluates a sending node in the workspace's view of every country's trust
list and a document's issuer in what its receiver recognises (:class:`exchange._parties.WorkspaceParties`).
"""

from __future__ import annotations

from datetime import datetime

from exchange import (
    ENVELOPE_POLICY,
    ENVELOPE_TYPE,
    GATEWAY_PROFILE,
    RECEIPT_TYPE,
    STEP_ORDER,
    Catalogue,
    DuplicateLookup,
    Engine,
    Outcome,
    Parties,
    Previous,
    SignaturePolicy,
    Step,
    Timings,
    WorkspaceParties,
    WorkspaceView,
    XmlLimits,
)
from exchange import MessageVerdict as Verdict

#: the gateway's steps by name, in order
CHECK_ORDER: tuple[str, ...] = tuple(step.value for step in GATEWAY_PROFILE.steps)
CHECK_SENDER = Step.SENDER.value
#: what the gateway knows about the parties (its default reads the workspace: :class:`WorkspaceMembers`)
Members = Parties


class WorkspaceMembers(WorkspaceParties):
    """The gateway's parties as a workspace describes them (every country a member)."""

    def __init__(self, workspace: object, *, view: type[WorkspaceView] = WorkspaceView) -> None:
        super().__init__(workspace, None, view=view)  # type: ignore[arg-type]


class Pipeline:
    """The gateway's checks of a submitted envelope. Safe to share between concurrent requests."""

    def __init__(
        self,
        *,
        catalogue: Catalogue,
        members: Parties,
        max_bytes: int,
        limits: XmlLimits | None = None,
        document_policy: SignaturePolicy | None = None,
    ) -> None:
        self.catalogue = catalogue
        self.members = members
        self.max_bytes = max_bytes
        self.limits = limits or XmlLimits(max_bytes=max_bytes)
        self.document_policy = document_policy or SignaturePolicy()
        self.engine = Engine(GATEWAY_PROFILE, catalogue=catalogue, parties=members, limits=self.limits,
                             document_policy=self.document_policy)

    def too_large(self, size: int, *, moment: datetime) -> Outcome:
        return self.engine.too_large(size, moment=moment)

    def run(
        self,
        body: bytes,
        *,
        moment: datetime,
        duplicates: DuplicateLookup | None = None,
        transport_party: str | None = None,
        timings: Timings | None = None,
    ) -> Outcome:
        """Check one submitted envelope at ``moment`` (the explicit evaluation time)."""
        return self.engine.run(body, moment=moment, duplicates=duplicates, transport_party=transport_party,
                               timings=timings)


__all__ = [
    "CHECK_ORDER",
    "CHECK_SENDER",
    "ENVELOPE_POLICY",
    "ENVELOPE_TYPE",
    "RECEIPT_TYPE",
    "STEP_ORDER",
    "Members",
    "Outcome",
    "Pipeline",
    "Previous",
    "Verdict",
    "WorkspaceMembers",
]
