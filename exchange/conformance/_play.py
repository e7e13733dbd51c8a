"""What every suite shares: timing and judging one scenario, and showing an HTTP exchange in a report.

A scenario's reason is English and stable, as a finding's message is (JSON and JUnit consumers compare it);
the reports put the localised frame around it (:mod:`exchange.conformance._report`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from exchange.conformance._model import Exchange, Outcome, Result, Scenario

#: how much of a body a report shows
SHOWN = 600


class Verdict(Exception):  # noqa: N818 - not an error: how a scenario ends early with its judgement
    """Raised inside a scenario to end it with an outcome and the reason."""

    def __init__(self, outcome: Outcome, reason: str) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason


def fail(reason: str) -> Verdict:
    return Verdict(Outcome.FAIL, reason)


def not_applicable(reason: str) -> Verdict:
    return Verdict(Outcome.NOT_APPLICABLE, reason)


def shown(body: bytes, limit: int = SHOWN) -> str:
    text = body.decode("utf-8", errors="replace")
    return text if len(text) <= limit else text[:limit] + f"... ({len(body):,} bytes)"


@dataclass
class Log:
    """The exchanges of one scenario, as it goes."""

    exchanges: list[Exchange] = field(default_factory=list)

    def request(self, what: str, response: httpx.Response) -> httpx.Response:
        media = response.headers.get("content-type", "")
        self.exchanges.append(Exchange(request=what, response=f"{response.status_code} {media}\n"
                                                              f"{shown(response.content)}"))
        return response

    def note(self, what: str, seen: str) -> None:
        self.exchanges.append(Exchange(request=what, response=seen))


def play(scenario: Scenario, name: str, body: Callable[[Log], str]) -> Result:
    """Run ``body``: it returns why the scenario passed, or raises :class:`Verdict`. A failure to reach the
    system under test is a failure of the scenario, with what went wrong."""
    log = Log()
    started = time.monotonic()
    try:
        reason = body(log)
        outcome = Outcome.PASS
    except Verdict as verdict:
        outcome, reason = verdict.outcome, verdict.reason
    except httpx.HTTPError as exc:
        outcome, reason = Outcome.FAIL, f"no answer from the system under test: {type(exc).__name__}: {exc}"
    return Result(scenario=scenario, name=name, outcome=outcome, reason=reason, exchanges=tuple(log.exchanges),
                  seconds=time.monotonic() - started)


__all__ = ["Log", "Verdict", "fail", "not_applicable", "play", "shown"]
