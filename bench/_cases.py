"""The requests every app must answer, and what a correct answer looks like.

A case is a request plus a check; the drivers refuse to count instructions for an app whose
answer fails its check, so a broken app can never post a flattering figure.
"""

from __future__ import annotations

import datetime
import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench._db import expected_page, expected_row
from bench.apps import _realworld as rw
from bench.apps import _te as te

__all__ = [
    "ALL_CASES",
    "CASES",
    "DB_CASES",
    "DB_ENDPOINTS",
    "DB_NEGATIVE_CASES",
    "ENDPOINTS",
    "NEGATIVE_CASES",
    "RW_CASES",
    "RW_ENDPOINTS",
    "RW_NEGATIVE_CASES",
    "TE_CASES",
    "TE_ENDPOINTS",
    "TE_NEGATIVE_CASES",
    "Answer",
    "BenchError",
    "Case",
]

ITEM: dict[str, Any] = {
    "name": "Widget",
    "description": None,
    "price": 19.99,
    "quantity": 3,
    "available": True,
    "tags": ["tools", "metal", "sale"],
    "dimensions": {"width": 1.5, "height": 2.25, "depth": 0.5},
    "variants": [
        {"sku": "W-RED", "price": 19.99, "stock": 10},
        {"sku": "W-BLU", "price": 21.5, "stock": 0},
        {"sku": "W-GRN", "price": 18.0, "stock": 4},
    ],
}


class BenchError(AssertionError):
    """An app answered a benchmark request wrongly."""


@dataclass
class Answer:
    """What an app sent back: status, lower-cased header names, body bytes."""

    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Case:
    """One request and the answer it must get (``statuses`` lists the acceptable codes)."""

    name: str
    method: str
    path: str
    query: bytes = b""
    body: bytes = b""
    statuses: tuple[int, ...] = (200,)
    media: str = "application/json"
    expect: Any = None  # parsed JSON, or bytes for text; None for error cases
    headers: tuple[tuple[bytes, bytes], ...] = field(default=())
    verify: Callable[[str, Any], None] | None = None  # checks a body no fixed value can (TE)

    def check(self, app: str, answer: Answer) -> None:
        """Raise ``BenchError`` unless ``answer`` is right for this case."""
        where = f"{app} {self.method} {self.path}"
        if answer.status not in self.statuses:
            raise BenchError(
                f"{where}: status {answer.status}, want {self.statuses}: {answer.body!r}"
            )
        if self.expect is None and self.verify is None:
            return
        media = answer.headers.get("content-type", "")
        if not media.startswith(self.media):
            raise BenchError(f"{where}: content-type {media!r}, want {self.media}")
        if self.verify is not None:
            self.verify(where, answer.body)
            return
        got: Any = answer.body if isinstance(self.expect, bytes) else json.loads(answer.body)
        if got != self.expect:
            raise BenchError(f"{where}: body {got!r}, want {self.expect!r}")


_ITEM_BODY = json.dumps(ITEM).encode()
_JSON_HEADERS = ((b"content-type", b"application/json"),)

CASES: dict[str, Case] = {
    "plaintext": Case(
        "plaintext", "GET", "/plaintext", media="text/plain", expect=b"Hello, World!"
    ),
    "json": Case("json", "GET", "/json", expect={"message": "Hello, World!"}),
    "users": Case(
        "users", "GET", "/users/42", query=b"q=hello", expect={"user_id": 42, "q": "hello"}
    ),
    "items": Case("items", "POST", "/items", body=_ITEM_BODY, expect=ITEM, headers=_JSON_HEADERS),
}
ENDPOINTS = tuple(CASES)

# Checked in quick mode only (never counted): the error paths must be 4xx, not 500.
NEGATIVE_CASES: tuple[Case, ...] = (
    Case("users-no-q", "GET", "/users/7", expect={"user_id": 7, "q": None}),
    Case("users-not-int", "GET", "/users/abc", statuses=(400, 404, 422)),
    Case(
        "items-invalid",
        "POST",
        "/items",
        body=json.dumps({**ITEM, "price": "free", "variants": [{"sku": ""}]}).encode(),
        statuses=(400, 422),
        headers=_JSON_HEADERS,
    ),
)

# The database endpoints: measured per database (SQLite, PostgreSQL), apart from the others.
DB_CASES: dict[str, Case] = {
    "db": Case("db", "GET", "/db/42", expect=expected_row(42)),
    "db_orm": Case("db_orm", "GET", "/db/orm/42", expect=expected_row(42)),
    "db_list": Case("db_list", "GET", "/db/list", expect=expected_page()),
}
DB_ENDPOINTS = tuple(DB_CASES)
DB_NEGATIVE_CASES: tuple[Case, ...] = (
    Case("db-missing", "GET", "/db/1000", statuses=(404,)),
    Case("db-not-int", "GET", "/db/abc", statuses=(400, 404, 422)),
    Case("db-orm-missing", "GET", "/db/orm/1000", statuses=(404,)),
    Case("db-orm-not-int", "GET", "/db/orm/abc", statuses=(400, 404, 422)),
)


# TechEmpower's test types (bench/apps/_te.py): random rows, so the answers are checked for
# their shape and values, and the fortunes page for every row, in order, escaped.
def _worlds(n: int) -> Callable[[str, Any], None]:
    def verify(where: str, body: bytes) -> None:
        worlds = json.loads(body)
        if not isinstance(worlds, list) or len(worlds) != n:
            raise BenchError(f"{where}: want a list of {n} worlds, got {body[:200]!r}")
        for world in worlds:
            if set(world) != {"id", "randomNumber"}:
                raise BenchError(f"{where}: want id and randomNumber, got {world!r}")
            if not all(isinstance(v, int) and 1 <= v <= te.WORLD_ROWS for v in world.values()):
                raise BenchError(f"{where}: values out of 1-{te.WORLD_ROWS}: {world!r}")
        if len({world["id"] for world in worlds}) < n // 2:
            raise BenchError(f"{where}: the ids are not random: {body[:200]!r}")

    return verify


_CELLS = re.compile(r"<tr><td>(.*?)</td><td>(.*?)</td></tr>", re.S)
FORTUNES_SORTED = sorted(
    [(0, te.ADDED), *((n, m) for n, m in enumerate(te.FORTUNES, 1))], key=lambda row: row[1]
)


def _fortunes(where: str, body: bytes) -> None:
    page = body.decode()
    if "<script>" in page:
        raise BenchError(f"{where}: a message was not escaped")
    rows = [(int(i), html.unescape(m)) for i, m in _CELLS.findall(page)]
    if rows != FORTUNES_SORTED:
        raise BenchError(f"{where}: want {FORTUNES_SORTED!r}, got {rows!r}")


TE_CASES: dict[str, Case] = {
    "queries": Case("queries", "GET", "/queries", query=b"n=20", verify=_worlds(20)),
    "updates": Case("updates", "GET", "/updates", query=b"n=20", verify=_worlds(20)),
    "fortunes": Case("fortunes", "GET", "/fortunes", media="text/html", verify=_fortunes),
    "cached": Case("cached", "GET", "/cached-queries", query=b"n=20", verify=_worlds(20)),
}
TE_ENDPOINTS = tuple(TE_CASES)
TE_NEGATIVE_CASES: tuple[Case, ...] = (
    Case("queries-not-int", "GET", "/queries", query=b"n=abc", verify=_worlds(1)),
    Case("queries-too-many", "GET", "/queries", query=b"n=501", verify=_worlds(500)),
    Case("queries-none", "GET", "/queries", verify=_worlds(1)),
)


# The realistic endpoints (RealWorld's Conduit; bench/apps/_realworld.py), signed in as user 1:
# every value is known from the stored rows, so each app's answer is compared field by field.
_RW_HEADERS = ((b"authorization", rw.AUTHORIZATION.encode()),)
_RW_POST_HEADERS = (*_JSON_HEADERS, *_RW_HEADERS)
_ARTICLE_KEYS = {"createdAt", "updatedAt"}


def _timestamps(where: str, value: dict[str, Any]) -> dict[str, Any]:
    """``value`` without its ISO 8601 ``createdAt`` and ``updatedAt`` (which must parse)."""
    for key in _ARTICLE_KEYS:
        stamp = value.get(key)
        try:
            datetime.datetime.fromisoformat(stamp)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise BenchError(f"{where}: {key} {stamp!r} is not an ISO 8601 time") from None
    return {key: item for key, item in value.items() if key not in _ARTICLE_KEYS}


def _article_page(where: str, body: bytes) -> None:
    page = json.loads(body)
    if set(page) != {"articles", "articlesCount"} or page["articlesCount"] != rw.ARTICLES:
        raise BenchError(f"{where}: want articles and articlesCount 100, got {body[:300]!r}")
    got = [_timestamps(where, article) for article in page["articles"]]
    # newest first: the articles were stored in id order
    want = [rw.expected_article(n, body=False) for n in range(rw.ARTICLES, rw.ARTICLES - 20, -1)]
    if got != want:
        raise BenchError(f"{where}: want {want[:2]}..., got {got[:2]}...")


def _one_article(where: str, body: bytes) -> None:
    answer = json.loads(body)
    got = _timestamps(where, answer.get("article") or {})
    want = rw.expected_article(7, body=True)  # by user8, not followed; favorited by 2, 5, 8
    if set(answer) != {"article"} or got != want:
        raise BenchError(f"{where}: want {want}, got {answer!r}")


def _comment(where: str, body: bytes) -> None:
    # Comments pile up while an app is measured: any id is right, the rest is known.
    answer = json.loads(body)
    comment = _timestamps(where, answer.get("comment") or {})
    want = {"body": "Thank you!", "author": rw.expected_profile(1)}
    if (
        set(answer) != {"comment"}
        or not isinstance(comment.pop("id", None), int)
        or comment != want
    ):
        raise BenchError(f"{where}: want an id and {want}, got {answer!r}")


_COMMENT_BODY = json.dumps({"comment": {"body": "Thank you!"}}).encode()
_COMMENTS = f"/api/articles/{rw.SLUG}/comments"
RW_CASES: dict[str, Case] = {
    "rw_list": Case(
        "rw_list",
        "GET",
        "/api/articles",
        query=b"limit=20",
        headers=_RW_HEADERS,
        verify=_article_page,
    ),
    "rw_article": Case(
        "rw_article", "GET", f"/api/articles/{rw.SLUG}", headers=_RW_HEADERS, verify=_one_article
    ),
    "rw_comment": Case(
        "rw_comment",
        "POST",
        _COMMENTS,
        body=_COMMENT_BODY,
        statuses=(201,),
        headers=_RW_POST_HEADERS,
        verify=_comment,
    ),
}
# Checked in quick mode only: the spec's 401, 404 and 422, never a 500.
RW_NEGATIVE_CASES: tuple[Case, ...] = (
    Case("rw-no-article", "GET", "/api/articles/no-such", statuses=(404,), headers=_RW_HEADERS),
    Case(
        "rw-comment-no-body",
        "POST",
        _COMMENTS,
        body=b'{"comment": {}}',
        statuses=(422,),
        headers=_RW_POST_HEADERS,
    ),
    Case(
        "rw-comment-blank",
        "POST",
        _COMMENTS,
        body=b'{"comment": {"body": ""}}',
        statuses=(422,),
        headers=_RW_POST_HEADERS,
    ),
    Case(
        "rw-comment-no-article",
        "POST",
        "/api/articles/no-such/comments",
        body=_COMMENT_BODY,
        statuses=(404,),
        headers=_RW_POST_HEADERS,
    ),
    Case(
        "rw-comment-anonymous",
        "POST",
        _COMMENTS,
        body=_COMMENT_BODY,
        statuses=(401,),
        headers=_JSON_HEADERS,
    ),
    Case(
        "rw-comment-bad-token",
        "POST",
        _COMMENTS,
        body=_COMMENT_BODY,
        statuses=(401,),
        headers=(*_JSON_HEADERS, (b"authorization", rw.AUTHORIZATION[:-4].encode() + b"AAAA")),
    ),
)
RW_ENDPOINTS = tuple(RW_CASES)
ALL_CASES: dict[str, Case] = {**CASES, **DB_CASES, **TE_CASES, **RW_CASES}
