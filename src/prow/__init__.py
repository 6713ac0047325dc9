"""prow: start like Flask, grow like Django, type like FastAPI, run faster than all three.

::

    from prow import App

    app = App()

    @app.get("/items/{item_id}")
    async def read_item(item_id: int, q: str | None = None) -> dict[str, object]:
        return {"item_id": item_id, "q": q}
"""

import sys
from typing import Any

from prow._app import App
from prow._csrf import CSRF_FIELD, CSRF_HEADER, csrf_token
from prow._exceptions import (
    ConfigurationError,
    HTTPError,
    RequestValidationError,
    WebSocketDisconnect,
    WebSocketError,
)
from prow._formdata import FormData, UploadFile
from prow._misplaced import misplaced_name
from prow._params import Body, Cookie, Depends, File, Form, Header, Path, Query
from prow._request import HTTPConnection, Request
from prow._routing._options import RouteOptions
from prow._routing._route import Mount, Route, WebSocketRoute
from prow._routing._router import Router
from prow._security import SecurityHeaders
from prow._websocket import WebSocket, WebSocketState
from prow.background import BackgroundTasks
from prow.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)

__version__ = "0.1.0"

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "App",
    "BackgroundTasks",
    "Body",
    "ConfigurationError",
    "Cookie",
    "Depends",
    "File",
    "Form",
    "FormData",
    "HTMLResponse",
    "HTTPConnection",
    "HTTPError",
    "Header",
    "JSONResponse",
    "Mount",
    "Path",
    "PlainTextResponse",
    "Query",
    "RedirectResponse",
    "Request",
    "RequestValidationError",
    "Response",
    "Route",
    "RouteOptions",
    "Router",
    "SecurityHeaders",
    "UploadFile",
    "WebSocket",
    "WebSocketDisconnect",
    "WebSocketError",
    "WebSocketRoute",
    "WebSocketState",
    "csrf_token",
]


def __getattr__(name: str) -> Any:
    # A missing name: say where it lives (``from prow import Resource`` -> prow.db).
    raise misplaced_name(__name__, name, sys._getframe(1))
