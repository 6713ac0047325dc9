"""The physical limit: a hand-written ASGI path switch, no framework.

It does the same work as the framework apps (parse the int id and query, validate the body with
pydantic, encode JSON) with nothing in between, so every other figure reads as a ratio to it. The
``/db`` endpoints use SQLAlchemy's async core: one pooled connection, a prepared ``select``, the
row mapping straight to JSON.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_plus

from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import ValidationError
from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from bench._db import async_url
from bench.apps import _te as te
from bench.apps._models import Item
from bench.apps._rows import ONE_ROW, PAGE, ROW_TABLE, Row

_TEXT = [(b"content-type", b"text/plain; charset=utf-8")]
_JSON = [(b"content-type", b"application/json")]
_HELLO = b"Hello, World!"
_HELLO_JSON = json.dumps({"message": "Hello, World!"}).encode()

_engine = create_async_engine(async_url())
_new_session = async_sessionmaker(_engine, expire_on_commit=False)
_columns = ROW_TABLE.c
_FIELDS = ("id", "name", "price", "stock", "active")
_PAGE = (
    select(ROW_TABLE).order_by(_columns.id).limit(bindparam("limit")).offset(bindparam("offset"))
)
_COUNT = select(func.count()).select_from(ROW_TABLE)


async def _answer(send: Any, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    length = (b"content-length", b"%d" % len(body))
    await send({"type": "http.response.start", "status": status, "headers": [*headers, length]})
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _user(scope: dict[str, Any], send: Any, raw_id: str) -> None:
    try:
        user_id = int(raw_id)
    except ValueError:
        await _answer(send, 422, _JSON, b'{"detail":"user_id must be an integer"}')
        return
    q = None
    for pair in scope["query_string"].decode("latin-1").split("&"):
        name, _, value = pair.partition("=")
        if name == "q":
            q = unquote_plus(value)
    body = json.dumps({"user_id": user_id, "q": q}).encode()
    await _answer(send, 200, _JSON, body)


async def _items(receive: Any, send: Any) -> None:
    try:
        item = Item.model_validate_json(await _read_body(receive))
    except ValidationError as exc:
        await _answer(send, 422, _JSON, exc.json().encode())
        return
    await _answer(send, 200, _JSON, item.model_dump_json().encode())


async def _row(send: Any, raw_id: str) -> None:
    if not raw_id.isdigit():
        await _answer(send, 422, _JSON, b'{"detail":"id must be an integer"}')
        return
    async with _engine.connect() as connection:
        row = (await connection.execute(ONE_ROW, {"id": int(raw_id)})).mappings().first()
    if row is None:
        await _answer(send, 404, _JSON, b'{"detail":"no such row"}')
        return
    await _answer(send, 200, _JSON, json.dumps(dict(row)).encode())


async def _orm_row(send: Any, raw_id: str) -> None:
    if not raw_id.isdigit():
        await _answer(send, 422, _JSON, b'{"detail":"id must be an integer"}')
        return
    async with _new_session() as session:
        found = await session.get(Row, int(raw_id))
    if found is None:
        await _answer(send, 404, _JSON, b'{"detail":"no such row"}')
        return
    body = {name: getattr(found, name) for name in _FIELDS}
    await _answer(send, 200, _JSON, json.dumps(body).encode())


def _int_arg(scope: dict[str, Any], name: str, default: int) -> int:
    for pair in scope["query_string"].decode("latin-1").split("&"):
        key, _, value = pair.partition("=")
        if key == name:
            return int(value)
    return default


async def _rows(scope: dict[str, Any], send: Any) -> None:
    try:
        limit, offset = _int_arg(scope, "limit", PAGE), _int_arg(scope, "offset", 0)
    except ValueError:
        limit = offset = -1
    if not (1 <= limit <= 100 and offset >= 0):
        await _answer(send, 422, _JSON, b'{"detail":"limit 1-100, offset >= 0"}')
        return
    async with _engine.connect() as connection:
        page = await connection.execute(_PAGE, {"limit": limit, "offset": offset})
        items = [dict(row) for row in page.mappings()]
        total = await connection.scalar(_COUNT)
    body = {"items": items, "total": total, "limit": limit, "offset": offset}
    await _answer(send, 200, _JSON, json.dumps(body).encode())


_HTML = [(b"content-type", b"text/html; charset=utf-8")]
_jinja = Environment(loader=FileSystemLoader(te.TEMPLATES), autoescape=select_autoescape())
_fortunes_page = _jinja.get_template("fortunes.html")
_cache: dict[int, dict[str, int]] = {}


def _n(scope: dict[str, Any]) -> int:
    for pair in scope["query_string"].decode("latin-1").split("&"):
        key, _, value = pair.partition("=")
        if key == "n":
            return te.count(value)
    return te.count(None)


async def _worlds(connection: Any, ids: list[int]) -> list[dict[str, int]]:
    worlds = []
    for world_id in ids:
        row = (await connection.execute(te.ONE_WORLD, {"id": world_id})).one()
        worlds.append({"id": row[0], "randomNumber": row[1]})
    return worlds


async def _queries(scope: dict[str, Any], send: Any) -> None:
    async with _engine.connect() as connection:
        worlds = await _worlds(connection, te.ids(_n(scope)))
    await _answer(send, 200, _JSON, json.dumps(worlds).encode())


async def _updates(scope: dict[str, Any], send: Any) -> None:
    async with _engine.begin() as connection:
        worlds = await _worlds(connection, te.ids(_n(scope)))
        for world in worlds:
            world["randomNumber"] = te.new_number()
        changes = [{"b_id": w["id"], "b_number": w["randomNumber"]} for w in worlds]
        await connection.execute(te.SET_WORLD, sorted(changes, key=lambda c: c["b_id"]))
    await _answer(send, 200, _JSON, json.dumps(worlds).encode())


async def _fortunes(scope: dict[str, Any], send: Any) -> None:
    async with _engine.connect() as connection:
        rows = [tuple(row) for row in await connection.execute(te.ALL_FORTUNES)]
    rows.append((0, te.ADDED))
    rows.sort(key=lambda row: row[1])
    fortunes = [{"id": fortune_id, "message": message} for fortune_id, message in rows]
    await _answer(send, 200, _HTML, _fortunes_page.render(fortunes=fortunes).encode())


async def _cached(scope: dict[str, Any], send: Any) -> None:
    if not _cache:  # the first request fills the cache with every world
        async with _engine.connect() as connection:
            for world_id, number in await connection.execute(te.ALL_WORLDS):
                _cache[world_id] = {"id": world_id, "randomNumber": number}
    found = [_cache[world_id] for world_id in te.ids(_n(scope))]
    await _answer(send, 200, _JSON, json.dumps(found).encode())


_TE_ROUTES = {
    "/queries": _queries,
    "/updates": _updates,
    "/fortunes": _fortunes,
    "/cached-queries": _cached,
}


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        kind = message["type"].rsplit(".", 1)[-1]
        if kind == "shutdown":
            await _engine.dispose()  # pooled connections belong to this event loop
        await send({"type": f"lifespan.{kind}.complete"})
        if kind == "shutdown":
            return


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    path, method = scope["path"], scope["method"]
    if method == "GET" and path == "/plaintext":
        await _answer(send, 200, _TEXT, _HELLO)
    elif method == "GET" and path == "/json":
        await _answer(send, 200, _JSON, _HELLO_JSON)
    elif method == "GET" and path.startswith("/users/") and path.count("/") == 2:
        await _user(scope, send, path[7:])
    elif method == "POST" and path == "/items":
        await _items(receive, send)
    elif method == "GET" and path in _TE_ROUTES:
        await _TE_ROUTES[path](scope, send)
    elif method == "GET" and path == "/db/list":
        await _rows(scope, send)
    elif method == "GET" and path.startswith("/db/orm/") and path.count("/") == 3:
        await _orm_row(send, path[8:])
    elif method == "GET" and path.startswith("/db/") and path.count("/") == 2:
        await _row(send, path[4:])
    else:
        await _answer(send, 404, _TEXT, b"Not Found")
