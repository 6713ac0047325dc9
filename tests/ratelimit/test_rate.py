"""Parsing limits and the pure GCRA decision (no app, no event loop)."""

from __future__ import annotations

import pytest

from prow import ConfigurationError
from prow.ratelimit import Rate, parse_rate
from prow.ratelimit._rate import MICRO, gcra, result_at


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


def _run(rate: Rate, times: list[float]) -> list[bool]:
    tat: int | None = None
    decisions = []
    for moment in times:
        allowed, new_tat = gcra(tat, int(moment * MICRO), rate)
        if allowed:
            tat = new_tat
        decisions.append(allowed)
    return decisions


def test_gcra_allows_a_burst_of_limit_then_the_sustained_rate() -> None:
    rate = parse_rate("3/minute")  # one request refills every 20 s
    assert _run(rate, [0, 0, 0, 0]) == [True, True, True, False]
    assert _run(rate, [0, 0, 0, 19.9, 20, 20]) == [True, True, True, False, True, False]
    assert _run(rate, [0, 0, 0, 60, 60, 60, 60]) == [True] * 3 + [True] * 3 + [False]


def test_result_counts_remaining_and_waits_exactly() -> None:
    rate = parse_rate("3/minute")
    now = 1_000 * MICRO
    allowed, tat = gcra(None, now, rate)
    first = result_at(rate, allowed, tat, now)
    assert (first.allowed, first.remaining, first.reset_after) == (True, 2, 20.0)
    allowed, tat = gcra(tat, now, rate)
    allowed, tat = gcra(tat, now, rate)
    third = result_at(rate, allowed, tat, now)
    assert (third.remaining, third.reset_after) == (0, 60.0)
    allowed, after = gcra(tat, now, rate)
    denied = result_at(rate, allowed, after, now)
    assert (denied.allowed, denied.remaining, denied.retry_after) == (False, 0, 20.0)


def test_rate_that_does_not_divide_evenly_still_allows_its_limit() -> None:
    rate = parse_rate("7/minute")
    assert _run(rate, [0] * 8) == [True] * 7 + [False]
