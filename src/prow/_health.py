"""``/healthz`` and ``/readyz``: every app answers them, out of the box.

Liveness (``/healthz``) says the process serves requests: it checks nothing else, so a
load balancer or an orchestrator restarts only a worker that is really stuck. Readiness
(``/readyz``) asks each installed extension that can tell (the database, the cache, a
broker: those that define ``ready``) whether what it needs answers, all at once and each
within ``app.ready_timeout`` seconds; one that fails or is too slow makes the answer 503
with ``Retry-After``, so traffic goes to other workers until it is back.

Threat model: these paths are reachable by anyone who reaches the app. The answers name
the checks and, for a failed one, only the exception's class ("timeout",
"ConnectionRefusedError"): never a message, which could hold a host name or a URL.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from prow._request import Request
from prow.extensions import Extension
from prow.responses import JSONResponse, Response

if TYPE_CHECKING:
    from prow._app import App
    from prow._routing._route import Route

__all__ = ["health_routes", "readiness"]

_NO_STORE = {"Cache-Control": "no-store"}


def health_routes(app: App, taken: set[str]) -> list[Route]:
    """The liveness and readiness routes the app configures, except on paths already served."""
    from prow._routing._router import Router

    router = Router(include_in_schema=False)
    if app.health_url is not None and app.health_url not in taken:

        @router.get(app.health_url, name="healthz")
        async def healthz() -> Response:
            return JSONResponse({"status": "ok"}, headers=_NO_STORE)

    if app.ready_url is not None and app.ready_url not in taken:

        @router.get(app.ready_url, name="readyz")
        async def readyz(request: Request) -> Response:
            ready, checks = await readiness(request.app)
            if ready:
                return JSONResponse({"status": "ready", "checks": checks}, headers=_NO_STORE)
            headers = {**_NO_STORE, "Retry-After": str(request.app.ready_retry_after)}
            body = {"status": "unavailable", "checks": checks}
            return JSONResponse(body, status_code=503, headers=headers)

    from prow._routing._route import Route

    return [route for route in router.resolved(owner=app) if isinstance(route, Route)]


async def readiness(app: App) -> tuple[bool, dict[str, str]]:
    """Run every extension's ``ready`` check at once; whether all passed, and each result."""
    checking = [ext for ext in app.extensions if type(ext).ready is not Extension.ready]
    results = await asyncio.gather(*(_check(app, ext) for ext in checking))
    checks: dict[str, str] = {}
    for extension, result in zip(checking, results, strict=True):
        name = type(extension).__name__
        if name in checks:  # two of a kind (unique = False): tell them apart
            name = f"{name}#{sum(key.startswith(name) for key in checks) + 1}"
        checks[name] = result
    return all(result == "ok" for result in results), checks


async def _check(app: App, extension: Extension) -> str:
    timeout = app.ready_timeout
    try:
        async with asyncio.timeout(timeout):
            await extension.ready(app)
    except TimeoutError:
        return f"timeout after {timeout:g}s"
    except Exception as exc:
        # The class, not the message: a message can carry a URL with a password in it.
        return type(exc).__name__
    return "ok"
