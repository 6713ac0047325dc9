"""Parsing limits and the GCRA decision (through the memory store with a stopped clock)."""

from __future__ import annotations

import anyio
import pytest

from prow import ConfigurationError
from prow.ratelimit import MemoryRateLimitStore, Rate, RateLimitResult, parse_rate


@pytest.mark.parametrize(
    ("spec", "limit", "period", "text"),
    [
        ("5/minute", 5, 60, "5 per 1 minute"),
        ("100/hour", 100, 3600, "100 per 1 hour"),
        ("10/second", 10, 1, "10 per 1 second"),
        ("1000/day", 1000, 86400, "1000 per 1 day"),
        ("20/5 minutes", 20, 300, "20 per 5 minutes"),
        ("20 / 5minutes", 20, 300, "20 per 5 minutes"),
        ("3 per hour", 3, 3600, "3 per 1 hour"),
        ("7/2h", 7, 7200, "7 per 2 hours"),
        ("1/s", 1, 1, "1 per 1 second"),
        ("4/MINUTE", 4, 60, "4 per 1 minute"),
    ],
)
def test_parse_valid_limits(spec: str, limit: int, period: int, text: str) -> None:
    assert parse_rate(spec) == Rate(limit, period, text)


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "5",
        "five/minute",
        "5/fortnight",
        "5/ms",
        "5//minute",
        "-1/minute",
        "0/minute",
        "5/0 minutes",
        "5/minute extra",
        "1.5/minute",
    ],
)
def test_malformed_limits_name_the_format(spec: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_rate(spec)
    assert info.value.code == "prow.E140"
    assert repr(spec) in info.value.message
    assert "'5/minute'" in info.value.message


def _hits(rate: Rate, times: list[float]) -> list[RateLimitResult]:
    """One client's requests at ``times`` (seconds) through a store with a stopped clock."""
    now = [1_000.0]
    store = MemoryRateLimitStore(clock=lambda: now[0])

    async def run() -> list[RateLimitResult]:
        results = []
        for moment in times:
            now[0] = 1_000.0 + moment
            results.append(await store.hit("client", rate))
        return results

    return anyio.run(run)


def _run(rate: Rate, times: list[float]) -> list[bool]:
    return [result.allowed for result in _hits(rate, times)]


def test_gcra_allows_a_burst_of_limit_then_the_sustained_rate() -> None:
    rate = parse_rate("3/minute")  # one request refills every 20 s
    assert _run(rate, [0, 0, 0, 0]) == [True, True, True, False]
    assert _run(rate, [0, 0, 0, 19.9, 20, 20]) == [True, True, True, False, True, False]
    assert _run(rate, [0, 0, 0, 60, 60, 60, 60]) == [True] * 3 + [True] * 3 + [False]


def test_result_counts_remaining_and_waits_exactly() -> None:
    first, _, third, denied = _hits(parse_rate("3/minute"), [0, 0, 0, 0])
    assert (first.allowed, first.remaining, first.reset_after) == (True, 2, 20.0)
    assert (third.remaining, third.reset_after) == (0, 60.0)
    assert (denied.allowed, denied.remaining, denied.retry_after) == (False, 0, 20.0)


def test_rate_that_does_not_divide_evenly_still_allows_its_limit() -> None:
    rate = parse_rate("7/minute")
    assert _run(rate, [0] * 8) == [True] * 7 + [False]
