"""Fuzzing the hardened parser: any bytes either parse or are refused with an ``XML-*`` code, never anything else."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from exchange._errors import Category, XmlError
from exchange._xml import DEFAULT_LIMITS, XmlLimits, parse_xml
from tests.fuzz.conftest import Seeds, budget
from tests.fuzz.strategies import TOKENS, mutated_bytes

SMALL = XmlLimits(max_bytes=64 * 1024, max_depth=20, max_attributes=16, max_namespaces=8)


def parse_or_refuse(data: bytes, limits: XmlLimits = DEFAULT_LIMITS) -> None:
    try:
        tree = parse_xml(data, limits=limits)
    except XmlError as error:
        assert error.code.category is Category.XML, error.code
        assert error.message
    else:
        assert tree.getroot() is not None


@budget(400)
@given(st.binary(max_size=4096))
def test_random_bytes(data: bytes) -> None:
    parse_or_refuse(data)
    parse_or_refuse(data, SMALL)


@budget(300)
@given(st.lists(st.sampled_from(TOKENS), max_size=40).map(b"".join))
def test_xml_token_soup(data: bytes) -> None:
    parse_or_refuse(data)
    parse_or_refuse(data, SMALL)


@budget(300)
@given(st.data())
def test_mutated_signed_documents(seeds: Seeds, data: st.DataObject) -> None:
    seed = data.draw(st.sampled_from((seeds.document, seeds.envelope)))
    mutated = data.draw(mutated_bytes(seed))
    parse_or_refuse(mutated)
    parse_or_refuse(mutated, SMALL)
