"""Cross-border paperless trade exchange: the core library.

The public API is what ``__all__`` lists; modules whose names start with an underscore are private.
``tests/exchange/test_exported_members.py`` keeps this list honest.

- XML: :func:`parse_xml` (the one hardened entry point), :class:`XmlLimits`.
- Catalogue and validation: :func:`default_catalogue`, :func:`validate`, :class:`ValidationReport`.
- Building documents: :func:`build_document`, :func:`load_input`.
- Signatures: :func:`sign_document`, :func:`verify_signature`, :class:`SignaturePolicy`.
- Trust and mutual recognition: :class:`TrustContext`, :func:`load_trust_list`, :func:`verify_document`,
  :class:`Workspace`, :func:`init_workspace`.
- Exchange: :func:`build_envelope`, :func:`read_envelope`, :func:`build_receipt`, :func:`read_receipt`.
- Errors: :class:`ExchangeError` and its tree, :class:`Code` (the catalogue of stable codes), :class:`Finding`.
"""

from __future__ import annotations

import importlib as _importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from exchange._algorithms import CanonicalizationMethod, DigestMethod, SignatureMethod, Transform
    from exchange._builder import BuildResult, build_document, load_input
    from exchange._catalogue import Catalogue, DocumentType, default_catalogue, load_catalogue, load_document_type
    from exchange._dsig import SignatureCheck, SignaturePolicy, sign_document, verify_signature
    from exchange._envelope import (
        EnvelopeHeader,
        Party,
        Receipt,
        ReceiptStatus,
        build_envelope,
        build_receipt,
        read_envelope,
        read_receipt,
    )
    from exchange._errors import (
        Category,
        Code,
        ConfigurationError,
        ExchangeError,
        InputError,
        Severity,
        SignatureError,
        StoreError,
        TrustError,
        XmlError,
    )
    from exchange._findings import CheckResult, CheckStatus, Finding
    from exchange._trust import Recognition, TrustContext, TrustDecision, TrustStatus
    from exchange._trustlist import TrustList, load_trust_list
    from exchange._validation import ValidationReport, Validator, Verdict, validate, validate_file
    from exchange._verify import VerificationResult, verify_document
    from exchange._workspace import Agreement, Workspace, init_workspace
    from exchange._xml import DEFAULT_LIMITS, XmlLimits, parse_xml, parse_xml_file

# Names are imported on first use (PEP 562), so `import exchange` stays light: the CLI starts fast and
# the services import only what they use.
_LAZY: dict[str, str] = {
    "Agreement": "exchange._workspace",
    "BuildResult": "exchange._builder",
    "CanonicalizationMethod": "exchange._algorithms",
    "Catalogue": "exchange._catalogue",
    "Category": "exchange._errors",
    "CheckResult": "exchange._findings",
    "CheckStatus": "exchange._findings",
    "Code": "exchange._errors",
    "ConfigurationError": "exchange._errors",
    "DEFAULT_LIMITS": "exchange._xml",
    "DigestMethod": "exchange._algorithms",
    "DocumentType": "exchange._catalogue",
    "EnvelopeHeader": "exchange._envelope",
    "ExchangeError": "exchange._errors",
    "Finding": "exchange._findings",
    "InputError": "exchange._errors",
    "Party": "exchange._envelope",
    "Receipt": "exchange._envelope",
    "ReceiptStatus": "exchange._envelope",
    "Recognition": "exchange._trust",
    "Severity": "exchange._errors",
    "SignatureCheck": "exchange._dsig",
    "SignatureError": "exchange._errors",
    "SignatureMethod": "exchange._algorithms",
    "SignaturePolicy": "exchange._dsig",
    "StoreError": "exchange._errors",
    "Transform": "exchange._algorithms",
    "TrustContext": "exchange._trust",
    "TrustDecision": "exchange._trust",
    "TrustStatus": "exchange._trust",
    "TrustError": "exchange._errors",
    "TrustList": "exchange._trustlist",
    "ValidationReport": "exchange._validation",
    "Validator": "exchange._validation",
    "Verdict": "exchange._validation",
    "VerificationResult": "exchange._verify",
    "Workspace": "exchange._workspace",
    "XmlError": "exchange._errors",
    "XmlLimits": "exchange._xml",
    "build_document": "exchange._builder",
    "build_envelope": "exchange._envelope",
    "build_receipt": "exchange._envelope",
    "default_catalogue": "exchange._catalogue",
    "init_workspace": "exchange._workspace",
    "load_catalogue": "exchange._catalogue",
    "load_document_type": "exchange._catalogue",
    "load_input": "exchange._builder",
    "load_trust_list": "exchange._trustlist",
    "parse_xml": "exchange._xml",
    "parse_xml_file": "exchange._xml",
    "read_envelope": "exchange._envelope",
    "read_receipt": "exchange._envelope",
    "sign_document": "exchange._dsig",
    "validate": "exchange._validation",
    "validate_file": "exchange._validation",
    "verify_document": "exchange._verify",
    "verify_signature": "exchange._dsig",
}

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_LIMITS",
    "Agreement",
    "BuildResult",
    "CanonicalizationMethod",
    "Catalogue",
    "Category",
    "CheckResult",
    "CheckStatus",
    "Code",
    "ConfigurationError",
    "DigestMethod",
    "DocumentType",
    "EnvelopeHeader",
    "ExchangeError",
    "Finding",
    "InputError",
    "Party",
    "Receipt",
    "ReceiptStatus",
    "Recognition",
    "Severity",
    "SignatureCheck",
    "SignatureError",
    "SignatureMethod",
    "SignaturePolicy",
    "StoreError",
    "Transform",
    "TrustContext",
    "TrustDecision",
    "TrustStatus",
    "TrustError",
    "TrustList",
    "ValidationReport",
    "Validator",
    "VerificationResult",
    "Verdict",
    "Workspace",
    "XmlError",
    "XmlLimits",
    "__version__",
    "build_document",
    "build_envelope",
    "build_receipt",
    "default_catalogue",
    "init_workspace",
    "load_catalogue",
    "load_document_type",
    "load_input",
    "load_trust_list",
    "parse_xml",
    "parse_xml_file",
    "read_envelope",
    "read_receipt",
    "sign_document",
    "validate",
    "validate_file",
    "verify_document",
    "verify_signature",
]


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'exchange' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
