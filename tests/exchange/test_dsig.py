"""XML-DSig signing and strict verification (exchange._dsig).

Every refusal is asserted by its exact code tuple, so that a check that stops working (or a second one that
starts firing) shows up. Keys and certificates are generated per session from the declarative spec below;
documents are pinned byte strings.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from exchange._algorithms import (
    CanonicalizationMethod,
    DigestMethod,
    Namespace,
    SignatureMethod,
    Transform,
)
from exchange._dsig import SignatureCheck, SignaturePolicy, sign_document, verify_signature
from exchange._errors import Code, ConfigurationError, SignatureError, XmlError
from exchange._xml import XmlLimits, parse_xml

DS = Namespace.DS

# --- test PKI: a declarative spec, built once per session --------------------------------------------------

NOT_BEFORE = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
NOT_AFTER = dt.datetime(2049, 12, 31, tzinfo=dt.UTC)

KEY_FACTORIES: dict[str, Callable[[], Any]] = {
    "p256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "p384": lambda: ec.generate_private_key(ec.SECP384R1()),
    "rsa2048": lambda: rsa.generate_private_key(65537, 2048),
    "rsa3072": lambda: rsa.generate_private_key(65537, 3072),
    "rsa1024": lambda: rsa.generate_private_key(65537, 1024),
    "ed25519": ed25519.Ed25519PrivateKey.generate,
}
# name -> (key kind, issuer name or None for self-signed, is a CA)
PKI_SPEC: dict[str, tuple[str, str | None, bool]] = {
    "root": ("p256", None, True),
    "intermediate": ("p256", "root", True),
    "leaf-p256": ("p256", "intermediate", False),
    "leaf-p384": ("p384", "intermediate", False),
    "leaf-rsa2048": ("rsa2048", "intermediate", False),
    "leaf-rsa3072": ("rsa3072", "intermediate", False),
    "leaf-rsa1024": ("rsa1024", "intermediate", False),
    "leaf-ed25519": ("ed25519", "intermediate", False),
    "stranger": ("p256", None, False),  # self-signed, another key: a certificate that proves nothing
}


@dataclass(frozen=True)
class Party:
    key: Any
    certificate: x509.Certificate


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "AA"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test Chamber of Commerce"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _certificate(subject: str, key: Any, issuer: str, issuer_key: Any, ca: bool, serial: int) -> x509.Certificate:
    public_key = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    )
    return builder.sign(issuer_key, hashes.SHA256())


def build_pki(spec: dict[str, tuple[str, str | None, bool]]) -> dict[str, Party]:
    parties: dict[str, Party] = {}
    for serial, (name, (kind, issuer, ca)) in enumerate(spec.items(), start=1):
        key = KEY_FACTORIES[kind]()
        issuer_party = parties[issuer] if issuer else None
        certificate = _certificate(
            name,
            key,
            issuer or name,
            issuer_party.key if issuer_party else key,
            ca,
            serial,
        )
        parties[name] = Party(key, certificate)
    return parties


@pytest.fixture(scope="session")
def pki() -> dict[str, Party]:
    return build_pki(PKI_SPEC)


def chain_of(pki: dict[str, Party], leaf: str) -> list[x509.Certificate]:
    return [pki[leaf].certificate, pki["intermediate"].certificate]


# --- pinned documents -------------------------------------------------------------------------------------

DOCUMENT = b"""<?xml version="1.0" encoding="UTF-8"?>
<!-- issued by the test chamber of commerce -->
<co:CertificateOfOrigin xmlns:co="urn:example:co:1" xmlns:ram="urn:example:ram:1" xmlns:unused="urn:example:unused">
  <co:ID>COO-2026-000123</co:ID>
  <co:Exporter ram:role="exporter"><ram:Name>Example Exports Ltd</ram:Name></co:Exporter>
  <!-- a comment inside -->
  <co:Consignment>
    <co:Item sequence="1"><ram:Description>Green coffee beans</ram:Description><ram:Weight unit="KGM">1200.5</ram:Weight></co:Item>
  </co:Consignment>
  <?audit step="issue"?>
</co:CertificateOfOrigin>
"""

# Exclusive C14N without comments of DOCUMENT, written out by hand: no comments, no XML declaration, unused
# namespace declarations dropped, ram: declared where it is used, whitespace and the PI kept.
CANONICAL = (
    b'<co:CertificateOfOrigin xmlns:co="urn:example:co:1">\n'
    b"  <co:ID>COO-2026-000123</co:ID>\n"
    b'  <co:Exporter xmlns:ram="urn:example:ram:1" ram:role="exporter"><ram:Name>Example Exports Ltd</ram:Name>'
    b"</co:Exporter>\n"
    b"  \n"
    b"  <co:Consignment>\n"
    b'    <co:Item sequence="1"><ram:Description xmlns:ram="urn:example:ram:1">Green coffee beans</ram:Description>'
    b'<ram:Weight xmlns:ram="urn:example:ram:1" unit="KGM">1200.5</ram:Weight></co:Item>\n'
    b"  </co:Consignment>\n"
    b'  <?audit step="issue"?>\n'
    b"</co:CertificateOfOrigin>"
)

LEAVES = ["leaf-p256", "leaf-rsa2048", "leaf-ed25519", "leaf-p384", "leaf-rsa3072"]
EXPECTED_METHOD = {
    "leaf-p256": SignatureMethod.ECDSA_SHA256,
    "leaf-p384": SignatureMethod.ECDSA_SHA384,
    "leaf-rsa2048": SignatureMethod.RSA_SHA256,
    "leaf-rsa3072": SignatureMethod.RSA_SHA256,
    "leaf-ed25519": SignatureMethod.ED25519,
}
EXPECTED_VALUE_LENGTH = {"leaf-p256": 64, "leaf-p384": 96, "leaf-rsa2048": 256, "leaf-rsa3072": 384, "leaf-ed25519": 64}


@pytest.fixture(scope="session")
def signed(pki: dict[str, Party]) -> dict[str, bytes]:
    """DOCUMENT signed once with each leaf."""
    return {leaf: sign_document(DOCUMENT, pki[leaf].key, chain_of(pki, leaf)) for leaf in LEAVES}


def _signature(tree: etree._ElementTree) -> etree._Element:
    signature = tree.getroot().find(DS.tag("Signature"))
    assert signature is not None
    return signature


def _find(tree: etree._ElementTree, local: str) -> etree._Element:
    element = tree.getroot().find(f".//{DS.tag(local)}")
    assert element is not None, local
    return element


def mutate(data: bytes, change: Callable[[etree._ElementTree], None]) -> bytes:
    """Parse, change the tree, serialise again (the way an attacker with an XML library would)."""
    tree = parse_xml(data)
    change(tree)
    return etree.tostring(tree, encoding="UTF-8", xml_declaration=True)


# --- round trips ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("leaf", LEAVES)
def test_round_trip(pki: dict[str, Party], signed: dict[str, bytes], leaf: str) -> None:
    check = verify_signature(signed[leaf])

    assert isinstance(check, SignatureCheck)
    assert check.valid, check.findings
    assert check.findings == ()
    assert check.signer == pki[leaf].certificate
    assert check.chain == (pki[leaf].certificate, pki["intermediate"].certificate)
    assert check.signature_method is EXPECTED_METHOD[leaf]
    assert check.digest_method is DigestMethod.SHA256
    assert check.signed_content == CANONICAL


@pytest.mark.parametrize("leaf", LEAVES)
def test_signed_layout_is_the_profile(pki: dict[str, Party], signed: dict[str, bytes], leaf: str) -> None:
    data = signed[leaf]
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    tree = parse_xml(data)
    root = tree.getroot()
    elements = [child for child in root if isinstance(child.tag, str)]
    assert elements[-1].tag == DS.tag("Signature")
    assert len(list(root.iter(DS.tag("Signature")))) == 1

    reference = _find(tree, "Reference")
    assert reference.get("URI") == ""
    assert [t.get("Algorithm") for t in reference.iter(DS.tag("Transform"))] == [
        Transform.ENVELOPED.value,
        Transform.EXC_C14N.value,
    ]
    assert _find(tree, "CanonicalizationMethod").get("Algorithm") == CanonicalizationMethod.EXCLUSIVE.value
    assert _find(tree, "SignatureMethod").get("Algorithm") == EXPECTED_METHOD[leaf].value
    assert _find(tree, "DigestMethod").get("Algorithm") == DigestMethod.SHA256.value
    assert _signature(tree).find(DS.tag("Object")) is None

    certificates = [base64.b64decode(e.text or "") for e in tree.getroot().iter(DS.tag("X509Certificate"))]
    assert certificates == [c.public_bytes(serialization.Encoding.DER) for c in chain_of(pki, leaf)]

    value = base64.b64decode(_find(tree, "SignatureValue").text or "")
    # ECDSA: raw r||s of twice the curve size (a DER signature would start with 0x30 and vary in length)
    assert len(value) == EXPECTED_VALUE_LENGTH[leaf]


def test_sha512_digest_round_trip(pki: dict[str, Party]) -> None:
    data = sign_document(DOCUMENT, pki["leaf-p256"].key, chain_of(pki, "leaf-p256"), digest_method=DigestMethod.SHA512)
    check = verify_signature(data)
    assert check.valid and check.digest_method is DigestMethod.SHA512
    assert len(base64.b64decode(_find(parse_xml(data), "DigestValue").text or "")) == 64


def test_explicit_signature_method(pki: dict[str, Party]) -> None:
    data = sign_document(
        DOCUMENT, pki["leaf-p256"].key, chain_of(pki, "leaf-p256"), signature_method=SignatureMethod.ECDSA_SHA512
    )
    check = verify_signature(data)
    assert check.valid and check.signature_method is SignatureMethod.ECDSA_SHA512


def test_trees_passed_in_are_not_modified(pki: dict[str, Party], signed: dict[str, bytes]) -> None:
    unsigned = parse_xml(DOCUMENT)
    before = etree.tostring(unsigned)
    data = sign_document(unsigned, pki["leaf-p256"].key, chain_of(pki, "leaf-p256"))
    assert etree.tostring(unsigned) == before
    assert verify_signature(data).valid

    received = parse_xml(signed["leaf-p256"])
    before = etree.tostring(received)
    check = verify_signature(received)
    assert check.valid and check.signed_content == CANONICAL
    assert etree.tostring(received) == before


def test_a_tree_with_the_bytes_it_was_parsed_from_gets_the_verdict_of_the_bytes(signed: dict[str, bytes]) -> None:
    """The engine passes the tree it parsed and the received bytes (``parsed_from``), not the bytes again: the
    verdict, codes, lines and signed content are those of the bytes, CDATA included (only the bytes show it)."""
    data = signed["leaf-p256"]
    assert data.count(b"Green coffee") == 1
    variants = {
        "valid": data,
        "tampered": data.replace(b"1200.5", b"1200.6"),
        "cdata": data.replace(b"Green coffee", b"<![CDATA[Green coffee]]>"),
        "comment in text": data.replace(b"Green coffee", b"Green<!-- x --> coffee"),
    }
    for name, variant in variants.items():
        tree = parse_xml(variant)
        before = etree.tostring(tree)
        from_bytes = verify_signature(variant)
        from_tree = verify_signature(tree, parsed_from=variant)
        assert from_tree.to_dict() == from_bytes.to_dict(), name
        assert from_tree.signed_content == from_bytes.signed_content, name
        assert etree.tostring(tree) == before, name  # the caller's tree is left as it was
    assert verify_signature(parse_xml(variants["cdata"]), parsed_from=variants["cdata"]).codes == ("SIG-CDATA-IN-TEXT",)
    with pytest.raises(TypeError):
        verify_signature(data, parsed_from=data)


def test_signed_content_is_only_the_signed_scope(signed: dict[str, bytes]) -> None:
    check = verify_signature(signed["leaf-p256"])
    assert check.signed_content is not None
    content = check.signed_content
    assert b"Signature" not in content and Namespace.DS.value.encode() not in content
    assert b"<!--" not in content  # comments are outside the signed scope
    assert b"urn:example:unused" not in content  # exclusive C14N drops unused namespace declarations
    assert not content.startswith(b"<?xml")
    document = check.signed_document()
    assert document.getroot().tag == "{urn:example:co:1}CertificateOfOrigin"
    assert document.getroot().findtext("{urn:example:co:1}ID") == "COO-2026-000123"


def test_signed_document_refused_when_invalid(signed: dict[str, bytes]) -> None:
    check = verify_signature(signed["leaf-p256"].replace(b"Green coffee", b"Green cocoa"))
    assert check.signed_content is None
    with pytest.raises(SignatureError) as raised:
        check.signed_document()
    assert raised.value.code is Code.SIG_VALUE_INVALID


def test_to_dict(signed: dict[str, bytes]) -> None:
    report = verify_signature(signed["leaf-p256"]).to_dict()
    assert report["valid"] is True and report["findings"] == []
    assert report["signer"] == "CN=leaf-p256,O=Test Chamber of Commerce,C=AA"
    assert report["signature_method"] == SignatureMethod.ECDSA_SHA256.value


def test_envelope_carrying_a_signed_document(pki: dict[str, Party]) -> None:
    """The gateway case: a signed document inside an envelope signed by the node (max_signatures=2)."""
    inner = sign_document(DOCUMENT, pki["leaf-p256"].key, chain_of(pki, "leaf-p256"))
    envelope = parse_xml(b'<env:Envelope xmlns:env="urn:example:envelope"><env:Header>h</env:Header></env:Envelope>')
    payload = etree.SubElement(envelope.getroot(), "{urn:example:envelope}Payload")
    payload.append(parse_xml(inner).getroot())
    outer = sign_document(envelope, pki["leaf-rsa2048"].key, chain_of(pki, "leaf-rsa2048"))

    assert verify_signature(outer).codes == ("SIG-STRUCTURE",)  # two signatures, the default allows one
    check = verify_signature(outer, policy=SignaturePolicy(max_signatures=2))
    assert check.valid and check.signer == pki["leaf-rsa2048"].certificate

    # the payload taken from the signed content verifies on its own (exclusive C14N is context-free)
    signed_envelope = check.signed_document()
    document = signed_envelope.getroot().find("{urn:example:envelope}Payload")[0]  # type: ignore[index]
    inner_check = verify_signature(etree.tostring(document))
    assert inner_check.valid and inner_check.signer == pki["leaf-p256"].certificate
    assert inner_check.signed_content == CANONICAL

    # a signature added inside the payload after the outer signing is caught by the outer digest
    def add_nested(tree: etree._ElementTree) -> None:
        holder = tree.getroot().find("{urn:example:envelope}Header")
        assert holder is not None
        holder.append(copy.deepcopy(_signature(tree)))

    tampered = mutate(outer, add_nested)
    assert verify_signature(tampered, policy=SignaturePolicy(max_signatures=3)).codes == ("SIG-DIGEST-MISMATCH",)
    assert verify_signature(tampered, policy=SignaturePolicy(max_signatures=2)).codes == ("SIG-STRUCTURE",)


# --- refusals: content and value ----------------------------------------------------------------------------


def test_one_changed_byte_in_signed_text(signed: dict[str, bytes]) -> None:
    data = signed["leaf-p256"]
    assert data.count(b"1200.5") == 1
    check = verify_signature(data.replace(b"1200.5", b"1200.6"))
    assert check.codes == ("SIG-DIGEST-MISMATCH",)
    assert not check.valid and check.signed_content is None
    # the untrusted signer is still reported, for diagnostics
    assert check.signer is not None


def test_changed_attribute(signed: dict[str, bytes]) -> None:
    data = signed["leaf-rsa2048"]
    assert verify_signature(data.replace(b'unit="KGM"', b'unit="LBR"')).codes == ("SIG-DIGEST-MISMATCH",)
    assert verify_signature(data.replace(b'sequence="1"', b'sequence="1" extra="x"')).codes == ("SIG-DIGEST-MISMATCH",)


def test_whitespace_injected_into_signed_text(signed: dict[str, bytes]) -> None:
    data = signed["leaf-p256"]
    assert verify_signature(data.replace(b"Green coffee", b"Green  coffee")).codes == ("SIG-DIGEST-MISMATCH",)
    # text after the signature is inside the signed scope too (the enveloped transform removes only the element)
    assert verify_signature(data.replace(b"</ds:Signature>", b"</ds:Signature>\n")).codes == ("SIG-DIGEST-MISMATCH",)


def test_comment_injected_into_signed_text(signed: dict[str, bytes]) -> None:
    """Standard XML-DSig: C14N without comments drops the comment, so the digest still matches.

    A naive reader of the received tree would see the text cut at the comment, so the profile refuses it;
    with the named weakening the signature verifies and the signed content has the text whole.
    """
    data = signed["leaf-p256"].replace(b"COO-2026-000123", b"COO-2026<!---->-000123")
    assert verify_signature(data).codes == ("SIG-COMMENT-IN-TEXT",)
    assert verify_signature(data.replace(b"<!---->-000123", b"-000123<!---->")).codes == ("SIG-COMMENT-IN-TEXT",)
    check = verify_signature(data, policy=SignaturePolicy(allow_comments_in_text=True))
    assert check.valid and check.signed_content == CANONICAL

    received = parse_xml(data).getroot()
    assert received.find("{urn:example:co:1}ID").text == "COO-2026"  # type: ignore[union-attr]
    assert check.signed_document().getroot().findtext("{urn:example:co:1}ID") == "COO-2026-000123"


def test_recomputed_digest_does_not_help(signed: dict[str, bytes]) -> None:
    """The attacker changes the content and puts the matching digest in: SignedInfo no longer verifies."""
    import hashlib

    tampered = signed["leaf-p256"].replace(b"Green coffee", b"Green cocoa")
    tree = parse_xml(tampered)
    signature = _signature(tree)
    signature.getparent().remove(signature)  # type: ignore[union-attr]
    digest = hashlib.sha256(etree.tostring(tree, method="c14n", exclusive=True, with_comments=False)).digest()

    def put_digest(t: etree._ElementTree) -> None:
        _find(t, "DigestValue").text = base64.b64encode(digest).decode()

    assert verify_signature(mutate(tampered, put_digest)).codes == ("SIG-VALUE-INVALID",)


@pytest.mark.parametrize("leaf", ["leaf-p256", "leaf-rsa2048", "leaf-ed25519"])
def test_truncated_signature_value(signed: dict[str, bytes], leaf: str) -> None:
    def truncate(tree: etree._ElementTree) -> None:
        element = _find(tree, "SignatureValue")
        value = base64.b64decode(element.text or "")
        element.text = base64.b64encode(value[:-3]).decode()

    assert verify_signature(mutate(signed[leaf], truncate)).codes == ("SIG-VALUE-INVALID",)


@pytest.mark.parametrize("leaf", ["leaf-p256", "leaf-rsa2048", "leaf-ed25519"])
def test_flipped_bit_in_signature_value(signed: dict[str, bytes], leaf: str) -> None:
    def flip(tree: etree._ElementTree) -> None:
        element = _find(tree, "SignatureValue")
        value = bytearray(base64.b64decode(element.text or ""))
        value[len(value) // 2] ^= 0x01
        element.text = base64.b64encode(bytes(value)).decode()

    assert verify_signature(mutate(signed[leaf], flip)).codes == ("SIG-VALUE-INVALID",)


def test_signature_value_not_base64(signed: dict[str, bytes]) -> None:
    def garble(tree: etree._ElementTree) -> None:
        _find(tree, "SignatureValue").text = "not*base64"

    assert verify_signature(mutate(signed["leaf-p256"], garble)).codes == ("SIG-VALUE-INVALID",)


def test_der_ecdsa_value_is_refused(pki: dict[str, Party], signed: dict[str, bytes]) -> None:
    """A DER-encoded ECDSA value (a common interop bug) is not the XML-DSig form."""
    from cryptography.hazmat.primitives.asymmetric import utils

    def to_der(tree: etree._ElementTree) -> None:
        element = _find(tree, "SignatureValue")
        raw = base64.b64decode(element.text or "")
        der = utils.encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        element.text = base64.b64encode(der).decode()

    assert verify_signature(mutate(signed["leaf-p256"], to_der)).codes == ("SIG-VALUE-INVALID",)


# --- refusals: structure (wrapping) -------------------------------------------------------------------------


def test_missing_signature() -> None:
    check = verify_signature(DOCUMENT)
    assert check.codes == ("SIG-MISSING",)
    assert check.signer is None and check.chain == () and check.signed_content is None


def test_moved_signature(signed: dict[str, bytes]) -> None:
    def move(tree: etree._ElementTree) -> None:
        consignment = tree.getroot().find("{urn:example:co:1}Consignment")
        assert consignment is not None
        consignment.append(_signature(tree))

    check = verify_signature(mutate(signed["leaf-p256"], move))
    assert check.codes == ("SIG-STRUCTURE",)
    assert check.findings[0].path == "/co:CertificateOfOrigin/co:Consignment/ds:Signature"


def test_signature_not_last(signed: dict[str, bytes]) -> None:
    def append_after(tree: etree._ElementTree) -> None:
        etree.SubElement(tree.getroot(), "{urn:example:co:1}Extra").text = "appended after signing"

    assert verify_signature(mutate(signed["leaf-p256"], append_after)).codes == ("SIG-STRUCTURE",)


def test_wrapped_in_a_new_root(signed: dict[str, bytes]) -> None:
    def wrap(tree: etree._ElementTree) -> None:
        wrapper = etree.Element("{urn:evil}Wrapper")
        wrapper.append(tree.getroot())
        tree._setroot(wrapper)

    assert verify_signature(mutate(signed["leaf-p256"], wrap)).codes == ("SIG-STRUCTURE",)


def test_signature_wrapping_with_a_forged_document(signed: dict[str, bytes]) -> None:
    """XSW: the signed original hidden in a new root next to forged content, the signature moved last."""

    def forge(tree: etree._ElementTree) -> None:
        original = tree.getroot()
        signature = _signature(tree)
        forged = etree.Element("{urn:example:co:1}CertificateOfOrigin", nsmap={"co": "urn:example:co:1"})
        etree.SubElement(forged, "{urn:example:co:1}ID").text = "FORGED"
        hidden = etree.SubElement(forged, "{urn:example:co:1}Annex")
        hidden.append(original)
        forged.append(signature)
        tree._setroot(forged)

    check = verify_signature(mutate(signed["leaf-p256"], forge))
    assert check.codes == ("SIG-DIGEST-MISMATCH",)
    assert check.signed_content is None


def test_second_signature(signed: dict[str, bytes]) -> None:
    def duplicate_last(tree: etree._ElementTree) -> None:
        tree.getroot().append(copy.deepcopy(_signature(tree)))

    def duplicate_inside(tree: etree._ElementTree) -> None:
        exporter = tree.getroot().find("{urn:example:co:1}Exporter")
        assert exporter is not None
        exporter.append(copy.deepcopy(_signature(tree)))

    assert verify_signature(mutate(signed["leaf-p256"], duplicate_last)).codes == ("SIG-STRUCTURE",)
    assert verify_signature(mutate(signed["leaf-p256"], duplicate_inside)).codes == ("SIG-STRUCTURE",)


def test_object_and_manifest_refused(signed: dict[str, bytes]) -> None:
    def add_object(tree: etree._ElementTree) -> None:
        obj = etree.SubElement(_signature(tree), DS.tag("Object"))
        manifest = etree.SubElement(obj, DS.tag("Manifest"))
        etree.SubElement(manifest, DS.tag("Reference"), URI="#x")

    assert verify_signature(mutate(signed["leaf-p256"], add_object)).codes == ("SIG-STRUCTURE",)


def test_signature_without_signed_info(signed: dict[str, bytes]) -> None:
    def drop(tree: etree._ElementTree) -> None:
        _signature(tree).remove(_find(tree, "SignedInfo"))

    assert verify_signature(mutate(signed["leaf-p256"], drop)).codes == ("SIG-STRUCTURE",)


def test_two_references(signed: dict[str, bytes]) -> None:
    def add_reference(tree: etree._ElementTree) -> None:
        reference = _find(tree, "Reference")
        reference.addnext(copy.deepcopy(reference))

    assert verify_signature(mutate(signed["leaf-p256"], add_reference)).codes == ("SIG-STRUCTURE",)


# --- refusals: references and transforms --------------------------------------------------------------------


@pytest.mark.parametrize(
    "uri", ["#COO-2026-000123", "http://example.org/document.xml", "file:///etc/passwd", "#xpointer(/)", None]
)
def test_reference_other_than_whole_document(signed: dict[str, bytes], uri: str | None) -> None:
    def set_uri(tree: etree._ElementTree) -> None:
        reference = _find(tree, "Reference")
        if uri is None:
            del reference.attrib["URI"]
        else:
            reference.set("URI", uri)

    assert verify_signature(mutate(signed["leaf-p256"], set_uri)).codes == ("SIG-REFERENCE-FORBIDDEN",)


def _set_transforms(
    *algorithms: str, parameter: Callable[[etree._Element], None] | None = None
) -> Callable[[etree._ElementTree], None]:
    def change(tree: etree._ElementTree) -> None:
        transforms = _find(tree, "Transforms")
        for transform in list(transforms):
            transforms.remove(transform)
        for algorithm in algorithms:
            element = etree.SubElement(transforms, DS.tag("Transform"), Algorithm=algorithm)
            if parameter is not None and algorithm not in (Transform.ENVELOPED.value, Transform.EXC_C14N.value):
                parameter(element)

    return change


def _xslt(transform: etree._Element) -> None:
    stylesheet = etree.SubElement(transform, Namespace.XSL.tag("stylesheet"), version="1.0")
    etree.SubElement(stylesheet, Namespace.XSL.tag("template"), match="/")


def _xpath(transform: etree._Element) -> None:
    etree.SubElement(transform, DS.tag("XPath")).text = "not(ancestor-or-self::ds:Signature)"


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(_set_transforms(Transform.ENVELOPED.value, Transform.XSLT.value, parameter=_xslt), id="xslt"),
        pytest.param(_set_transforms(Transform.XPATH.value, Transform.EXC_C14N.value, parameter=_xpath), id="xpath"),
        pytest.param(
            _set_transforms(Transform.ENVELOPED.value, Transform.XPATH_FILTER2.value, Transform.EXC_C14N.value),
            id="xpath-filter2",
        ),
        pytest.param(_set_transforms(Transform.BASE64.value), id="base64"),
        pytest.param(
            _set_transforms(Transform.ENVELOPED.value, Transform.EXC_C14N_WITH_COMMENTS.value), id="with-comments"
        ),
        pytest.param(_set_transforms(Transform.ENVELOPED.value, Transform.C14N.value), id="inclusive"),
        pytest.param(_set_transforms(Transform.ENVELOPED.value, "urn:unknown:transform"), id="unknown"),
        pytest.param(_set_transforms(Transform.ENVELOPED.value), id="enveloped-only"),
        pytest.param(_set_transforms(Transform.EXC_C14N.value, Transform.ENVELOPED.value), id="wrong-order"),
        pytest.param(
            _set_transforms(Transform.ENVELOPED.value, Transform.EXC_C14N.value, Transform.EXC_C14N.value),
            id="repeated",
        ),
        pytest.param(lambda tree: _find(tree, "Reference").remove(_find(tree, "Transforms")), id="no-transforms"),
    ],
)
def test_transforms_other_than_the_profile(
    signed: dict[str, bytes], change: Callable[[etree._ElementTree], None]
) -> None:
    check = verify_signature(mutate(signed["leaf-p256"], change))
    assert check.codes == ("SIG-TRANSFORM-FORBIDDEN",)


def test_inclusive_namespaces_default_token_unsupported(signed: dict[str, bytes]) -> None:
    def add_prefix_list(tree: etree._ElementTree) -> None:
        exc = list(_find(tree, "Transforms"))[1]
        etree.SubElement(exc, Namespace.EXC_C14N.tag("InclusiveNamespaces"), PrefixList="#default co")

    assert verify_signature(mutate(signed["leaf-p256"], add_prefix_list)).codes == ("SIG-ALGORITHM-UNSUPPORTED",)


def test_inclusive_namespaces_prefix_list_is_honoured(signed: dict[str, bytes]) -> None:
    """With PrefixList="unused" the digest input changes, so a signature made without it no longer matches."""

    def add_prefix_list(tree: etree._ElementTree) -> None:
        exc = list(_find(tree, "Transforms"))[1]
        etree.SubElement(exc, Namespace.EXC_C14N.tag("InclusiveNamespaces"), PrefixList="unused")

    assert verify_signature(mutate(signed["leaf-p256"], add_prefix_list)).codes == (
        "SIG-DIGEST-MISMATCH",
        "SIG-VALUE-INVALID",
    )


# --- refusals: algorithms and keys --------------------------------------------------------------------------


def _set_algorithm(local: str, uri: str, child: str | None = None) -> Callable[[etree._ElementTree], None]:
    def change(tree: etree._ElementTree) -> None:
        element = _find(tree, local)
        element.set("Algorithm", uri)
        if child:
            etree.SubElement(element, DS.tag(child)).text = "160"

    return change


@pytest.mark.parametrize(
    ("leaf", "change", "codes"),
    [
        ("leaf-rsa2048", _set_algorithm("DigestMethod", DigestMethod.SHA1.value), ("SIG-ALGORITHM-WEAK",)),
        ("leaf-rsa2048", _set_algorithm("DigestMethod", DigestMethod.MD5.value), ("SIG-ALGORITHM-WEAK",)),
        ("leaf-rsa2048", _set_algorithm("SignatureMethod", SignatureMethod.RSA_SHA1.value), ("SIG-ALGORITHM-WEAK",)),
        ("leaf-p256", _set_algorithm("SignatureMethod", SignatureMethod.ECDSA_SHA1.value), ("SIG-ALGORITHM-WEAK",)),
        ("leaf-p256", _set_algorithm("SignatureMethod", SignatureMethod.DSA_SHA1.value), ("SIG-ALGORITHM-WEAK",)),
        (
            "leaf-p256",
            _set_algorithm("SignatureMethod", SignatureMethod.HMAC_SHA1.value, "HMACOutputLength"),
            ("SIG-ALGORITHM-WEAK",),
        ),
        (
            "leaf-p256",
            _set_algorithm("SignatureMethod", SignatureMethod.HMAC_SHA256.value),
            ("SIG-ALGORITHM-WEAK",),
        ),
        ("leaf-p256", _set_algorithm("SignatureMethod", "urn:unknown:signature"), ("SIG-ALGORITHM-UNSUPPORTED",)),
        ("leaf-p256", _set_algorithm("SignatureMethod", SignatureMethod.ED448.value), ("SIG-ALGORITHM-UNSUPPORTED",)),
        ("leaf-p256", _set_algorithm("DigestMethod", "urn:unknown:digest"), ("SIG-ALGORITHM-UNSUPPORTED",)),
        ("leaf-p256", _set_algorithm("DigestMethod", DigestMethod.SHA3_256.value), ("SIG-ALGORITHM-UNSUPPORTED",)),
        (
            "leaf-p256",
            _set_algorithm("CanonicalizationMethod", CanonicalizationMethod.INCLUSIVE.value),
            ("SIG-ALGORITHM-UNSUPPORTED",),
        ),
        (
            "leaf-p256",
            _set_algorithm("CanonicalizationMethod", CanonicalizationMethod.EXCLUSIVE_WITH_COMMENTS.value),
            ("SIG-ALGORITHM-UNSUPPORTED",),
        ),
        # an RSA method over an EC certificate: the certificate key does not fit the method
        ("leaf-p256", _set_algorithm("SignatureMethod", SignatureMethod.RSA_SHA256.value), ("SIG-KEY-MISMATCH",)),
        ("leaf-ed25519", _set_algorithm("SignatureMethod", SignatureMethod.ECDSA_SHA256.value), ("SIG-KEY-MISMATCH",)),
    ],
)
def test_algorithms_outside_the_profile(
    signed: dict[str, bytes], leaf: str, change: Callable[[etree._ElementTree], None], codes: tuple[str, ...]
) -> None:
    check = verify_signature(mutate(signed[leaf], change))
    assert check.codes == codes
    assert not check.valid and check.signed_content is None


def test_weak_method_is_named_in_the_result(signed: dict[str, bytes]) -> None:
    data = mutate(signed["leaf-rsa2048"], _set_algorithm("SignatureMethod", SignatureMethod.RSA_SHA1.value))
    check = verify_signature(data)
    assert check.signature_method is SignatureMethod.RSA_SHA1
    assert check.findings[0].check == "document-signature"
    lines = data.split(b"\n")
    assert b"<ds:SignatureMethod" in lines[check.findings[0].line - 1]  # type: ignore[operator]
    assert verify_signature(data, check="issuer-signature").findings[0].check == "issuer-signature"
    assert check.findings[0].path is not None and check.findings[0].path.endswith("ds:SignedInfo/ds:SignatureMethod")


def test_rsa_1024_key(pki: dict[str, Party]) -> None:
    chain = chain_of(pki, "leaf-rsa1024")
    with pytest.raises(SignatureError) as raised:
        sign_document(DOCUMENT, pki["leaf-rsa1024"].key, chain)
    assert raised.value.code is Code.SIG_KEY_WEAK

    weakened = SignaturePolicy(min_rsa_bits=1024)
    data = sign_document(DOCUMENT, pki["leaf-rsa1024"].key, chain, policy=weakened)
    assert verify_signature(data).codes == ("SIG-KEY-WEAK",)
    assert verify_signature(data, policy=weakened).valid


def test_policy_narrowed_to_ecdsa_refuses_rsa(signed: dict[str, bytes]) -> None:
    policy = SignaturePolicy(signature_methods=frozenset({SignatureMethod.ECDSA_SHA256}))
    assert verify_signature(signed["leaf-p256"], policy=policy).valid
    assert verify_signature(signed["leaf-rsa2048"], policy=policy).codes == ("SIG-ALGORITHM-UNSUPPORTED",)
    p256_only = SignaturePolicy(ec_curves=frozenset({"secp256r1"}))
    assert verify_signature(signed["leaf-p384"], policy=p256_only).codes == ("SIG-ALGORITHM-UNSUPPORTED",)


# --- refusals: KeyInfo --------------------------------------------------------------------------------------


def _replace_certificates(*certificates: x509.Certificate) -> Callable[[etree._ElementTree], None]:
    def change(tree: etree._ElementTree) -> None:
        data = _find(tree, "X509Data")
        for element in list(data):
            data.remove(element)
        for certificate in certificates:
            etree.SubElement(data, DS.tag("X509Certificate")).text = base64.b64encode(
                certificate.public_bytes(serialization.Encoding.DER)
            ).decode()

    return change


def test_certificate_of_another_key(pki: dict[str, Party], signed: dict[str, bytes]) -> None:
    check = verify_signature(mutate(signed["leaf-p256"], _replace_certificates(pki["stranger"].certificate)))
    assert check.codes == ("SIG-VALUE-INVALID",)
    assert check.signer == pki["stranger"].certificate


def test_certificates_in_the_wrong_order(pki: dict[str, Party], signed: dict[str, bytes]) -> None:
    change = _replace_certificates(pki["intermediate"].certificate, pki["leaf-p256"].certificate)
    assert verify_signature(mutate(signed["leaf-p256"], change)).codes == ("SIG-VALUE-INVALID",)


def test_rsa_certificate_under_an_ecdsa_method(pki: dict[str, Party], signed: dict[str, bytes]) -> None:
    change = _replace_certificates(pki["leaf-rsa2048"].certificate)
    assert verify_signature(mutate(signed["leaf-p256"], change)).codes == ("SIG-KEY-MISMATCH",)


def _key_info_change(kind: str) -> Callable[[etree._ElementTree], None]:
    def change(tree: etree._ElementTree) -> None:
        key_info = _find(tree, "KeyInfo")
        if kind == "no-keyinfo":
            _signature(tree).remove(key_info)
        elif kind == "keyname-only":
            key_info.remove(_find(tree, "X509Data"))
            etree.SubElement(key_info, DS.tag("KeyName")).text = "signer"
        elif kind == "empty-x509data":
            data = _find(tree, "X509Data")
            for element in list(data):
                data.remove(element)
        elif kind == "garbage-certificate":
            _find(tree, "X509Certificate").text = base64.b64encode(b"not a certificate").decode()
        elif kind == "not-base64":
            _find(tree, "X509Certificate").text = "%%%"
        elif kind == "retrieval-method":
            etree.SubElement(key_info, DS.tag("RetrievalMethod"), URI="http://example.org/key")
        elif kind == "too-many":
            data = _find(tree, "X509Data")
            first = _find(tree, "X509Certificate")
            for _ in range(8):
                data.append(copy.deepcopy(first))

    return change


@pytest.mark.parametrize(
    "kind",
    [
        "no-keyinfo",
        "keyname-only",
        "empty-x509data",
        "garbage-certificate",
        "not-base64",
        "retrieval-method",
        "too-many",
    ],
)
def test_keyinfo_without_a_usable_certificate(signed: dict[str, bytes], kind: str) -> None:
    assert verify_signature(mutate(signed["leaf-p256"], _key_info_change(kind))).codes == ("SIG-KEYINFO-INVALID",)


def test_keyinfo_with_only_the_leaf_still_verifies(pki: dict[str, Party], signed: dict[str, bytes]) -> None:
    """Completing the chain is the trust module's job; the signature itself only needs the leaf."""
    check = verify_signature(mutate(signed["leaf-p256"], _replace_certificates(pki["leaf-p256"].certificate)))
    assert check.valid and check.chain == (pki["leaf-p256"].certificate,)


# --- hostile input ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"<!DOCTYPE r [<!ELEMENT r ANY>]><r/>", "XML-DTD-FORBIDDEN"),
        (b'<!DOCTYPE r [<!ENTITY e "boom">]><r>&e;</r>', "XML-ENTITY-FORBIDDEN"),
        (b'<!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]><r>&e;</r>', "XML-EXTERNAL-FORBIDDEN"),
        (b'<!DOCTYPE r SYSTEM "http://example.org/r.dtd"><r/>', "XML-EXTERNAL-FORBIDDEN"),
        (b"<r><unclosed></r>", "XML-MALFORMED"),
        (b"   ", "XML-EMPTY"),
        (b"<a>" * 150 + b"</a>" * 150, "XML-TOO-DEEP"),
    ],
)
def test_hostile_input_becomes_a_finding(data: bytes, code: str) -> None:
    check = verify_signature(data)
    assert check.codes == (code,)
    assert not check.valid and check.signed_content is None


def test_repeated_elements_give_a_bounded_report(signed: dict[str, bytes]) -> None:
    def repeat(tree: etree._ElementTree) -> None:
        reference = _find(tree, "Reference")
        for _ in range(500):
            reference.addnext(copy.deepcopy(reference))
        transforms = _find(tree, "Transforms")
        for _ in range(500):
            transforms.append(copy.deepcopy(transforms[1]))
        for _ in range(500):
            etree.SubElement(_signature(tree), DS.tag("Object"))
        key_info = _find(tree, "KeyInfo")
        for _ in range(500):
            etree.SubElement(key_info, DS.tag("KeyName")).text = "k"

    check = verify_signature(mutate(signed["leaf-p256"], repeat))
    assert not check.valid
    assert set(check.codes) == {"SIG-STRUCTURE", "SIG-TRANSFORM-FORBIDDEN", "SIG-KEYINFO-INVALID"}
    assert len(check.findings) <= 12


def test_size_limit(signed: dict[str, bytes]) -> None:
    check = verify_signature(signed["leaf-p256"], limits=XmlLimits(max_bytes=1000))
    assert check.codes == ("XML-TOO-LARGE",)


def test_relative_namespace_cannot_be_canonicalised(pki: dict[str, Party]) -> None:
    data = sign_document(b'<r xmlns:p="urn:p"><p:a/></r>', pki["leaf-p256"].key, chain_of(pki, "leaf-p256"))
    assert verify_signature(data.replace(b'"urn:p"', b'"relative"')).codes == ("SIG-C14N-FAILED",)
    with pytest.raises(SignatureError) as raised:
        sign_document(b'<r xmlns="relative"/>', pki["leaf-p256"].key, chain_of(pki, "leaf-p256"))
    assert raised.value.code is Code.SIG_C14N_FAILED


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_byte_changes_never_escape(signed: dict[str, bytes], data: st.DataObject) -> None:
    """Any single-byte change: a result, never an exception; and if it still verifies, the signed content is
    exactly what was signed (the change was outside the signed scope, e.g. in a certificate's own signature)."""
    original = signed["leaf-p256"]
    index = data.draw(st.integers(0, len(original) - 1))
    value = data.draw(st.integers(0, 255))
    changed = original[:index] + bytes([value]) + original[index + 1 :]
    check = verify_signature(changed)
    assert isinstance(check, SignatureCheck)
    if check.valid:
        assert check.signed_content == CANONICAL
    else:
        assert check.findings and check.signed_content is None


def test_concurrent_verification(pki: dict[str, Party], signed: dict[str, bytes]) -> None:
    policy = SignaturePolicy()
    documents = [signed[leaf] for leaf in LEAVES] + [signed["leaf-p256"].replace(b"1200.5", b"9")]
    expected = [True] * len(LEAVES) + [False]
    errors: list[str] = []

    def work() -> None:
        for _ in range(15):
            for document, valid in zip(documents, expected, strict=True):
                check = verify_signature(document, policy=policy)
                if check.valid != valid or (valid and check.signed_content != CANONICAL):
                    errors.append(repr(check.findings))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


# --- signing refusals and programmer errors -----------------------------------------------------------------


def test_refuses_a_document_that_is_already_signed(pki: dict[str, Party], signed: dict[str, bytes]) -> None:
    with pytest.raises(SignatureError) as raised:
        sign_document(signed["leaf-p256"], pki["leaf-p256"].key, chain_of(pki, "leaf-p256"))
    assert raised.value.code is Code.SIG_ALREADY_SIGNED


@pytest.mark.parametrize(
    ("leaf", "arguments", "code"),
    [
        ("leaf-rsa2048", {"signature_method": SignatureMethod.RSA_SHA1}, Code.SIG_ALGORITHM_WEAK),
        ("leaf-p256", {"digest_method": DigestMethod.SHA1}, Code.SIG_ALGORITHM_WEAK),
        ("leaf-p256", {"signature_method": SignatureMethod.HMAC_SHA256}, Code.SIG_ALGORITHM_WEAK),
        ("leaf-p256", {"signature_method": SignatureMethod.ED448}, Code.SIG_ALGORITHM_UNSUPPORTED),
        ("leaf-p256", {"signature_method": SignatureMethod.RSA_SHA256}, Code.SIG_KEY_MISMATCH),
        ("leaf-rsa2048", {"signature_method": SignatureMethod.ED25519}, Code.SIG_KEY_MISMATCH),
    ],
)
def test_sign_refuses_algorithms(pki: dict[str, Party], leaf: str, arguments: dict[str, Any], code: Code) -> None:
    with pytest.raises(SignatureError) as raised:
        sign_document(DOCUMENT, pki[leaf].key, chain_of(pki, leaf), **arguments)
    assert raised.value.code is code


def test_sign_refuses_a_certificate_of_another_key(pki: dict[str, Party]) -> None:
    with pytest.raises(SignatureError) as raised:
        sign_document(DOCUMENT, pki["leaf-p256"].key, [pki["stranger"].certificate])
    assert raised.value.code is Code.SIG_KEY_MISMATCH
    with pytest.raises(SignatureError) as raised:
        sign_document(DOCUMENT, pki["leaf-p256"].key, [])
    assert raised.value.code is Code.SIG_KEYINFO_INVALID


def test_sign_refuses_dsa_and_wrong_types(pki: dict[str, Party]) -> None:
    with pytest.raises(SignatureError) as raised:
        sign_document(DOCUMENT, dsa.generate_private_key(1024), chain_of(pki, "leaf-p256"))  # type: ignore[arg-type]
    assert raised.value.code is Code.SIG_ALGORITHM_WEAK
    with pytest.raises(TypeError):
        sign_document(DOCUMENT, "not a key", chain_of(pki, "leaf-p256"))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        sign_document(DOCUMENT, pki["leaf-p256"].key, ["not a certificate"])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        verify_signature("<r/>")  # type: ignore[arg-type]


def test_sign_refuses_hostile_input(pki: dict[str, Party]) -> None:
    with pytest.raises(XmlError) as raised:
        sign_document(b'<!DOCTYPE r [<!ENTITY e "x">]><r>&e;</r>', pki["leaf-p256"].key, chain_of(pki, "leaf-p256"))
    assert raised.value.code is Code.XML_ENTITY_FORBIDDEN


@pytest.mark.parametrize(
    "arguments",
    [
        {"signature_methods": frozenset({SignatureMethod.RSA_SHA1})},
        {"digest_methods": frozenset({DigestMethod.SHA256, DigestMethod.SHA1})},
        {"signature_methods": frozenset()},
        {"min_rsa_bits": 512},
        {"max_signatures": 0},
        {"ec_curves": frozenset({"secp256k1"})},
    ],
)
def test_policy_cannot_be_weakened_past_the_profile(arguments: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        SignaturePolicy(**arguments)
