"""Rates ("5/minute") and the GCRA decision every store makes, as pure functions.

Why GCRA (the Generic Cell Rate Algorithm) rather than a window counter: it keeps ONE
integer per client (the "theoretical arrival time", TAT), so memory and Redis traffic are
the least possible, and it is exact — there is no window boundary at which a client can
spend two windows' worth of requests back to back (the fixed-window flaw), and no
estimate to be wrong (the sliding-window approximation's flaw). ``n`` per ``period`` is
a bucket of ``n`` requests that refills one request every ``period / n``: a client may
burst ``n`` at once, then continues at the sustained rate.

Times are integer microseconds, so the arithmetic is exact here and in Redis's Lua
(whose numbers are doubles: integers up to 2**53 µs, some 285 years, are exact).
"""

from __future__ import annotations

import dataclasses
import math
import re

from prow._exceptions import ConfigurationError

__all__ = ["Rate", "RateLimitResult", "ceil_seconds", "gcra", "parse_rate", "result_at"]

MICRO = 1_000_000

_UNITS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hr": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
}
_UNIT_NAMES = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}
_SPEC = re.compile(r"^\s*(\d+)\s*(?:/|per\s)\s*(\d+)?\s*([a-z]+)\s*$", re.IGNORECASE)


@dataclasses.dataclass(frozen=True, slots=True)
class Rate:
    """``limit`` requests per ``period`` seconds; ``text`` reads "5 per 1 minute"."""

    limit: int
    period: int
    text: str

    @property
    def period_us(self) -> int:
        return self.period * MICRO

    @property
    def interval_us(self) -> int:
        """Microseconds between two requests at the sustained rate (at least 1)."""
        return max(1, self.period_us // self.limit)


@dataclasses.dataclass(frozen=True, slots=True)
class RateLimitResult:
    """The outcome of one request against a limit.

    ``remaining`` requests may follow at once; ``retry_after`` is how many seconds to
    wait before the next one is allowed (0 when this one was); ``reset_after`` is how
    many seconds until the whole limit is available again.
    """

    allowed: bool
    limit: int
    remaining: int
    retry_after: float
    reset_after: float


def parse_rate(spec: str) -> Rate:
    """``"5/minute"``, ``"100/hour"``, ``"20/5 minutes"`` or ``"10 per second"`` as a ``Rate``.

    Raises ``ConfigurationError`` (``prow.E140``) naming the expected format otherwise.
    """
    match = _SPEC.match(spec) if isinstance(spec, str) else None
    unit = _unit(match.group(3).lower()) if match else None
    if match is None or unit is None:
        raise ConfigurationError(
            "prow.E140",
            f"rate limit {spec!r} is not valid; write COUNT/PERIOD such as '5/minute', "
            "'100/hour', '10/second', '1000/day' or '20/5 minutes'.",
        )
    limit, count = int(match.group(1)), int(match.group(2) or 1)
    if limit < 1 or count < 1:
        raise ConfigurationError(
            "prow.E140",
            f"rate limit {spec!r} must allow at least 1 request per a period of at least 1; "
            "write e.g. '5/minute'.",
        )
    name = _UNIT_NAMES[unit] + ("s" if count != 1 else "")
    return Rate(limit, count * unit, f"{limit} per {count} {name}")


def _unit(word: str) -> int | None:
    """Seconds in a unit word; plurals of full words ("minutes", "hrs"), not of "m"/"s"."""
    if word in _UNITS:
        return _UNITS[word]
    if word.endswith("s") and len(word) > 2:
        return _UNITS.get(word[:-1])
    return None


def gcra(stored: int | None, now: int, rate: Rate) -> tuple[bool, int]:
    """Decide one request: ``(allowed, tat)`` where ``tat`` is the TAT after the decision.

    ``stored`` is the client's TAT (None when unknown); store ``tat`` only when allowed.
    """
    tat = now if stored is None or stored < now else stored
    new_tat = tat + rate.interval_us
    if new_tat - rate.period_us > now:
        return False, tat
    return True, new_tat


def result_at(rate: Rate, allowed: bool, tat: int, now: int) -> RateLimitResult:
    """The ``RateLimitResult`` for a decision (shared by every store, so all agree)."""
    interval, period = rate.interval_us, rate.period_us
    if allowed:
        remaining = min(rate.limit, (now - tat + period) // interval)
        return RateLimitResult(True, rate.limit, remaining, 0.0, (tat - now) / MICRO)
    retry = (tat + interval - period - now) / MICRO
    return RateLimitResult(False, rate.limit, 0, retry, (tat - now) / MICRO)


def ceil_seconds(value: float) -> int:
    """Whole seconds for a header, at least 1 (a client told "0" would retry at once)."""
    return max(1, math.ceil(value))
