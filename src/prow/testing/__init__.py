"""Test clients that run any ASGI 3 app in process, as Starlette's and FastAPI's do.

``TestClient`` is a synchronous ``httpx.Client``: each request runs the app on an event loop
held by a blocking portal (one per request, or one for a whole ``with`` block, which also
runs the app's lifespan). ``AsyncTestClient`` is the same over ``httpx.AsyncClient`` for async
tests. Both open websockets with ``websocket_connect``.
"""

try:
    import httpx  # noqa: F401  (imported only to fail early with the install hint)
except ModuleNotFoundError as exc:
    raise ImportError("prow.testing needs httpx: pip install 'prow[testing]'") from exc

from prow.testing._client import AsyncTestClient, TestClient
from prow.testing._websocket import (
    AsyncWebSocketTestSession,
    WebSocketDenialResponse,
    WebSocketTestSession,
)

__all__ = [
    "AsyncTestClient",
    "AsyncWebSocketTestSession",
    "TestClient",
    "WebSocketDenialResponse",
    "WebSocketTestSession",
]
