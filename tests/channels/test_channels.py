"""prow.channels against each backend: publish, subscribe, replay, across "workers"."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, Table

from channels._helpers import BACKENDS, backend_url, fresh_channel
from prow import App, ConfigurationError
from prow.channels import (
    ChannelError,
    ChannelMessage,
    Channels,
    MemoryChannelBackend,
    SlowSubscriber,
)
from prow.db import makemigrations
from prow.testing import TestClient


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), 20))


async def take(subscription: Any, count: int) -> list[ChannelMessage]:
    got = []
    async with asyncio.timeout(5):
        async for message in subscription:
            got.append(message)
            if len(got) == count:
                break
    return got


@pytest.mark.parametrize("kind", BACKENDS)
def test_a_subscriber_receives_what_is_published_after_it_started(kind: str) -> None:
    url = backend_url(kind)

    async def main() -> None:
        channels = Channels(url)
        room, other = fresh_channel(), fresh_channel()
        try:
            async with channels.subscribe(room) as subscription:
                await channels.publish(other, "not for this room")
                sent = [await channels.publish(room, {"n": n}) for n in range(3)]
                got = await take(subscription, 3)
            assert [m.data for m in got] == [{"n": 0}, {"n": 1}, {"n": 2}]
            assert [m.id for m in got] == [m.id for m in sent]
            assert {m.channel for m in got} == {room}
        finally:
            await channels.aclose()

    run(main)


@pytest.mark.parametrize("kind", ["redis", "postgres"])
def test_a_message_crosses_from_one_worker_to_another(kind: str) -> None:
    # Two Channels with their own connections: as two worker processes would have.
    url = backend_url(kind)

    async def main() -> None:
        worker_a, worker_b = Channels(url), Channels(url)
        room = fresh_channel()
        try:
            async with worker_a.subscribe(room) as on_a, worker_b.subscribe(room) as on_b:
                await worker_b.publish(room, "hello from b")
                assert [m.data for m in await take(on_a, 1)] == ["hello from b"]
                assert [m.data for m in await take(on_b, 1)] == ["hello from b"]
        finally:
            await worker_a.aclose()
            await worker_b.aclose()

    run(main)


@pytest.mark.parametrize("kind", BACKENDS)
def test_last_event_id_replays_what_was_missed_then_goes_live(kind: str) -> None:
    url = backend_url(kind)

    async def main() -> None:
        channels = Channels(url, history=3)
        room = fresh_channel()
        try:
            first = await channels.publish(room, 0)
            for n in range(1, 6):
                await channels.publish(room, n)
            async with channels.subscribe(room, last_event_id=first.id) as subscription:
                await channels.publish(room, 6)
                got = []
                async with asyncio.timeout(5):
                    async for message in subscription:
                        got.append(message.data)
                        if message.data == 6:
                            break
            # History keeps the last 3 (Redis trims approximately: at least 3), in order.
            assert got[-4:] == [3, 4, 5, 6]
            assert got == list(range(got[0], 7))
            assert kind == "redis" or got == [3, 4, 5, 6]
        finally:
            await channels.aclose()

    run(main)


@pytest.mark.parametrize("kind", ["redis", "postgres"])
def test_large_and_unicode_payloads_arrive_whole(kind: str) -> None:
    url = backend_url(kind)

    async def main() -> None:
        channels = Channels(url)
        room = fresh_channel()
        big = {"text": "é\n" * 6000, "nested": [1, None, True]}  # past a NOTIFY's 8000 bytes
        try:
            async with channels.subscribe(room) as subscription:
                await channels.publish(room, big)
                await channels.publish(room, "après")
                got = await take(subscription, 2)
            assert [m.data for m in got] == [big, "après"]
        finally:
            await channels.aclose()

    run(main)


def test_bad_channel_names_and_event_ids_are_refused() -> None:
    async def main() -> None:
        channels = Channels()
        for name in ["", "has space", "new\nline", "x" * 201, "é"]:
            with pytest.raises(ChannelError):
                await channels.publish(name, 1)
            with pytest.raises(ChannelError):
                channels.subscribe(name)
        with pytest.raises(ChannelError):
            await channels.subscribe("room", last_event_id="abc").start()
        await channels.aclose()

    run(main)


def test_a_slow_subscriber_is_dropped_and_catches_up_from_history() -> None:
    async def main() -> None:
        channels = Channels(queue_size=2)
        async with channels.subscribe("room") as subscription:
            for n in range(5):
                await channels.publish("room", n)
            await asyncio.sleep(0)  # the memory backend delivers on the loop
            got = [(await anext(subscription)).data, (await anext(subscription)).data]
            with pytest.raises(SlowSubscriber):
                await anext(subscription)
        assert got == [0, 1]
        resumed = channels.subscribe("room", last_event_id=subscription.last_id)
        assert [m.data for m in await take(resumed, 3)] == [2, 3, 4]
        await channels.aclose()

    run(main)


def test_configuration_mistakes_fail_with_codes() -> None:
    with pytest.raises(ConfigurationError) as exc:
        Channels("kafka://broker")
    assert exc.value.code == "prow.E340"
    with pytest.raises(ConfigurationError) as exc:
        Channels(object())  # type: ignore[arg-type]
    assert exc.value.code == "prow.E340"
    with pytest.raises(ConfigurationError) as exc:
        Channels(history=0)
    assert exc.value.code == "prow.E341"
    with pytest.raises(ConfigurationError) as exc:
        Channels(timeout=0)
    assert exc.value.code == "prow.E342"
    assert isinstance(Channels().backend, MemoryChannelBackend)


def test_migrations_leave_the_postgres_history_table_alone(tmp_path: Path) -> None:
    """``prow makemigrations`` never proposes to drop the table the backend made itself."""
    url = backend_url("postgres")

    async def publish() -> None:
        channels = Channels(url)
        await channels.publish(fresh_channel(), "makes the table")
        await channels.aclose()

    run(publish)
    models = MetaData()
    Table("channels_probe", models, Column("id", Integer, primary_key=True))
    written = makemigrations("probe", url=url, directory=tmp_path / "migrations", models=models)
    assert written is not None
    source = written.read_text()
    assert "channels_probe" in source
    assert "prow_channel_messages" not in source


def test_a_route_that_asks_for_channels_gets_the_default_installed() -> None:
    app = App()

    @app.post("/ping", status_code=202)
    async def ping(channels: Channels) -> str:
        return (await channels.publish("pings", "pong")).id

    with TestClient(app) as client:
        assert client.post("/ping").json() == "1"
        assert isinstance(app.extension(Channels).backend, MemoryChannelBackend)
        ready = client.get("/readyz").json()
        assert ready["checks"]["Channels"] == "ok"
