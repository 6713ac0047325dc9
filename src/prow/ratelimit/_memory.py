"""An in-process rate-limit store: one worker's memory, bounded."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

from prow.ratelimit._rate import MICRO, Rate, RateLimitResult, gcra, result_at

__all__ = ["MemoryRateLimitStore"]

#: Seconds between sweeps of expired keys (a sweep looks at every key once).
_SWEEP_EVERY = 10 * MICRO


class MemoryRateLimitStore:
    """Counters in this process's memory: right for one worker, tests and development.

    Each worker of a multi-process server keeps its own counts, so a client may get
    ``limit`` requests per worker; use ``RedisRateLimitStore`` to share them.

    Memory stays bounded: keys whose state has fully refilled are forgotten (they are
    the same as a new client), and past ``max_keys`` the least recently seen keys are
    dropped. The cap defends against a flood of distinct keys (spoofed users, many
    IPv6 addresses) growing memory without limit; its cost is that a dropped client's
    count restarts. ``clock`` (seconds, monotonic) is injectable for tests.
    """

    def __init__(
        self, *, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_keys < 1:
            raise ValueError("MemoryRateLimitStore(max_keys=...) must be at least 1")
        self.max_keys = max_keys
        self._clock = clock
        #: key -> theoretical arrival time (µs); insertion order is recency of use.
        self._tats: dict[str, int] = {}
        self._next_sweep = 0

    def __len__(self) -> int:
        return len(self._tats)

    async def hit(self, key: str, rate: Rate) -> RateLimitResult:
        """Count one request of ``key``; decides and records without awaiting (atomic)."""
        now = int(self._clock() * MICRO)
        tats = self._tats
        if now >= self._next_sweep or len(tats) >= self.max_keys:
            self._sweep(now)
        stored = tats.pop(key, None)
        allowed, tat = gcra(stored, now, rate)
        if allowed:
            tats[key] = tat
        elif stored is not None:
            tats[key] = stored
        return result_at(rate, allowed, tat, now)

    async def reset(self, key: str) -> None:
        """Forget ``key``'s count (e.g. after a successful login)."""
        self._tats.pop(key, None)

    def _sweep(self, now: int) -> None:
        tats = self._tats
        for key in [key for key, tat in tats.items() if tat <= now]:
            del tats[key]
        excess = len(tats) - self.max_keys * 9 // 10
        if excess > 0:
            # Evict down to 90% so the next sweep is not on the very next request.
            for key in list(itertools.islice(tats, excess)):
                del tats[key]
        self._next_sweep = now + _SWEEP_EVERY
