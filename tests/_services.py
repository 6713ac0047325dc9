"""Real services for tests: a reachable server or a clear skip (a failure in CI).

``redis_url()`` returns the test Redis URL (``PROW_TEST_REDIS_URL``, default
``redis://127.0.0.1:6379/0``). When nothing answers there the test is skipped with the
reason, unless ``PROW_REQUIRE_SERVICES=1`` (as ``.ci/run`` sets), where it fails instead.
"""

from __future__ import annotations

import os
import socket
from functools import cache
from urllib.parse import urlsplit

import pytest

REDIS_URL = os.environ.get("PROW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@cache
def reachable(host: str, port: int) -> bool:
    """Whether a TCP server answers at ``host:port`` within a second."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require(name: str, host: str, port: int) -> None:
    """Skip (or fail under ``PROW_REQUIRE_SERVICES=1``) unless ``name`` is reachable."""
    if reachable(host, port):
        return
    reason = f"{name} is not reachable at {host}:{port}"
    if os.environ.get("PROW_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} and PROW_REQUIRE_SERVICES=1")
    pytest.skip(reason)


def redis_url() -> str:
    """The test Redis server's URL; skips (or fails, in CI) when it is down."""
    parts = urlsplit(REDIS_URL)
    require("Redis", parts.hostname or "127.0.0.1", parts.port or 6379)
    return REDIS_URL
