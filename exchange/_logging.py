"""Structured logs: one JSON object per line, with the message id and conversation id of the message a line is
about, in every service, so that one message can be followed across hops (``grep msg-... gateway.log AA.log``).

Each line carries ``time``, ``level``, ``service`` (``gateway``, ``node-AA``, ...), ``logger``, ``event`` (the human
text) and, while a message is being handled, ``message_id`` and ``conversation_id``; anything passed as
``extra={...}`` (``code``, ``status``, ...) is added as its own key. The formatter is python-json-logger's.

A message is named for the lines about it with :func:`about_message`. The request log middleware
(:class:`RequestLog`) opens one context per HTTP request and writes one access line at its end, so the access
line of a submission carries the message id the handler found, even when the handler ran in a worker thread
(the context is a mutable holder shared with the thread, not a value the thread would copy).

``ptx serve`` passes :func:`log_config` to uvicorn as its ``log_config`` and turns uvicorn's own access log off.
``PTX_LOG_FORMAT=text`` gives plain lines for reading on a terminal.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_CONTEXT: ContextVar[dict[str, str] | None] = ContextVar("ptx_log_context", default=None)
FIELDS = ("message_id", "conversation_id")
ENV_FORMAT = "PTX_LOG_FORMAT"


@contextmanager
def log_context() -> Iterator[dict[str, str]]:
    """A fresh holder for the lines logged within (shared with worker threads started inside)."""
    holder: dict[str, str] = {}
    token = _CONTEXT.set(holder)
    try:
        yield holder
    finally:
        _CONTEXT.reset(token)


def about_message(message_id: str | None, conversation_id: str | None = None) -> None:
    """Name the message that the following lines of this request or task are about."""
    holder = _CONTEXT.get()
    if holder is None:
        holder = {}
        _CONTEXT.set(holder)
    if message_id:
        holder["message_id"] = message_id
    if conversation_id:
        holder["conversation_id"] = conversation_id


@contextmanager
def message_scope(message_id: str | None, conversation_id: str | None = None) -> Iterator[None]:
    """Lines logged within are about this message (a delivery worker's task, a CLI step)."""
    with log_context():
        about_message(message_id, conversation_id)
        yield


class ContextFilter(logging.Filter):
    """Adds ``service`` and the current message's ids to every record (explicit ``extra`` values win)."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        record.__dict__.pop("color_message", None)  # uvicorn's terminal colours: not data
        holder = _CONTEXT.get() or {}
        for name in FIELDS:
            if getattr(record, name, None) is None:
                setattr(record, name, holder.get(name))
        return True


def log_config(service: str, level: str = "info", *, fmt: str | None = None) -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` for one service (uvicorn's ``log_config``): every logger of the project
    and uvicorn's to stderr, as JSON lines (or ``fmt="text"``, or ``PTX_LOG_FORMAT=text``)."""
    chosen = (fmt or os.environ.get(ENV_FORMAT) or "json").lower()
    level_name = level.upper()
    formatter: dict[str, Any]
    if chosen == "text":
        formatter = {"format": "%(asctime)s %(levelname)s %(service)s %(name)s [%(message_id)s] %(message)s"}
    else:
        formatter = {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(service)s %(name)s %(message)s %(message_id)s %(conversation_id)s",
            "rename_fields": {"levelname": "level", "name": "logger", "message": "event"},
            "timestamp": "time",  # ISO 8601 in UTC with microseconds, first key
            "json_ensure_ascii": False,
        }
    handler = {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "formatter": "ptx",
               "filters": ["context"]}
    loggers = {name: {"handlers": ["ptx"], "level": level_name, "propagate": False}
               for name in ("exchange", "gateway", "ptx", "uvicorn", "uvicorn.error", "uvicorn.access")}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter, "service": service}},
        "formatters": {"ptx": formatter},
        "handlers": {"ptx": handler},
        "loggers": loggers,
    }


class RequestLog:
    """ASGI middleware: one log context per HTTP request and one access line at its end (method, path, status,
    milliseconds), carrying the message id the handler named. Replaces uvicorn's access log."""

    def __init__(self, app: Any, *, logger: str) -> None:
        self.app = app
        self.log = logging.getLogger(logger)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status: list[int] = []

        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        started = time.perf_counter()
        with log_context():
            try:
                await self.app(scope, receive, sending)
            finally:
                millis = round((time.perf_counter() - started) * 1000, 1)
                code = status[0] if status else 500
                self.log.info("%s %s -> %d", scope.get("method"), scope.get("path"), code,
                              extra={"http_status": code, "duration_ms": millis, "method": scope.get("method"),
                                     "path": scope.get("path")})


__all__ = ["ContextFilter", "RequestLog", "about_message", "log_config", "log_context", "message_scope"]
