"""The three task brokers on this machine, for the tests of prow.tasks' taskiq backends.

``broker_url(kind)`` is a URL for ``Tasks(...)`` / ``BACKEND_SCHEMES`` that no other test shares:
each call names its own key prefix (Redis), exchange and queue prefix (RabbitMQ) or stream
(NATS), so tests never see each other's messages, even when they run at the same time on one
server. A broker that does not answer is a skip with the reason, or a failure under
``PROW_REQUIRE_SERVICES=1`` (``.ci/services`` starts them). The servers:

- Redis: ``PROW_TEST_REDIS_URL`` (``redis://127.0.0.1:6379/0``);
- RabbitMQ: ``PROW_TEST_AMQP_URL`` (``amqp://guest:guest@127.0.0.1:5672/``);
- NATS with JetStream: ``PROW_TEST_NATS_URL`` (``nats://127.0.0.1:4222``).
"""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import AsyncIterator
from urllib.parse import quote, urlsplit
from uuid import uuid4

from _services import redis_url, require
from prow.tasks import BACKEND_SCHEMES, Backend

AMQP_URL = os.environ.get("PROW_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
NATS_URL = os.environ.get("PROW_TEST_NATS_URL", "nats://127.0.0.1:4222")

#: The broker kinds, as the backends' URL schemes.
KINDS = ("redis", "amqp", "amqp-store", "nats")  # amqp-store: records kept in Redis


def _require(name: str, url: str, default_port: int) -> None:
    parts = urlsplit(url)
    require(name, parts.hostname or "127.0.0.1", parts.port or default_port)


def unique(label: str = "t") -> str:
    """A name no other test uses (queues, prefixes, streams)."""
    return f"{label}{uuid4().hex[:10]}"


def broker_url(kind: str, name: str | None = None) -> str:
    """A private URL on the ``kind`` broker (skips, or fails in CI, when it is down).

    Two calls with the same ``name`` reach the same queues: two workers of one deployment.
    """
    name = name or unique()
    if kind == "redis":
        url = redis_url()
        separator = "&" if "?" in url else "?"
        return f"{url}{separator}prefix=prow-test:{name}"
    if kind == "amqp":
        _require("RabbitMQ", AMQP_URL, 5672)
        return f"{AMQP_URL}?prefix=prow-test.{name}"
    if kind == "amqp-store":
        store = quote(broker_url("redis", name), safe="")
        return f"{broker_url('amqp', name)}&store={store}"
    if kind == "nats":
        _require("NATS", NATS_URL, 4222)
        return f"{NATS_URL}?stream=prow-test-{name}"
    raise ValueError(kind)


def backend_class(url: str) -> type[Backend]:
    """The backend class ``BACKEND_SCHEMES`` maps ``url``'s scheme to (imported lazily)."""
    module, _, name = BACKEND_SCHEMES[urlsplit(url).scheme].partition(":")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


@contextlib.asynccontextmanager
async def started(url: str) -> AsyncIterator[Backend]:
    """The backend for ``url``, started, shut down (and its test data purged) after use."""
    backend = backend_class(url)(url)  # type: ignore[call-arg]
    await backend.startup(None)  # type: ignore[arg-type]
    try:
        yield backend
    finally:
        with contextlib.suppress(Exception):
            await backend.purge()
        drop = getattr(backend, "drop", None)  # the broker's queues/streams of this test
        if drop is not None:
            with contextlib.suppress(Exception):
                await drop()
        await backend.shutdown()
