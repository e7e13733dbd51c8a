"""XML-DSig spec identifiers: enums whose values are the URIs.

Every algorithm and namespace URI the project knows lives here and nowhere else (compare
``signxml/algorithms.py``). An identifier being *known* does not mean it is *accepted*: weak algorithms
(SHA-1, MD5, DSA, HMAC) are listed only so that a verifier can name them and refuse them with
``SIG-ALGORITHM-WEAK`` instead of the vaguer ``SIG-ALGORITHM-UNSUPPORTED`` that unknown URIs get.

Sources: W3C XML Signature Syntax and Processing 1.1 (xmldsig-core1), RFC 6931 and RFC 9231 (additional
XML security URIs, including ``eddsa-ed25519``), Exclusive XML Canonicalization 1.0.

The profile the project signs with and accepts (see :mod:`exchange._dsig`) is a small subset:
``STRONG_SIGNATURE_METHODS``, ``STRONG_DIGEST_METHODS``, exclusive C14N without comments, and the transform
chain enveloped-signature + exclusive C14N.
"""

from __future__ import annotations

from enum import StrEnum


class Namespace(StrEnum):
    """XML namespaces of the signature vocabularies."""

    DS = "http://www.w3.org/2000/09/xmldsig#"
    DS11 = "http://www.w3.org/2009/xmldsig11#"
    DSIG_MORE = "http://www.w3.org/2001/04/xmldsig-more#"
    EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"  # ec:InclusiveNamespaces
    XMLENC = "http://www.w3.org/2001/04/xmlenc#"
    XADES = "http://uri.etsi.org/01903/v1.3.2#"
    XADES141 = "http://uri.etsi.org/01903/v1.4.1#"
    XSL = "http://www.w3.org/1999/XSL/Transform"  # the body of an XSLT transform (refused, never run)

    def tag(self, local_name: str) -> str:
        """Clark notation for an element of this namespace: ``{uri}local``."""
        return f"{{{self.value}}}{local_name}"


class SignatureMethod(StrEnum):
    """``ds:SignatureMethod/@Algorithm`` values."""

    # accepted by the profile
    ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
    ECDSA_SHA384 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384"
    ECDSA_SHA512 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512"
    RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    RSA_SHA384 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
    RSA_SHA512 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
    ED25519 = "http://www.w3.org/2021/04/xmldsig-more#eddsa-ed25519"
    # recognised, outside the profile
    ECDSA_SHA224 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha224"
    RSA_SHA224 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha224"
    RSA_PSS_SHA256 = "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1"
    ED448 = "http://www.w3.org/2021/04/xmldsig-more#eddsa-ed448"
    # recognised, refused as weak
    RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
    RSA_MD5 = "http://www.w3.org/2001/04/xmldsig-more#rsa-md5"
    RSA_RIPEMD160 = "http://www.w3.org/2001/04/xmldsig-more#rsa-ripemd160"
    ECDSA_SHA1 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1"
    DSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#dsa-sha1"
    DSA_SHA256 = "http://www.w3.org/2009/xmldsig11#dsa-sha256"
    HMAC_SHA1 = "http://www.w3.org/2000/09/xmldsig#hmac-sha1"
    HMAC_SHA224 = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha224"
    HMAC_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"
    HMAC_SHA384 = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha384"
    HMAC_SHA512 = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha512"

    @classmethod
    def from_uri(cls, uri: str | None) -> SignatureMethod | None:
        """The member for ``uri``, or None when the URI is unknown."""
        return _SIGNATURE_BY_URI.get(uri) if uri is not None else None

    @property
    def is_weak(self) -> bool:
        """Refused whatever the policy says (SHA-1, MD5, RIPEMD-160, DSA, shared-secret HMAC)."""
        return self in WEAK_SIGNATURE_METHODS

    @property
    def key_family(self) -> str:
        """``"ec"``, ``"rsa"``, ``"ed25519"``, ``"ed448"``, ``"dsa"`` or ``"hmac"``."""
        return _SIGNATURE_FAMILY[self]

    @property
    def hash_name(self) -> str | None:
        """Hash used with the key (``"sha256"`` ...); None for EdDSA, which hashes internally."""
        return _SIGNATURE_HASH[self]


class DigestMethod(StrEnum):
    """``ds:DigestMethod/@Algorithm`` values."""

    SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
    SHA384 = "http://www.w3.org/2001/04/xmldsig-more#sha384"
    SHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"
    # recognised, outside the profile
    SHA224 = "http://www.w3.org/2001/04/xmldsig-more#sha224"
    SHA3_256 = "http://www.w3.org/2007/05/xmldsig-more#sha3-256"
    SHA3_384 = "http://www.w3.org/2007/05/xmldsig-more#sha3-384"
    SHA3_512 = "http://www.w3.org/2007/05/xmldsig-more#sha3-512"
    # recognised, refused as weak
    SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
    MD5 = "http://www.w3.org/2001/04/xmldsig-more#md5"
    RIPEMD160 = "http://www.w3.org/2001/04/xmlenc#ripemd160"

    @classmethod
    def from_uri(cls, uri: str | None) -> DigestMethod | None:
        return _DIGEST_BY_URI.get(uri) if uri is not None else None

    @property
    def is_weak(self) -> bool:
        return self in WEAK_DIGEST_METHODS

    @property
    def hash_name(self) -> str:
        """Name understood by :mod:`hashlib` and by :func:`exchange._dsig` (``"sha256"`` ...)."""
        return _DIGEST_HASH[self]


class CanonicalizationMethod(StrEnum):
    """``ds:CanonicalizationMethod/@Algorithm`` values. Only ``EXCLUSIVE`` is in the profile."""

    EXCLUSIVE = "http://www.w3.org/2001/10/xml-exc-c14n#"
    EXCLUSIVE_WITH_COMMENTS = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"
    INCLUSIVE = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
    INCLUSIVE_WITH_COMMENTS = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments"
    INCLUSIVE_11 = "http://www.w3.org/2006/12/xml-c14n11"
    INCLUSIVE_11_WITH_COMMENTS = "http://www.w3.org/2006/12/xml-c14n11#WithComments"
    C14N_20 = "http://www.w3.org/2010/xml-c14n2"

    @classmethod
    def from_uri(cls, uri: str | None) -> CanonicalizationMethod | None:
        return _C14N_BY_URI.get(uri) if uri is not None else None


class Transform(StrEnum):
    """``ds:Transform/@Algorithm`` values. The profile allows exactly ``[ENVELOPED, EXC_C14N]``."""

    ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
    EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
    EXC_C14N_WITH_COMMENTS = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"
    C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
    C14N_WITH_COMMENTS = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments"
    C14N_11 = "http://www.w3.org/2006/12/xml-c14n11"
    C14N_11_WITH_COMMENTS = "http://www.w3.org/2006/12/xml-c14n11#WithComments"
    C14N_20 = "http://www.w3.org/2010/xml-c14n2"
    BASE64 = "http://www.w3.org/2000/09/xmldsig#base64"
    XPATH = "http://www.w3.org/TR/1999/REC-xpath-19991116"
    XPATH_FILTER2 = "http://www.w3.org/2002/06/xmldsig-filter2"
    XSLT = "http://www.w3.org/TR/1999/REC-xslt-19991116"
    XPOINTER = "http://www.w3.org/2001/04/xmldsig-more#xptr"
    DECRYPT_XML = "http://www.w3.org/2002/07/decrypt#XML"
    DECRYPT_BINARY = "http://www.w3.org/2002/07/decrypt#Binary"

    @classmethod
    def from_uri(cls, uri: str | None) -> Transform | None:
        return _TRANSFORM_BY_URI.get(uri) if uri is not None else None


_SIGNATURE_BY_URI: dict[str, SignatureMethod] = {member.value: member for member in SignatureMethod}
_DIGEST_BY_URI: dict[str, DigestMethod] = {member.value: member for member in DigestMethod}
_C14N_BY_URI: dict[str, CanonicalizationMethod] = {member.value: member for member in CanonicalizationMethod}
_TRANSFORM_BY_URI: dict[str, Transform] = {member.value: member for member in Transform}

_SM = SignatureMethod
_SIGNATURE_FAMILY: dict[SignatureMethod, str] = {
    _SM.ECDSA_SHA256: "ec",
    _SM.ECDSA_SHA384: "ec",
    _SM.ECDSA_SHA512: "ec",
    _SM.ECDSA_SHA224: "ec",
    _SM.ECDSA_SHA1: "ec",
    _SM.RSA_SHA256: "rsa",
    _SM.RSA_SHA384: "rsa",
    _SM.RSA_SHA512: "rsa",
    _SM.RSA_SHA224: "rsa",
    _SM.RSA_PSS_SHA256: "rsa",
    _SM.RSA_SHA1: "rsa",
    _SM.RSA_MD5: "rsa",
    _SM.RSA_RIPEMD160: "rsa",
    _SM.ED25519: "ed25519",
    _SM.ED448: "ed448",
    _SM.DSA_SHA1: "dsa",
    _SM.DSA_SHA256: "dsa",
    _SM.HMAC_SHA1: "hmac",
    _SM.HMAC_SHA224: "hmac",
    _SM.HMAC_SHA256: "hmac",
    _SM.HMAC_SHA384: "hmac",
    _SM.HMAC_SHA512: "hmac",
}
_SIGNATURE_HASH: dict[SignatureMethod, str | None] = {
    _SM.ECDSA_SHA256: "sha256",
    _SM.ECDSA_SHA384: "sha384",
    _SM.ECDSA_SHA512: "sha512",
    _SM.ECDSA_SHA224: "sha224",
    _SM.ECDSA_SHA1: "sha1",
    _SM.RSA_SHA256: "sha256",
    _SM.RSA_SHA384: "sha384",
    _SM.RSA_SHA512: "sha512",
    _SM.RSA_SHA224: "sha224",
    _SM.RSA_PSS_SHA256: "sha256",
    _SM.RSA_SHA1: "sha1",
    _SM.RSA_MD5: "md5",
    _SM.RSA_RIPEMD160: "ripemd160",
    _SM.ED25519: None,
    _SM.ED448: None,
    _SM.DSA_SHA1: "sha1",
    _SM.DSA_SHA256: "sha256",
    _SM.HMAC_SHA1: "sha1",
    _SM.HMAC_SHA224: "sha224",
    _SM.HMAC_SHA256: "sha256",
    _SM.HMAC_SHA384: "sha384",
    _SM.HMAC_SHA512: "sha512",
}
_DIGEST_HASH: dict[DigestMethod, str] = {
    DigestMethod.SHA256: "sha256",
    DigestMethod.SHA384: "sha384",
    DigestMethod.SHA512: "sha512",
    DigestMethod.SHA224: "sha224",
    DigestMethod.SHA3_256: "sha3_256",
    DigestMethod.SHA3_384: "sha3_384",
    DigestMethod.SHA3_512: "sha3_512",
    DigestMethod.SHA1: "sha1",
    DigestMethod.MD5: "md5",
    DigestMethod.RIPEMD160: "ripemd160",
}

#: Refused whatever a policy says.
WEAK_SIGNATURE_METHODS: frozenset[SignatureMethod] = frozenset(
    {
        _SM.RSA_SHA1,
        _SM.RSA_MD5,
        _SM.RSA_RIPEMD160,
        _SM.ECDSA_SHA1,
        _SM.DSA_SHA1,
        _SM.DSA_SHA256,
        _SM.HMAC_SHA1,
        _SM.HMAC_SHA224,
        _SM.HMAC_SHA256,
        _SM.HMAC_SHA384,
        _SM.HMAC_SHA512,
    }
)
WEAK_DIGEST_METHODS: frozenset[DigestMethod] = frozenset({DigestMethod.SHA1, DigestMethod.MD5, DigestMethod.RIPEMD160})

#: What the project can sign and verify; a policy may narrow these sets, never widen them.
STRONG_SIGNATURE_METHODS: frozenset[SignatureMethod] = frozenset(
    {
        _SM.ECDSA_SHA256,
        _SM.ECDSA_SHA384,
        _SM.ECDSA_SHA512,
        _SM.RSA_SHA256,
        _SM.RSA_SHA384,
        _SM.RSA_SHA512,
        _SM.ED25519,
    }
)
STRONG_DIGEST_METHODS: frozenset[DigestMethod] = frozenset(
    {DigestMethod.SHA256, DigestMethod.SHA384, DigestMethod.SHA512}
)

if set(_SIGNATURE_FAMILY) != set(SignatureMethod) or set(_SIGNATURE_HASH) != set(SignatureMethod):
    raise AssertionError("every SignatureMethod needs a key family and a hash")  # pragma: no cover
if set(_DIGEST_HASH) != set(DigestMethod):
    raise AssertionError("every DigestMethod needs a hash name")  # pragma: no cover

__all__ = [
    "STRONG_DIGEST_METHODS",
    "STRONG_SIGNATURE_METHODS",
    "WEAK_DIGEST_METHODS",
    "WEAK_SIGNATURE_METHODS",
    "CanonicalizationMethod",
    "DigestMethod",
    "Namespace",
    "SignatureMethod",
    "Transform",
]
