"""Interoperability of exchange._dsig with libxmlsec1 and with python-xmlsec's published test signatures.

- documents we sign verify with the ``xmlsec1`` command line, trusting only our test root;
- documents ``xmlsec1`` signs (from a template in our profile) verify with :func:`verify_signature`;
- the enveloped pairs in ``shared/corpus/xmldsig/python-xmlsec/data`` are refused with the codes their
  content calls for (RSA-SHA1, SHA-1, ...), and our canonicalisation reproduces their digests byte for byte,
  so the refusal is the profile's doing and not a canonicalisation mismatch.

``xmlsec1`` also trusts the certificates named by SSL_CERT_FILE/SSL_CERT_DIR (the system bundle by default);
both point at empty places here so that only the anchor given on the command line is trusted.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from exchange._algorithms import (
    CanonicalizationMethod,
    DigestMethod,
    Namespace,
    SignatureMethod,
    Transform,
)
from exchange._dsig import _c14n, _detach, sign_document, verify_signature
from exchange._xml import parse_xml
from tests.support.needs import corpus_dir, require

DS = Namespace.DS
XMLSEC_DATA = corpus_dir() / "xmldsig" / "python-xmlsec" / "data"

DOCUMENT = b"""<?xml version="1.0" encoding="UTF-8"?>
<?xml-stylesheet type="text/xsl" href="render.xsl"?>
<!-- a comment before the root: outside the signed scope -->
<sps:SPSCertificate xmlns:sps="urn:example:sps:1" xmlns:ram="urn:example:ram:1" xmlns:spare="urn:example:spare">
  <sps:ID>PHYTO-AA-2026-0042</sps:ID>
  <sps:Consignor><ram:Name>Growers Cooperative</ram:Name></sps:Consignor>
  <sps:Item ram:seq="1">Mangoes, fresh &amp; sorted &lt;grade A&gt;</sps:Item>
  <!-- inspected -->
</sps:SPSCertificate>
"""

# --- a small test PKI (root -> intermediate -> leaves) -------------------------------------------------------

KEYS: dict[str, Callable[[], Any]] = {
    "p256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "rsa2048": lambda: rsa.generate_private_key(65537, 2048),
}


@dataclass(frozen=True)
class Signer:
    key: Any
    chain: list[x509.Certificate]  # leaf, intermediate


def _certificate(subject: str, key: Any, issuer: str, issuer_key: Any, ca: bool, serial: int) -> x509.Certificate:
    def name(common_name: str) -> x509.Name:
        return x509.Name(
            [x509.NameAttribute(NameOID.COUNTRY_NAME, "BB"), x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
        )

    return (
        x509.CertificateBuilder()
        .subject_name(name(subject))
        .issuer_name(name(issuer))
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2049, 12, 31, tzinfo=dt.UTC))
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )


@dataclass(frozen=True)
class Pki:
    root: x509.Certificate
    other_root: x509.Certificate
    signers: dict[str, Signer]


@pytest.fixture(scope="module")
def pki() -> Pki:
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = _certificate("Interop Root", root_key, "Interop Root", root_key, True, 1)
    other_key = ec.generate_private_key(ec.SECP256R1())
    other_root = _certificate("Other Root", other_key, "Other Root", other_key, True, 2)
    intermediate_key = ec.generate_private_key(ec.SECP256R1())
    intermediate = _certificate("Interop Issuing CA", intermediate_key, "Interop Root", root_key, True, 3)
    signers = {}
    for serial, (kind, factory) in enumerate(KEYS.items(), start=10):
        key = factory()
        leaf = _certificate(f"Interop signer {kind}", key, "Interop Issuing CA", intermediate_key, False, serial)
        signers[kind] = Signer(key, [leaf, intermediate])
    return Pki(root, other_root, signers)


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


# --- xmlsec1 ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def xmlsec1(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., subprocess.CompletedProcess[str]]:
    executable = str(require("xmlsec1"))
    isolated = tmp_path_factory.mktemp("no-system-trust")
    (isolated / "empty.pem").write_bytes(b"")
    (isolated / "certs").mkdir()
    env = {**os.environ, "SSL_CERT_FILE": str(isolated / "empty.pem"), "SSL_CERT_DIR": str(isolated / "certs")}

    def run(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [executable, *arguments], env=env, capture_output=True, text=True, timeout=60, check=False
        )

    return run


@pytest.mark.parametrize("kind", list(KEYS))
def test_xmlsec1_verifies_what_we_sign(
    pki: Pki, xmlsec1: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path, kind: str
) -> None:
    signer = pki.signers[kind]
    signed = sign_document(DOCUMENT, signer.key, signer.chain)
    (tmp_path / "root.pem").write_bytes(_pem(pki.root))
    (tmp_path / "other-root.pem").write_bytes(_pem(pki.other_root))
    (tmp_path / "signed.xml").write_bytes(signed)
    (tmp_path / "tampered.xml").write_bytes(signed.replace(b"Mangoes", b"Mangoez"))

    def verify(document: str, anchor: str) -> subprocess.CompletedProcess[str]:
        return xmlsec1(
            "--verify",
            "--trusted-pem",
            str(tmp_path / anchor),
            "--enabled-key-data",
            "x509",
            str(tmp_path / document),
        )

    result = verify("signed.xml", "root.pem")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout + result.stderr
    # controls: the same run refuses a changed byte, and refuses our chain under another anchor
    assert verify("tampered.xml", "root.pem").returncode != 0
    assert verify("signed.xml", "other-root.pem").returncode != 0


def _template(method: SignatureMethod, prefix_list: str | None) -> bytes:
    """A document with an empty signature in our profile, for ``xmlsec1 --sign`` to fill in."""
    parameter = (
        f'<ec:InclusiveNamespaces xmlns:ec="{Namespace.EXC_C14N.value}" PrefixList="{prefix_list}"/>'
        if prefix_list
        else ""
    )
    signature = f"""
<ds:Signature xmlns:ds="{DS.value}">
  <ds:SignedInfo>
    <ds:CanonicalizationMethod Algorithm="{CanonicalizationMethod.EXCLUSIVE.value}">{parameter}</ds:CanonicalizationMethod>
    <ds:SignatureMethod Algorithm="{method.value}"/>
    <ds:Reference URI="">
      <ds:Transforms>
        <ds:Transform Algorithm="{Transform.ENVELOPED.value}"/>
        <ds:Transform Algorithm="{Transform.EXC_C14N.value}">{parameter}</ds:Transform>
      </ds:Transforms>
      <ds:DigestMethod Algorithm="{DigestMethod.SHA256.value}"/>
      <ds:DigestValue/>
    </ds:Reference>
  </ds:SignedInfo>
  <ds:SignatureValue/>
  <ds:KeyInfo><ds:X509Data/></ds:KeyInfo>
</ds:Signature>
"""
    closing = b"</sps:SPSCertificate>"
    return DOCUMENT.replace(closing, signature.encode() + closing)


@pytest.mark.parametrize("prefix_list", [None, "spare"])
@pytest.mark.parametrize(
    ("kind", "method"), [("p256", SignatureMethod.ECDSA_SHA256), ("rsa2048", SignatureMethod.RSA_SHA256)]
)
def test_we_verify_what_xmlsec1_signs(
    pki: Pki,
    xmlsec1: Callable[..., subprocess.CompletedProcess[str]],
    tmp_path: Path,
    kind: str,
    method: SignatureMethod,
    prefix_list: str | None,
) -> None:
    signer = pki.signers[kind]
    (tmp_path / "key.pem").write_bytes(
        signer.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    (tmp_path / "leaf.pem").write_bytes(_pem(signer.chain[0]))
    (tmp_path / "intermediate.pem").write_bytes(_pem(signer.chain[1]))
    (tmp_path / "template.xml").write_bytes(_template(method, prefix_list))
    result = xmlsec1(
        "--sign",
        "--privkey-pem",
        f"{tmp_path / 'key.pem'},{tmp_path / 'leaf.pem'},{tmp_path / 'intermediate.pem'}",
        "--output",
        str(tmp_path / "signed.xml"),
        str(tmp_path / "template.xml"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    signed = (tmp_path / "signed.xml").read_bytes()

    check = verify_signature(signed)
    assert check.valid, check.findings
    assert check.signer == signer.chain[0]
    assert check.chain == tuple(signer.chain)
    assert check.signature_method is method
    content = check.signed_content or b""
    assert b"PHYTO-AA-2026-0042" in content and b"Signature" not in content and b"<!--" not in content
    # the PrefixList was honoured: the unused namespace is declared in the digested bytes only when listed
    assert (b'xmlns:spare="urn:example:spare"' in content) is (prefix_list == "spare")
    # and a changed byte is caught on this document as on ours
    assert verify_signature(signed.replace(b"Mangoes", b"Mangoez")).codes == ("SIG-DIGEST-MISMATCH",)


# --- the python-xmlsec corpus ---------------------------------------------------------------------------------

WEAK = "SIG-ALGORITHM-WEAK"
# What each file contains (read them: all RSA-SHA1 with SHA-1 digests) and therefore what we report, in order.
CORPUS_EXPECTED: dict[str, tuple[str, ...]] = {
    # inclusive C14N for SignedInfo, RSA-SHA1, only the enveloped transform, SHA-1, KeyInfo with a KeyName only
    "sign1-out.xml": (
        "SIG-ALGORITHM-UNSUPPORTED",
        WEAK,
        "SIG-TRANSFORM-FORBIDDEN",
        WEAK,
        "SIG-KEYINFO-INVALID",
    ),
    # exclusive C14N, RSA-SHA1, Reference without URI, only the enveloped transform, SHA-1, KeyName only
    "sign2-out.xml": (WEAK, "SIG-REFERENCE-FORBIDDEN", "SIG-TRANSFORM-FORBIDDEN", WEAK, "SIG-KEYINFO-INVALID"),
    # as sign2 with the certificate in X509Data
    "sign3-out.xml": (WEAK, "SIG-REFERENCE-FORBIDDEN", "SIG-TRANSFORM-FORBIDDEN", WEAK),
    # Reference URI="#id" (ID-based), transforms enveloped + exc-c14n (fine), RSA-SHA1, SHA-1
    "sign4-out.xml": (WEAK, "SIG-REFERENCE-FORBIDDEN", WEAK),
    # as sign3, X509Data also with IssuerSerial, SubjectName and SKI (descriptive, allowed)
    "sign5-out.xml": (WEAK, "SIG-REFERENCE-FORBIDDEN", "SIG-TRANSFORM-FORBIDDEN", WEAK),
    "sign5-out-xmlsec_1_2_36_to_37.xml": (WEAK, "SIG-REFERENCE-FORBIDDEN", "SIG-TRANSFORM-FORBIDDEN", WEAK),
}
WITH_CERTIFICATE = {"sign3-out.xml", "sign4-out.xml", "sign5-out.xml", "sign5-out-xmlsec_1_2_36_to_37.xml"}


@pytest.mark.usefixtures("corpus")
def test_corpus_is_present() -> None:
    assert XMLSEC_DATA.is_dir(), f"the python-xmlsec samples are missing at {XMLSEC_DATA}"
    assert sorted(p.name for p in XMLSEC_DATA.glob("sign*-out*.xml")) == sorted(CORPUS_EXPECTED)


@pytest.mark.usefixtures("corpus")
@pytest.mark.parametrize("name", sorted(CORPUS_EXPECTED))
def test_corpus_signatures_are_refused_with_their_codes(name: str) -> None:
    check = verify_signature((XMLSEC_DATA / name).read_bytes())
    assert not check.valid and check.signed_content is None
    assert check.codes == CORPUS_EXPECTED[name]
    assert check.signature_method is SignatureMethod.RSA_SHA1
    assert check.digest_method is DigestMethod.SHA1
    if name in WITH_CERTIFICATE:
        assert check.signer == x509.load_pem_x509_certificate((XMLSEC_DATA / "rsacert.pem").read_bytes())
    else:
        assert check.signer is None


@pytest.mark.usefixtures("corpus")
@pytest.mark.parametrize("name", sorted(CORPUS_EXPECTED))
def test_corpus_digests_match_our_canonicalisation(name: str) -> None:
    """Our enveloped-signature removal and exclusive C14N give libxmlsec's digest input and SignedInfo bytes.

    (For these simple documents exclusive and inclusive C14N give the same bytes, so sign1's inclusive
    SignedInfo and the implicit C14N of sign2/3/5 are covered as well.) The weak algorithms are used here by
    the test only, to show the refusal above is the profile's and not a canonicalisation mismatch.
    """
    tree = parse_xml((XMLSEC_DATA / name).read_bytes())
    signature = tree.getroot()[-1]
    assert signature.tag == DS.tag("Signature")
    signed_info = signature.find(DS.tag("SignedInfo"))
    assert signed_info is not None
    digest_value = signed_info.findtext(f".//{DS.tag('DigestValue')}")
    signature_value = base64.b64decode("".join((signature.findtext(DS.tag("SignatureValue")) or "").split()))
    signed_info_bytes = _c14n(signed_info)

    _detach(signature)
    assert base64.b64encode(hashlib.sha1(_c14n(tree)).digest()).decode() == digest_value  # noqa: S324

    public_key = serialization.load_pem_public_key((XMLSEC_DATA / "rsapub.pem").read_bytes())
    assert isinstance(public_key, rsa.RSAPublicKey)
    public_key.verify(signature_value, signed_info_bytes, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303


def test_xmlsec1_accepts_the_corpus_signature_we_refuse(
    corpus: Path, xmlsec1: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    """Control: the corpus signatures are genuine for libxmlsec1; we refuse them by policy only."""
    result = xmlsec1("--verify", "--pubkey-pem", str(XMLSEC_DATA / "rsapub.pem"), str(XMLSEC_DATA / "sign2-out.xml"))
    assert result.returncode == 0, result.stdout + result.stderr


# --- signxml (a second, independent implementation; a project dependency) ---------------------------------------


# signxml digests URI="" over the document element only and leaves out processing instructions outside it
# (xmlsec1, like the XML-DSig spec, keeps them: see test_xmlsec1_verifies_what_we_sign, whose document has one).
# A document with such a PI signed here fails in signxml with InvalidDigest, so this exchange uses none.
DOCUMENT_WITHOUT_TOP_LEVEL_PI = DOCUMENT.replace(b'<?xml-stylesheet type="text/xsl" href="render.xsl"?>\n', b"")


@pytest.mark.parametrize("kind", list(KEYS))
def test_signxml_and_we_verify_each_other(pki: Pki, kind: str) -> None:
    from lxml import etree
    from signxml import (
        CanonicalizationMethod as SignxmlC14n,
    )
    from signxml import (
        DigestAlgorithm,
        SignatureConstructionMethod,
        XMLSigner,
        XMLVerifier,
    )
    from signxml import (
        SignatureMethod as SignxmlMethod,
    )

    signer = pki.signers[kind]
    leaf_pem = _pem(signer.chain[0]).decode()
    document = DOCUMENT_WITHOUT_TOP_LEVEL_PI
    assert document != DOCUMENT
    ours = sign_document(document, signer.key, signer.chain)
    # signxml's CA mode wrongly demands digitalSignature on the intermediate; pin the signer certificate instead
    result = XMLVerifier().verify(ours, x509_cert=leaf_pem)
    assert result.signed_xml is not None
    assert result.signed_xml.findtext("{urn:example:sps:1}ID") == "PHYTO-AA-2026-0042"

    method = SignxmlMethod.ECDSA_SHA256 if kind == "p256" else SignxmlMethod.RSA_SHA256
    theirs = XMLSigner(
        method=SignatureConstructionMethod.enveloped,
        signature_algorithm=method,
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=SignxmlC14n.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    ).sign(parse_xml(document).getroot(), key=signer.key, cert=[_pem(c).decode() for c in signer.chain])
    check = verify_signature(etree.tostring(theirs))
    assert check.valid, check.findings
    assert check.signer == signer.chain[0]
    assert check.signed_content == verify_signature(ours).signed_content
