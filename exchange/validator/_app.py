"""The validation service's FastAPI app: one router, one Validator shared by every request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from exchange import (
    DEFAULT_LIMITS,
    Code,
    ExchangeError,
    ScenarioSet,
    Validator,
    XmlLimits,
    compiled_rules,
    file_report,
    load_scenarios,
    report_html,
    report_svrl,
)


@dataclass(frozen=True, slots=True)
class ValidatorSettings:
    """What the service validates with: a scenario file, or (``None``) the catalogue's types."""

    scenarios: Path | None = None
    limits: XmlLimits = DEFAULT_LIMITS


def _error(status: int, code: Code, message: str) -> JSONResponse:
    return JSONResponse({"code": code.value, "message": message}, status_code=status)


def _pick_format(accept: str, requested: str | None) -> str:
    if requested:
        return requested
    if "text/html" in accept:
        return "html"
    if "svrl" in accept or "application/xml" in accept:
        return "svrl"
    return "json"


async def _bad_request(request: Request, exc: Exception) -> JSONResponse:
    problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                         for e in getattr(exc, "errors", lambda: [])())
    return _error(400, Code.INPUT_INVALID, f"the request is not one the service takes ({problems})")


router = APIRouter()


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> dict[str, object]:
    state = request.app.state
    return {"status": "ready", "scenarios": [s.id for s in state.scenarios.scenarios],
            "rules": [str(path) for path in state.scenarios.rules_files]}


def _validate(request: Request, body: bytes, source: str | None, requested: str | None) -> Response:
    state = request.app.state
    if not body:
        return _error(422, Code.XML_EMPTY, "the request body is empty: POST the document itself")
    try:
        report = state.validator.validate(body, source=source or "request")
    except ExchangeError as exc:  # a rules file that does not compile any more: cannot be processed
        return _error(422, exc.code, exc.message)
    filed = file_report(report, at=state.now())
    status = filed.outcome.http_status
    headers = {"PTX-Recommendation": filed.recommendation.value, "PTX-Outcome": filed.outcome.value}
    chosen = _pick_format(request.headers.get("accept", ""), requested)
    if chosen == "html":
        return Response(report_html([filed]), status_code=status, media_type="text/html; charset=utf-8",
                        headers=headers)
    if chosen == "svrl" and report.svrl:
        return Response(report_svrl([filed]), status_code=status, media_type="application/svrl+xml",
                        headers=headers)
    return JSONResponse(filed.to_dict(), status_code=status, headers=headers)


@router.post("/")
@router.post("/v1/validate")
async def validate(
    request: Request,
    name: Annotated[str | None, Query(description="the document's name in the report")] = None,
    format: Annotated[str | None, Query(pattern="^(json|svrl|html)$")] = None,
) -> Response:
    limit = request.app.state.limits.max_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:  # refused before a byte of the body is read
        return _error(413, Code.XML_TOO_LARGE, f"the document is {int(declared):,} bytes; the limit is {limit:,}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return _error(413, Code.XML_TOO_LARGE, f"the document is over the limit of {limit:,} bytes")
        chunks.append(chunk)
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(_validate, request, b"".join(chunks), name, format)


def _now() -> datetime:
    """The service's clock (the one place it reads the wall clock; tests inject another)."""
    return datetime.now(UTC)


def create_app(settings: ValidatorSettings, *, now: Callable[[], datetime] = _now) -> FastAPI:
    """The service, with every rules file compiled before it answers (``RULES-*`` codes raise here)."""
    if settings.scenarios is not None:
        scenarios = load_scenarios(settings.scenarios)
        validator = Validator(scenarios=scenarios, limits=settings.limits)
    else:
        validator = Validator(limits=settings.limits)
        scenarios = ScenarioSet.from_catalogue(validator.catalogue)
    for rules in scenarios.rules_files:
        compiled_rules(rules)  # warm: the XSLT 2/3 engine holds them compiled from now on
    app = FastAPI(title="ptx validator", version="1", docs_url=None, redoc_url=None)
    app.add_exception_handler(RequestValidationError, _bad_request)
    app.state.validator = validator
    app.state.now = now
    app.state.scenarios = scenarios
    app.state.limits = settings.limits
    app.include_router(router)
    return app
