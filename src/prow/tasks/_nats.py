"""The NATS task backend (``nats://``): taskiq-nats's JetStream broker, pull consumers, KV records.

One JetStream stream (``prow-tasks``, or the URL's ``?stream=``) holds every queue, queue ``q``
on the subject ``<stream>.q.<q>``, with work-queue retention: a message is kept until a worker
acknowledges it. taskiq-nats's ``PullBasedJetStreamBroker`` connects, creates the stream and
publishes (``kick``, routed here by the message's queue: taskiq-nats publishes every message on
one subject). Each queue is read by a durable pull consumer of its own, made on first claim.

The lease is JetStream's: a consumer's ``ack_wait``, set from the lease of the first claim on
the queue (later workers share that consumer and its ack wait). A message not acknowledged
within it (its worker died) is delivered again, to any worker: delivery is at least once.
``extend()`` sends "in progress", which restarts that timer. JetStream has no per-message
delay on publish: a message claimed before its eta is given back with ``nak(delay=...)``, and
JetStream delivers it again at its eta. Task records, idempotency keys and periodic slots live
in JetStream key-value buckets: ``<stream>-tasks`` (records, kept ``result_ttl`` seconds, 86400
by default) and ``<stream>-failed`` (dead letters, kept until purged).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
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
    number_option,
    split_options,
)

if TYPE_CHECKING:
    from prow._app import App

__all__ = ["NatsBackend"]


def _digest(text: str) -> str:
    # KV keys allow [-/_=.a-zA-Z0-9]: idempotency keys and period names may hold anything else.
    return hashlib.sha256(text.encode()).hexdigest()


class NatsBackend(Backend):
    """Tasks in a JetStream stream, sent through taskiq-nats (``nats://host:port``)."""

    def __init__(self, url: str) -> None:
        self.url, options = split_options(url, {"stream": "prow-tasks", "result_ttl": "86400"})
        self.stream = options["stream"]
        self.result_ttl = number_option(options, "result_ttl", "nats")
        self._taskiq_nats = import_extra("taskiq_nats", "nats")
        self._api = import_extra("nats.js.api", "nats")
        self._broker: Any = None
        self._records: Any = None
        self._failed: Any = None
        self._consumers: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"NatsBackend({self.url!r}, stream={self.stream!r})"

    def subject(self, queue: str) -> str:
        """The subject ``queue``'s messages are published on."""
        return f"{self.stream}.q.{queue}"

    async def startup(self, app: App | None = None) -> None:
        """Connect, create the stream and the key-value buckets (or reuse them)."""
        if self._broker is not None:
            return
        api = self._api
        broker = _routing_broker(self._taskiq_nats)(
            servers=self.url,
            subject=self.subject("default"),
            stream_name=self.stream,
            stream_config=api.StreamConfig(
                name=self.stream,
                subjects=[f"{self.stream}.q.>"],
                retention=api.RetentionPolicy.WORK_QUEUE,
            ),
        )
        await broker.startup()
        self._broker = broker
        js = broker.js
        self._records = await js.create_key_value(
            bucket=f"{self.stream}-tasks", ttl=self.result_ttl or None
        )
        self._failed = await js.create_key_value(bucket=f"{self.stream}-failed")

    async def shutdown(self) -> None:
        """Close the connection."""
        broker, self._broker = self._broker, None
        self._consumers = {}
        if broker is not None:
            await broker.shutdown()

    @property
    def _js(self) -> Any:
        if self._broker is None:
            raise RuntimeError("the NATS task backend is not started (call startup first)")
        return self._broker.js

    # -- sending ------------------------------------------------------------------------
    async def send(self, messages: Sequence[TaskMessage]) -> list[bool]:
        """Publish each message through taskiq-nats; False when its key was already stored."""
        from nats.js.errors import KeyWrongLastSequenceError
        from taskiq import BrokerMessage

        sent = []
        for message in messages:
            if message.key is not None:
                try:
                    await self._records.create(f"key.{_digest(message.key)}", message.id.encode())
                except KeyWrongLastSequenceError:
                    sent.append(False)
                    continue
            await self._put_record(TaskInfo(message, TaskState.QUEUED))
            await self._broker.kick(
                BrokerMessage(
                    task_id=message.id,
                    task_name=message.task,
                    message=encode_message(message),
                    labels={"queue_name": self.subject(message.queue)},
                )
            )
            sent.append(True)
        return sent

    async def _put_record(self, info: TaskInfo) -> None:
        key = f"task.{info.message.id}"
        if info.state is TaskState.FAILED:
            await self._failed.put(key, encode_info(info).encode())
            with contextlib.suppress(Exception):
                await self._records.delete(key)
        else:
            await self._records.put(key, encode_info(info).encode())

    # -- claiming -----------------------------------------------------------------------
    async def _consumer(self, queue: str, lease: float) -> Any:
        from nats.js.errors import NotFoundError

        consumer = self._consumers.get(queue)
        if consumer is None:
            api = self._api
            durable = f"prow-{_digest(queue)[:16]}"
            config = api.ConsumerConfig(
                durable_name=durable,
                filter_subject=self.subject(queue),
                ack_policy=api.AckPolicy.EXPLICIT,
                ack_wait=lease,
                max_deliver=-1,
            )
            try:  # made by the first worker: its lease is every worker's ack wait
                await self._js.consumer_info(self.stream, durable)
            except NotFoundError:
                await self._js.add_consumer(self.stream, config=config)
            consumer = await self._js.pull_subscribe(
                self.subject(queue), durable=durable, stream=self.stream
            )
            self._consumers[queue] = consumer
        return consumer

    async def claim(
        self, queues: Sequence[str], *, limit: int, lease: float, wait: float = 0.0
    ) -> list[Delivery]:
        """Fetch from each queue's consumer; a message not yet due goes back until its eta."""
        from nats.errors import TimeoutError as NatsTimeout

        deadline = time.monotonic() + wait
        deliveries: list[Delivery] = []
        while True:
            for queue in queues:
                want = limit - len(deliveries)
                if want <= 0:
                    break
                consumer = await self._consumer(queue, lease)
                left = deadline - time.monotonic()
                timeout = max(0.05, left / len(queues)) if not deliveries else 0.05
                try:
                    fetched = await consumer.fetch(want, timeout=timeout)
                except (NatsTimeout, TimeoutError):
                    continue
                for raw in fetched:
                    delivery = await self._deliver(raw)
                    if delivery is not None:
                        deliveries.append(delivery)
            if deliveries or time.monotonic() >= deadline:
                return deliveries

    async def _deliver(self, raw: Any) -> NatsDelivery | None:
        message = decode_message(raw.data)
        if message.eta is not None:
            early = message.eta.timestamp() - time.time()
            if early > 0:
                await raw.nak(delay=early)
                return None
        await self._put_record(TaskInfo(message, TaskState.RUNNING))
        return NatsDelivery(self, message, raw)

    async def claim_period(self, name: str, slot: datetime) -> bool:
        """Create the (name, slot) key: only the first creator succeeds."""
        from nats.js.errors import KeyWrongLastSequenceError

        try:
            await self._records.create(f"period.{_digest(f'{name}@{slot.isoformat()}')}", b"1")
        except KeyWrongLastSequenceError:
            return False
        return True

    # -- records ------------------------------------------------------------------------
    async def get(self, task_id: str) -> TaskInfo | None:
        """The task's record, or None."""
        from nats.js.errors import KeyNotFoundError

        for bucket in (self._failed, self._records):
            try:
                entry = await bucket.get(f"task.{task_id}")
            except KeyNotFoundError:
                continue
            if entry.value:
                return decode_info(entry.value)
        return None

    async def list(
        self, state: TaskState | None = None, queue: str | None = None, limit: int = 100
    ) -> list[TaskInfo]:
        """Records in ``state`` on ``queue`` (None: any), oldest first (a scan of the bucket)."""
        from nats.js.errors import KeyNotFoundError, NoKeysError

        buckets = [self._failed] if state is TaskState.FAILED else [self._failed, self._records]
        infos = []
        for bucket in buckets:
            try:
                keys = await bucket.keys()
            except NoKeysError:
                continue
            for key in keys:
                if not key.startswith("task."):
                    continue
                try:
                    entry = await bucket.get(key)
                except KeyNotFoundError:
                    continue
                if not entry.value:
                    continue
                info = decode_info(entry.value)
                if (state is None or info.state is state) and queue in (None, info.message.queue):
                    infos.append(info)
        infos.sort(key=lambda info: info.message.created_at)
        return infos[:limit]

    async def retry_failed(self, ids: Sequence[str] | None = None) -> int:
        """Send failed tasks again, from their first attempt; how many."""
        chosen = [
            info
            for info in await self.list(TaskState.FAILED, limit=2**31)
            if ids is None or info.message.id in ids
        ]
        for info in chosen:
            await self._failed.delete(f"task.{info.message.id}")
            await self.send([replace(info.message, attempts=0, eta=None, key=None)])
        return len(chosen)

    async def purge(self, state: TaskState | None = None, queue: str | None = None) -> int:
        """Forget records; queued messages leave the stream too. Running ones stay."""
        purged = 0
        for info in await self.list(state, queue, limit=2**31):
            if info.state is TaskState.RUNNING:
                continue
            bucket = self._failed if info.state is TaskState.FAILED else self._records
            await bucket.delete(f"task.{info.message.id}")
            purged += 1
        if state in (None, TaskState.QUEUED):
            subject = self.subject(queue) if queue is not None else None
            await self._js.purge_stream(self.stream, subject=subject)
        return purged

    async def drop(self) -> None:
        """Delete the stream and the buckets (tests; a project's own clean-up)."""
        js = self._js
        for name in (self.stream, f"KV_{self.stream}-tasks", f"KV_{self.stream}-failed"):
            with contextlib.suppress(Exception):
                await js.delete_stream(name)


def _routing_broker(taskiq_nats: Any) -> Any:
    """taskiq-nats's pull broker, publishing on each message's queue subject.

    Its consumer is made per queue by the backend, so the broker's own is not made.
    """

    class RoutingJetStreamBroker(taskiq_nats.PullBasedJetStreamBroker):  # type: ignore[misc]
        async def kick(self, message: Any) -> None:
            await self.js.publish(
                message.labels.get("queue_name", self.subject),
                payload=message.message,
                headers={"task_id": message.task_id, "task_name": message.task_name},
            )

        async def _startup_consumer(self) -> None:
            return None

    return RoutingJetStreamBroker


class NatsDelivery(Delivery):
    """A JetStream message fetched and not yet acknowledged."""

    def __init__(self, backend: NatsBackend, message: TaskMessage, raw: Any) -> None:
        self.backend = backend
        self.message = message
        self.raw = raw

    async def ack(self, result: str | None = None) -> None:
        """Record success (and the result), then acknowledge."""
        info = TaskInfo(self.message, TaskState.SUCCEEDED, result=result, finished_at=utcnow())
        await self.backend._put_record(info)
        await self.raw.ack_sync()

    async def retry(self, eta: datetime, error: str) -> None:
        """Publish the next attempt, due at ``eta``, then acknowledge this one."""
        retry = next_attempt(self.message, eta)
        await self.backend.send([replace(retry, key=None)])
        await self.backend._put_record(TaskInfo(retry, TaskState.QUEUED, error=error))
        await self.raw.ack_sync()

    async def dead_letter(self, error: str) -> None:
        """Keep the task in the failed bucket with its traceback, then acknowledge."""
        info = TaskInfo(self.message, TaskState.FAILED, error=error, finished_at=utcnow())
        await self.backend._put_record(info)
        await self.raw.ack_sync()

    async def release(self) -> None:
        """Give the message back now (``nak``): it is delivered again, same attempt."""
        await self.backend._put_record(TaskInfo(self.message, TaskState.QUEUED))
        await self.raw.nak()

    async def extend(self, lease: float) -> None:
        """Tell JetStream the work goes on: the ack wait starts again."""
        await self.raw.in_progress()
        await asyncio.sleep(0)
