"""Run a WSGI application (Flask, Django, ...) inside prow, for gradual migration.

``app.mount("/legacy", WSGIMiddleware(flask_app))`` serves the old application under a prefix
while new endpoints are written in prow. Each request runs the WSGI app in a worker thread; the
body it yields is streamed back to the client chunk by chunk as it is produced.
"""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread
from anyio.abc import ObjectReceiveStream, ObjectSendStream

from prow._types import Message, Receive, Scope, Send
from prow.responses import PlainTextResponse

__all__ = ["WSGIMiddleware"]

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
StartResponse = Callable[..., Callable[[bytes], None]]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

logger = logging.getLogger("prow.wsgi")


class WSGIMiddleware:
    """An ASGI app that serves HTTP requests through the WSGI callable ``app``.

    ``workers`` caps how many requests run the WSGI app at once (each holds a thread). The
    request body is read completely before the WSGI app starts, as WSGI expects a readable
    ``wsgi.input``. If the app fails before starting its response, the client gets a plain 500
    and the traceback goes to the ``prow.wsgi`` logger, never to the client.
    """

    def __init__(self, app: WSGIApp, workers: int = 10) -> None:
        self.app = app
        self.limiter = anyio.CapacityLimiter(workers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1000})
            return
        if scope["type"] != "http":
            return  # WSGI has no lifespan; nothing to start or stop.
        body = await _read_body(receive)
        if body is None:
            return  # The client left before sending its body.
        environ = _build_environ(scope, body)
        sender, receiver = anyio.create_memory_object_stream[Message]()
        responder = _Responder(sender)
        forwarder = _Forwarder(receiver, send)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(forwarder.run)
            async with sender:
                error = await self._run(responder, environ)
        # Errors are raised here, outside the task group, so callers see them unwrapped.
        if forwarder.error is not None:
            raise forwarder.error
        if error is None:
            return
        if responder.headers_sent:
            raise error  # Too late for a 500: let the server cut the truncated response.
        logger.error("WSGI application raised before starting its response", exc_info=error)
        await PlainTextResponse("Internal Server Error", 500)(scope, receive, send)

    async def _run(self, responder: _Responder, environ: dict[str, Any]) -> Exception | None:
        """Run the WSGI app in a worker thread; return what it raised, if anything."""
        try:
            await anyio.to_thread.run_sync(responder.run, self.app, environ, limiter=self.limiter)
        except Exception as error:
            return error
        return None


async def _read_body(receive: Receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


class _Forwarder:
    """Passes the worker thread's messages to the server's ``send``, keeping its error."""

    def __init__(self, receiver: ObjectReceiveStream[Message], send: Send) -> None:
        self.receiver = receiver
        self.send = send
        self.error: Exception | None = None

    async def run(self) -> None:
        # Closing the receiver on the way out (also on error) makes the thread's next send
        # fail, which stops the WSGI app and closes its iterable.
        async with self.receiver:
            try:
                async for message in self.receiver:
                    await self.send(message)
            except Exception as error:
                self.error = error


def _build_environ(scope: Scope, body: bytes) -> dict[str, Any]:
    """The PEP 3333 environ for an ASGI HTTP scope and its complete request body."""
    root_path: str = scope.get("root_path", "")
    path: str = scope["path"]
    # prow mounts keep the full path and extend root_path; strip the mount prefix for WSGI.
    if (
        root_path
        and path.startswith(root_path)
        and path[len(root_path) : len(root_path) + 1] in ("", "/")
    ):
        path = path[len(root_path) :]
    server = scope.get("server") or ("localhost", 80)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": _wsgi_string(root_path),
        "PATH_INFO": _wsgi_string(path),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1]) if server[1] is not None else "80",
        "SERVER_PROTOCOL": "HTTP/" + scope.get("http_version", "1.1"),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": True,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    client = scope.get("client")
    if client:
        environ["REMOTE_ADDR"], environ["REMOTE_PORT"] = client[0], str(client[1])
    _add_headers(environ, scope["headers"])
    if body and "CONTENT_LENGTH" not in environ:
        environ["CONTENT_LENGTH"] = str(len(body))  # e.g. a chunked upload: we know it now
    return environ


def _wsgi_string(text: str) -> str:
    # PEP 3333 "bytes as latin-1" strings: the URL's raw UTF-8 bytes, one char per byte.
    return text.encode("utf-8").decode("latin-1")


def _add_headers(environ: dict[str, Any], headers: Iterable[tuple[bytes, bytes]]) -> None:
    for raw_name, raw_value in headers:
        name = raw_name.decode("latin-1")
        if "_" in name:
            # "X_User" and "X-User" both become HTTP_X_USER; a proxy that strips or vets
            # "X-User" would let a forged "X_User" through, so such names are dropped.
            continue
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        value = raw_value.decode("latin-1")
        if key in environ:
            separator = "; " if key == "HTTP_COOKIE" else ","
            value = environ[key] + separator + value
        environ[key] = value


class _Responder:
    """One request's WSGI side, run in a worker thread: ``start_response``, ``write`` and
    the loop over the body iterable, handing each message to the event loop as it comes."""

    def __init__(self, sender: ObjectSendStream[Message]) -> None:
        self.sender = sender
        self.start: Message | None = None
        self.headers_sent = False

    def run(self, app: WSGIApp, environ: dict[str, Any]) -> None:
        try:
            iterable = app(environ, self.start_response)
            try:
                for chunk in iterable:
                    self.write(chunk)
                self._send_start()
                self._send({"type": "http.response.body", "body": b""})
            finally:
                close = getattr(iterable, "close", None)
                if close is not None:
                    close()
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass  # The client is gone; we stopped the WSGI app early and have nothing to say.

    def start_response(
        self,
        status: str,
        headers: list[tuple[str, str]],
        exc_info: ExcInfo | None = None,
    ) -> Callable[[bytes], None]:
        """PEP 3333 ``start_response``; ``exc_info`` replaces headers not yet sent."""
        if exc_info is not None:
            if self.headers_sent:
                raise exc_info[1].with_traceback(exc_info[2])
        elif self.start is not None:
            raise RuntimeError("start_response() called twice without exc_info")
        self.start = {
            "type": "http.response.start",
            "status": int(status.split(" ", 1)[0]),
            "headers": [
                (name.strip().lower().encode("latin-1"), value.encode("latin-1"))
                for name, value in headers
            ],
        }
        return self.write

    def write(self, data: bytes) -> None:
        """Send part of the body (also the legacy ``write`` callable ``start_response`` returns)."""
        if data:
            body = bytes(data)  # a str chunk fails here, before the headers go out
            self._send_start()
            self._send({"type": "http.response.body", "body": body, "more_body": True})

    def _send_start(self) -> None:
        if self.headers_sent:
            return
        if self.start is None:
            raise RuntimeError("the WSGI application returned a body without start_response()")
        self.headers_sent = True
        self._send(self.start)

    def _send(self, message: Message) -> None:
        anyio.from_thread.run(self.sender.send, message)
