"""The incoming side of a connection: ``Request`` for HTTP, shared parts for websockets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pydantic_core

from prow._cookies import request_cookies
from prow._datastructures import URL, Address, Headers, QueryParams, State
from prow._exceptions import HTTPError
from prow._types import Message, Receive, Scope
from prow.scope import MAX_BODY_SIZE

if TYPE_CHECKING:
    from prow._app import App
    from prow._formdata import FormData

__all__ = ["HTTPConnection", "Request"]

DEFAULT_MAX_BODY_SIZE = 16 * 1024 * 1024


class HTTPConnection:
    """What HTTP requests and websockets share: the scope and views over it, built lazily."""

    __slots__ = ("_cookies", "_headers", "_query", "_receive", "_state", "_url", "scope")

    def __init__(self, scope: Scope, receive: Receive | None = None) -> None:
        self.scope = scope
        self._receive = receive
        self._headers: Headers | None = None
        self._query: QueryParams | None = None
        self._cookies: dict[str, str] | None = None
        self._url: URL | None = None
        self._state: State | None = None

    @property
    def app(self) -> App:
        """The prow application handling this connection."""
        app: App = self.scope["app"]
        return app

    @property
    def headers(self) -> Headers:
        if self._headers is None:
            self._headers = Headers(raw=self.scope["headers"])
        return self._headers

    @property
    def query_params(self) -> QueryParams:
        if self._query is None:
            self._query = QueryParams(self.scope.get("query_string", b""))
        return self._query

    @property
    def cookies(self) -> dict[str, str]:
        """The request's cookies (every ``Cookie`` header), parsed once per request."""
        if self._cookies is None:
            # Shared through the scope with the session middleware and the CSRF check.
            self._cookies = request_cookies(self.scope)
        return self._cookies

    @property
    def path_params(self) -> dict[str, Any]:
        params: dict[str, Any] = self.scope.get("path_params", {})
        return params

    @property
    def url(self) -> URL:
        if self._url is None:
            self._url = URL(scope=self.scope)
        return self._url

    @property
    def base_url(self) -> URL:
        """The URL of the application root (scheme, host and ``root_path``)."""
        root = self.scope.get("root_path", "")
        return URL(f"{self.url.scheme}://{self.url.netloc}{root}/")

    @property
    def client(self) -> Address | None:
        client = self.scope.get("client")
        return None if client is None else Address(client[0], client[1])

    @property
    def state(self) -> State:
        """Per-connection state; starts with a copy of what the lifespan put in app state."""
        if self._state is None:
            self._state = State(self.scope.setdefault("state", {}))
        return self._state

    @property
    def session(self) -> Any:
        """The session mapping; present once a session middleware is installed."""
        if "session" not in self.scope:
            raise RuntimeError("request.session needs a session middleware installed on the app")
        return self.scope["session"]

    def url_for(self, name: str, /, **params: Any) -> URL:
        """The absolute URL of the route called ``name``."""
        path = self.app.url_for(name, **params)
        # Routes are relative to the app; a mounted app (or one behind a proxy prefix)
        # lives under ``root_path``, which the browser must include.
        root = self.scope.get("root_path", "")
        return URL(f"{self.url.scheme}://{self.url.netloc}{root}{path}")


class Request(HTTPConnection):
    """An HTTP request. Handlers get one by annotating a parameter with ``Request``."""

    __slots__ = ("_body", "_form", "_json", "_pending", "_stream_consumed")

    def __init__(self, scope: Scope, receive: Receive | None = None) -> None:
        super().__init__(scope, receive)
        self._body: bytes | None = None
        self._json: Any = _UNSET
        self._form: FormData | None = None
        self._stream_consumed = False
        self._pending: Message | None = None

    @property
    def method(self) -> str:
        method: str = self.scope["method"]
        return method

    @property
    def receive(self) -> Receive:
        if self._receive is None:
            raise RuntimeError("this request has no receive channel")
        return self._receive

    @property
    def content_type(self) -> str:
        """The media type of the body, lower-cased and without parameters."""
        for key, value in self.scope["headers"]:
            if key == b"content-type":
                return value.split(b";", 1)[0].strip().lower().decode("latin-1")  # type: ignore[no-any-return]
        return ""

    def _max_body_size(self) -> int:
        # A route's own ``max_body_size`` option, else the app's.
        size: int | None = self.scope.get(MAX_BODY_SIZE)
        if size is None:
            size = getattr(self.scope.get("app"), "max_body_size", DEFAULT_MAX_BODY_SIZE)
        assert size is not None
        return size

    def csrf_token(self) -> str:
        """A fresh masked CSRF token for forms (``csrf_token`` field) or the ``X-CSRF-Token``
        header; sets the ``csrftoken`` cookie on this response when the browser has none."""
        from prow._csrf import csrf_token

        return csrf_token(self)

    async def stream(self) -> AsyncIterator[bytes]:
        """The body as it arrives, chunk by chunk; refuses bodies past ``max_body_size`` (413)."""
        if self._body is not None:
            yield self._body
            return
        if self._stream_consumed:
            raise RuntimeError("the request body was already streamed")
        self._stream_consumed = True
        limit = self._max_body_size()
        declared = self.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise _too_large(limit)
        received = 0
        while True:
            message: Message
            if self._pending is not None:
                message, self._pending = self._pending, None
            else:
                message = await self.receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect()
            chunk: bytes = message.get("body", b"")
            received += len(chunk)
            if received > limit:
                raise _too_large(limit)
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return

    async def body(self) -> bytes:
        """The whole body (read once, then cached)."""
        if self._body is None:
            self._body = await self._read_body()
        return self._body

    async def _read_body(self) -> bytes:
        if self._stream_consumed:
            raise RuntimeError("the request body was already streamed")
        # Most bodies arrive in one message: take it without the streaming machinery.
        message: Message = await self.receive()
        if message["type"] == "http.request" and not message.get("more_body", False):
            self._stream_consumed = True
            body: bytes = message.get("body", b"")
            limit = self._max_body_size()
            if len(body) > limit:
                raise _too_large(limit)
            return body
        self._pending = message
        chunks = [chunk async for chunk in self.stream()]
        return b"".join(chunks)

    async def json(self) -> Any:
        """The body parsed as JSON; malformed JSON answers 400 naming the problem."""
        if self._json is _UNSET:
            body = await self.body()
            try:
                self._json = pydantic_core.from_json(body)
            except ValueError as exc:
                raise HTTPError(400, json_error_detail(str(exc))) from None
        return self._json

    async def form(self, **limits: int) -> FormData:
        """The body parsed as a urlencoded or multipart form (files spool to disk)."""
        if self._form is None:
            from prow._formdata import parse_form

            self._form = await parse_form(self.headers, self.stream(), **limits)
        return self._form

    async def close(self) -> None:
        """Release uploaded files; prow calls this when the response is done."""
        if self._form is not None:
            await self._form.close()

    async def is_disconnected(self) -> bool:
        """True when the client has gone away (checked without blocking)."""
        import anyio

        with anyio.move_on_after(0):
            message = await self.receive()
            return bool(message["type"] == "http.disconnect")
        return False


class ClientDisconnect(Exception):
    """The client went away before the request body was read."""


_UNSET: Any = object()


#: pydantic-core refuses JSON nested deeper than this (its parser's fixed recursion limit), so
#: a deeply nested body cannot exhaust the stack or the CPU.
MAX_JSON_DEPTH = 200


def json_error_detail(error: str) -> str:
    """The 400 detail for a body pydantic-core could not parse as JSON."""
    if "recursion limit exceeded" in error:
        return f"JSON nested deeper than {MAX_JSON_DEPTH} levels ({error})"
    return f"Request body is not valid JSON: {error}"


def _too_large(limit: int) -> HTTPError:
    return HTTPError(413, f"Request body is larger than the {limit}-byte limit")
