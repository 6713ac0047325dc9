"""The Redis task backend (``redis://``): taskiq-redis's stream broker and Redis consumer groups.

Each queue is a Redis stream that taskiq-redis's ``RedisStreamBroker`` writes (``kick``) and
whose consumer group it declares. Workers read with ``XREADGROUP``: a message read and not yet
acknowledged stays in the group's pending list, and one whose lease passed (its worker died)
is taken over with ``XAUTOCLAIM`` by the next worker that claims: delivery is at least once.

What taskiq-redis does not give, and why this module reads the streams itself:

- ``RedisStreamBroker.listen()`` looks for abandoned messages only after a read that returned
  something: on a quiet queue a message whose worker was killed is never handed out again
  (``tests/tasks/test_taskiq_redis.py::test_taskiq_listen_leaves_a_dead_workers_message`` shows
  it). It also has no bounded wait and yields no message id, so a lease cannot be extended.
- taskiq's Redis schedule sources keep time-based schedules by the minute, too coarse for a
  retry's backoff of seconds. A message due later waits in a sorted set scored by its eta; the
  worker that claims moves the due ones to their stream in one Lua script (atomic: a message is
  never lost nor doubled between the two).

Task records (state, result, traceback) are JSON strings beside the streams, indexed by state
in sorted sets, so ``prow tasks`` can list, retry and purge them.

Options in the URL's query string: ``prefix`` (``prow:tasks``) names every key, ``result_ttl``
(seconds, 86400) is how long a succeeded task's record is kept.
"""

from __future__ import annotations

import builtins
import contextlib
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from prow._redis import redis_asyncio
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
    from redis.asyncio import Redis

    from prow._app import App

__all__ = ["RedisBackend"]

GROUP = "prow"

# Moves up to ARGV[2] messages due by ARGV[1] (epoch seconds) from the delayed set KEYS[1] to
# their streams (KEYS[2] .. ":queue:" .. queue); the message JSON is the set's member.
_MOVE_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, member in ipairs(due) do
  local queue = cjson.decode(member)['queue']
  redis.call('XADD', KEYS[2] .. ':queue:' .. queue, '*', 'data', member)
  redis.call('ZREM', KEYS[1], member)
end
return #due
"""


# Takes over the entries of KEYS[1] (the leases: "stream\nentry" scored by their end) whose
# lease ended by ARGV[1], on the streams ARGV[6..], at most ARGV[5]: each is XCLAIMed for the
# consumer ARGV[3] of the group ARGV[4] and leased until ARGV[2]. ZREM decides the one winner.
_TAKE_OVER = r"""
local wanted = {}
for i = 6, #ARGV do wanted[ARGV[i]] = true end
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local taken = {}
for _, member in ipairs(expired) do
  if #taken >= tonumber(ARGV[5]) then break end
  local cut = string.find(member, '\n', 1, true)
  local stream = string.sub(member, 1, cut - 1)
  local entry = string.sub(member, cut + 1)
  if wanted[stream] then
    redis.call('ZREM', KEYS[1], member)
    local claimed = redis.call('XCLAIM', stream, ARGV[4], ARGV[3], 0, entry)
    if claimed[1] and claimed[1][2] then
      redis.call('ZADD', KEYS[1], ARGV[2], member)
      table.insert(taken, {stream, entry, claimed[1][2]})
    end
  end
end
return taken
"""

#: Seconds to connect to Redis; a claim blocks at most MAX_BLOCK seconds in one read.
CONNECT_TIMEOUT = 5.0
MAX_BLOCK = 20.0

#: Seconds between two sweeps of a worker (due messages to their streams, ended leases taken).
SWEEP_EVERY = 0.5

#: Seconds after which an entry read by a worker that died before recording its lease is lost.
LOST_AFTER = 300.0


def _fields(flat: list[bytes]) -> dict[bytes, bytes]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _epoch(moment: datetime) -> float:
    return moment.timestamp()


class RedisBackend(Backend):
    """Tasks in Redis streams, sent through taskiq-redis (``redis://host:port/db``)."""

    def __init__(self, url: str) -> None:
        self.url, options = split_options(url, {"prefix": "prow:tasks", "result_ttl": "86400"})
        self.prefix = options["prefix"]
        self.result_ttl = int(number_option(options, "result_ttl", "redis"))
        self._taskiq_redis = import_extra("taskiq_redis", "redis")
        self._broker: Any = None
        self._redis: Redis | None = None
        self._groups: set[str] = set()
        self._move_due: Any = None
        self._take_over: Any = None
        self._swept = -SWEEP_EVERY
        #: This process's name in the consumer groups: a restarted worker is a new consumer.
        self.consumer = uuid4().hex

    def __repr__(self) -> str:
        return f"RedisBackend({self.url!r}, prefix={self.prefix!r})"

    # -- keys ---------------------------------------------------------------------------
    def stream(self, queue: str) -> str:
        """The key of ``queue``'s stream."""
        return f"{self.prefix}:queue:{queue}"

    def _record(self, task_id: str) -> str:
        return f"{self.prefix}:task:{task_id}"

    @property
    def _leases(self) -> str:
        return f"{self.prefix}:leases"

    def _index(self, state: TaskState) -> str:
        return f"{self.prefix}:state:{state.value}"

    # -- life ---------------------------------------------------------------------------
    async def startup(self, app: App | None = None) -> None:
        """Open taskiq-redis's broker (its connection pool is this backend's too)."""
        if self._broker is not None:
            return
        broker = self._taskiq_redis.RedisStreamBroker(
            self.url,
            queue_name=self.stream("default"),
            consumer_group_name=GROUP,
            consumer_id="0",  # a group made after messages were sent still reads them
            # A Redis that stops answering fails a command instead of holding it forever.
            socket_connect_timeout=CONNECT_TIMEOUT,
            socket_timeout=MAX_BLOCK + CONNECT_TIMEOUT,
        )
        await broker.startup()
        self._broker = broker
        self._redis = redis_asyncio().Redis(connection_pool=broker.connection_pool)
        self._groups = {self.stream("default")}
        self._move_due = self._client.register_script(_MOVE_DUE)
        self._take_over = self._client.register_script(_TAKE_OVER)

    async def shutdown(self) -> None:
        """Close the broker's connections."""
        broker, self._broker = self._broker, None
        if broker is not None:
            await broker.shutdown()
        self._redis = None
        self._groups = set()

    @property
    def _client(self) -> Any:  # redis.asyncio.Redis; its stubs type replies loosely
        if self._redis is None:
            raise RuntimeError("the Redis task backend is not started (call startup first)")
        return self._redis

    async def _ensure_group(self, stream: str) -> None:
        if stream in self._groups:
            return
        with contextlib.suppress(redis_asyncio().ResponseError):  # BUSYGROUP: it exists
            await self._client.xgroup_create(stream, GROUP, id="0", mkstream=True)
        self._groups.add(stream)

    # -- sending ------------------------------------------------------------------------
    async def send(self, messages: Sequence[TaskMessage]) -> list[bool]:
        """Kick each message through taskiq-redis (or park it until its eta); False: key seen."""
        from taskiq import BrokerMessage

        sent = []
        now = time.time()
        for message in messages:
            if message.key is not None and not await self.take_key(message):
                sent.append(False)
                continue
            await self._ensure_group(self.stream(message.queue))
            await self._put_record(TaskInfo(message, TaskState.QUEUED))
            body = encode_message(message)
            if message.eta is not None and _epoch(message.eta) > now:
                await self._client.zadd(f"{self.prefix}:delayed", {body: _epoch(message.eta)})
            else:
                await self._broker.kick(
                    BrokerMessage(
                        task_id=message.id,
                        task_name=message.task,
                        message=body,
                        labels={"queue_name": self.stream(message.queue)},
                    )
                )
            sent.append(True)
        return sent

    async def take_key(self, message: TaskMessage) -> bool:
        """Store ``message``'s idempotency key; False when it was already stored."""
        key = f"{self.prefix}:key:{message.key}"
        return bool(await self._client.set(key, message.id, nx=True))

    async def _put_record(self, info: TaskInfo) -> None:
        """Store ``info`` and move its id to its state's index, in one round trip."""
        pipe = self._client.pipeline(transaction=True)
        self._record_into(pipe, info)
        await pipe.execute()

    def _record_into(self, pipe: Any, info: TaskInfo) -> None:
        """Add to ``pipe`` the commands that store ``info`` and index it by state."""
        task_id = info.message.id
        expiry = self.result_ttl if info.state is TaskState.SUCCEEDED else None
        pipe.set(self._record(task_id), encode_info(info), ex=expiry)
        for state in TaskState:
            if state is not info.state:
                pipe.zrem(self._index(state), task_id)
        pipe.zadd(self._index(info.state), {task_id: time.time()})

    # -- claiming -----------------------------------------------------------------------
    async def claim(
        self, queues: Sequence[str], *, limit: int, lease: float, wait: float = 0.0
    ) -> list[Delivery]:
        """Due messages: abandoned ones first (lease over), then new ones (``XREADGROUP``)."""
        streams = [self.stream(queue) for queue in queues]
        try:
            return await self._claim(streams, limit, lease, wait)
        except redis_asyncio().ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            # Redis lost the group (restarted without persistence, or the stream was
            # deleted): make it again, reading the stream from its start.
            self._groups = set()
            return await self._claim(streams, limit, lease, wait)

    async def _claim(
        self, streams: builtins.list[str], limit: int, lease: float, wait: float
    ) -> builtins.list[Delivery]:
        for stream in streams:
            await self._ensure_group(stream)
        entries = []
        if time.monotonic() - self._swept >= SWEEP_EVERY:
            # Due messages to their streams, ended leases to this worker: not on every claim
            # (a busy worker claims hundreds of times a second), but every SWEEP_EVERY.
            self._swept = time.monotonic()
            keys = [f"{self.prefix}:delayed", self.prefix]
            await self._move_due(keys=keys, args=[time.time(), 100])
            entries = await self._reclaim(streams, limit, lease)
        if len(entries) < limit:
            block = int(min(wait, MAX_BLOCK) * 1000) if not entries and wait > 0 else None
            read = await self._client.xreadgroup(
                GROUP,
                self.consumer,
                dict.fromkeys(streams, ">"),
                count=limit - len(entries),
                block=block,
            )
            for stream, items in read or []:
                entries.extend((_text(stream), entry_id, fields) for entry_id, fields in items)
        if not entries:
            return []
        deliveries: list[Delivery] = []
        pipe = self._client.pipeline(transaction=True)
        end = time.time() + lease
        pipe.zadd(self._leases, {f"{stream}\n{_text(entry)}": end for stream, entry, _ in entries})
        for stream, entry_id, fields in entries:
            message = decode_message(fields[b"data"])
            deliveries.append(RedisDelivery(self, message, stream, _text(entry_id)))
            self._record_into(pipe, TaskInfo(message, TaskState.RUNNING))
        await pipe.execute()
        return deliveries

    async def _reclaim(
        self, streams: list[str], limit: int, lease: float
    ) -> list[tuple[str, Any, dict[bytes, bytes]]]:
        now = time.time()
        taken = await self._take_over(
            keys=[self._leases],
            args=[now, now + lease, self.consumer, GROUP, limit, *streams],
        )
        found = [(_text(stream), entry_id, _fields(flat)) for stream, entry_id, flat in taken]
        # A worker killed between reading an entry and writing its lease leaves the entry
        # pending with no lease: taken over once idle for LOST_AFTER seconds.
        for stream in streams:
            if len(found) >= limit:
                break
            _cursor, claimed, *_deleted = await self._client.xautoclaim(
                stream,
                GROUP,
                self.consumer,
                min_idle_time=int(max(LOST_AFTER, lease) * 1000),
                count=limit - len(found),
            )
            found.extend((stream, entry_id, fields) for entry_id, fields in claimed if fields)
        return found

    async def claim_period(self, name: str, slot: datetime) -> bool:
        """``SET NX`` on the (name, slot) key: exactly one caller wins each period."""
        key = f"{self.prefix}:period:{name}:{slot.isoformat()}"
        return bool(await self._client.set(key, self.consumer, nx=True, ex=7 * 86400))

    # -- records ------------------------------------------------------------------------
    async def get(self, task_id: str) -> TaskInfo | None:
        """The task's record, or None (unknown, purged, or its result expired)."""
        text = await self._client.get(self._record(task_id))
        return decode_info(text) if text is not None else None

    async def list(
        self, state: TaskState | None = None, queue: str | None = None, limit: int = 100
    ) -> list[TaskInfo]:
        """Records in ``state`` (any) on ``queue`` (any), oldest first."""
        infos = []
        for one in [state] if state else list(TaskState):
            ids = await self._client.zrange(self._index(one), 0, -1)
            if not ids:
                continue
            for text in await self._client.mget([self._record(_text(i)) for i in ids]):
                if text is not None:
                    info = decode_info(text)
                    if queue is None or info.message.queue == queue:
                        infos.append(info)
        infos.sort(key=lambda info: info.message.created_at)
        return infos[:limit]

    async def retry_failed(self, ids: Sequence[str] | None = None) -> int:
        """Send failed tasks again as new attempts; how many."""
        failed = await self.list(TaskState.FAILED, limit=2**31)
        chosen = [info for info in failed if ids is None or info.message.id in ids]
        for info in chosen:
            await self.send([replace(info.message, attempts=0, eta=None, key=None)])
        return len(chosen)

    async def purge(self, state: TaskState | None = None, queue: str | None = None) -> int:
        """Forget records (queued ones leave their stream too); running ones stay."""
        purged = 0
        for info in await self.list(state, queue, limit=2**31):
            if info.state is TaskState.RUNNING:
                continue
            pipe = self._client.pipeline(transaction=True)
            pipe.delete(self._record(info.message.id))
            for one in TaskState:
                pipe.zrem(self._index(one), info.message.id)
            await pipe.execute()
            purged += 1
        if state in (None, TaskState.QUEUED):
            for stream in await self._streams(queue):
                await self._client.xtrim(stream, maxlen=0)
            await self._client.delete(f"{self.prefix}:delayed")
        return purged

    async def drop(self) -> None:
        """Delete every key under the prefix (tests; a project's own clean-up)."""
        async for key in self._client.scan_iter(f"{self.prefix}:*", count=500):
            await self._client.delete(key)

    async def _streams(self, queue: str | None) -> builtins.list[str]:
        if queue is not None:
            return [self.stream(queue)]
        return [_text(key) async for key in self._client.scan_iter(self.stream("*"))]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisDelivery(Delivery):
    """A stream entry read in the group and not yet acknowledged."""

    def __init__(self, backend: RedisBackend, message: TaskMessage, stream: str, entry: str):
        self.backend = backend
        self.message = message
        self.stream = stream
        self.entry = entry

    async def _done(self, info: TaskInfo | None = None) -> None:
        """Acknowledge (and delete) the entry and end its lease, storing ``info`` with them."""
        pipe = self.backend._client.pipeline(transaction=True)
        if info is not None:
            self.backend._record_into(pipe, info)
        pipe.xack(self.stream, GROUP, self.entry)
        pipe.xdel(self.stream, self.entry)
        pipe.zrem(self.backend._leases, self._lease)
        await pipe.execute()

    async def ack(self, result: str | None = None) -> None:
        """Done: record success (the result, when kept) and acknowledge, in one round trip."""
        info = TaskInfo(self.message, TaskState.SUCCEEDED, result=result, finished_at=utcnow())
        await self._done(info)

    async def retry(self, eta: datetime, error: str) -> None:
        """Send the next attempt (due at ``eta``), then acknowledge this one."""
        retry = next_attempt(self.message, eta)
        await self.backend.send([_without_key(retry)])
        await self._done(TaskInfo(retry, TaskState.QUEUED, error=error))

    async def dead_letter(self, error: str) -> None:
        """Keep the task as failed with its traceback, then acknowledge the entry."""
        info = TaskInfo(self.message, TaskState.FAILED, error=error, finished_at=utcnow())
        await self._done(info)

    async def release(self) -> None:
        """Put the message back at the end of its stream, same attempt."""
        await self.backend.send([_without_key(self.message)])
        await self._done()

    @property
    def _lease(self) -> str:
        return f"{self.stream}\n{self.entry}"

    async def extend(self, lease: float) -> None:
        """Move the lease's end ``lease`` seconds from now (if no one took the entry over)."""
        await self.backend._client.zadd(
            self.backend._leases, {self._lease: time.time() + lease}, xx=True
        )


def _without_key(message: TaskMessage) -> TaskMessage:
    # A retry or a release is the same task: its idempotency key is already stored.
    return replace(message, key=None)
