"""The ASGI scopes the test clients build from httpx requests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from prow._types import Scope

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


@dataclass
class Connection:
    """What every scope a client builds shares; ``state`` is filled by the lifespan."""

    root_path: str
    client: tuple[str, int]
    state: dict[str, Any] = field(default_factory=dict)


def _scope_from_request(request: httpx.Request, connection: Connection) -> Scope:
    """The keys the HTTP and websocket scopes share, read from an httpx request."""
    url = request.url
    port = url.port or _DEFAULT_PORTS.get(url.scheme, 80)
    return {
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": url.scheme,
        "path": url.path,  # httpx gives it percent-decoded, as ASGI wants
        "raw_path": url.raw_path.split(b"?", 1)[0],
        "root_path": connection.root_path,
        "query_string": url.query,
        "headers": [(key.lower(), value) for key, value in request.headers.raw],
        "client": connection.client,
        "server": (url.host, port),
        # The lifespan state extension: every connection gets a shallow copy of what the
        # app stored at startup, so one request's writes never leak into the next.
        "state": dict(connection.state),
    }


def http_scope(request: httpx.Request, connection: Connection) -> Scope:
    """The ``http`` scope for ``request``."""
    scope = _scope_from_request(request, connection)
    scope.update(type="http", method=request.method, extensions={"http.response.debug": {}})
    return scope


def websocket_scope(
    request: httpx.Request, connection: Connection, subprotocols: Sequence[str]
) -> Scope:
    """The ``websocket`` scope for the handshake ``request``."""
    scope = _scope_from_request(request, connection)
    scope.update(
        type="websocket",
        scheme="wss" if request.url.scheme == "https" else "ws",
        subprotocols=list(subprotocols),
        extensions={"websocket.http.response": {}},
    )
    return scope
