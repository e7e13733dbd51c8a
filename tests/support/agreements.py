"""Agreements changed on purpose in tests: new terms, signed again by both parties (the demo network folder holds
both countries' trust-list signers). A change made without signing again is refused (tests/exchange/test_workspace.py
shows that); these helpers are for tests of what a new, properly signed version does."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from exchange._signed import AGREEMENT_CODES, countersign, dumps, parse
from exchange._workspace import AGREEMENT_KIND, Agreement, Workspace, sign_agreement_terms


def terms(path: Path) -> dict[str, Any]:
    """The terms of the signed agreement at ``path`` (its payload, as a mapping)."""
    document = parse(path.read_bytes(), kind=AGREEMENT_KIND, codes=AGREEMENT_CODES)
    value: dict[str, Any] = yaml.safe_load(document.payload)
    return value


def resign(workspace: Workspace, path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Apply ``change`` to the agreement's terms and write it signed again by both of its parties."""
    data = terms(path)
    change(data)
    agreement = Agreement.model_validate(data)
    first, second = (party.country for party in agreement.parties)
    signed = sign_agreement_terms(agreement, workspace.trust_list_signer(first), country=first)
    signed = countersign(parse(dumps(signed), kind=AGREEMENT_KIND, codes=AGREEMENT_CODES),
                         workspace.trust_list_signer(second), country=second)
    path.write_bytes(dumps(signed))
