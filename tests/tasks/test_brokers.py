"""The taskiq broker backends (Redis, RabbitMQ, NATS) against the backend contract, for real.

Every test runs on each broker with queues of its own (``_brokers.broker_url``). They call the
contract (``send``/``claim``/the deliveries) as prow's worker does, and assert on what a second
worker sees: at-least-once delivery after a lease runs out, retries at their eta, dead letters
with their traceback, idempotency keys and periodic slots.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from _brokers import KINDS, broker_url, started
from prow.tasks import Backend, TaskMessage, TaskState

pytestmark = pytest.mark.anyio


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture(params=KINDS)
def url(request: pytest.FixtureRequest) -> str:
    return broker_url(request.param)


@pytest.fixture
async def backend(url: str) -> AsyncIterator[Backend]:
    async with started(url) as one:
        yield one


def message(**fields: object) -> TaskMessage:
    return TaskMessage(id=uuid4().hex, task="tests.add", **fields)  # type: ignore[arg-type]


async def claim_all(backend: Backend, queues: list[str], lease: float = 30.0) -> list[TaskMessage]:
    deliveries = await backend.claim(queues, limit=50, lease=lease, wait=1.0)
    return [delivery.message for delivery in deliveries]


async def test_a_sent_message_is_claimed_once_then_acked(backend: Backend) -> None:
    sent = message(args='{"a": 1, "b": 2}', retries=3, timeout=5.0)
    assert await backend.send([sent]) == [True]
    [delivery] = await backend.claim(["default"], limit=10, lease=30.0, wait=2.0)
    assert delivery.message == sent
    assert await backend.claim(["default"], limit=10, lease=30.0, wait=0.3) == []
    await delivery.ack('{"sum": 3}')
    info = await backend.get(sent.id)
    if info is not None:  # RabbitMQ keeps no records without a store
        assert info.state is TaskState.SUCCEEDED
        assert info.result == '{"sum": 3}'


async def test_queues_are_separate(backend: Backend) -> None:
    mail, other = message(queue="mail"), message(queue="other")
    await backend.send([mail, other])
    assert [m.id for m in await claim_all(backend, ["mail"])] == [mail.id]
    assert [m.id for m in await claim_all(backend, ["other", "mail"])] == [other.id]


async def test_claim_waits_at_most_wait_seconds(backend: Backend) -> None:
    started_at = time.monotonic()
    assert await backend.claim(["default"], limit=1, lease=30.0, wait=0.5) == []
    assert time.monotonic() - started_at < 3.0


async def test_a_lease_that_runs_out_hands_the_message_to_another_worker(url: str) -> None:
    async with started(url) as first, started(url) as second:
        sent = message()
        await first.send([sent])
        [held] = await first.claim(["default"], limit=1, lease=1.0, wait=2.0)
        # The first worker "dies": it never acks, its connections close. Once its lease is
        # over (RabbitMQ: once its connection is gone), another worker takes the message.
        await first.shutdown()
        deadline = time.monotonic() + 15
        again: list[TaskMessage] = []
        while not again and time.monotonic() < deadline:
            again = await claim_all(second, ["default"], lease=30.0)
        assert [m.id for m in again] == [sent.id]
        assert held.message.id == sent.id


async def test_extend_keeps_the_lease(url: str) -> None:
    async with started(url) as first, started(url) as second:
        await first.send([message()])
        [held] = await first.claim(["default"], limit=1, lease=2.0, wait=2.0)
        for _ in range(3):
            await held.extend(2.0)
            assert await second.claim(["default"], limit=1, lease=2.0, wait=1.0) == []
        await held.ack()


async def test_retry_runs_again_at_its_eta_with_one_more_attempt(backend: Backend) -> None:
    sent = message(retries=2)
    await backend.send([sent])
    [delivery] = await backend.claim(["default"], limit=1, lease=30.0, wait=2.0)
    await delivery.retry(now() + timedelta(seconds=1.5), "Traceback: boom")
    assert await backend.claim(["default"], limit=1, lease=30.0, wait=0.5) == []
    deadline = time.monotonic() + 10
    again: list[TaskMessage] = []
    while not again and time.monotonic() < deadline:
        again = await claim_all(backend, ["default"])
    assert [(m.id, m.attempts) for m in again] == [(sent.id, 1)]


async def test_a_message_with_an_eta_waits_for_it(backend: Backend) -> None:
    later = message(eta=now() + timedelta(seconds=1.5))
    soon = message()
    await backend.send([later, soon])
    assert [m.id for m in await claim_all(backend, ["default"])] == [soon.id]
    deadline = time.monotonic() + 10
    got: list[TaskMessage] = []
    while not got and time.monotonic() < deadline:
        got = await claim_all(backend, ["default"])
    assert [m.id for m in got] == [later.id]


async def test_dead_letter_keeps_the_traceback(backend: Backend) -> None:
    sent = message()
    await backend.send([sent])
    [delivery] = await backend.claim(["default"], limit=1, lease=30.0, wait=2.0)
    await delivery.dead_letter("Traceback (most recent call last):\nValueError: no")
    assert await backend.claim(["default"], limit=1, lease=30.0, wait=0.5) == []
    [failed] = await backend.list(TaskState.FAILED)
    assert failed.message.id == sent.id
    assert failed.error is not None and "ValueError: no" in failed.error
    assert await backend.retry_failed() == 1
    [again] = await claim_all(backend, ["default"])
    assert again.id == sent.id


async def test_release_gives_the_message_back_same_attempt(backend: Backend) -> None:
    sent = message(attempts=1)
    await backend.send([sent])
    [delivery] = await backend.claim(["default"], limit=1, lease=30.0, wait=2.0)
    await delivery.release()
    [again] = await claim_all(backend, ["default"])
    assert (again.id, again.attempts) == (sent.id, 1)


async def test_a_key_makes_a_second_send_a_no_op(backend: Backend) -> None:
    if getattr(backend, "records", True) is None:  # RabbitMQ without ?store=
        pytest.skip("RabbitMQ keeps no keys without ?store= (the outbox keeps them)")
    key = f"welcome:{uuid4().hex}"
    assert await backend.send([message(key=key)]) == [True]
    assert await backend.send([message(key=key)]) == [False]
    assert len(await claim_all(backend, ["default"])) == 1


async def test_one_caller_per_period(url: str) -> None:
    slot = now().replace(second=0, microsecond=0)
    name = f"tests.tick.{uuid4().hex}"
    async with started(url) as first, started(url) as second:
        won = [await b.claim_period(name, slot) for b in (first, second, first)]
        assert won == [True, False, False]
        assert await second.claim_period(name, slot + timedelta(minutes=1))


async def test_many_messages_in_a_batch(backend: Backend) -> None:
    sent = [message(args=f'{{"n": {n}}}') for n in range(40)]
    assert await backend.send(sent) == [True] * 40
    seen: list[str] = []
    deadline = time.monotonic() + 15
    while len(seen) < 40 and time.monotonic() < deadline:
        for delivery in await backend.claim(["default"], limit=16, lease=30.0, wait=1.0):
            seen.append(delivery.message.id)
            await delivery.ack()
    assert sorted(seen) == sorted(m.id for m in sent)
