"""The ePhyto hub's vocabulary beside ours: its validation result, and what its envelope header says.

The hub reports a validation as a list of results ``{area, field, level, msg}`` (the WSDL's
``validationResult``: area ``MandatoryElements | Mapping | Schema``, level ``SEVERE | WARNING | INFO``).
:func:`hub_results` maps our findings onto it, by code, never by message text:

- ``MandatoryElements``: something the certificate must carry is absent (a required element, a party's name,
  the original certificate of a re-export, a line's product);
- ``Mapping``: a value is not one of the code lists the hub maps (certificate type and status, countries,
  units, botanical names, dates that contradict each other, attachments);
- ``Schema``: everything else the XSD or the parser found (and any other code).

The level follows our severity (error SEVERE, warning WARNING, info INFO); ``field`` is the finding's path in
the document; ``msg`` starts with our code so that a reader of the hub's form still has the stable code.

The hub's certificate types and statuses (``CertificateType`` 851 phytosanitary, 657 re-export;
``CertificateStatus`` 70 issued) and its tracking values (``HUBTrackingInfo``) are enums here, values as the
hub spells them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from exchange._errors import Severity
from exchange._findings import Finding

#: the catalogue id of the ePhyto certificate (schemas/ephyto-sps-certificate)
EPHYTO_TYPE = "ephyto-sps-certificate"


class ValidationArea(StrEnum):
    MANDATORY_ELEMENTS = "MandatoryElements"
    MAPPING = "Mapping"
    SCHEMA = "Schema"


class ValidationLevel(StrEnum):
    SEVERE = "SEVERE"
    WARNING = "WARNING"
    INFO = "INFO"


class CertificateType(StrEnum):
    """UN/CEFACT 1001 codes the hub exchanges (the header's CertificateType)."""

    PHYTO = "851"
    REEXPORT = "657"


class CertificateStatus(StrEnum):
    ISSUED = "70"


class HubTracking(StrEnum):
    """The hub's HUBTrackingInfo values (WSDL simple type HUBTrackingInfo)."""

    PENDING_DELIVERY = "PendingDelivery"
    DELIVERED = "Delivered"
    FAILED_DELIVERY = "FailedDelivery"
    ENVELOPE_NOT_EXISTS = "EnvelopeNotExists"
    DELIVERED_WITH_WARNINGS = "DeliveredWithWarnings"
    DELIVERED_NOT_READABLE = "DeliveredNotReadable"


_MANDATORY = frozenset({
    "SCHEMA-ELEMENT-MISSING", "INPUT-FIELD-MISSING",
    "EPHYTO-PARTY-01", "EPHYTO-REEXPORT-01", "EPHYTO-REEXPORT-02", "EPHYTO-LINE-01", "EPHYTO-NOTE-01",
})
_MAPPING = frozenset({
    "EPHYTO-TYPE-01", "EPHYTO-STATUS-01", "EPHYTO-COUNTRY-01", "EPHYTO-COUNTRY-02", "EPHYTO-PARTY-02",
    "EPHYTO-UNIT-01", "EPHYTO-NAME-01", "EPHYTO-MASS-01", "EPHYTO-DATE-01", "EPHYTO-DATE-02", "EPHYTO-DATE-03",
    "EPHYTO-ATTACH-01", "EPHYTO-ATTACH-02",
})
_LEVEL = {Severity.ERROR: ValidationLevel.SEVERE, Severity.WARNING: ValidationLevel.WARNING,
          Severity.INFO: ValidationLevel.INFO}


def area_of(code: str) -> ValidationArea:
    """The hub's area for one of our codes."""
    if code in _MANDATORY:
        return ValidationArea.MANDATORY_ELEMENTS
    if code in _MAPPING or code.startswith("EPHYTO-"):
        return ValidationArea.MAPPING
    return ValidationArea.SCHEMA


@dataclass(frozen=True, slots=True)
class HubValidationResult:
    """One entry of the hub's validation result, with the code it was mapped from."""

    area: ValidationArea
    field: str
    level: ValidationLevel
    msg: str
    code: str

    @classmethod
    def of(cls, finding: Finding) -> HubValidationResult:
        return cls(
            area=area_of(finding.code), field=finding.path or "", level=_LEVEL[Severity(finding.severity)],
            msg=f"{finding.code}: {finding.message}", code=finding.code,
        )

    def to_dict(self) -> dict[str, Any]:
        return {"area": self.area.value, "field": self.field, "level": self.level.value, "msg": self.msg,
                "code": self.code}


def hub_results(findings: Iterable[Finding]) -> tuple[HubValidationResult, ...]:
    """Our findings in the hub's form, in their order."""
    return tuple(HubValidationResult.of(finding) for finding in findings)


__all__ = [
    "EPHYTO_TYPE",
    "CertificateStatus",
    "CertificateType",
    "HubTracking",
    "HubValidationResult",
    "ValidationArea",
    "ValidationLevel",
    "area_of",
    "hub_results",
]
