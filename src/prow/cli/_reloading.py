"""What ``prow run`` serves after a reload that broke the app: the error, not a hang.

With ``--reload``, uvicorn's reloader keeps the listening socket while a worker process
imports the app. When an edit leaves the app unable to import (a syntax error, a start-up
check such as ``prow.E032``), the worker exits and connections wait for an answer that never
comes: a browser spins. ``prow run`` instead has uvicorn call :func:`load`, which imports the
app and, if that fails, serves one page with the error until the next change reloads it,
as Flask's and Django's development servers do. Only the development server does this.
"""

from __future__ import annotations

import html
import importlib
import os
import traceback
from typing import Any

from prow.types import ASGIApp, Receive, Scope, Send

__all__ = ["TARGET_ENV", "load"]

#: The app ``prow run`` serves, as ``module:attribute``: uvicorn's worker reads it here.
TARGET_ENV = "PROW_RUN_TARGET"


def load() -> ASGIApp:
    """The app named by :data:`TARGET_ENV`, or a page showing why it cannot be loaded."""
    spec = os.environ[TARGET_ENV]
    module_name, _, attribute = spec.partition(":")
    try:
        found: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            found = getattr(found, part)
        # Compile now: a start-up check (a route mistake) fails here, not on each request.
        build = getattr(found, "build", None)
        if callable(build):
            build()
    except Exception as exc:
        text = "".join(traceback.format_exception(exc))
        print(f"prow run: the app cannot be loaded; fix it and save to reload:\n{text}")
        return _ErrorPage(text)
    app: ASGIApp = found
    return app


class _ErrorPage:
    """Answers every HTTP request 500 with the error (the development server is local)."""

    def __init__(self, text: str) -> None:
        self.body = (
            "<!doctype html><meta charset='utf-8'><title>The app cannot be loaded</title>"
            "<h1>The app cannot be loaded</h1><p>Fix the error and save: "
            "<code>prow run</code> reloads it.</p><pre>" + html.escape(text) + "</pre>"
        ).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            while message["type"] != "lifespan.shutdown":
                await send({"type": message["type"] + ".complete"})
                message = await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1011})
            return
        headers = [(b"content-type", b"text/html; charset=utf-8"), (b"cache-control", b"no-store")]
        await send({"type": "http.response.start", "status": 500, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})
