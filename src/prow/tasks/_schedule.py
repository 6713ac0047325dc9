"""When periodic tasks are due: the period (a "slot") a moment falls in, for cron or ``every``.

Every worker computes the same slots, and ``Backend.claim_period`` lets one of them start
each slot: a period runs once however many workers there are.
"""

from __future__ import annotations

import datetime

__all__ = ["check_cron", "current_slot", "next_slot"]

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def check_cron(expression: str) -> str | None:
    """None if ``expression`` is a valid cron expression, else what is wrong with it."""
    from croniter import croniter  # type: ignore[import-untyped]

    if not croniter.is_valid(expression):
        return f"{expression!r} is not a cron expression (e.g. '*/5 * * * *')"
    return None


def current_slot(
    now: datetime.datetime, schedule: str | None, every: datetime.timedelta | None
) -> datetime.datetime:
    """The start of the period ``now`` is in (UTC)."""
    if every is not None:
        step = every.total_seconds()
        seconds = (now - _EPOCH).total_seconds()
        return _EPOCH + datetime.timedelta(seconds=seconds - seconds % step)
    from croniter import croniter

    assert schedule is not None
    # A moment exactly on a slot belongs to it: step back from just after now.
    later = now + datetime.timedelta(microseconds=1)
    previous: datetime.datetime = croniter(schedule, later).get_prev(datetime.datetime)
    return previous


def next_slot(
    now: datetime.datetime, schedule: str | None, every: datetime.timedelta | None
) -> datetime.datetime:
    """The start of the next period after ``now``."""
    if every is not None:
        return current_slot(now, None, every) + every
    from croniter import croniter

    assert schedule is not None
    following: datetime.datetime = croniter(schedule, now).get_next(datetime.datetime)
    return following
