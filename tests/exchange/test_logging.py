"""Structured logs (exchange/_logging.py): JSON lines that name the message a line is about, also from threads."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import logging.config
from collections.abc import Iterator

import pytest

from exchange._logging import RequestLog, about_message, log_config, log_context, message_scope


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    config = log_config("gateway", "debug", fmt="json")
    config["handlers"]["ptx"]["stream"] = stream
    saved = {name: (logger.handlers[:], logger.level, logger.propagate)
             for name in config["loggers"] for logger in [logging.getLogger(name)]}
    logging.config.dictConfig(config)
    try:
        yield stream
    finally:  # the other tests of this process log as before
        for name, (handlers, level, propagate) in saved.items():
            logger = logging.getLogger(name)
            logger.handlers[:] = handlers
            logger.setLevel(level)
            logger.propagate = propagate


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_line_names_the_message_it_is_about(captured: io.StringIO) -> None:
    log = logging.getLogger("exchange.test")
    log.info("before")
    with message_scope("msg-0000000000000001", "conv-1"):
        log.warning("during", extra={"code": "SIG-DIGEST-MISMATCH"})
    log.info("after")
    before, during, after = lines(captured)
    assert before["message_id"] is None and after["message_id"] is None
    assert during == {**during, "level": "WARNING", "service": "gateway", "logger": "exchange.test", "event": "during",
                      "message_id": "msg-0000000000000001", "conversation_id": "conv-1", "code": "SIG-DIGEST-MISMATCH"}
    assert str(during["time"]).endswith("+00:00")


def test_a_worker_thread_names_the_message_for_the_requests_lines(captured: io.StringIO) -> None:
    log = logging.getLogger("exchange.test")

    async def request() -> None:
        with log_context():
            await asyncio.to_thread(about_message, "msg-0000000000000002", "conv-2")  # as a handler in a thread does
            log.info("access line")

    asyncio.run(request())
    [line] = lines(captured)
    assert (line["message_id"], line["conversation_id"]) == ("msg-0000000000000002", "conv-2")


def test_the_request_log_writes_one_access_line_with_the_message(captured: io.StringIO) -> None:
    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        about_message("msg-0000000000000003")
        await send({"type": "http.response.start", "status": 202, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b""})  # type: ignore[operator]

    async def send(message: dict[str, object]) -> None:
        pass

    asyncio.run(RequestLog(app, logger="gateway.access")({"type": "http", "method": "POST", "path": "/v1/messages"},
                                                          None, send))
    [line] = lines(captured)
    assert line["event"] == "POST /v1/messages -> 202" and line["http_status"] == 202
    assert line["message_id"] == "msg-0000000000000003" and isinstance(line["duration_ms"], float)


def test_plain_text_on_request() -> None:
    formatter = log_config("node-AA", fmt="text")["formatters"]["ptx"]
    assert "()" not in formatter and "%(message_id)s" in formatter["format"]
