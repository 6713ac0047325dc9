"""Per-route response caching: the wrapper a route with ``cache=`` gets when the app is built.

Only such routes are wrapped (their ``handle`` is replaced at build time); every other route
runs exactly as before, so caching costs nothing where it is not asked for.

Threat model: a shared cache that mixes users' answers leaks one user's data to another.
So an entry varies on everything that can change the answer and that a request carries:
scheme, host, path, the query string (sorted), ``Accept`` and the policy's ``vary``
headers; a route that can read credentials is bypassed for requests carrying any unless the
policy says ``per_user`` (credentials become part of the key) or ``shared``; and an answer
that sets a cookie or says ``no-store``/``private`` is never kept.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

import pydantic_core

from prow._request import Request
from prow._security import _CREDENTIALS
from prow._types import Message, Receive, Scope, Send
from prow.cache._cache import _MISSING, Cache, CacheUnavailable
from prow.cache._policy import CachePolicy, Invalidates, fill_tags, policy_of

if TYPE_CHECKING:
    from prow._routing._route import Route

__all__ = ["wrap_route"]

Handle = Callable[[Scope, Receive, Send], Awaitable[None]]
#: Headers a 304 repeats from the full answer (RFC 9110, 15.4.5).
_NOT_MODIFIED_KEEP = frozenset(
    (b"etag", b"vary", b"cache-control", b"content-location", b"date", b"expires")
)


def wrap_route(cache: Cache, route: Route, option: object) -> None:
    """Replace ``route.handle`` with the caching (or invalidating) wrapper, once."""
    if isinstance(route.__dict__.get("handle"), _CachedHandle | _InvalidatingHandle):
        return
    policy = policy_of(option, f"route {route.path}")
    inner: Handle = route.handle
    wrapper: Handle
    if isinstance(policy, Invalidates):
        wrapper = _InvalidatingHandle(cache, policy, inner)
    elif route.methods & {"GET", "HEAD"}:
        wrapper = _CachedHandle(cache, route, policy, inner)
    else:
        return  # a POST with cache=60 caches nothing: only GET answers are kept
    route.handle = wrapper  # type: ignore[method-assign]


class _CachedHandle:
    """Answers a ``GET``/``HEAD`` from the cache, or runs the route and keeps its answer."""

    __slots__ = ("blind", "cache", "inner", "label", "policy", "vary")

    def __init__(self, cache: Cache, route: Route, policy: CachePolicy, inner: Handle) -> None:
        self.cache = cache
        self.policy = policy
        self.inner = inner
        self.label = cache.prefix + "route:" + (route.name or route.path) + ":"
        # Credentials change nothing for a route that cannot see them (or is told so).
        self.blind = route.impersonal or policy.shared
        names = ["Accept", *policy.vary]
        if policy.per_user:
            names += ["Authorization", "Cookie"]
        self.vary = ", ".join(dict.fromkeys(names)).encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            await self.inner(scope, receive, send)
            return
        key = self.key_for(scope)
        if key is None:  # a personal route asked with credentials: not for a shared cache
            await self.inner(scope, receive, send)
            return
        try:
            await self._serve(scope, receive, send, key)
        except CacheUnavailable as exc:
            response, _ = await scope["app"].exception_response(Request(scope, receive), exc)
            await response(scope, receive, send)

    def key_for(self, scope: Scope) -> str | None:
        """The entry's key for this request, or None when it must not be shared."""
        accept = b""
        host = b""
        vary: dict[bytes, bytes] = {}
        credentials: list[bytes] = []
        wanted = self.policy.vary_bytes
        for name, value in scope["headers"]:
            if name == b"accept":
                accept = value
            elif name == b"host":
                host = value
            elif name in _CREDENTIALS:
                credentials.append(name + b"=" + value)
            if name in wanted:
                vary[name] = vary.get(name, b"") + b"," + value
        if credentials and not self.blind and not self.policy.per_user:
            return None
        query = scope.get("query_string", b"")
        if query:
            pairs = sorted(parse_qsl(query.decode("latin-1"), keep_blank_values=True))
            query = urlencode(pairs).encode("latin-1")
        parts = [
            scope.get("scheme", "http").encode(),
            host,
            (scope.get("root_path", "") + scope["path"]).encode("utf-8", "surrogateescape"),
            query,
            accept,
            *(vary.get(name, b"") for name in wanted),
        ]
        if self.policy.per_user:
            parts += sorted(credentials)
        digest = hashlib.sha256(b"\0".join(parts)).hexdigest()[:40]
        return self.label + digest

    async def _serve(self, scope: Scope, receive: Receive, send: Send, key: str) -> None:
        cache = self.cache
        if self.policy.ttl == 0:
            await self.inner(scope, receive, _Capture(self, scope, send, None).send)
            return
        entry = await cache._call(cache.backend.get, None, key)
        if entry is not None:
            await self._replay(scope, send, entry)
            return
        lock = key + ":lock"
        token = secrets.token_hex(8)
        held = await cache._acquire(lock, token)
        if not held:
            entry = await cache._wait_for(lambda: _read(cache, key), lock, token)
            if entry is not _MISSING:
                await self._replay(scope, send, entry)
                return
        try:
            store = key if scope["method"] == "GET" else None  # a HEAD answer has no body
            await self.inner(scope, receive, _Capture(self, scope, send, store).send)
        finally:
            await cache._call(cache.backend.release, None, lock, token)

    async def _replay(self, scope: Scope, send: Send, entry: bytes) -> None:
        head, _, body = entry.partition(b"\n")
        meta = pydantic_core.from_json(head)
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in meta["h"]]
        headers.append((b"x-cache", b"HIT"))
        await finish(scope, send, meta["s"], headers, body, meta["e"].encode("latin-1"))

    async def keep(self, key: str, scope: Scope, status: int, headers: Any, body: bytes) -> None:
        """Store a finished answer when nothing about it forbids sharing it."""
        if status != 200 or not _storable(headers, self.policy.per_user):
            return
        etag = next(value for name, value in headers if name == b"etag")
        meta = {
            "s": status,
            "h": [(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers],
            "e": etag.decode("latin-1"),
        }
        entry = pydantic_core.to_json(meta) + b"\n" + body
        tags = [self.cache._tag(t) for t in fill_tags(self.policy.tags, scope["path_params"])]
        await self.cache._call(self.cache.backend.set, None, key, entry, self.policy.ttl, tags)


async def _read(cache: Cache, key: str) -> Any:
    entry = await cache._call(cache.backend.get, None, key)
    return _MISSING if entry is None else entry


class _Capture:
    """The route's ``send`` while it runs: holds the answer until it is complete.

    A complete answer is finished here (ETag, 304, kept) as soon as its last body part
    arrives, before the route's background tasks run; a streamed one goes out as it comes
    and is not kept.
    """

    __slots__ = ("handle", "key", "scope", "send_out", "start", "streaming")

    def __init__(self, handle: _CachedHandle, scope: Scope, send: Send, key: str | None) -> None:
        self.handle = handle
        self.scope = scope
        self.send_out = send
        self.key = key
        self.start: Message | None = None
        self.streaming = False

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.start = message
            return
        if kind != "http.response.body" or self.streaming or self.start is None:
            await self.send_out(message)
            return
        if message.get("more_body", False):
            self.streaming = True
            await self.send_out(self.start)
            await self.send_out(message)
            return
        status = int(self.start["status"])
        headers = list(self.start.get("headers", ()))
        body = bytes(message.get("body", b""))
        etag = b""
        if status == 200:
            etag = _header(headers, b"etag") or _etag(body)
            if _header(headers, b"etag") is None:
                headers.append((b"etag", etag))
            if _header(headers, b"vary") is None:
                headers.append((b"vary", self.handle.vary))
            if self.key is not None:
                await self.handle.keep(self.key, self.scope, status, headers, body)
        headers.append((b"x-cache", b"MISS"))
        await finish(self.scope, self.send_out, status, headers, body, etag)


async def finish(
    scope: Scope,
    send: Send,
    status: int,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    etag: bytes,
) -> None:
    """Send the answer, or a 304 when the client's ``If-None-Match`` names its ETag."""
    if etag and status == 200 and _matches(scope, etag):
        kept = [(n, v) for n, v in headers if n in _NOT_MODIFIED_KEEP]
        await send({"type": "http.response.start", "status": 304, "headers": kept})
        await send({"type": "http.response.body", "body": b""})
        return
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


def _etag(body: bytes) -> bytes:
    return b'"' + hashlib.blake2b(body, digest_size=16).hexdigest().encode() + b'"'


def _header(headers: list[tuple[bytes, bytes]], wanted: bytes) -> bytes | None:
    for name, value in headers:
        if name == wanted:
            return value
    return None


def _matches(scope: Scope, etag: bytes) -> bool:
    """Whether ``If-None-Match`` names ``etag`` (weak comparison, as RFC 9110 asks)."""
    for name, value in scope["headers"]:
        if name == b"if-none-match":
            if value.strip() == b"*":
                return True
            bare = etag.removeprefix(b"W/")
            return any(tag.strip().removeprefix(b"W/") == bare for tag in value.split(b","))
    return False


def _storable(headers: list[tuple[bytes, bytes]], per_user: bool) -> bool:
    for name, value in headers:
        if name == b"set-cookie":
            return False
        if name == b"cache-control" and not per_user:
            # ``no-store``/``private`` keep an answer out of shared caches. Per-user entries
            # are what ``private`` allows, and prow marks every personal answer ``no-store``
            # for browsers and proxies (the header is kept and replayed with the entry).
            directives = value.lower()
            if b"no-store" in directives or b"private" in directives:
                return False
    return True


class _InvalidatingHandle:
    """Runs a write route; after a 2xx answer drops the entries with the policy's tags.

    Twice: when the answer starts (so no reader is served the old entry once the client
    has its answer) and after the route's dependencies have closed (a database session
    commits there; an entry a concurrent reader stored in between is dropped too).
    """

    __slots__ = ("cache", "inner", "tags")

    def __init__(self, cache: Cache, policy: Invalidates, inner: Handle) -> None:
        self.cache = cache
        self.tags = policy.tags
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        succeeded = False

        async def watching(message: Message) -> None:
            nonlocal succeeded
            if message["type"] == "http.response.start" and 200 <= message["status"] < 300:
                succeeded = True
                await self._drop(scope)
            await send(message)

        await self.inner(scope, receive, watching)
        if succeeded:
            await self._drop(scope)

    async def _drop(self, scope: Scope) -> None:
        # The write happened: its answer must not turn into a 503 now (on_error="fail").
        with contextlib.suppress(CacheUnavailable):
            await self.cache.invalidate(*fill_tags(self.tags, scope.get("path_params", {})))
