"""Fuzzing the XML-DSig verifier on damaged signed documents: it never raises, every finding has a catalogue
code, and whatever still verifies has exactly the signed content of the original (nothing else gets through)."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given
from hypothesis import strategies as st

from exchange._dsig import SignatureCheck, SignaturePolicy, verify_signature
from tests.fuzz.conftest import KNOWN_CODES, Seeds, budget
from tests.fuzz.strategies import mutated_bytes, mutated_tree


def spki(certificate: x509.Certificate) -> bytes:
    return certificate.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def assert_sound(check: SignatureCheck, original: SignatureCheck) -> None:
    assert set(check.codes) <= KNOWN_CODES, check.codes
    if check.valid:
        assert check.findings == () and check.signed_content == original.signed_content
        # the key that verified is the original's; a damaged certificate around it is for trust to refuse
        assert check.signer is not None and original.signer is not None
        assert spki(check.signer) == spki(original.signer)
    else:
        assert check.findings and check.signed_content is None


@budget(300)
@given(st.data())
def test_damaged_bytes(seeds: Seeds, data: st.DataObject) -> None:
    seed = data.draw(st.sampled_from((seeds.document, seeds.envelope)))
    original = verify_signature(seed)
    assert original.valid
    damaged = data.draw(mutated_bytes(seed))
    assert_sound(verify_signature(damaged), original)


@budget(300)
@given(st.data())
def test_damaged_structure(seeds: Seeds, data: st.DataObject) -> None:
    seed = data.draw(st.sampled_from((seeds.document, seeds.envelope)))
    original = verify_signature(seed)
    damaged = data.draw(mutated_tree(seed))
    assert_sound(verify_signature(damaged), original)
    assert_sound(verify_signature(damaged, policy=SignaturePolicy(max_signatures=2)), original)
