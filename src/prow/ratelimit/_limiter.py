"""``rate_limit(...)``: a dependency that counts each request and answers 429 over the limit."""

from __future__ import annotations

import contextlib
import inspect
import ipaddress
import sys
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Literal

from prow._exceptions import ConfigurationError, HTTPError
from prow._params import Depends
from prow._request import Request
from prow.ratelimit._rate import Rate, RateLimitResult, ceil_seconds, parse_rate
from prow.ratelimit._store import RateLimits, RateLimitStore, RateLimitStoreError, store_for
from prow.responses import Response

__all__ = ["RATE_LIMITED_RESPONSE", "KeyFunc", "RateLimiter", "client_address", "rate_limit"]

KeyFunc = Callable[[Request], str | Awaitable[str | None] | None]

PROBLEM_TYPE = "https://prow.dev/problems/rate-limit-exceeded"

#: The OpenAPI Response Object for a 429, for a route's ``responses={429: ...}``.
RATE_LIMITED_RESPONSE: dict[str, Any] = {
    "description": "Rate limit exceeded",
    "headers": {
        "Retry-After": {
            "description": "Seconds to wait before retrying",
            "schema": {"type": "integer", "minimum": 1},
        },
        "RateLimit-Limit": {"schema": {"type": "integer"}},
        "RateLimit-Remaining": {"schema": {"type": "integer"}},
        "RateLimit-Reset": {"schema": {"type": "integer"}},
    },
}


class RateLimiter:
    """One limit: a rate, how clients are told apart, and where counts are kept.

    A route-level dependency (``dependencies=[rate_limit(...)]``) or a parameter
    (``limit: RateLimitResult = rate_limit(...)``); each request is counted once.
    """

    __slots__ = ("key_func", "name", "rate", "store")

    #: The battery that keeps the counts: installed with its defaults when missing.
    __prow_extension__: ClassVar[Any]

    #: Read by the OpenAPI generator: responses this dependency can cause (503: the
    #: store is down and the limit fails closed).
    __openapi_responses__: ClassVar[dict[int, dict[str, Any]]] = {
        429: RATE_LIMITED_RESPONSE,
        503: {
            "description": "Service Unavailable: the rate-limit store cannot be reached",
            "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 0}}},
        },
    }

    def __init__(
        self,
        rate: Rate,
        key_func: Callable[[Request], Awaitable[str]],
        store: RateLimitStore | None,
        name: str,
    ) -> None:
        self.rate = rate
        self.key_func = key_func
        self.store = store
        self.name = name

    def __repr__(self) -> str:
        return f"RateLimiter({self.rate.text!r}, name={self.name!r})"

    async def __call__(self, request: Request) -> RateLimitResult:
        return await self.check(request)

    async def check(self, request: Request) -> RateLimitResult:
        """Count this request; raise ``HTTPError(429)`` when it is over the limit."""
        key, store = await self._key_and_store(request)
        try:
            result = await store.hit(key, self.rate)
        except RateLimitStoreError as exc:
            raise HTTPError(
                503, "Rate limiting is temporarily unavailable", {"Retry-After": "1"}
            ) from exc
        if not result.allowed:
            raise self.exceeded(result)
        return result

    async def reset(self, request: Request) -> None:
        """Forget the count of this request's client (after a successful login, say).

        Does nothing with a store that has no ``reset(key)`` method.
        """
        key, store = await self._key_and_store(request)
        reset = getattr(store, "reset", None)
        if reset is not None:
            await reset(key)

    async def _key_and_store(self, request: Request) -> tuple[str, RateLimitStore]:
        key = f"{self.name}:{await self.key_func(request)}"
        return key, self.store if self.store is not None else store_for(request.app)

    def exceeded(self, result: RateLimitResult) -> HTTPError:
        """The 429 problem for ``result``, with ``Retry-After`` and ``RateLimit-*`` headers."""
        headers = {"Retry-After": str(ceil_seconds(result.retry_after)), **self.headers(result)}
        return HTTPError(429, f"Rate limit exceeded: {self.rate.text}", headers, type=PROBLEM_TYPE)

    def headers(self, result: RateLimitResult) -> dict[str, str]:
        """``RateLimit-Limit``/``-Remaining``/``-Reset`` (IETF httpapi draft) for ``result``."""
        reset = result.reset_after if result.allowed else result.retry_after
        return {
            "RateLimit-Limit": str(result.limit),
            "RateLimit-Remaining": str(result.remaining),
            "RateLimit-Reset": str(ceil_seconds(reset)),
            "RateLimit-Policy": f"{result.limit};w={self.rate.period}",
        }


RateLimiter.__prow_extension__ = RateLimits


class _HeaderRateLimiter(RateLimiter):
    """A limiter that also puts ``RateLimit-*`` headers on successful responses."""

    __slots__ = ()

    # A different signature on purpose: the planner injects the ``Response`` whose
    # headers are merged into the route's answer.
    async def __call__(self, request: Request, response: Response) -> RateLimitResult:  # type: ignore[override]
        result = await self.check(request)
        response.headers.update(self.headers(result))
        return result


def rate_limit(
    limit: str,
    *,
    key: Literal["ip", "user"] | KeyFunc = "ip",
    store: RateLimitStore | None = None,
    name: str | None = None,
    headers: bool = False,
) -> Any:
    """A dependency limiting requests to ``limit`` ("5/minute", "20/5 minutes") per client.

    ``key`` tells clients apart: ``"ip"`` (the connection's address; IPv6 grouped by
    /64), ``"user"`` (``scope["user"]``'s ``id``/``pk``, else the address) or a function
    of the request returning a string (sync or async; ``None`` falls back to the
    address). ``store`` defaults to the app's (``use_rate_limit_store``), else an
    in-process ``MemoryRateLimitStore`` per app. ``name`` identifies the limit's counters
    (default: where ``rate_limit`` was called): one ``rate_limit(...)`` is one budget,
    shared by every route it is attached to. ``headers=True`` adds ``RateLimit-*``
    headers to successful responses too.
    """
    rate = parse_rate(limit)
    if store is not None and not isinstance(store, RateLimitStore):
        raise ConfigurationError(
            "prow.E142",
            f"rate_limit(store={store!r}) is not a rate-limit store; pass MemoryRateLimitStore(), "
            "RedisRateLimitStore(url) or an object with an async hit(key, rate) method.",
        )
    if name is None:
        caller = sys._getframe(1)
        name = f"{caller.f_globals.get('__name__', '?')}:{caller.f_lineno}"
    cls = _HeaderRateLimiter if headers else RateLimiter
    limiter = cls(rate, _key_function(key), store, name)
    if key == "user":
        return Depends(_after_user(limiter))
    return Depends(limiter)


def _after_user(limiter: RateLimiter) -> Any:
    """``key="user"``: the limiter as a dependency of the user lookup, so it always knows
    the user, whatever order the route's dependencies are listed in."""
    try:
        from prow.auth._current import user_if_installed
    except ModuleNotFoundError:  # no auth extra: the user can only come from scope["user"]
        return limiter
    user_dependency: Any = Depends(user_if_installed)

    async def limit_by_user(
        request: Request, response: Response, user: Any = user_dependency
    ) -> RateLimitResult:
        if isinstance(limiter, _HeaderRateLimiter):
            return await limiter(request, response)
        return await limiter.check(request)

    limit_by_user.__openapi_responses__ = RateLimiter.__openapi_responses__  # type: ignore[attr-defined]
    limit_by_user.__prow_extension__ = RateLimits  # type: ignore[attr-defined]
    return limit_by_user


def _key_function(key: Any) -> Callable[[Request], Awaitable[str]]:
    if key == "ip":
        return _ip_key
    if key == "user":
        return _user_key
    if callable(key) and not isinstance(key, str):
        return _custom_key(key)
    raise ConfigurationError(
        "prow.E141",
        f"rate_limit(key={key!r}) is not valid; use 'ip', 'user' or a function taking the "
        "request and returning a string.",
    )


async def _ip_key(request: Request) -> str:
    return client_address(request)


def client_address(request: Request) -> str:
    """``ip:<address>`` of the connection, IPv6 grouped by /64.

    The address is the ASGI ``client``: behind a proxy, run the server with proxy
    headers (``uvicorn --proxy-headers --forwarded-allow-ips=...``) so it is the real
    client's. ``X-Forwarded-For`` is not read here: any client can send one, and trusting
    it would let each request pick a fresh identity. IPv6 is grouped because one
    subscriber usually holds a whole /64 and could otherwise rotate addresses at will.
    """
    client = request.client
    host = client.host if client is not None else "unknown"
    if ":" in host:
        with contextlib.suppress(ValueError):  # not an IP (a test client's name): keep it
            host = _ipv6_key(ipaddress.IPv6Address(host))
    return f"ip:{host}"


def _ipv6_key(address: ipaddress.IPv6Address) -> str:
    # A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d; grouping those by /64
    # would put every IPv4 client in one bucket (one attacker locking everyone out).
    mapped = address.ipv4_mapped
    if mapped is not None:
        return str(mapped)
    if address.is_loopback:
        return str(address)
    return str(ipaddress.IPv6Network(f"{address}/64", strict=False).network_address)


async def _user_key(request: Request) -> str:
    user = request.scope.get("user")
    if user is None or getattr(user, "is_authenticated", True) is False:
        return client_address(request)
    ident = getattr(user, "id", None)
    if ident is None:
        ident = getattr(user, "pk", None)
    return client_address(request) if ident is None else f"user:{ident}"


def _custom_key(func: Callable[[Request], Any]) -> Callable[[Request], Awaitable[str]]:
    async def key(request: Request) -> str:
        value = func(request)
        if inspect.isawaitable(value):
            value = await value
        return client_address(request) if value is None else str(value)

    return key
