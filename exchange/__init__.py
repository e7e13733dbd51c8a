"""Cross-border paperless trade exchange: the core library.

The public API is what ``__all__`` lists; modules whose names start with an underscore are private.
"""

from __future__ import annotations

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
from exchange._findings import Finding
from exchange._xml import DEFAULT_LIMITS, XmlLimits, load_trusted_xml, parse_xml, parse_xml_file

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_LIMITS",
    "Category",
    "Code",
    "ConfigurationError",
    "ExchangeError",
    "Finding",
    "InputError",
    "Severity",
    "SignatureError",
    "StoreError",
    "TrustError",
    "XmlError",
    "XmlLimits",
    "__version__",
    "load_trusted_xml",
    "parse_xml",
    "parse_xml_file",
]
