"""The requests every app must answer, and what a correct answer looks like.

A case is a request plus a check; the drivers refuse to count instructions for an app whose
answer fails its check, so a broken app can never post a flattering figure.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench._db import expected_page, expected_row
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


# The realistic endpoints (RealWorld's Conduit, bench/apps/conduit_app.py), signed in as user1.
def _article_page(where: str, body: bytes) -> None:
    page = json.loads(body)
    articles = page.get("articles")
    if page.get("articlesCount") != 100 or not isinstance(articles, list) or len(articles) != 20:
        raise BenchError(f"{where}: want 20 of 100 articles, got {body[:300]!r}")
    for article in articles:
        _article(where, article)


def _article(where: str, article: dict[str, Any]) -> None:
    author = article.get("author") or {}
    if not (
        isinstance(article.get("favorited"), bool)
        and isinstance(article.get("favoritesCount"), int)
        and len(article.get("tagList") or []) == 3
        and isinstance(author.get("following"), bool)
        and author.get("username", "").startswith("user")
    ):
        raise BenchError(f"{where}: not a full article: {article!r}")


def _one_article(where: str, body: bytes) -> None:
    article = json.loads(body).get("article") or {}
    _article(where, article)
    # article 7 is by user8 (followed by user1? no: user1 follows users 2-5); favorited by
    # user1 when (7 + 1) % 3 == 0: no; 3 favorites: users 2, 5 and 8
    wanted = {"slug": "article-7", "favorited": False, "favoritesCount": 3}
    if {key: article.get(key) for key in wanted} != wanted or article["author"]["following"]:
        raise BenchError(f"{where}: want {wanted} by user8 not followed, got {article!r}")


def _comment(where: str, body: bytes) -> None:
    comment = json.loads(body).get("comment") or {}
    author = comment.get("author") or {}
    if comment.get("body") != "Thank you!" or author.get("username") != "user1":
        raise BenchError(f"{where}: want user1's comment, got {body[:300]!r}")
    if not isinstance(comment.get("id"), int) or author.get("following") is not False:
        raise BenchError(f"{where}: want an id and following false, got {comment!r}")


_COMMENT_BODY = json.dumps({"comment": {"body": "Thank you!"}}).encode()
RW_CASES: dict[str, Case] = {
    "rw_list": Case("rw_list", "GET", "/api/articles", query=b"limit=20", verify=_article_page),
    "rw_article": Case("rw_article", "GET", "/api/articles/article-7", verify=_one_article),
    "rw_comment": Case(
        "rw_comment",
        "POST",
        "/api/articles/article-7/comments",
        body=_COMMENT_BODY,
        statuses=(201,),
        headers=_JSON_HEADERS,
        verify=_comment,
    ),
}
RW_ENDPOINTS = tuple(RW_CASES)
ALL_CASES: dict[str, Case] = {**CASES, **DB_CASES, **TE_CASES, **RW_CASES}
