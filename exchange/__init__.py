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
    from exchange._engine import (
        ENVELOPE_POLICY,
        ENVELOPE_TYPE,
        GATEWAY_PROFILE,
        NODE_PROFILE,
        RECEIPT_TYPE,
        STEP_ORDER,
        DuplicateLookup,
        Engine,
        Outcome,
        Parties,
        Previous,
        Profile,
        Step,
        Timings,
    )
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
    from exchange._ephyto import EPHYTO_TYPE, HubTracking, hub_results
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
    from exchange._findings import CheckResult, CheckStatus, Finding, MessageVerdict
    from exchange._i18n import N_, code_message, gettext, status_label
    from exchange._logging import RequestLog, about_message, message_scope
    from exchange._operator import ensure_operator_token, operator_headers, read_operator_token, token_matches
    from exchange._parties import WorkspaceParties, WorkspaceView
    from exchange._pki import Credential, load_certificate_file
    from exchange._receipts import (
        CHECK_RECEIPT,
        CHECK_REJECTION,
        ReceiptCheck,
        RejectionCheck,
        sign_receipt,
        sign_rejection_answer,
        verify_receipt,
        verify_rejection,
    )
    from exchange._redact import redact_url, strip_userinfo
    from exchange._reports import FiledReport, file_report, report_html, report_svrl
    from exchange._request_signing import NonceMemory, RequestSignatureCheck, sign_request, verify_request
    from exchange._scenarios import ScenarioSet, load_scenarios
    from exchange._tls import (
        TlsSettings,
        TransportIdentity,
        TransportPolicy,
        country_roots,
        gateway_tls,
        gateway_transport_policy,
        node_tls,
        node_transport_policy,
        peer_certificate,
        require_verifiable,
        tls_connection,
    )
    from exchange._transport import DELIVERY_HEADER, sign_delivery, verify_delivery
    from exchange._trust import Recognition, TrustContext, TrustDecision, TrustStatus
    from exchange._trustlist import TrustList, load_trust_list
    from exchange._validation import ValidationReport, Validator, Verdict, compiled_rules, validate, validate_file
    from exchange._verify import VerificationResult, verify_document
    from exchange._workspace import Agreement, Workspace, init_workspace
    from exchange._xml import DEFAULT_LIMITS, XmlLimits, parse_xml, parse_xml_file

# Names are imported on first use (PEP 562), so `import exchange` stays light: the CLI starts fast and
# the services import only what they use.
_LAZY: dict[str, str] = {
    "Agreement": "exchange._workspace",
    "BuildResult": "exchange._builder",
    "CHECK_RECEIPT": "exchange._receipts",
    "CHECK_REJECTION": "exchange._receipts",
    "CanonicalizationMethod": "exchange._algorithms",
    "Catalogue": "exchange._catalogue",
    "Category": "exchange._errors",
    "CheckResult": "exchange._findings",
    "CheckStatus": "exchange._findings",
    "Code": "exchange._errors",
    "ConfigurationError": "exchange._errors",
    "Credential": "exchange._pki",
    "DEFAULT_LIMITS": "exchange._xml",
    "DELIVERY_HEADER": "exchange._transport",
    "DigestMethod": "exchange._algorithms",
    "DocumentType": "exchange._catalogue",
    "DuplicateLookup": "exchange._engine",
    "ENVELOPE_POLICY": "exchange._engine",
    "ENVELOPE_TYPE": "exchange._engine",
    "EPHYTO_TYPE": "exchange._ephyto",
    "Engine": "exchange._engine",
    "EnvelopeHeader": "exchange._envelope",
    "ExchangeError": "exchange._errors",
    "Finding": "exchange._findings",
    "GATEWAY_PROFILE": "exchange._engine",
    "HubTracking": "exchange._ephyto",
    "InputError": "exchange._errors",
    "MessageVerdict": "exchange._findings",
    "NODE_PROFILE": "exchange._engine",
    "NonceMemory": "exchange._request_signing",
    "Outcome": "exchange._engine",
    "Parties": "exchange._engine",
    "Party": "exchange._envelope",
    "Previous": "exchange._engine",
    "Profile": "exchange._engine",
    "RECEIPT_TYPE": "exchange._engine",
    "Receipt": "exchange._envelope",
    "ReceiptCheck": "exchange._receipts",
    "ReceiptStatus": "exchange._envelope",
    "Recognition": "exchange._trust",
    "RejectionCheck": "exchange._receipts",
    "RequestLog": "exchange._logging",
    "RequestSignatureCheck": "exchange._request_signing",
    "STEP_ORDER": "exchange._engine",
    "Severity": "exchange._errors",
    "SignatureCheck": "exchange._dsig",
    "SignatureError": "exchange._errors",
    "SignatureMethod": "exchange._algorithms",
    "SignaturePolicy": "exchange._dsig",
    "Step": "exchange._engine",
    "StoreError": "exchange._errors",
    "Timings": "exchange._engine",
    "TlsSettings": "exchange._tls",
    "Transform": "exchange._algorithms",
    "TransportIdentity": "exchange._tls",
    "TransportPolicy": "exchange._tls",
    "TrustContext": "exchange._trust",
    "TrustDecision": "exchange._trust",
    "TrustError": "exchange._errors",
    "TrustList": "exchange._trustlist",
    "TrustStatus": "exchange._trust",
    "ValidationReport": "exchange._validation",
    "Validator": "exchange._validation",
    "Verdict": "exchange._validation",
    "VerificationResult": "exchange._verify",
    "Workspace": "exchange._workspace",
    "WorkspaceParties": "exchange._parties",
    "WorkspaceView": "exchange._parties",
    "XmlError": "exchange._errors",
    "XmlLimits": "exchange._xml",
    "N_": "exchange._i18n",
    "about_message": "exchange._logging",
    "build_document": "exchange._builder",
    "code_message": "exchange._i18n",
    "gettext": "exchange._i18n",
    "status_label": "exchange._i18n",
    "build_envelope": "exchange._envelope",
    "build_receipt": "exchange._envelope",
    "default_catalogue": "exchange._catalogue",
    "ensure_operator_token": "exchange._operator",
    "gateway_tls": "exchange._tls",
    "gateway_transport_policy": "exchange._tls",
    "hub_results": "exchange._ephyto",
    "init_workspace": "exchange._workspace",
    "load_catalogue": "exchange._catalogue",
    "load_certificate_file": "exchange._pki",
    "load_document_type": "exchange._catalogue",
    "load_input": "exchange._builder",
    "load_trust_list": "exchange._trustlist",
    "message_scope": "exchange._logging",
    "node_tls": "exchange._tls",
    "node_transport_policy": "exchange._tls",
    "operator_headers": "exchange._operator",
    "parse_xml": "exchange._xml",
    "parse_xml_file": "exchange._xml",
    "peer_certificate": "exchange._tls",
    "ScenarioSet": "exchange._scenarios",
    "FiledReport": "exchange._reports",
    "file_report": "exchange._reports",
    "report_html": "exchange._reports",
    "report_svrl": "exchange._reports",
    "load_scenarios": "exchange._scenarios",
    "compiled_rules": "exchange._validation",
    "country_roots": "exchange._tls",
    "tls_connection": "exchange._tls",
    "read_envelope": "exchange._envelope",
    "read_operator_token": "exchange._operator",
    "read_receipt": "exchange._envelope",
    "redact_url": "exchange._redact",
    "require_verifiable": "exchange._tls",
    "sign_delivery": "exchange._transport",
    "sign_document": "exchange._dsig",
    "sign_receipt": "exchange._receipts",
    "sign_rejection_answer": "exchange._receipts",
    "sign_request": "exchange._request_signing",
    "strip_userinfo": "exchange._redact",
    "token_matches": "exchange._operator",
    "validate": "exchange._validation",
    "validate_file": "exchange._validation",
    "verify_delivery": "exchange._transport",
    "verify_document": "exchange._verify",
    "verify_receipt": "exchange._receipts",
    "verify_rejection": "exchange._receipts",
    "verify_request": "exchange._request_signing",
    "verify_signature": "exchange._dsig",
}

__version__ = "0.1.0"

__all__ = [
    "Agreement",
    "BuildResult",
    "CHECK_RECEIPT",
    "CHECK_REJECTION",
    "CanonicalizationMethod",
    "Catalogue",
    "Category",
    "CheckResult",
    "CheckStatus",
    "Code",
    "ConfigurationError",
    "Credential",
    "DEFAULT_LIMITS",
    "DELIVERY_HEADER",
    "DigestMethod",
    "DocumentType",
    "DuplicateLookup",
    "ENVELOPE_POLICY",
    "ENVELOPE_TYPE",
    "EPHYTO_TYPE",
    "Engine",
    "EnvelopeHeader",
    "ExchangeError",
    "Finding",
    "GATEWAY_PROFILE",
    "HubTracking",
    "InputError",
    "MessageVerdict",
    "NODE_PROFILE",
    "NonceMemory",
    "Outcome",
    "Parties",
    "Party",
    "Previous",
    "Profile",
    "RECEIPT_TYPE",
    "Receipt",
    "ReceiptCheck",
    "ReceiptStatus",
    "Recognition",
    "RejectionCheck",
    "RequestLog",
    "RequestSignatureCheck",
    "STEP_ORDER",
    "Severity",
    "SignatureCheck",
    "SignatureError",
    "SignatureMethod",
    "SignaturePolicy",
    "Step",
    "StoreError",
    "Timings",
    "TlsSettings",
    "Transform",
    "TransportIdentity",
    "TransportPolicy",
    "TrustContext",
    "TrustDecision",
    "TrustError",
    "TrustList",
    "TrustStatus",
    "ValidationReport",
    "Validator",
    "Verdict",
    "VerificationResult",
    "Workspace",
    "WorkspaceParties",
    "WorkspaceView",
    "XmlError",
    "XmlLimits",
    "N_",
    "__version__",
    "about_message",
    "build_document",
    "build_envelope",
    "build_receipt",
    "code_message",
    "default_catalogue",
    "ensure_operator_token",
    "gateway_tls",
    "gateway_transport_policy",
    "gettext",
    "hub_results",
    "init_workspace",
    "load_catalogue",
    "load_certificate_file",
    "load_document_type",
    "load_input",
    "load_trust_list",
    "message_scope",
    "node_tls",
    "node_transport_policy",
    "operator_headers",
    "parse_xml",
    "parse_xml_file",
    "peer_certificate",
    "ScenarioSet",
    "FiledReport",
    "file_report",
    "report_html",
    "report_svrl",
    "load_scenarios",
    "compiled_rules",
    "country_roots",
    "tls_connection",
    "read_envelope",
    "read_operator_token",
    "read_receipt",
    "redact_url",
    "require_verifiable",
    "sign_delivery",
    "sign_document",
    "sign_receipt",
    "sign_rejection_answer",
    "sign_request",
    "status_label",
    "strip_userinfo",
    "token_matches",
    "validate",
    "validate_file",
    "verify_delivery",
    "verify_document",
    "verify_receipt",
    "verify_rejection",
    "verify_request",
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
