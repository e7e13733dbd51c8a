"""Findings: what a check says about a document, with a stable code and a location.

The shape follows the validators people in the field know (KoSIT, phive):
``{code, severity, check, message, line, column, path}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from exchange._errors import Code, ExchangeError, Severity


@dataclass(frozen=True, slots=True)
class Finding:
    """One observation about a document. ``code`` is stable; ``message`` is for people."""

    code: str
    severity: Severity
    check: str
    message: str
    line: int | None = None
    column: int | None = None
    path: str | None = None

    @classmethod
    def of(
        cls,
        code: Code,
        check: str,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        path: str | None = None,
        severity: Severity | None = None,
    ) -> Finding:
        """Build a finding from a catalogue code (severity defaults to the code's own)."""
        return cls(
            code=code.value,
            severity=severity or code.severity,
            check=check,
            message=message,
            line=line,
            column=column,
            path=path,
        )

    @classmethod
    def from_error(cls, error: ExchangeError, check: str) -> Finding:
        return cls.of(error.code, check, error.message, line=error.line, column=error.column, path=error.path)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "check": self.check,
            "message": self.message,
            "line": self.line,
            "column": self.column,
            "path": self.path,
        }


class MessageVerdict(StrEnum):
    """A check engine's decision on a message (the KoSIT/phive habit): the API's ``verdict``."""

    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"


class CheckStatus(StrEnum):
    """Outcome of one named check."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One named check of a pipeline and what it found. ``failed`` means it found at least one error."""

    name: str
    status: CheckStatus
    findings: tuple[Finding, ...] = ()
    #: what the check ran, when it says more than its name: a schema or rules file (a validation's steps)
    subject: str | None = None

    @classmethod
    def from_findings(cls, name: str, findings: tuple[Finding, ...] | list[Finding], *,
                      subject: str | None = None) -> CheckResult:
        found = tuple(findings)
        status = CheckStatus.FAILED if any(f.is_error for f in found) else CheckStatus.PASSED
        return cls(name=name, status=status, findings=found, subject=subject)

    @classmethod
    def skipped(cls, name: str, *, subject: str | None = None) -> CheckResult:
        return cls(name=name, status=CheckStatus.SKIPPED, subject=subject)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "status": self.status.value,
                               "findings": [f.to_dict() for f in self.findings]}
        if self.subject is not None:
            out["subject"] = self.subject
        return out


__all__ = ["CheckResult", "CheckStatus", "Finding", "MessageVerdict"]
