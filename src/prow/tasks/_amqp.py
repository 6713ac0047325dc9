"""The RabbitMQ task backend (``amqp://``): taskiq-aio-pika's broker, quorum queues, TTL delays.

taskiq-aio-pika's ``AioPikaBroker`` connects, declares the exchange (``prow.tasks``, or the URL's
``?prefix=``), the queue of each prow queue (``<prefix>.q.<queue>``, durable quorum queues) and
the dead-letter queue (``<prefix>.dead``), and publishes (``kick``, persistent messages).
Workers consume with manual acknowledgement and a prefetch of ``limit``.

The lease is RabbitMQ's: a message delivered and not acknowledged belongs to its consumer's
connection. When the worker dies (``kill -9``, a lost machine) the connection closes and
RabbitMQ queues the message again at once: delivery is at least once. A worker that hangs but
stays connected keeps its messages until RabbitMQ's ``consumer_timeout`` (30 minutes by
default) closes its channel: the ``lease`` of a claim is not a clock here, and ``extend()`` has
nothing to do.

A message due later (an eta, a retry's backoff) waits in a delay queue whose messages all live
the same time (``x-message-ttl``, rounded up to 0.1 s below 10 s, to 1 s below 10 minutes, to
a minute beyond) and are then dead-lettered to their queue; an unused delay queue deletes
itself (``x-expires``). taskiq-aio-pika's own delay queue gives each message its TTL, but
RabbitMQ expires messages only from the head of a queue, so a short delay waits behind a long
one, and it sends every delayed message to one routing key, whatever its queue.

RabbitMQ keeps no records: without a store, ``get()`` knows no task and ``list()`` lists the
dead letters only (read from the dead-letter queue, which holds each failed task with its
traceback). ``?store=redis://...`` keeps the records in Redis as the Redis backend does, for
``handle.status()`` and results.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from prow.tasks._backend import Backend, Delivery, TaskInfo, TaskMessage, TaskState, utcnow
from prow.tasks._taskiq import (
    decode_info,
    decode_message,
    encode_info,
    encode_message,
    import_extra,
    next_attempt,
    split_options,
)

if TYPE_CHECKING:
    from prow._app import App
    from prow.tasks._redis import RedisBackend

__all__ = ["AmqpBackend"]


def delay_bucket(seconds: float) -> int:
    """The delay queue's TTL (milliseconds) for a delay: never shorter than asked."""
    if seconds < 10:
        return math.ceil(seconds * 10) * 100
    if seconds < 600:
        return math.ceil(seconds) * 1000
    return math.ceil(seconds / 60) * 60_000


class AmqpBackend(Backend):
    """Tasks in RabbitMQ queues, sent through taskiq-aio-pika (``amqp://user:pass@host/vhost``)."""

    def __init__(self, url: str) -> None:
        self.url, options = split_options(url, {"prefix": "prow.tasks", "store": ""})
        self.prefix = options["prefix"]
        self._taskiq_aio_pika = import_extra("taskiq_aio_pika", "amqp")
        self.records: RedisBackend | None = None
        if options["store"]:
            from prow.tasks._redis import RedisBackend

            self.records = RedisBackend(options["store"])
        self._broker: Any = None
        self._read: Any = None  # the channel workers consume on
        self._queues: dict[str, Any] = {}  # prow queue -> declared aio-pika queue
        self._buffers: dict[str, asyncio.Queue[Any]] = {}
        self._arrived: asyncio.Event | None = None
        self._delay_queues: set[str] = set()
        self._period_queues: set[str] = set()

    def __repr__(self) -> str:
        return f"AmqpBackend({self.url!r}, prefix={self.prefix!r})"

    def queue_name(self, queue: str) -> str:
        """The RabbitMQ queue of the prow queue ``queue``."""
        return f"{self.prefix}.q.{queue}"

    @property
    def dead_letters(self) -> str:
        """The queue that keeps failed tasks."""
        return f"{self.prefix}.dead"

    # -- life ---------------------------------------------------------------------------
    async def startup(self, app: App | None = None) -> None:
        """Connect and declare the exchange, the default queue and the dead-letter queue."""
        if self._broker is not None:
            return
        pika = self._taskiq_aio_pika
        broker = pika.AioPikaBroker(
            self.url,
            exchange=pika.Exchange(name=self.prefix),
            task_queues=[pika.Queue(name=self.queue_name("default"))],
            dead_letter_queue=pika.Queue(name=self.dead_letters),
        )
        await broker.startup()
        self._broker = broker
        self._arrived = asyncio.Event()
        if self.records is not None:
            await self.records.startup(app)

    async def shutdown(self) -> None:
        """Close the channels and connections (unacknowledged messages go back to queues)."""
        broker, self._broker = self._broker, None
        read, self._read = self._read, None
        self._queues, self._buffers = {}, {}
        if read is not None:
            with contextlib.suppress(Exception):
                await read.close()
        if broker is not None:
            await broker.shutdown()
        if self.records is not None:
            await self.records.shutdown()

    @property
    def _channel(self) -> Any:
        if self._broker is None:
            raise RuntimeError("the RabbitMQ task backend is not started (call startup first)")
        return self._broker.write_channel

    async def _declare(self, queue: str) -> None:
        """Declare ``queue``'s RabbitMQ queue as taskiq-aio-pika does, and route to it."""
        name = self.queue_name(queue)
        if any(known.name == name for known in self._broker._task_queues):
            return
        pika = self._taskiq_aio_pika
        declared = await self._channel.declare_queue(
            name,
            durable=True,
            arguments={
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": self.dead_letters,
                "x-queue-type": "quorum",
            },
        )
        await declared.bind(self.prefix, routing_key=name)
        self._broker.with_queue(pika.Queue(name=name, declare=False))

    # -- sending ------------------------------------------------------------------------
    async def send(self, messages: Sequence[TaskMessage]) -> list[bool]:
        """Publish each message (to a delay queue when due later); False: its key was seen."""
        from taskiq import BrokerMessage

        sent = []
        for message in messages:
            keys = self.records
            if message.key is not None and keys is not None and not await keys.take_key(message):
                sent.append(False)
                continue
            await self._declare(message.queue)
            if self.records is not None:
                await self.records._put_record(TaskInfo(message, TaskState.QUEUED))
            delay = message.eta.timestamp() - time.time() if message.eta else 0.0
            if delay > 0:
                await self._publish_later(message, delay)
            else:
                await self._broker.kick(
                    BrokerMessage(
                        task_id=message.id,
                        task_name=message.task,
                        message=encode_message(message),
                        labels={"queue_name": self.queue_name(message.queue)},
                    )
                )
            sent.append(True)
        return sent

    async def _publish_later(self, message: TaskMessage, delay: float) -> None:
        from aio_pika import DeliveryMode, Message

        ttl = delay_bucket(delay)
        target = self.queue_name(message.queue)
        name = f"{self.prefix}.delay.{message.queue}.{ttl}"
        # Declared before each publish: an unused delay queue deletes itself (x-expires), and
        # a message published to a queue that is gone would be dropped without a word.
        await self._channel.declare_queue(
            name,
            durable=True,
            arguments={
                "x-message-ttl": ttl,
                "x-dead-letter-exchange": self.prefix,
                "x-dead-letter-routing-key": target,
                "x-expires": ttl + 60_000,
            },
        )
        self._delay_queues.add(name)
        body = Message(encode_message(message), delivery_mode=DeliveryMode.PERSISTENT)
        await self._channel.default_exchange.publish(body, routing_key=name)

    # -- claiming -----------------------------------------------------------------------
    async def _consume(self, queue: str, prefetch: int) -> asyncio.Queue[Any]:
        buffer = self._buffers.get(queue)
        if buffer is not None:
            return buffer
        if self._read is None:
            self._read = await self._broker.write_conn.channel()
            await self._read.set_qos(prefetch_count=prefetch)
        await self._declare(queue)
        declared = await self._read.get_queue(self.queue_name(queue), ensure=False)
        buffer = asyncio.Queue()
        arrived = self._arrived
        assert arrived is not None

        async def on_message(incoming: Any) -> None:
            buffer.put_nowait(incoming)
            arrived.set()

        await declared.consume(on_message, no_ack=False)
        self._buffers[queue] = buffer
        return buffer

    async def claim(
        self, queues: Sequence[str], *, limit: int, lease: float, wait: float = 0.0
    ) -> list[Delivery]:
        """Messages the consumers received (each held until acked or the connection ends)."""
        buffers = [await self._consume(queue, limit) for queue in queues]
        arrived = self._arrived
        assert arrived is not None
        deadline = time.monotonic() + wait
        while True:
            arrived.clear()
            deliveries: list[Delivery] = []
            for buffer in buffers:
                while len(deliveries) < limit and not buffer.empty():
                    deliveries.append(await self._deliver(buffer.get_nowait()))
            if not deliveries:
                deliveries = await self._get(queues, limit)
            left = deadline - time.monotonic()
            if deliveries or left <= 0:
                return deliveries
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(arrived.wait(), left)

    async def _get(self, queues: Sequence[str], limit: int) -> list[Delivery]:
        """``basic.get``: what the queues hold now, that the consumers were not yet sent."""
        deliveries: list[Delivery] = []
        for queue in queues:
            declared = await self._read.get_queue(self.queue_name(queue), ensure=False)
            while len(deliveries) < limit:
                incoming = await declared.get(no_ack=False, fail=False)
                if incoming is None:
                    break
                deliveries.append(await self._deliver(incoming))
        return deliveries

    async def _deliver(self, incoming: Any) -> AmqpDelivery:
        message = decode_message(incoming.body)
        if self.records is not None:
            await self.records._put_record(TaskInfo(message, TaskState.RUNNING))
        return AmqpDelivery(self, message, incoming)

    async def claim_period(self, name: str, slot: datetime) -> bool:
        """One winner per slot: in the store, or else a queue declared exclusively."""
        if self.records is not None:
            return await self.records.claim_period(name, slot)
        from aio_pika import DeliveryMode, Message
        from aio_pika.exceptions import DeliveryError

        # No store: a queue per slot that holds one message and refuses the next
        # (reject-publish): the publisher whose message RabbitMQ confirms wins. The queue goes
        # away a day after its last use.
        name = f"{self.prefix}.period.{name}.{slot.isoformat()}"
        await self._channel.declare_queue(
            name,
            durable=True,
            arguments={"x-max-length": 1, "x-overflow": "reject-publish", "x-expires": 86_400_000},
        )
        self._period_queues.add(name)
        body = Message(b"taken", delivery_mode=DeliveryMode.PERSISTENT)
        try:
            await self._channel.default_exchange.publish(body, routing_key=name)
        except DeliveryError:
            return False
        return True

    # -- records ------------------------------------------------------------------------
    async def get(self, task_id: str) -> TaskInfo | None:
        """The task's record from the store; None without a store."""
        return None if self.records is None else await self.records.get(task_id)

    async def _dead_letters(self, channel: Any, limit: int) -> list[tuple[Any, TaskInfo]]:
        queue = await channel.declare_queue(self.dead_letters, durable=True, passive=True)
        found: list[tuple[Any, TaskInfo]] = []
        while len(found) < limit:
            incoming = await queue.get(no_ack=False, fail=False)
            if incoming is None:
                break
            found.append((incoming, decode_info(incoming.body)))
        return found

    async def list(
        self, state: TaskState | None = None, queue: str | None = None, limit: int = 100
    ) -> list[TaskInfo]:
        """From the store; without one, the dead letters only (read, then given back)."""
        if self.records is not None:
            return await self.records.list(state, queue, limit)
        if state not in (None, TaskState.FAILED):
            return []
        channel = await self._broker.write_conn.channel()
        try:
            found = await self._dead_letters(channel, 2**31)
        finally:
            await channel.close()  # every message read goes back, unacknowledged
        infos = [info for _m, info in found if queue in (None, info.message.queue)]
        return infos[:limit]

    async def retry_failed(self, ids: Sequence[str] | None = None) -> int:
        """Send dead letters again, from their first attempt; how many."""
        channel = await self._broker.write_conn.channel()
        count = 0
        try:
            for incoming, info in await self._dead_letters(channel, 2**31):
                if ids is None or info.message.id in ids:
                    fresh = replace(info.message, attempts=0, eta=None, key=None)
                    await self.send([fresh])
                    await incoming.ack()
                    count += 1
        finally:
            await channel.close()
        return count

    async def purge(self, state: TaskState | None = None, queue: str | None = None) -> int:
        """Empty the dead-letter queue (failed) and the task queues (queued)."""
        count = 0
        if self.records is not None:
            count = await self.records.purge(state, queue)
        names = []
        if state in (None, TaskState.FAILED):
            names.append(self.dead_letters)
        if state in (None, TaskState.QUEUED):
            queues = [queue] if queue else [q.name for q in self._broker._task_queues]
            names.extend(self.queue_name(q) if queue else q for q in queues)
        channel = await self._broker.write_conn.channel()
        try:
            for name in names:
                declared = await channel.declare_queue(name, durable=True, passive=True)
                purged = await declared.purge()
                count += purged.message_count if self.records is None else 0
        finally:
            await channel.close()
        return count

    async def drop(self) -> None:
        """Delete this backend's queues and exchange (tests; a project's own clean-up)."""
        if self.records is not None:
            await self.records.drop()
        channel = await self._broker.write_conn.channel()
        try:
            names = {q.name for q in self._broker._task_queues} | {self.dead_letters}
            for name in names | self._delay_queues | self._period_queues:
                with contextlib.suppress(Exception):
                    await channel.queue_delete(name)
            with contextlib.suppress(Exception):
                await channel.exchange_delete(self.prefix)
        finally:
            with contextlib.suppress(Exception):
                await channel.close()


class AmqpDelivery(Delivery):
    """A message delivered to this worker's consumer and not yet acknowledged."""

    def __init__(self, backend: AmqpBackend, message: TaskMessage, incoming: Any) -> None:
        self.backend = backend
        self.message = message
        self.incoming = incoming

    async def _record(self, info: TaskInfo) -> None:
        if self.backend.records is not None:
            await self.backend.records._put_record(info)

    async def ack(self, result: str | None = None) -> None:
        """Record success (with a store), then acknowledge."""
        await self._record(
            TaskInfo(self.message, TaskState.SUCCEEDED, result=result, finished_at=utcnow())
        )
        await self.incoming.ack()

    async def retry(self, eta: datetime, error: str) -> None:
        """Publish the next attempt through a delay queue, then acknowledge this one."""
        retry = next_attempt(self.message, eta)
        await self.backend.send([replace(retry, key=None)])
        await self._record(TaskInfo(retry, TaskState.QUEUED, error=error))
        await self.incoming.ack()

    async def dead_letter(self, error: str) -> None:
        """Publish the task with its traceback to the dead-letter queue, then acknowledge."""
        from aio_pika import DeliveryMode, Message

        info = TaskInfo(self.message, TaskState.FAILED, error=error, finished_at=utcnow())
        body = Message(encode_info(info).encode(), delivery_mode=DeliveryMode.PERSISTENT)
        await self.backend._channel.default_exchange.publish(
            body, routing_key=self.backend.dead_letters
        )
        await self._record(info)
        await self.incoming.ack()

    async def release(self) -> None:
        """Give the message back to its queue (``nack`` with requeue), same attempt."""
        await self._record(TaskInfo(self.message, TaskState.QUEUED))
        await self.incoming.nack(requeue=True)

    async def extend(self, lease: float) -> None:
        """Nothing to do: the message is this worker's while its connection lives."""
