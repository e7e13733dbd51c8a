"""Fuzzing fixtures: seeds made from legitimately signed documents, the codes a finding may carry, and budgets.

Budgets are CI-sized and deterministic (``derandomize``): the same examples every run, so CI never turns red
by chance. ``PTX_FUZZ_SCALE=20`` multiplies every budget and ``PTX_FUZZ_RANDOM=1`` explores new examples each
run (for a long local session; ``python fuzz/run.py --seconds N`` is the coverage-guided alternative).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from lxml import etree

from exchange._catalogue import default_catalogue
from exchange._errors import Code
from exchange._xml import load_trusted_xml
from tests.attacks.forge import Canary, Forge, World, build_world

CREATED = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
MOMENT = CREATED + timedelta(days=3)
SCALE = max(1, int(os.environ.get("PTX_FUZZ_SCALE", "1")))
RANDOM = os.environ.get("PTX_FUZZ_RANDOM") == "1"


def budget(examples: int) -> Any:
    """Hypothesis settings for ``examples`` examples (times ``PTX_FUZZ_SCALE``), no deadline, no database."""
    return settings(
        max_examples=examples * SCALE,
        deadline=None,
        derandomize=not RANDOM,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


def _rule_ids() -> frozenset[str]:
    """Every business-rule id the catalogue's Schematron files declare (rule findings carry these as codes)."""
    ids: set[str] = set()
    for doc_type in default_catalogue():
        if doc_type.rules_path is None:
            continue
        root = load_trusted_xml(doc_type.rules_path).getroot()
        ids |= {str(node.get("id")) for node in root.iter(etree.Element) if node.get("id")}
    return frozenset(ids)


#: what a finding's code may be: a catalogue code, or the id of a business rule
KNOWN_CODES = frozenset(code.value for code in Code) | _rule_ids()


@dataclass(frozen=True)
class Seeds:
    world: World
    forge: Forge
    document: bytes  # a certificate of origin signed by AA's chamber of commerce
    envelope: bytes  # ... inside an envelope signed by AA's node, AA -> BB
    message_id: str


@pytest.fixture(scope="session")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> Seeds:
    canary = Canary()
    world = build_world(tmp_path_factory.mktemp("fuzz-world") / "workspace", created=CREATED, moment=MOMENT,
                        canary=canary)
    forge = Forge(world)
    message_id = "msg-fuzz-0000000001"
    return Seeds(world, forge, forge.document(), forge.message(message_id), message_id)
