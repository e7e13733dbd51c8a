"""Every MUST of docs/protocol.md is a numbered clause, and every MUST clause is tested by a scenario of the kit."""

from __future__ import annotations

import re
from pathlib import Path

from exchange.conformance import SCENARIOS, referenced_clauses

PROTOCOL = Path(__file__).resolve().parents[3] / "docs" / "protocol.md"
#: a clause: a list item that opens with its bold id and its level in parentheses
CLAUSE = re.compile(r"^- \*\*(P-[A-Z]+-\d+)\*\* \((MUST NOT|MUST|SHOULD NOT|SHOULD|MAY)\) ", re.M)
KEYWORD = re.compile(r"\b(MUST|SHOULD|MAY)\b")


def clauses(text: str) -> dict[str, str]:
    """Clause id -> level; a repeated id fails."""
    found: dict[str, str] = {}
    for match in CLAUSE.finditer(text):
        assert match.group(1) not in found, f"clause {match.group(1)} is numbered twice"
        found[match.group(1)] = match.group(2)
    return found


def must_clauses(text: str) -> set[str]:
    return {clause for clause, level in clauses(text).items() if level.startswith("MUST")}


def unnumbered_requirements(text: str) -> list[str]:
    """Lines that use a requirement keyword outside a clause's opening (inline code is quoting, not requiring)."""
    lines = []
    for line in text.splitlines():
        bare = re.sub(r"`[^`]*`", "", CLAUSE.sub("", line + " ", count=1))
        if KEYWORD.search(bare):
            lines.append(line)
    return lines


def test_every_must_clause_is_tested_by_a_scenario() -> None:
    text = PROTOCOL.read_text(encoding="utf-8")
    required = must_clauses(text)
    assert len(required) >= 30, sorted(required)
    untested = required - referenced_clauses()
    assert not untested, f"MUST clauses no scenario tests: {sorted(untested)}"


def test_every_clause_a_scenario_names_is_in_the_protocol() -> None:
    known = set(clauses(PROTOCOL.read_text(encoding="utf-8")))
    for scenario in SCENARIOS.values():
        assert set(scenario.clauses) <= known, f"{scenario.id} names clauses the protocol lacks: " \
                                               f"{sorted(set(scenario.clauses) - known)}"


def test_no_requirement_hides_outside_a_numbered_clause() -> None:
    assert unnumbered_requirements(PROTOCOL.read_text(encoding="utf-8")) == []


def test_the_checks_themselves_catch_what_they_should() -> None:
    """The parser on a small text: a MUST clause nobody tests, a repeated id, an unnumbered MUST."""
    text = ("- **P-X-1** (MUST) a thing.\n- **P-X-2** (SHOULD) another.\n"
            "A sentence that says implementations MUST do more.\n- **P-X-3** (MUST NOT) forward `MUST` quoted.\n")
    assert must_clauses(text) == {"P-X-1", "P-X-3"}
    assert unnumbered_requirements(text) == ["A sentence that says implementations MUST do more."]
    try:
        clauses("- **P-X-1** (MUST) a.\n- **P-X-1** (MAY) b.\n")
    except AssertionError as exc:
        assert "numbered twice" in str(exc)
    else:  # pragma: no cover - the check above must fail
        raise AssertionError("a repeated clause id was not caught")
