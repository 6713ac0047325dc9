"""MemoryStore: an injectable clock, expiry and a bounded number of keys."""

from __future__ import annotations

import anyio

from prow.ratelimit import MemoryStore, parse_rate


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_window_refills_with_the_clock() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    rate = parse_rate("2/minute")

    async def hits(count: int) -> list[bool]:
        return [(await store.hit("k", rate)).allowed for _ in range(count)]

    assert anyio.run(hits, 3) == [True, True, False]
    clock.now += 30  # one request refilled
    assert anyio.run(hits, 2) == [True, False]
    clock.now += 60  # fully refilled
    assert anyio.run(hits, 3) == [True, True, False]


def test_refilled_keys_are_forgotten_and_memory_is_capped() -> None:
    clock = Clock()
    store = MemoryStore(max_keys=10, clock=clock)
    rate = parse_rate("5/minute")

    async def flood() -> None:
        for n in range(100):
            await store.hit(f"client-{n}", rate)

    anyio.run(flood)
    assert len(store) <= 10
    clock.now += 61  # every key has refilled: a sweep drops them all
    anyio.run(store.hit, "new", rate)
    assert len(store) == 1


def test_reset_forgets_a_key() -> None:
    store = MemoryStore(clock=Clock())
    rate = parse_rate("1/hour")

    async def run() -> list[bool]:
        first = (await store.hit("k", rate)).allowed
        second = (await store.hit("k", rate)).allowed
        await store.reset("k")
        third = (await store.hit("k", rate)).allowed
        return [first, second, third]

    assert anyio.run(run) == [True, False, True]
