"""The parties a service reads from its workspace (exchange._parties): one snapshot per state of its files."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from exchange._parties import WorkspaceParties
from exchange._workspace import INDEX_NAME, Workspace, init_workspace

MOMENT = datetime(2026, 11, 4, 9, 0, tzinfo=UTC)


def _touch(path: Path) -> None:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_the_snapshot_follows_every_file_it_was_built_from_and_the_index(tmp_path: Path) -> None:
    """The files are listed once per workspace index and stat'ed at every call: a changed trust list or node
    certificate gives a new snapshot, and a changed index lists the files again."""
    init_workspace(tmp_path / "ws", moment=MOMENT - timedelta(days=1))
    workspace = Workspace.open(tmp_path / "ws")
    parties = WorkspaceParties(workspace)
    first = parties.snapshot(MOMENT)
    assert parties.snapshot(MOMENT) is first  # nothing changed

    _touch(workspace.file(workspace.index.countries["BB"].trust_list))
    second = parties.snapshot(MOMENT)
    assert second is not first and parties.snapshot(MOMENT) is second

    _touch(workspace.node_files("AA")[0])
    third = parties.snapshot(MOMENT)
    assert third is not second

    _touch(tmp_path / "ws" / INDEX_NAME)
    fourth = parties.snapshot(MOMENT)
    assert fourth is not third and parties.workspace is not workspace  # the index read again, its files listed again
    _touch(parties.workspace.file(parties.workspace.index.countries["AA"].trust_list))
    assert parties.snapshot(MOMENT) is not fourth
