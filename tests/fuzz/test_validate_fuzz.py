"""Fuzzing validation: a damaged document gets a report, never an exception; every finding has a catalogue code
or the id of a business rule, and the verdict agrees with the findings."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from exchange._findings import CheckStatus
from exchange._validation import ValidationReport, Validator
from tests.attacks.forge import COO, PHYTO, sample
from tests.fuzz.conftest import KNOWN_CODES, Seeds, budget
from tests.fuzz.strategies import mutated_bytes, mutated_tree

VALIDATOR = Validator()


def assert_sound(report: ValidationReport) -> None:
    assert set(report.codes) <= KNOWN_CODES, report.codes
    assert report.valid == (not any(finding.is_error for finding in report.findings))
    for check in report.checks:
        assert check.status is not CheckStatus.FAILED or any(f.is_error for f in check.findings)
        assert all(finding.check == check.name for finding in check.findings)


@budget(200)
@given(st.data())
def test_damaged_documents(seeds: Seeds, data: st.DataObject) -> None:
    type_id = data.draw(st.sampled_from((COO, PHYTO)))
    seed = data.draw(st.sampled_from((sample(type_id), seeds.document if type_id == COO else sample(type_id))))
    damaged = data.draw(st.one_of(mutated_bytes(seed), mutated_tree(seed)))
    assert_sound(VALIDATOR.validate(damaged, document_type=type_id))
    assert_sound(VALIDATOR.validate(damaged))  # type detected from the root
