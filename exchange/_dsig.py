"""XML-DSig: enveloped signatures in one strict profile, signed and verified on lxml + cryptography.

The profile (what :func:`sign_document` writes and the only thing :func:`verify_signature` accepts)::

    <root> ...document... <ds:Signature>                      last element child of the document root
      <ds:SignedInfo>
        <ds:CanonicalizationMethod Algorithm=exc-c14n/>       exclusive C14N 1.0 without comments
        <ds:SignatureMethod Algorithm=ecdsa-sha256|.../>      SignaturePolicy.signature_methods
        <ds:Reference URI="">                                 exactly one, the whole document
          <ds:Transforms>                                     exactly: enveloped-signature, exc-c14n
          <ds:DigestMethod Algorithm=sha256|sha384|sha512/>
          <ds:DigestValue/>
      <ds:SignatureValue/>                                    ECDSA as raw r||s (XML-DSig 1.1), not DER
      <ds:KeyInfo><ds:X509Data><ds:X509Certificate/>...      leaf first, then intermediates
    </ds:Signature></root>

Verification never resolves an ID, never dereferences a URI, never runs a transform other than the two above,
and computes the digest itself: the signature element is removed from the document (the text after it stays,
as the enveloped-signature transform says), the rest is canonicalised with exclusive C14N and hashed, and the
hash is compared in constant time. The SignedInfo is canonicalised as it sits in the document (its namespace
context matters). The signature value is checked with the public key of the first certificate in KeyInfo.
That certificate is *not* trusted here: :class:`SignatureCheck` hands ``signer`` and ``chain`` to the trust
evaluation, which decides whether they chain to an anchor the receiver recognises.

**Use only** :attr:`SignatureCheck.signed_content` **afterwards.** It is exactly the canonical bytes that were
digested. Anything else in the received bytes is not covered: notably, exclusive C14N without comments drops
comments, so ``<ID>AB<!---->C</ID>`` digests like ``<ID>ABC</ID>`` (standard XML-DSig), and a program reading
``.text`` of the *received* tree would see ``AB``. The profile therefore refuses a comment that splits or
borders signed text (``SIG-COMMENT-IN-TEXT``; comments between elements stay harmless and allowed), and
``SignaturePolicy(allow_comments_in_text=True)`` is the named way back to plain XML-DSig. CDATA sections are
refused alike (``SIG-CDATA-IN-TEXT``, ``allow_cdata``): C14N dissolves them into text, so ``<ID>12<![CDATA[34]]>``
digests like ``<ID>1234</ID>`` while a DOM reader of the received bytes finds ``12`` as the first text node. The
hardened parser merges CDATA into text, so the rule reads the bytes given to :func:`verify_signature` (a tree
passed in already holds the merged, signed text). Either way, re-parse ``signed_content``
(:meth:`SignatureCheck.signed_document`) and the question cannot arise.
Whitespace inside signed text is kept by C14N, so adding or removing any fails the digest.

Every document fault is a :class:`~exchange.Finding` with its own code (see the SIGNATURE section of
:class:`~exchange.Code`); :func:`verify_signature` does not raise on hostile input. Only programmer errors
(wrong argument types) raise; :func:`sign_document` raises :class:`~exchange.SignatureError` with a code
when it refuses to sign.

Both functions are safe to call from several threads at once: nothing per call is stored on module objects,
and the caller's tree is never modified (a tree passed in is copied; bytes are parsed once).
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa, utils
from lxml import etree

from exchange._algorithms import (
    STRONG_DIGEST_METHODS,
    STRONG_SIGNATURE_METHODS,
    CanonicalizationMethod,
    DigestMethod,
    Namespace,
    SignatureMethod,
    Transform,
)
from exchange._errors import Code, ConfigurationError, SignatureError, XmlError
from exchange._findings import Finding
from exchange._pkix import unreadable
from exchange._xml import DEFAULT_LIMITS, XmlLimits, cdata_line, parse_xml

PrivateKey: TypeAlias = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
PublicKey: TypeAlias = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey

DEFAULT_CHECK = "document-signature"

_DS = Namespace.DS
_SIGNATURE = _DS.tag("Signature")
_SIGNED_INFO = _DS.tag("SignedInfo")
_C14N_METHOD = _DS.tag("CanonicalizationMethod")
_SIGNATURE_METHOD = _DS.tag("SignatureMethod")
_REFERENCE = _DS.tag("Reference")
_TRANSFORMS = _DS.tag("Transforms")
_TRANSFORM = _DS.tag("Transform")
_DIGEST_METHOD = _DS.tag("DigestMethod")
_DIGEST_VALUE = _DS.tag("DigestValue")
_SIGNATURE_VALUE = _DS.tag("SignatureValue")
_KEY_INFO = _DS.tag("KeyInfo")
_KEY_NAME = _DS.tag("KeyName")
_X509_DATA = _DS.tag("X509Data")
_X509_CERTIFICATE = _DS.tag("X509Certificate")
_OBJECT = _DS.tag("Object")
_INCLUSIVE_NAMESPACES = Namespace.EXC_C14N.tag("InclusiveNamespaces")
# X509Data children that only describe the certificate; they are ignored (never used to find a key)
_X509_DESCRIPTIVE = frozenset(
    {
        _DS.tag("X509IssuerSerial"),
        _DS.tag("X509SubjectName"),
        _DS.tag("X509SKI"),
        Namespace.DS11.tag("X509Digest"),
    }
)
_PROFILE_TRANSFORMS = (Transform.ENVELOPED, Transform.EXC_C14N)
# hostile input may repeat an element thousands of times: report a few, never one finding per repetition
_MAX_REPORTED = 4
_MAX_KEYINFO_CHILDREN = 4
_MAX_X509DATA_CHILDREN = 64

_NCNAME = re.compile(r"^[A-Za-z_][\w.\-]*$")
_BASE64_WHITESPACE = str.maketrans("", "", " \t\r\n")
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_CURVE_DEFAULT_METHOD = {
    "secp256r1": SignatureMethod.ECDSA_SHA256,
    "secp384r1": SignatureMethod.ECDSA_SHA384,
    "secp521r1": SignatureMethod.ECDSA_SHA512,
}


# --- policy and result ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignaturePolicy:
    """What a signature must satisfy. Defaults are the secure choice; weakening one takes a named argument.

    ``signature_methods`` and ``digest_methods`` may be narrowed, never widened beyond the strong sets of
    :mod:`exchange._algorithms`: SHA-1, MD5, DSA and HMAC cannot be enabled at all.
    ``max_signatures`` bounds the ``ds:Signature`` elements *anywhere* in the document. The one verified is
    always the last element child of the root; any other is content it covers, so an envelope that carries a
    signed document verifies with ``max_signatures=2``.
    ``allow_comments_in_text`` (off) accepts a comment inside signed text, which C14N without comments leaves
    out of the digest (comment injection: a reader of the received bytes would see other text than was signed).
    ``allow_cdata`` (off) accepts CDATA sections, which C14N turns into plain text: the digest holds, but a DOM
    reader of the received bytes sees other text nodes than were signed.
    """

    signature_methods: frozenset[SignatureMethod] = STRONG_SIGNATURE_METHODS
    digest_methods: frozenset[DigestMethod] = STRONG_DIGEST_METHODS
    min_rsa_bits: int = 2048
    max_signatures: int = 1
    ec_curves: frozenset[str] = frozenset({"secp256r1", "secp384r1", "secp521r1"})
    max_certificates: int = 8
    allow_comments_in_text: bool = False
    allow_cdata: bool = False

    def __post_init__(self) -> None:
        for name in ("signature_methods", "digest_methods", "ec_curves"):
            object.__setattr__(self, name, frozenset(getattr(self, name)))
        unknown_signature = {m for m in self.signature_methods if not isinstance(m, SignatureMethod)}
        unknown_digest = {m for m in self.digest_methods if not isinstance(m, DigestMethod)}
        if unknown_signature or unknown_digest:
            raise ConfigurationError(
                f"policy algorithms must be SignatureMethod/DigestMethod members: {unknown_signature | unknown_digest}",
                code=Code.CONFIG_INVALID,
            )
        weak = sorted(m.name for m in self.signature_methods - STRONG_SIGNATURE_METHODS) + sorted(
            m.name for m in self.digest_methods - STRONG_DIGEST_METHODS
        )
        if weak:
            raise ConfigurationError(f"the signature profile cannot accept {', '.join(weak)}", code=Code.CONFIG_INVALID)
        if not self.signature_methods or not self.digest_methods:
            raise ConfigurationError("a policy must accept at least one algorithm", code=Code.CONFIG_INVALID)
        if self.min_rsa_bits < 1024:
            raise ConfigurationError("min_rsa_bits below 1024 is not allowed", code=Code.CONFIG_INVALID)
        if not 1 <= self.max_signatures <= 16:
            raise ConfigurationError("max_signatures must be between 1 and 16", code=Code.CONFIG_INVALID)
        if not 1 <= self.max_certificates <= 32:
            raise ConfigurationError("max_certificates must be between 1 and 32", code=Code.CONFIG_INVALID)
        if not self.ec_curves <= set(_CURVE_DEFAULT_METHOD):
            raise ConfigurationError(
                f"ec_curves must be among {sorted(_CURVE_DEFAULT_METHOD)}", code=Code.CONFIG_INVALID
            )


DEFAULT_POLICY = SignaturePolicy()


@dataclass(frozen=True)
class SignatureCheck:
    """The outcome of :func:`verify_signature`: a result, not a boolean.

    ``valid`` means cryptographically valid under the policy; no trust has been evaluated. ``signer`` and
    ``chain`` come from KeyInfo and are untrusted until the trust evaluation says otherwise.
    ``signed_content`` is what the signature covers (the exclusive-C14N bytes that were digested, the
    signature itself removed); it is None unless ``valid``, and it is the only thing a caller may use.
    ``signed_root`` is the Clark name of its root element (the reference is the whole document), so a caller that
    needs only the signed document's type does not parse it again.
    """

    valid: bool
    findings: tuple[Finding, ...]
    signer: x509.Certificate | None = None
    chain: tuple[x509.Certificate, ...] = ()
    signature_method: SignatureMethod | None = None
    digest_method: DigestMethod | None = None
    signed_content: bytes | None = None
    signed_root: str | None = None

    @property
    def codes(self) -> tuple[str, ...]:
        """The finding codes, in order (handy in reports and tests)."""
        return tuple(finding.code for finding in self.findings)

    def signed_document(self, *, limits: XmlLimits = DEFAULT_LIMITS) -> etree._ElementTree:
        """A fresh tree parsed from :attr:`signed_content`: the signed document and nothing else."""
        if not self.valid or self.signed_content is None:
            raise SignatureError("the signature is not valid; there is no signed content", code=Code.SIG_VALUE_INVALID)
        return parse_xml(self.signed_content, limits=limits)

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "findings": [finding.to_dict() for finding in self.findings],
            "signer": self.signer.subject.rfc4514_string() if self.signer is not None else None,
            "chain": [certificate.subject.rfc4514_string() for certificate in self.chain],
            "signature_method": self.signature_method.value if self.signature_method else None,
            "digest_method": self.digest_method.value if self.digest_method else None,
        }


# --- signing ----------------------------------------------------------------------------------------------


def sign_document(
    data: bytes | etree._ElementTree,
    key: PrivateKey,
    chain: Sequence[x509.Certificate],
    *,
    signature_method: SignatureMethod | None = None,
    digest_method: DigestMethod = DigestMethod.SHA256,
    policy: SignaturePolicy = DEFAULT_POLICY,
) -> bytes:
    """Append an enveloped XML-DSig signature as the last child of the document root; return the UTF-8 bytes.

    ``chain`` is the signer certificate first, then intermediates (no root needed); each becomes one
    ``ds:X509Certificate``. ``signature_method`` defaults from the key: P-256 -> ECDSA-SHA256 (P-384, P-521:
    SHA-384, SHA-512), RSA -> RSA-SHA256, Ed25519 -> Ed25519. Refuses (:class:`SignatureError` with a code)
    a document whose root already has a signature, weak algorithms or keys (``policy``), and a certificate
    that does not hold the signing key. A signed document nested deeper (an envelope's payload) is content.
    """
    family = _private_key_family(key)
    method = signature_method if signature_method is not None else _default_method(key)
    if not isinstance(method, SignatureMethod):
        raise TypeError(f"signature_method must be a SignatureMethod, not {type(method).__name__}")
    if not isinstance(digest_method, DigestMethod):
        raise TypeError(f"digest_method must be a DigestMethod, not {type(digest_method).__name__}")
    for name, problem in (
        ("signature", _method_problem(method, policy)),
        ("digest", _digest_problem(digest_method, policy)),
    ):
        if problem is not None:
            raise SignatureError(f"cannot sign: {name} {problem[1]}", code=problem[0])
    if method.key_family != family:
        raise SignatureError(
            f"cannot sign: {method.name} needs a {method.key_family} key, this is a {family} key",
            code=Code.SIG_KEY_MISMATCH,
        )
    key_problem = _key_problem(key.public_key(), policy)
    if key_problem is not None:
        raise SignatureError(f"cannot sign: {key_problem[1]}", code=key_problem[0])
    certificates = list(chain)
    if not certificates:
        raise SignatureError("cannot sign: the certificate chain is empty", code=Code.SIG_KEYINFO_INVALID)
    for certificate in certificates:
        if not isinstance(certificate, x509.Certificate):
            raise TypeError(f"chain must hold x509.Certificate objects, not {type(certificate).__name__}")
    if len(certificates) > policy.max_certificates:
        raise SignatureError(
            f"cannot sign: {len(certificates)} certificates; the policy allows {policy.max_certificates}",
            code=Code.SIG_KEYINFO_INVALID,
        )
    try:
        leaf_key = certificates[0].public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise SignatureError(
            f"cannot sign: the signer certificate key is unusable ({exc})", code=Code.SIG_KEYINFO_INVALID
        ) from exc
    if _spki(leaf_key) != _spki(key.public_key()):
        raise SignatureError(
            "cannot sign: the first certificate of the chain does not hold the signing key",
            code=Code.SIG_KEY_MISMATCH,
        )

    tree = _own_tree(data)  # XmlError for hostile or malformed bytes
    root = tree.getroot()
    if root.tag == _SIGNATURE or any(child.tag == _SIGNATURE for child in root):
        raise SignatureError("the document already carries an enveloped signature", code=Code.SIG_ALREADY_SIGNED)

    try:
        content = _c14n(tree)
    except etree.LxmlError as exc:
        raise SignatureError(f"cannot canonicalise the document: {exc}", code=Code.SIG_C14N_FAILED) from exc
    digest = hashlib.new(digest_method.hash_name, content).digest()

    signature = etree.SubElement(root, _SIGNATURE, nsmap={"ds": _DS.value})
    signed_info = etree.SubElement(signature, _SIGNED_INFO)
    etree.SubElement(signed_info, _C14N_METHOD, Algorithm=CanonicalizationMethod.EXCLUSIVE.value)
    etree.SubElement(signed_info, _SIGNATURE_METHOD, Algorithm=method.value)
    reference = etree.SubElement(signed_info, _REFERENCE, URI="")
    transforms = etree.SubElement(reference, _TRANSFORMS)
    for transform in _PROFILE_TRANSFORMS:
        etree.SubElement(transforms, _TRANSFORM, Algorithm=transform.value)
    etree.SubElement(reference, _DIGEST_METHOD, Algorithm=digest_method.value)
    etree.SubElement(reference, _DIGEST_VALUE).text = _b64(digest)
    signature_value = etree.SubElement(signature, _SIGNATURE_VALUE)
    x509_data = etree.SubElement(etree.SubElement(signature, _KEY_INFO), _X509_DATA)
    for certificate in certificates:
        etree.SubElement(x509_data, _X509_CERTIFICATE).text = _b64(certificate.public_bytes(serialization.Encoding.DER))

    signature_value.text = _b64(_sign_bytes(key, method, _c14n(signed_info)))
    return etree.tostring(tree, encoding="UTF-8", xml_declaration=True)


def _private_key_family(key: object) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return "ec"
    if isinstance(key, rsa.RSAPrivateKey):
        return "rsa"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    if isinstance(key, dsa.DSAPrivateKey):
        raise SignatureError("cannot sign: DSA keys are refused as weak", code=Code.SIG_ALGORITHM_WEAK)
    if isinstance(key, ed448.Ed448PrivateKey):
        raise SignatureError("cannot sign: Ed448 is not in the profile", code=Code.SIG_ALGORITHM_UNSUPPORTED)
    raise TypeError(f"key must be an EC, RSA or Ed25519 private key from cryptography, not {type(key).__name__}")


def _default_method(key: PrivateKey) -> SignatureMethod:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        method = _CURVE_DEFAULT_METHOD.get(key.curve.name)
        if method is None:
            raise SignatureError(f"cannot sign: curve {key.curve.name} is not in the profile", code=Code.SIG_KEY_WEAK)
        return method
    if isinstance(key, rsa.RSAPrivateKey):
        return SignatureMethod.RSA_SHA256
    return SignatureMethod.ED25519


def _sign_bytes(key: PrivateKey, method: SignatureMethod, data: bytes) -> bytes:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        der = key.sign(data, ec.ECDSA(_hash(method)))
        r, s = utils.decode_dss_signature(der)
        size = (key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), _hash(method))
    return key.sign(data)


# --- verification -----------------------------------------------------------------------------------------


def verify_signature(
    data: bytes | etree._ElementTree,
    *,
    policy: SignaturePolicy = DEFAULT_POLICY,
    check: str = DEFAULT_CHECK,
    limits: XmlLimits = DEFAULT_LIMITS,
    parsed_from: bytes | None = None,
) -> SignatureCheck:
    """Verify the enveloped signature of a document under the strict profile (see the module docstring).

    Bytes are parsed once through the hardened parser (a refusal is an ``XML-*`` finding); a tree is copied
    first so that the caller's tree is left as it was. ``parsed_from``: the bytes a tree was parsed from by
    :func:`exchange._xml.parse_xml` (a checker that parsed them already passes both instead of parsing twice);
    the bytes are what the CDATA check reads, so the verdict is the same as for the bytes alone. Every profile
    violation is reported, each with its own code; the digest and the signature value are computed only when
    the profile holds. Trust in the signer is not evaluated here.
    """
    if parsed_from is not None:
        if not isinstance(data, etree._ElementTree) or data.getroot() is None:
            raise TypeError("parsed_from goes with the tree parsed from those bytes")
        if not isinstance(policy, SignaturePolicy):
            raise TypeError("policy must be a SignaturePolicy")
        cdata = None if policy.allow_cdata else cdata_line(parsed_from)
        return _verify_tree(copy.deepcopy(data), policy, check, cdata)
    if isinstance(data, (bytes, bytearray, memoryview)):
        try:
            tree = parse_xml(bytes(data), limits=limits)
        except XmlError as exc:
            return SignatureCheck(valid=False, findings=(Finding.from_error(exc, check),))
        cdata = None if not isinstance(policy, SignaturePolicy) or policy.allow_cdata else cdata_line(bytes(data))
    elif isinstance(data, etree._ElementTree):
        if data.getroot() is None:
            raise TypeError("verify_signature needs a tree with a root element")
        tree = copy.deepcopy(data)
        cdata = None  # the hardened parser merged any CDATA into the text: this tree reads as signed
    else:
        raise TypeError(f"verify_signature takes bytes or an lxml ElementTree, not {type(data).__name__}")
    if not isinstance(policy, SignaturePolicy):
        raise TypeError("policy must be a SignaturePolicy")
    return _verify_tree(tree, policy, check, cdata)


@dataclass
class _Parsed:
    """The parts of one signature, read under the profile (per call, never shared)."""

    signature: etree._Element
    signed_info: etree._Element | None = None
    signed_info_prefixes: tuple[str, ...] = ()
    reference_prefixes: tuple[str, ...] = ()
    signature_method: SignatureMethod | None = None
    digest_method: DigestMethod | None = None
    digest_value: bytes | None = None
    signature_value: bytes | None = None
    chain: tuple[x509.Certificate, ...] = ()
    public_key: PublicKey | None = None


class _Findings:
    """Collects findings for one verification."""

    def __init__(self, check: str) -> None:
        self.check = check
        self.items: list[Finding] = []

    def add(self, code: Code, message: str, element: etree._Element | None = None) -> None:
        line = element.sourceline if element is not None else None
        line = line if isinstance(line, int) else None
        path = _path(element) if element is not None else None
        self.items.append(Finding.of(code, self.check, message, line=line, path=path))


def _verify_tree(
    tree: etree._ElementTree, policy: SignaturePolicy, check: str, cdata: int | None = None
) -> SignatureCheck:
    found = _Findings(check)
    root = tree.getroot()

    signatures = sum(1 for _ in root.iter(_SIGNATURE))
    if signatures == 0:
        found.add(Code.SIG_MISSING, "the document has no ds:Signature", root)
        return SignatureCheck(valid=False, findings=tuple(found.items))
    last = _last_element_child(root)
    if last is None or last.tag != _SIGNATURE:
        first = next(root.iter(_SIGNATURE))
        found.add(
            Code.SIG_STRUCTURE,
            "the signature must be the last element child of the document root (moved or wrapped signature)",
            first,
        )
        return SignatureCheck(valid=False, findings=tuple(found.items))
    if signatures > policy.max_signatures:
        found.add(
            Code.SIG_STRUCTURE,
            f"the document holds {signatures} ds:Signature elements; the policy allows {policy.max_signatures}",
            last,
        )
        return SignatureCheck(valid=False, findings=tuple(found.items))

    parsed = _Parsed(signature=last)
    _read_signature(parsed, policy, found)
    if not policy.allow_comments_in_text:
        _refuse_comments_in_text(root, found)
    if cdata is not None:
        found.items.append(Finding.of(
            Code.SIG_CDATA_IN_TEXT, check,
            "a CDATA section in signed content: C14N dissolves it, so the signature holds while a reader of the "
            "received bytes sees other text nodes than were signed", line=cdata,
        ))
    if found.items:
        return _refused(parsed, found)
    signed_info, method, digest_method = parsed.signed_info, parsed.signature_method, parsed.digest_method
    public_key, digest_value = parsed.public_key, parsed.digest_value
    if signed_info is None or method is None or digest_method is None or public_key is None or digest_value is None:
        found.add(Code.SIG_STRUCTURE, "the signature is incomplete", last)  # unreachable when the profile holds
        return _refused(parsed, found)

    # the profile holds: canonicalise, digest, verify
    try:
        signed_info_c14n = _c14n(signed_info, parsed.signed_info_prefixes)
        _detach(parsed.signature)
        content = _c14n(tree, parsed.reference_prefixes)
    except etree.LxmlError as exc:
        found.add(Code.SIG_C14N_FAILED, f"the document cannot be canonicalised: {exc}", root)
        return _refused(parsed, found)
    computed = hashlib.new(digest_method.hash_name, content).digest()
    if not hmac.compare_digest(computed, digest_value):
        found.add(Code.SIG_DIGEST_MISMATCH, "the signed content changed after signing (digest mismatch)", root)
    if not _verify_bytes(public_key, method, parsed.signature_value or b"", signed_info_c14n):
        found.add(Code.SIG_VALUE_INVALID, "the signature value does not verify with the signer certificate's key")
    if found.items:
        return _refused(parsed, found)
    return SignatureCheck(
        valid=True,
        findings=(),
        signer=parsed.chain[0],
        chain=parsed.chain,
        signature_method=method,
        digest_method=digest_method,
        signed_content=content,
        signed_root=root.tag if isinstance(root.tag, str) else None,
    )


def _refused(parsed: _Parsed, found: _Findings) -> SignatureCheck:
    return SignatureCheck(
        valid=False,
        findings=tuple(found.items),
        signer=parsed.chain[0] if parsed.chain else None,
        chain=parsed.chain,
        signature_method=parsed.signature_method,
        digest_method=parsed.digest_method,
    )


def _read_signature(parsed: _Parsed, policy: SignaturePolicy, found: _Findings) -> None:
    """Check the signature element against the profile, filling ``parsed`` and reporting every violation."""
    children = _element_children(parsed.signature)
    if len(children) < 2 or children[0].tag != _SIGNED_INFO or children[1].tag != _SIGNATURE_VALUE:
        found.add(
            Code.SIG_STRUCTURE,
            "ds:Signature must start with ds:SignedInfo and ds:SignatureValue",
            parsed.signature,
        )
        return
    signed_info, signature_value = children[0], children[1]
    key_info = children[2] if len(children) > 2 and children[2].tag == _KEY_INFO else None
    for extra in children[3 if key_info is not None else 2 :][:_MAX_REPORTED]:
        what = "ds:Object (and any Manifest in it)" if extra.tag == _OBJECT else _name(extra)
        found.add(Code.SIG_STRUCTURE, f"{what} is not allowed in the signature", extra)

    _read_signed_info(parsed, signed_info, policy, found)
    try:
        parsed.signature_value = _b64decode(signature_value.text)
    except ValueError:
        found.add(Code.SIG_VALUE_INVALID, "ds:SignatureValue is not base64", signature_value)
    if key_info is None:
        found.add(
            Code.SIG_KEYINFO_INVALID,
            "the signature has no ds:KeyInfo with the signer certificate",
            parsed.signature,
        )
    else:
        _read_key_info(parsed, key_info, policy, found)
    if parsed.public_key is not None and parsed.signature_method is not None:
        _check_key_fits(parsed, policy, found)


def _read_signed_info(parsed: _Parsed, signed_info: etree._Element, policy: SignaturePolicy, found: _Findings) -> None:
    children = _element_children(signed_info)
    if len(children) < 3 or children[0].tag != _C14N_METHOD or children[1].tag != _SIGNATURE_METHOD:
        found.add(
            Code.SIG_STRUCTURE,
            "ds:SignedInfo must hold ds:CanonicalizationMethod, ds:SignatureMethod and one ds:Reference",
            signed_info,
        )
        return
    parsed.signed_info = signed_info
    c14n_method, signature_method, references = children[0], children[1], children[2:]

    c14n_uri = c14n_method.get("Algorithm")
    if CanonicalizationMethod.from_uri(c14n_uri) is not CanonicalizationMethod.EXCLUSIVE:
        known = CanonicalizationMethod.from_uri(c14n_uri) is not None
        found.add(
            Code.SIG_ALGORITHM_UNSUPPORTED,
            f"canonicalization {c14n_uri!r} is {'outside the profile' if known else 'unknown'}; "
            "only exclusive C14N without comments is accepted",
            c14n_method,
        )
    else:
        parsed.signed_info_prefixes = _read_inclusive_namespaces(c14n_method, found)

    uri = signature_method.get("Algorithm")
    parsed.signature_method = SignatureMethod.from_uri(uri)
    problem = _method_problem(parsed.signature_method, policy, uri)
    if problem is not None:
        found.add(problem[0], f"signature method {problem[1]}", signature_method)
    elif _element_children(signature_method):
        found.add(Code.SIG_STRUCTURE, "ds:SignatureMethod must be empty", signature_method)

    for other in [element for element in references if element.tag != _REFERENCE][:_MAX_REPORTED]:
        found.add(Code.SIG_STRUCTURE, f"{_name(other)} is not allowed in ds:SignedInfo", other)
    references = [reference for reference in references if reference.tag == _REFERENCE]
    if len(references) != 1:
        found.add(
            Code.SIG_STRUCTURE,
            f'ds:SignedInfo holds {len(references)} ds:Reference elements; exactly one (URI="") is allowed',
            signed_info,
        )
    for reference in references[:_MAX_REPORTED]:
        _read_reference(parsed, reference, policy, found)


def _read_reference(parsed: _Parsed, reference: etree._Element, policy: SignaturePolicy, found: _Findings) -> None:
    uri = reference.get("URI")
    if uri is None:
        found.add(
            Code.SIG_REFERENCE_FORBIDDEN,
            'ds:Reference has no URI; it must be URI="" (whole document)',
            reference,
        )
    elif uri != "":
        found.add(
            Code.SIG_REFERENCE_FORBIDDEN,
            f'ds:Reference URI={uri!r} is not allowed; only URI="" (the whole document) is',
            reference,
        )
    children = _element_children(reference)
    tags = [child.tag for child in children]
    if tags == [_DIGEST_METHOD, _DIGEST_VALUE]:
        found.add(
            Code.SIG_TRANSFORM_FORBIDDEN,
            "ds:Reference has no ds:Transforms; exactly enveloped-signature + exclusive C14N are required",
            reference,
        )
        transforms = None
    elif tags == [_TRANSFORMS, _DIGEST_METHOD, _DIGEST_VALUE]:
        transforms = children[0]
    else:
        found.add(
            Code.SIG_STRUCTURE,
            "ds:Reference must hold ds:Transforms, ds:DigestMethod and ds:DigestValue",
            reference,
        )
        return
    if transforms is not None:
        _read_transforms(parsed, transforms, found)

    digest_method, digest_value = children[-2], children[-1]
    uri = digest_method.get("Algorithm")
    parsed.digest_method = DigestMethod.from_uri(uri)
    problem = _digest_problem(parsed.digest_method, policy, uri)
    if problem is not None:
        found.add(problem[0], f"digest method {problem[1]}", digest_method)
    elif _element_children(digest_method):
        found.add(Code.SIG_STRUCTURE, "ds:DigestMethod must be empty", digest_method)
    try:
        parsed.digest_value = _b64decode(digest_value.text)
    except ValueError:
        found.add(Code.SIG_DIGEST_MISMATCH, "ds:DigestValue is not base64", digest_value)


def _read_transforms(parsed: _Parsed, transforms: etree._Element, found: _Findings) -> None:
    chain: list[Transform | None] = []
    refused = False
    for transform in _element_children(transforms)[: len(_PROFILE_TRANSFORMS) + _MAX_REPORTED]:
        if transform.tag != _TRANSFORM:
            found.add(Code.SIG_STRUCTURE, f"{_name(transform)} is not allowed in ds:Transforms", transform)
            refused = True
            continue
        uri = transform.get("Algorithm")
        algorithm = Transform.from_uri(uri)
        chain.append(algorithm)
        if algorithm not in _PROFILE_TRANSFORMS:
            label = algorithm.name if algorithm is not None else f"unknown transform {uri!r}"
            found.add(Code.SIG_TRANSFORM_FORBIDDEN, f"transform {label} is not allowed", transform)
            refused = True
        elif algorithm is Transform.ENVELOPED and _element_children(transform):
            found.add(Code.SIG_STRUCTURE, "the enveloped-signature transform takes no parameters", transform)
            refused = True
        elif algorithm is Transform.EXC_C14N:
            parsed.reference_prefixes = _read_inclusive_namespaces(transform, found)
    if not refused and tuple(chain) != _PROFILE_TRANSFORMS:
        names = ", ".join(t.name if t is not None else "?" for t in chain) or "none"
        found.add(
            Code.SIG_TRANSFORM_FORBIDDEN,
            f"the transforms must be exactly ENVELOPED, EXC_C14N; found {names}",
            transforms,
        )


def _read_inclusive_namespaces(parent: etree._Element, found: _Findings) -> tuple[str, ...]:
    """The PrefixList of an exclusive C14N ``ec:InclusiveNamespaces`` parameter (the only one allowed)."""
    children = _element_children(parent)
    if not children:
        return ()
    if len(children) != 1 or children[0].tag != _INCLUSIVE_NAMESPACES:
        found.add(Code.SIG_STRUCTURE, "exclusive C14N takes only an ec:InclusiveNamespaces parameter", parent)
        return ()
    prefixes = tuple((children[0].get("PrefixList") or "").split())
    if "#default" in prefixes:
        found.add(
            Code.SIG_ALGORITHM_UNSUPPORTED,
            'InclusiveNamespaces PrefixList "#default" is not supported by the profile',
            children[0],
        )
        return ()
    if not all(_NCNAME.match(prefix) for prefix in prefixes):
        found.add(
            Code.SIG_STRUCTURE,
            "InclusiveNamespaces PrefixList holds something that is not a prefix",
            children[0],
        )
        return ()
    return prefixes


def _read_key_info(parsed: _Parsed, key_info: etree._Element, policy: SignaturePolicy, found: _Findings) -> None:
    children = _element_children(key_info)
    if len(children) > _MAX_KEYINFO_CHILDREN:
        found.add(Code.SIG_KEYINFO_INVALID, f"ds:KeyInfo holds {len(children)} elements", key_info)
        return
    x509_data: list[etree._Element] = []
    for child in children:
        if child.tag == _X509_DATA:
            x509_data.append(child)
        elif child.tag != _KEY_NAME:
            found.add(Code.SIG_KEYINFO_INVALID, f"{_name(child)} is not allowed in ds:KeyInfo", child)
    if len(x509_data) != 1:
        found.add(Code.SIG_KEYINFO_INVALID, "ds:KeyInfo must hold exactly one ds:X509Data", key_info)
        return
    encoded: list[etree._Element] = []
    children = _element_children(x509_data[0])
    if len(children) > _MAX_X509DATA_CHILDREN:
        found.add(Code.SIG_KEYINFO_INVALID, f"ds:X509Data holds {len(children)} elements", x509_data[0])
        return
    for child in children:
        if child.tag == _X509_CERTIFICATE:
            encoded.append(child)
        elif child.tag not in _X509_DESCRIPTIVE:
            found.add(Code.SIG_KEYINFO_INVALID, f"{_name(child)} is not allowed in ds:X509Data", child)
    if not encoded:
        found.add(Code.SIG_KEYINFO_INVALID, "ds:X509Data holds no ds:X509Certificate", x509_data[0])
        return
    if len(encoded) > policy.max_certificates:
        found.add(
            Code.SIG_KEYINFO_INVALID,
            f"ds:KeyInfo holds {len(encoded)} certificates; the policy allows {policy.max_certificates}",
            x509_data[0],
        )
        return
    chain: list[x509.Certificate] = []
    for element in encoded:
        try:
            chain.append(_load_certificate(_b64decode(element.text)))
        except _CERTIFICATE_ERRORS:
            found.add(Code.SIG_KEYINFO_INVALID, "ds:X509Certificate is not a well-formed DER certificate in base64",
                      element)
            return
    parsed.chain = tuple(chain)
    try:
        public_key = chain[0].public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        found.add(Code.SIG_KEYINFO_INVALID, f"the signer certificate key is unusable ({exc})", encoded[0])
        return
    if not isinstance(public_key, (ec.EllipticCurvePublicKey, rsa.RSAPublicKey, ed25519.Ed25519PublicKey)):
        found.add(
            Code.SIG_KEY_MISMATCH,
            f"the signer certificate holds a {type(public_key).__name__}, which no profile method uses",
            encoded[0],
        )
        return
    parsed.public_key = public_key


def _refuse_comments_in_text(root: etree._Element, found: _Findings) -> None:
    """Report the first comment that borders non-blank text: it is not signed, yet it changes what a reader of
    the received tree sees (``<ID>AB<!---->C</ID>`` reads as ``AB``). Comments between elements are fine."""
    for comment in root.iter(etree.Comment):
        parent = comment.getparent()
        if parent is None:
            continue
        previous = comment.getprevious()
        before = previous.tail if previous is not None else parent.text
        if (before and before.strip()) or (comment.tail and comment.tail.strip()):
            found.add(
                Code.SIG_COMMENT_IN_TEXT,
                "a comment inside signed text is not covered by the signature (comment injection)",
                parent,
            )
            return


# what cryptography raises for a certificate whose outer DER parses but whose fields do not (it parses lazily)
# TypeError: cryptography raises it for some damaged names (a BitString attribute under another OID), found by fuzzing
_CERTIFICATE_ERRORS = (
    ValueError, TypeError, UnsupportedAlgorithm, x509.DuplicateExtension, x509.UnsupportedGeneralNameType,
    x509.InvalidVersion,  # a version field other than v1/v3 (found by fuzzing: "10 is not a valid X509 version")
)


@functools.lru_cache(maxsize=512)
def _load_certificate(der: bytes) -> x509.Certificate:
    """A KeyInfo certificate, loaded and checked field by field once per distinct DER (the same few signers'
    certificates arrive with every document; checking every field costs ~0.2 ms). Certificates are immutable,
    so sharing them between calls and threads is safe; a damaged one raises every time and is never cached."""
    return _well_formed(x509.load_der_x509_certificate(der))


def _well_formed(certificate: x509.Certificate) -> x509.Certificate:
    """``certificate`` if it can be read in full (:func:`exchange._pkix.unreadable`); else ValueError."""
    problem = unreadable(certificate)
    if problem is not None:
        raise ValueError(problem)
    return certificate


def _check_key_fits(parsed: _Parsed, policy: SignaturePolicy, found: _Findings) -> None:
    if parsed.public_key is None or parsed.signature_method is None:
        return
    family = _public_key_family(parsed.public_key)
    method_accepted = _method_problem(parsed.signature_method, policy) is None
    if method_accepted and parsed.signature_method.key_family != family:
        found.add(
            Code.SIG_KEY_MISMATCH,
            f"signature method {parsed.signature_method.name} needs a "
            f"{parsed.signature_method.key_family} key; the signer certificate holds a {family} key",
            parsed.signature,
        )
    problem = _key_problem(parsed.public_key, policy)
    if problem is not None:
        found.add(problem[0], problem[1], parsed.signature)


def _verify_bytes(public_key: PublicKey, method: SignatureMethod, value: bytes, data: bytes) -> bool:
    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            size = (public_key.curve.key_size + 7) // 8
            if len(value) != 2 * size:
                return False
            r, s = int.from_bytes(value[:size], "big"), int.from_bytes(value[size:], "big")
            public_key.verify(utils.encode_dss_signature(r, s), data, ec.ECDSA(_hash(method)))
        elif isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(value, data, padding.PKCS1v15(), _hash(method))
        else:
            public_key.verify(value, data)
    except (InvalidSignature, ValueError):
        return False
    return True


# --- shared helpers ---------------------------------------------------------------------------------------


def _method_problem(
    method: SignatureMethod | None, policy: SignaturePolicy, uri: str | None = None
) -> tuple[Code, str] | None:
    if method is None:
        return Code.SIG_ALGORITHM_UNSUPPORTED, f"{uri!r} is unknown"
    if method.is_weak:
        return Code.SIG_ALGORITHM_WEAK, f"{method.name} is refused as weak"
    if method not in policy.signature_methods:
        return Code.SIG_ALGORITHM_UNSUPPORTED, f"{method.name} is not accepted by the policy"
    return None


def _digest_problem(
    method: DigestMethod | None, policy: SignaturePolicy, uri: str | None = None
) -> tuple[Code, str] | None:
    if method is None:
        return Code.SIG_ALGORITHM_UNSUPPORTED, f"{uri!r} is unknown"
    if method.is_weak:
        return Code.SIG_ALGORITHM_WEAK, f"{method.name} is refused as weak"
    if method not in policy.digest_methods:
        return Code.SIG_ALGORITHM_UNSUPPORTED, f"{method.name} is not accepted by the policy"
    return None


def _key_problem(public_key: object, policy: SignaturePolicy) -> tuple[Code, str] | None:
    if isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size < policy.min_rsa_bits:
        return (
            Code.SIG_KEY_WEAK,
            f"RSA key of {public_key.key_size} bits; the policy needs {policy.min_rsa_bits}",
        )
    if isinstance(public_key, ec.EllipticCurvePublicKey) and public_key.curve.name not in policy.ec_curves:
        code = Code.SIG_KEY_WEAK if public_key.curve.key_size < 256 else Code.SIG_ALGORITHM_UNSUPPORTED
        return code, f"EC curve {public_key.curve.name} is not accepted by the policy"
    return None


def _public_key_family(public_key: object) -> str:
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return "ec"
    if isinstance(public_key, rsa.RSAPublicKey):
        return "rsa"
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "ed25519"
    return type(public_key).__name__


def _hash(method: SignatureMethod) -> hashes.HashAlgorithm:
    name = method.hash_name
    if name is None or name not in _HASHES:
        raise SignatureError(f"{method.name} has no profile hash", code=Code.SIG_ALGORITHM_UNSUPPORTED)
    return _HASHES[name]()


def _spki(public_key: Any) -> bytes:
    der: bytes = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return der


def _own_tree(data: bytes | etree._ElementTree) -> etree._ElementTree:
    """A tree this call may modify: parsed from bytes, or a copy of the caller's tree."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return parse_xml(bytes(data))
    if isinstance(data, etree._ElementTree) and data.getroot() is not None:
        return copy.deepcopy(data)
    raise TypeError(f"expected bytes or an lxml ElementTree with a root, not {type(data).__name__}")


def _c14n(node: etree._Element | etree._ElementTree, prefixes: tuple[str, ...] = ()) -> bytes:
    """Exclusive C14N 1.0 without comments; an element is canonicalised in its namespace context."""
    return etree.tostring(
        node, method="c14n", exclusive=True, with_comments=False, inclusive_ns_prefixes=list(prefixes) or None
    )


def _detach(element: etree._Element) -> None:
    """Remove ``element`` as the enveloped-signature transform does: the text after it stays."""
    parent = element.getparent()
    if parent is None:  # the caller checked that it is a child of the root
        raise SignatureError("the signature has no parent element", code=Code.SIG_STRUCTURE)
    tail = element.tail
    if tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(element)


def _element_children(element: etree._Element) -> list[etree._Element]:
    return [child for child in element if isinstance(child.tag, str)]


def _last_element_child(element: etree._Element) -> etree._Element | None:
    for child in reversed(element):
        if isinstance(child.tag, str):
            return child
    return None


def _name(element: etree._Element) -> str:
    qname = etree.QName(element)
    if qname.namespace == _DS.value:
        return f"ds:{qname.localname}"
    return f"{element.prefix}:{qname.localname}" if element.prefix else qname.localname


def _path(element: etree._Element) -> str:
    parts = []
    node: etree._Element | None = element
    while node is not None:
        parts.append(_name(node))
        node = node.getparent()
    return "/" + "/".join(reversed(parts))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(text: str | None) -> bytes:
    """Decode base64 text as XML Schema allows it (line breaks and spaces inside); ValueError when invalid."""
    if not text:
        return b""
    try:  # the common case, one unbroken line: no copy needed
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        pass
    return base64.b64decode(text.translate(_BASE64_WHITESPACE).encode("ascii"), validate=True)


__all__ = [
    "DEFAULT_CHECK",
    "DEFAULT_POLICY",
    "SignatureCheck",
    "SignaturePolicy",
    "sign_document",
    "verify_signature",
]
