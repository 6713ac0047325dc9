"""Drive an app's ASGI or WSGI callable in-process: no server, no sockets, just the framework.

``python bench/_drive.py APP ENDPOINT N`` checks one answer, serves ``N`` more requests and checks
the last answer too; ``bench/callgrind.py`` runs it under valgrind for ``N`` and ``2N`` so that
start-up cancels out. Every app gets the same harness: a fresh scope (or environ) per request, a
``receive`` that hands over the body once, a ``send`` that keeps the messages.
"""

from __future__ import annotations

import asyncio
import importlib
import io
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: import ``bench`` from the repository root,
    # and drop bench/ itself from the path so its modules cannot shadow top-level ones
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench import _db
from bench._cases import (
    ALL_CASES,
    CASES,
    DB_CASES,
    DB_NEGATIVE_CASES,
    NEGATIVE_CASES,
    RW_CASES,
    RW_NEGATIVE_CASES,
    TE_CASES,
    TE_NEGATIVE_CASES,
    Answer,
    Case,
)
from bench.apps import APPS, AppSpec, _realworld

__all__ = ["drive", "quick_check"]

_BASE_HEADERS = (
    (b"host", b"127.0.0.1:8000"),
    (b"user-agent", b"bench/1.0"),
    (b"accept", b"*/*"),
)


def load(spec: AppSpec) -> Any:
    """Import the app's module and return its callable."""
    return importlib.import_module(spec.module).app


# -- ASGI ----------------------------------------------------------------------------------


def _scope(case: Case) -> dict[str, Any]:
    headers = [*_BASE_HEADERS, *case.headers]
    if case.body:
        headers.append((b"content-length", str(len(case.body)).encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": case.method,
        "scheme": "http",
        "path": case.path,
        "raw_path": case.path.encode(),
        "root_path": "",
        "query_string": case.query,
        "headers": headers,
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "state": {},
    }


class _Exchange:
    """One request's ``receive`` and ``send``: the body once, then a disconnect."""

    __slots__ = ("body", "messages", "sent")

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.sent = False
        self.messages: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        if self.sent:
            return {"type": "http.disconnect"}
        self.sent = True
        return {"type": "http.request", "body": self.body, "more_body": False}

    async def send(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    def answer(self) -> Answer:
        start = self.messages[0]
        headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
        body = b"".join(m.get("body", b"") for m in self.messages[1:])
        return Answer(start["status"], headers, body)


class _Lifespan:
    """Run the app's lifespan around the requests, as a server would, if the app has one."""

    def __init__(self, app: Any) -> None:
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        self.task = asyncio.ensure_future(app(scope, self.inbox.get, self.outbox.put))

    async def _step(self, phase: str) -> None:
        self.inbox.put_nowait({"type": f"lifespan.{phase}"})
        reply = asyncio.ensure_future(self.outbox.get())
        await asyncio.wait({self.task, reply}, return_when=asyncio.FIRST_COMPLETED)
        if not reply.done():  # the app returned: it does not do lifespan
            reply.cancel()
            return
        if reply.result()["type"] != f"lifespan.{phase}.complete":
            raise RuntimeError(f"lifespan {phase} failed: {reply.result()}")

    async def start(self) -> None:
        await self._step("startup")

    async def stop(self) -> None:
        if not self.task.done():
            await self._step("shutdown")
            await self.task


async def _asgi(app: Any, case: Case, n: int) -> Answer:
    lifespan = _Lifespan(app)
    await lifespan.start()
    template = _scope(case)
    exchange = _Exchange(case.body)
    for _ in range(n):
        exchange = _Exchange(case.body)
        scope = dict(template)
        scope["headers"] = list(template["headers"])
        await app(scope, exchange.receive, exchange.send)
    await lifespan.stop()
    return exchange.answer()


# -- WSGI ----------------------------------------------------------------------------------


def _environ(case: Case) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": case.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": case.path,
        "QUERY_STRING": case.query.decode(),
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_LENGTH": str(len(case.body)) if case.body else "",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in (*_BASE_HEADERS, *case.headers):
        key = name.decode().upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            environ[key] = value.decode()
        else:
            environ[f"HTTP_{key}"] = value.decode()
    return environ


class _StartResponse:
    """A WSGI ``start_response`` that records the status and headers into an ``Answer``."""

    __slots__ = ("answer",)

    def __init__(self, answer: Answer) -> None:
        self.answer = answer

    def __call__(self, status: str, headers: list[tuple[str, str]], exc: Any = None) -> None:
        self.answer.status = int(status[:3])
        self.answer.headers = {k.lower(): v for k, v in headers}


def _wsgi(app: Any, case: Case, n: int) -> Answer:
    template = _environ(case)
    answer = Answer(0, {}, b"")
    for _ in range(n):
        answer = Answer(0, {}, b"")
        environ = dict(template)
        environ["wsgi.input"] = io.BytesIO(case.body)
        result: Iterable[bytes] = app(environ, _StartResponse(answer))
        answer.body = b"".join(result)
        close: Callable[[], None] | None = getattr(result, "close", None)
        if close is not None:
            close()
    return answer


# -- entry points --------------------------------------------------------------------------


def drive(spec: AppSpec, app: Any, case: Case, n: int) -> Answer:
    """Serve ``case`` ``n`` times and return the last answer."""
    if spec.interface == "wsgi":
        return _wsgi(app, case, n)
    return asyncio.run(_asgi(app, case, n))


def quick_check(name: str, repeats: int = 3) -> None:
    """Answer every case (and the error cases) ``repeats`` times; raise on a wrong answer.

    The database cases run on SQLite only, so the quick mode needs no database server.
    """
    os.environ[_db.ENV] = "sqlite"  # read by the apps when they are imported, just below
    _db.prepare("sqlite")
    spec = APPS[name]
    if spec.realworld:  # the Conduit's database on SQLite, made before the app connects
        _realworld.prepare("sqlite")
    app = load(spec)
    cases = (*CASES.values(), *NEGATIVE_CASES, *DB_CASES.values(), *DB_NEGATIVE_CASES)
    if spec.te:
        cases = (*cases, *TE_CASES.values(), *TE_NEGATIVE_CASES)
    if spec.realworld:
        cases = (*RW_CASES.values(), *RW_NEGATIVE_CASES)
    for case in cases:
        case.check(name, drive(spec, app, case, repeats))


def main(argv: list[str]) -> int:
    """``_drive.py APP ENDPOINT N``: check, then serve N requests, then check again.

    The database endpoints read ``$BENCH_DB``'s database, which must already hold its rows.
    """
    name, endpoint, n = argv[0], argv[1], int(argv[2])
    spec, case = APPS[name], ALL_CASES[endpoint]
    app = load(spec)
    case.check(name, drive(spec, app, case, 1))
    case.check(name, drive(spec, app, case, n))
    print("ok")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
