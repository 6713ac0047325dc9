"""Resource: CRUD endpoints, filters, ordering, pagination, fields, eager loading, permissions."""

from __future__ import annotations

import base64
import dataclasses
import datetime
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, ClassVar

import openapi_spec_validator
import pydantic
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from prow import App, ConfigurationError, Depends, HTTPError, Request
from prow.db import Database, Model, Resource
from prow.testing import AsyncTestClient

pytestmark = pytest.mark.anyio


# Models on a metadata of their own, with table names unique to this test run: these tests
# create and drop exactly their tables, so they never touch what other modules build on
# Model.metadata, nor the tables of another run using the same server at the same time.
# It also shows that Resource takes any SQLAlchemy declarative model.
RUN = uuid.uuid4().hex[:8]
AUTHORS = f"res_author_{RUN}"
BOOKS = f"res_book_{RUN}"


class Base(DeclarativeBase):
    metadata = sa.MetaData()


class Author(Base):
    __tablename__ = AUTHORS
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50), unique=True)
    books: Mapped[list[Book]] = relationship(back_populates="author")


class Book(Base):
    __tablename__ = BOOKS
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(100))
    price: Mapped[float]
    stock: Mapped[int] = mapped_column(default=0)
    note: Mapped[str | None] = mapped_column(sa.String(100))
    published: Mapped[datetime.date | None]
    created_at: Mapped[datetime.datetime] = mapped_column(server_default=sa.func.now())
    author_id: Mapped[int] = mapped_column(sa.ForeignKey(f"{AUTHORS}.id"))
    author: Mapped[Author] = relationship(back_populates="books")


class Ticket(Base):
    __tablename__ = f"res_ticket_{RUN}"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(50))
    points: Mapped[int] = mapped_column(default=1)
    code: Mapped[str] = mapped_column(sa.String(32), default=lambda: uuid.uuid4().hex)


class Pet(Base):
    __tablename__ = f"res_pet_{RUN}"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))
    kind: Mapped[str] = mapped_column(sa.String(10))
    __mapper_args__: ClassVar[dict[str, Any]] = {
        "polymorphic_on": "kind",
        "polymorphic_identity": "pet",
    }


class Dog(Pet):
    __mapper_args__: ClassVar[dict[str, Any]] = {"polymorphic_identity": "dog"}


class Pair(Base):
    __tablename__ = f"res_pair_{RUN}"
    a: Mapped[int] = mapped_column(primary_key=True)
    b: Mapped[int] = mapped_column(primary_key=True)


@dataclasses.dataclass
class Setup:
    app: App
    db: Database
    client: AsyncTestClient

    async def add(self, *rows: Any) -> None:
        # One row per flush, without explicit keys: ids come out 1, 2, 3... on every
        # backend (PostgreSQL's sequences do not see explicitly given keys).
        async with self.db.session() as session:
            for row in rows:
                session.add(row)
                await session.flush()
            await session.commit()


Factory = Callable[..., Awaitable[Setup]]


@pytest.fixture
async def make(database_url: str) -> AsyncIterator[Factory]:
    made: list[Setup] = []

    async def factory(*resources: Resource) -> Setup:
        app = App()
        db = app.install(Database(database_url))
        for resource in resources:
            app.include(resource)
        await db.drop_all(metadata=Base.metadata)
        await db.create_all(metadata=Base.metadata)
        setup = Setup(app, db, AsyncTestClient(app))
        made.append(setup)
        return setup

    yield factory
    for setup in made:
        await setup.db.drop_all(metadata=Base.metadata)
        await setup.db.dispose()


def books(**options: Any) -> Resource:
    options.setdefault("filter_fields", ["title", "price", "note", "published", "author_id"])
    options.setdefault("order_fields", ["price", "title", "published"])
    return Resource(Book, prefix="/books", **options)


async def library(make: Factory, *resources: Resource) -> Setup:
    """Two authors and five books with distinct prices."""
    setup = await make(*(resources or (books(),)))
    ann, bob = Author(name="Ann"), Author(name="Bob")
    await setup.add(ann, bob)
    await setup.add(
        Book(title="Dune", price=9.5, author_id=1, published=datetime.date(1965, 8, 1)),
        Book(title="Emma", price=4.0, author_id=2, note="classic"),
        Book(title="dune messiah", price=12.0, author_id=1),
        Book(title="100% Sure", price=7.25, author_id=2, note="odd"),
        Book(title="Ubik", price=5.5, author_id=1, published=datetime.date(1969, 5, 1)),
    )
    return setup


async def ids(setup: Setup, url: str) -> list[int]:
    response = await setup.client.get(url)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


# -- the six actions ----------------------------------------------------------------------


async def test_create_and_retrieve(make: Factory) -> None:
    setup = await make(books(), Resource(Author, prefix="/authors"))
    created = await setup.client.post("/authors", json={"name": "Ann"})
    assert created.status_code == 201
    author = created.json()
    assert author == {"id": author["id"], "name": "Ann"}
    response = await setup.client.post(
        "/books", json={"title": "Dune", "price": 9.5, "author_id": author["id"]}
    )
    assert response.status_code == 201
    book = response.json()
    # Defaults from the model and the server are in the answer.
    assert book["stock"] == 0 and book["note"] is None and book["created_at"]
    fetched = await setup.client.get(f"/books/{book['id']}")
    assert fetched.status_code == 200 and fetched.json() == book


async def test_missing_row_is_404(make: Factory) -> None:
    setup = await make(books())
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        body = {"title": "x", "price": 1, "author_id": 1} if method in ("PUT", "PATCH") else None
        response = await setup.client.request(method, "/books/99", json=body)
        assert response.status_code == 404, method
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"] == "Book 99 does not exist."


async def test_bad_key_and_bad_body_are_422(make: Factory) -> None:
    setup = await make(books())
    response = await setup.client.get("/books/abc")
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["path", "pk"]
    response = await setup.client.post("/books", json={"title": "x" * 101, "price": 1})
    assert response.status_code == 422
    locs = {tuple(e["loc"]) for e in response.json()["errors"]}
    assert locs == {("body", "title"), ("body", "author_id")}
    response = await setup.client.post(
        "/books", json={"title": "x", "price": 1, "author_id": 1, "id": 5}
    )
    assert response.status_code == 422  # the key is the database's to choose


async def test_replace_resets_unset_fields(make: Factory) -> None:
    setup = await library(make)
    before = (await setup.client.get("/books/2")).json()
    response = await setup.client.put(
        "/books/2", json={"title": "Emma!", "price": 5, "author_id": 1}
    )
    assert response.status_code == 200
    after = response.json()
    assert after["title"] == "Emma!" and after["author_id"] == 1
    assert after["note"] is None  # unset: back to its default
    assert after["created_at"] == before["created_at"]  # generated by the server: kept


async def test_replace_resets_plain_defaults_and_keeps_generated_ones(make: Factory) -> None:
    setup = await make(Resource(Ticket, prefix="/tickets"))
    created = (await setup.client.post("/tickets", json={"title": "a", "points": 5})).json()
    assert created["points"] == 5 and len(created["code"]) == 32
    response = await setup.client.put(f"/tickets/{created['id']}", json={"title": "b"})
    assert response.status_code == 200
    # points has a plain default: back to it; code is made by a callable at insert: kept.
    assert response.json() == {**created, "title": "b", "points": 1}
    given = {"title": "c", "points": 2, "code": "x" * 32}
    response = await setup.client.put(f"/tickets/{created['id']}", json=given)
    assert response.json() == {"id": created["id"], **given}


async def test_update_changes_only_given_fields(make: Factory) -> None:
    setup = await library(make)
    response = await setup.client.patch("/books/2", json={"stock": 3})
    assert response.status_code == 200
    assert response.json()["stock"] == 3 and response.json()["note"] == "classic"
    response = await setup.client.patch("/books/2", json={"title": None})
    assert response.status_code == 422  # title is not nullable
    assert (await setup.client.get("/books/2")).json()["stock"] == 3


async def test_delete(make: Factory) -> None:
    setup = await library(make)
    response = await setup.client.delete("/books/2")
    assert response.status_code == 204 and response.content == b""
    assert (await setup.client.get("/books/2")).status_code == 404


async def test_integrity_errors_are_409(make: Factory) -> None:
    setup = await library(make, books(), Resource(Author, prefix="/authors"))
    response = await setup.client.post("/authors", json={"name": "Ann"})
    assert response.status_code == 409
    response = await setup.client.post(
        "/books", json={"title": "Orphan", "price": 1, "author_id": 99}
    )
    assert response.status_code == 409
    assert (await ids(setup, "/books?title=Orphan")) == []


async def test_actions_choose_the_endpoints(make: Factory) -> None:
    setup = await library(make, books(actions=("list", "retrieve")))
    assert (await setup.client.get("/books/1")).status_code == 200
    assert (await setup.client.post("/books", json={})).status_code == 405
    assert (await setup.client.delete("/books/1")).status_code == 405


# -- filters ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("price=9.5", [1]),
        ("price__gt=7.25", [1, 3]),
        ("price__gte=7.25", [1, 3, 4]),
        ("price__lt=5.5", [2]),
        ("price__lte=5.5", [2, 5]),
        ("price__gte=5&price__lt=10", [1, 4, 5]),
        ("author_id__in=2", [2, 4]),
        ("id__in=1", None),
        ("title__in=Dune,Ubik", [1, 5]),
        ("title__in=Dune&title__in=Emma", [1, 2]),
        ("title__contains=une", [1, 3]),
        ("title__icontains=DUNE", [1, 3]),
        ("title__startswith=Em", [2]),
        ("title__istartswith=DUNE", [1, 3]),
        ("title__contains=%25", [4]),  # a literal %, not a wildcard
        ("title__contains=_", []),
        ("note__isnull=true", [1, 3, 5]),
        ("note__isnull=false", [2, 4]),
        ("published__gte=1966-01-01", [5]),
        ("author_id=1&price__lt=10", [1, 5]),
    ],
)
async def test_filters(make: Factory, query: str, expected: list[int] | None) -> None:
    setup = await library(make)
    if expected is None:
        response = await setup.client.get(f"/books?{query}")
        assert response.status_code == 400
        return
    assert sorted(await ids(setup, f"/books?{query}")) == expected


async def test_filter_on_undeclared_field_is_400_listing_the_fields(make: Factory) -> None:
    setup = await library(make)
    response = await setup.client.get("/books?stock=3")
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    detail = response.json()["detail"]
    assert "cannot filter on 'stock'" in detail
    assert "author_id, note, price, published, title" in detail


async def test_unknown_lookup_is_400_listing_the_lookups(make: Factory) -> None:
    setup = await library(make)
    response = await setup.client.get("/books?price__icontains=3")
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "unknown lookup 'icontains' for field 'price'; "
        "allowed lookups: exact, in, isnull, gt, gte, lt, lte"
    )


async def test_bad_filter_value_names_the_parameter(make: Factory) -> None:
    setup = await library(make)
    response = await setup.client.get("/books?price__gte=cheap&published=yesterday")
    assert response.status_code == 422
    locs = [e["loc"] for e in response.json()["errors"]]
    assert locs == [["query", "price__gte"], ["query", "published"]]
    response = await setup.client.get("/books?author_id__in=1,x")
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"][:2] == ["query", "author_id__in"]


async def test_search(make: Factory) -> None:
    setup = await library(make, books(search_fields=["title", "note"]))
    assert sorted(await ids(setup, "/books?search=dune")) == [1, 3]
    assert sorted(await ids(setup, "/books?search=CLASS")) == [2]


# -- ordering, pagination, fields ---------------------------------------------------------


async def test_ordering(make: Factory) -> None:
    setup = await library(make)
    assert await ids(setup, "/books?order=price") == [2, 5, 4, 1, 3]
    assert await ids(setup, "/books?order=-price") == [3, 1, 4, 5, 2]
    await setup.add(Book(title="Dune", price=1, author_id=1))
    assert (await ids(setup, "/books?order=title,-price"))[:3] == [4, 1, 6]
    assert await ids(setup, "/books") == [1, 2, 3, 4, 5, 6]  # by key when not asked


async def test_default_order(make: Factory) -> None:
    setup = await library(make, books(default_order="-price"))
    assert await ids(setup, "/books") == [3, 1, 4, 5, 2]


async def test_order_on_undeclared_field_is_400(make: Factory) -> None:
    setup = await library(make)
    response = await setup.client.get("/books?order=-stock")
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "cannot order by 'stock'; allowed: price, published, title (prefix '-' for descending)"
    )


async def test_limit_offset_and_total(make: Factory) -> None:
    setup = await library(make, books(default_limit=2, max_limit=3))
    page = (await setup.client.get("/books?order=price")).json()
    assert [i["id"] for i in page["items"]] == [2, 5]
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 0)
    page = (await setup.client.get("/books?order=price&offset=4&price__gt=1")).json()
    assert [i["id"] for i in page["items"]] == [3]
    assert page["total"] == 5
    page = (await setup.client.get("/books?author_id=1&limit=3")).json()
    assert page["total"] == 3 and len(page["items"]) == 3
    response = await setup.client.get("/books?limit=4")
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "limit"]
    assert (await setup.client.get("/books?offset=-1")).status_code == 422


async def test_cursor_pagination(make: Factory) -> None:
    setup = await library(make, books(cursor_field="id", default_limit=2))
    seen: list[int] = []
    cursor = ""
    pages = 0
    while cursor is not None:
        response = await setup.client.get("/books", params={"cursor": cursor})
        assert response.status_code == 200
        page = response.json()
        assert page["total"] is None and page["offset"] is None
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        pages += 1
    assert seen == [1, 2, 3, 4, 5] and pages == 3
    first = (await setup.client.get("/books?cursor=&order=-id&author_id=1")).json()
    assert [i["id"] for i in first["items"]] == [5, 3]
    token = first["next_cursor"]
    second = (await setup.client.get(f"/books?cursor={token}&author_id=1")).json()
    assert [i["id"] for i in second["items"]] == [1] and second["next_cursor"] is None
    offset_page = (await setup.client.get("/books")).json()
    assert offset_page["total"] == 5 and offset_page["next_cursor"] is None


async def test_cursor_errors_are_400(make: Factory) -> None:
    setup = await library(make, books(cursor_field="id"))
    for query, phrase in [
        ("cursor=!!!", "invalid cursor"),
        ("cursor=eyJ2IjogIngifQ", "invalid cursor"),
        ("cursor=&offset=2", "offset cannot be combined"),
        ("cursor=&order=price", "the order can only be id or -id"),
    ]:
        response = await setup.client.get(f"/books?{query}")
        assert response.status_code == 400, query
        assert phrase in response.json()["detail"]


async def test_field_selection(make: Factory) -> None:
    setup = await library(make)
    page = (await setup.client.get("/books?fields=id,title&order=-price&limit=2")).json()
    assert page == {
        "items": [{"id": 3, "title": "dune messiah"}, {"id": 1, "title": "Dune"}],
        "total": 5,
        "limit": 2,
        "offset": 0,
    }
    one = await setup.client.get("/books/1?fields=price")
    assert one.json() == {"price": 9.5}
    response = await setup.client.get("/books?fields=id,secret")
    assert response.status_code == 400
    assert "unknown field(s) secret" in response.json()["detail"]


# -- eager loading ------------------------------------------------------------------------


async def test_load_nests_relationships_without_n_plus_1(make: Factory) -> None:
    setup = await library(make, books(load=("author",)))
    for index in range(6, 26):
        await setup.add(Book(title=f"B{index}", price=index, author_id=1 + index % 2))
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    sa.event.listen(setup.db.engine.sync_engine, "before_cursor_execute", count)
    try:
        page = (await setup.client.get("/books?limit=50")).json()
    finally:
        sa.event.remove(setup.db.engine.sync_engine, "before_cursor_execute", count)
    assert len(page["items"]) == 25
    assert page["items"][0]["author"] == {"id": 1, "name": "Ann"}
    assert {item["author"]["name"] for item in page["items"]} == {"Ann", "Bob"}
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    # one statement: a many-to-one relationship joins the page's SELECT
    assert len(selects) == 1 and "JOIN" in selects[0].upper(), selects
    # (a page shorter than the limit needs no COUNT)
    one = (await setup.client.get("/books/2")).json()
    assert one["author"] == {"id": 2, "name": "Bob"}
    created = await setup.client.post("/books", json={"title": "N", "price": 1, "author_id": 2})
    assert created.json()["author"]["name"] == "Bob"


# -- permissions --------------------------------------------------------------------------


async def test_permission_callable_returning_false_is_403(make: Factory) -> None:
    calls: list[tuple[str, Any]] = []

    def only_cheap(request: Request, action: str, book: Any) -> bool:
        calls.append((action, None if book is None else book.id))
        return book is None or book.price < 10

    setup = await library(make, books(permissions={"delete": only_cheap, "retrieve": only_cheap}))
    response = await setup.client.delete("/books/3")
    assert response.status_code == 403
    assert response.json()["detail"] == "not allowed to delete Book rows"
    assert (await setup.client.get("/books/3")).status_code == 403
    assert (await setup.client.delete("/books/2")).status_code == 204
    assert calls == [("delete", 3), ("retrieve", 3), ("delete", 2)]
    assert (await setup.client.get("/books/3?fields=id")).status_code == 403


async def test_permission_may_raise_and_be_async(make: Factory) -> None:
    async def staff_only(request: Request, action: str, book: Any) -> None:
        if request.headers.get("x-staff") != "yes":
            raise HTTPError(403, "staff only")

    setup = await library(make, books(permissions={"*": staff_only}))
    response = await setup.client.get("/books")
    assert response.status_code == 403 and response.json()["detail"] == "staff only"
    response = await setup.client.post("/books", json={"title": "x", "price": 1, "author_id": 1})
    assert response.status_code == 403
    assert (await setup.client.get("/books", headers={"x-staff": "yes"})).status_code == 200


async def test_permission_as_a_dependency(make: Factory) -> None:
    def api_key(request: Request) -> None:
        if request.headers.get("x-key") != "secret":
            raise HTTPError(403, "a valid x-key header is required")

    setup = await library(make, books(permissions={"create": Depends(api_key)}))
    body = {"title": "x", "price": 1, "author_id": 1}
    assert (await setup.client.post("/books", json=body)).status_code == 403
    response = await setup.client.post("/books", json=body, headers={"x-key": "secret"})
    assert response.status_code == 201
    assert (await setup.client.get("/books")).status_code == 200


# -- OpenAPI ------------------------------------------------------------------------------


def test_openapi_documents_every_endpoint_and_parameter() -> None:
    app = App()
    app.include(books(load=("author",), cursor_field="id", search_fields=["title"]))
    app.include(Resource(Author, prefix="/authors", permissions={"delete": lambda *a: True}))
    document = app.openapi()
    openapi_spec_validator.validate(document)
    listing = document["paths"]["/books"]["get"]
    names = [p["name"] for p in listing["parameters"]]
    assert names[:6] == ["limit", "offset", "order", "fields", "search", "cursor"]
    assert {"price__gte", "title__icontains", "author_id__in", "note__isnull"} <= set(names)
    by_name = {p["name"]: p for p in listing["parameters"]}
    assert by_name["price__gte"]["schema"] == {"type": "number"}
    int32 = {"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1}
    assert by_name["author_id__in"]["schema"]["items"] == int32
    assert {by_name["author_id"]["schema"]["minimum"], by_name["offset"]["schema"]["maximum"]} == {
        -(2**31),
        2**31 - 1,
    }
    retrieve = document["paths"]["/books/{pk}"]["get"]["parameters"][0]
    assert retrieve["schema"] == {"type": "integer", **int32}
    assert by_name["limit"]["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 100,
        "default": 20,
    }
    # 503: the list reads the database, which may be unreachable.
    assert set(listing["responses"]) == {"200", "400", "422", "503"}
    assert set(document["paths"]["/books/{pk}"]) == {"get", "put", "patch", "delete"}
    create = document["paths"]["/books"]["post"]
    assert create["responses"]["201"]["content"]["application/json"]["schema"]["$ref"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/BookCreate"
    }
    assert "403" in document["paths"]["/authors/{pk}"]["delete"]["responses"]
    assert "403" not in document["paths"]["/authors/{pk}"]["get"]["responses"]
    assert document["paths"]["/books/{pk}"]["delete"]["responses"]["204"] == {
        "description": "No Content"
    }


# -- configuration mistakes fail at start-up ----------------------------------------------


@pytest.mark.parametrize(
    ("options", "code", "phrase"),
    [
        ({"filter_fields": ["nope"]}, "prow.E511", "filter_fields names 'nope'"),
        ({"order_fields": ["author"]}, "prow.E511", "not a column of Book"),
        ({"default_order": "-stock"}, None, "cannot order by 'stock'"),
        ({"load": ["title"]}, "prow.E512", "its relationships are author"),
        ({"actions": ["list", "purge"]}, "prow.E514", "unknown name(s) ['purge']"),
        ({"permissions": {"remove": print}}, "prow.E514", "allowed: list, retrieve"),
        ({"default_limit": 500}, "prow.E510", "between 1 and max_limit=100"),
    ],
)
def test_configuration_errors(options: dict[str, Any], code: str | None, phrase: str) -> None:
    with pytest.raises((ConfigurationError, HTTPError)) as info:
        Resource(Book, **options)
    assert phrase in str(info.value)
    if code is not None:
        assert info.value.code == code  # type: ignore[union-attr]


def test_composite_primary_key_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="single-column primary key"):
        Resource(Pair)


def test_default_prefix_and_names() -> None:
    app = App()
    app.include(Resource(Author))
    assert app.url_for(f"{AUTHORS}_retrieve", pk=3) == f"/{AUTHORS}/3"
    assert app.url_for(f"{AUTHORS}_list") == f"/{AUTHORS}"


# -- values the columns cannot hold, and other review findings ---------------------------

HUGE = 99999999999999999999


def cursor_token(data: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


async def assert_422_at(response: Any, *loc: str) -> None:
    assert response.status_code == 422, response.text
    assert [e["loc"][: len(loc)] for e in response.json()["errors"]] == [list(loc)]


async def test_huge_integers_are_422_naming_the_parameter(make: Factory) -> None:
    setup = await library(make, books(cursor_field="id"))
    client = setup.client
    await assert_422_at(await client.get(f"/books/{HUGE}"), "path", "pk")
    await assert_422_at(await client.get("/books/2147483648"), "path", "pk")  # 2**31
    assert (await client.get("/books/2147483647")).status_code == 404
    await assert_422_at(await client.get(f"/books?offset={HUGE}"), "query", "offset")
    await assert_422_at(await client.get("/books?offset=2147483648"), "query", "offset")
    await assert_422_at(await client.get(f"/books?author_id={HUGE}"), "query", "author_id")
    await assert_422_at(
        await client.get(f"/books?author_id__gte=-{HUGE}"), "query", "author_id__gte"
    )
    await assert_422_at(
        await client.get(f"/books?author_id__in=1,{HUGE}"), "query", "author_id__in"
    )
    body = {"title": "x", "price": 1, "author_id": HUGE}
    await assert_422_at(await client.post("/books", json=body), "body", "author_id")
    await assert_422_at(await client.put("/books/1", json=body), "body", "author_id")
    await assert_422_at(await client.patch("/books/1", json={"stock": HUGE}), "body", "stock")
    response = await client.get("/books", params={"cursor": cursor_token({"v": HUGE, "d": False})})
    assert response.status_code == 400
    assert "invalid cursor (not a position in id)" in response.json()["detail"]


@pytest.mark.parametrize("number", [b"1e400", b"-1e400", b"Infinity", b"NaN"])
async def test_infinite_or_nan_body_is_422(make: Factory, number: bytes) -> None:
    setup = await library(make)
    body = b'{"title": "x", "author_id": 1, "price": ' + number + b"}"
    headers = {"content-type": "application/json"}
    await assert_422_at(await setup.client.post("/books", content=body), "body", "price")
    response = await setup.client.post("/books", content=body, headers=headers)
    await assert_422_at(response, "body", "price")
    patch = b'{"price": ' + number + b"}"
    response = await setup.client.patch("/books/1", content=patch, headers=headers)
    await assert_422_at(response, "body", "price")
    assert (await setup.client.get("/books/1")).json()["price"] == 9.5


@pytest.mark.parametrize(
    "query",
    ["price__gte=nan", "price__lt=inf", "price=-inf", "price__exact=NaN", "price__in=1,nan"],
)
async def test_infinite_or_nan_filter_is_422(make: Factory, query: str) -> None:
    setup = await library(make)
    name = query.partition("=")[0]
    await assert_422_at(await setup.client.get(f"/books?{query}"), "query", name)


async def test_deleting_a_referenced_row_is_409(make: Factory) -> None:
    # Author.books is a one-to-many relationship(back_populates=...): session.delete()
    # would first set the books' author_id to NULL and fail as a 422 "must not be null".
    setup = await library(make, books(), Resource(Author, prefix="/authors"))
    response = await setup.client.delete("/authors/1")
    assert response.status_code == 409, response.text
    problem = response.json()
    assert problem["violation"] == "referenced"
    assert problem["detail"] == "This row is still referenced by other rows."
    assert (await setup.client.get("/books/1")).json()["author_id"] == 1
    assert (await setup.client.get("/authors/1")).status_code == 200
    await setup.client.post("/authors", json={"name": "Cy"})
    assert (await setup.client.delete("/authors/3")).status_code == 204
    assert (await setup.client.get("/authors/3")).status_code == 404


async def test_datetime_filters_match_the_value_shown(make: Factory) -> None:
    # SQLite stores CURRENT_TIMESTAMP as "YYYY-MM-DD HH:MM:SS" and SQLAlchemy's values as
    # "YYYY-MM-DD HH:MM:SS.ffffff": both forms must match the value the API shows.
    fields = ["title", "created_at"]
    setup = await make(books(filter_fields=fields), Resource(Author, prefix="/authors"))
    await setup.add(Author(name="Ann"))
    made = await setup.client.post("/books", json={"title": "A", "price": 1, "author_id": 1})
    shown = made.json()["created_at"]
    noon = datetime.datetime(2020, 1, 1, 12, 0, 0)
    await setup.add(Book(title="B", price=2, author_id=1, created_at=noon))
    assert await ids(setup, f"/books?created_at={shown}") == [1]
    assert await ids(setup, f"/books?created_at__gte={shown}") == [1]
    assert await ids(setup, f"/books?created_at__lte={shown}") == [1, 2]
    assert await ids(setup, f"/books?created_at__gt={shown}") == []
    assert await ids(setup, f"/books?created_at__lt={shown}") == [2]
    for query in ("created_at=2020-01-01T12:00:00", "created_at__in=2020-01-01T12:00:00"):
        assert await ids(setup, f"/books?{query}") == [2], query
    assert await ids(setup, "/books?created_at__lte=2020-01-01T12:00:00") == [2]
    assert await ids(setup, "/books?created_at__gt=2020-01-01T12:00:00") == [1]


async def test_exact_lookup_is_the_bare_field(make: Factory) -> None:
    setup = await library(make)
    assert await ids(setup, "/books?price__exact=9.5") == [1]
    assert await ids(setup, "/books?title__exact=Emma&author_id__exact=2") == [2]


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("cursor=", "this resource has no cursor pagination; use limit and offset"),
        ("fields=", "fields= needs at least one field name, among: id, title"),
        ("fields=,", "fields= needs at least one field name, among: id, title"),
        (
            "title=a&title=b",
            "title was given more than once; to match any of several values use title__in=a,b",
        ),
        ("price__gte=1&price__gte=2", "price__gte was given more than once"),
    ],
)
async def test_list_query_mistakes_are_400(make: Factory, query: str, detail: str) -> None:
    setup = await library(make)
    response = await setup.client.get(f"/books?{query}")
    assert response.status_code == 400
    assert response.json()["detail"].startswith(detail)


@pytest.mark.parametrize("data", [{"v": 1, "d": "x"}, {"v": 1, "d": 1}, [1], {"v": "a", "d": True}])
async def test_malformed_cursor_is_400(make: Factory, data: Any) -> None:
    setup = await library(make, books(cursor_field="id"))
    response = await setup.client.get("/books", params={"cursor": cursor_token(data)})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("invalid cursor")


# -- lists select columns, not objects, when prow owns the read schema ----------------------


async def test_a_subclass_resource_lists_only_its_rows(make: Factory) -> None:
    # Single-table inheritance: the page selects columns, and the ORM still adds the
    # subclass's discriminator, on the plain page, a filtered one and the count.
    dogs = Resource(
        Dog, prefix="/dogs", filter_fields=["name"], order_fields=["id"], default_limit=1
    )
    setup = await make(dogs)
    await setup.add(Pet(name="Tom"), Dog(name="Rex"), Pet(name="Kit"), Dog(name="Fido"))
    page = (await setup.client.get("/dogs")).json()
    assert page["items"] == [{"id": 2, "name": "Rex", "kind": "dog"}]
    assert page["total"] == 2
    assert await ids(setup, "/dogs?offset=1") == [4]
    assert await ids(setup, "/dogs?name=Tom") == []
    assert await ids(setup, "/dogs?limit=5&order=-id") == [4, 2]


def test_a_subclass_resource_is_named_after_its_class() -> None:
    from prow.auth import model_permissions

    assert Resource(Dog, actions=["list"]).prefix == "/dog"  # not its parent's table
    assert model_permissions(Dog)[0] == "dog.view"
    assert Resource(Pet, actions=["list"]).prefix == f"/res_pet_{RUN}"


class BookView(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(from_attributes=True)
    id: int
    title: str
    label: str

    @pydantic.model_validator(mode="before")
    @classmethod
    def from_book(cls, book: Any) -> Any:
        assert isinstance(book, Book), f"a custom read schema gets objects, not {book!r}"
        return {"id": book.id, "title": book.title, "label": f"{book.title} ({book.price})"}


async def test_a_custom_read_schema_gets_model_objects(make: Factory) -> None:
    setup = await library(make, books(read_schema=BookView))
    page = (await setup.client.get("/books?limit=2")).json()
    assert page["items"] == [
        {"id": 1, "title": "Dune", "label": "Dune (9.5)"},
        {"id": 2, "title": "Emma", "label": "Emma (4.0)"},
    ]
    assert page["total"] == 5
    assert (await setup.client.get("/books/3")).json()["label"] == "dune messiah (12.0)"


# -- deferred columns and inheritance on prow's Model -------------------------------------


class Memo(Base):
    __tablename__ = f"res_memo_{RUN}"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(50))
    body: Mapped[str] = mapped_column(sa.Text, deferred=True)


async def stored_bodies(setup: Setup) -> list[str]:
    async with setup.db.session() as session:
        return list(await session.scalars(sa.select(Memo.body).order_by(Memo.id)))


async def test_a_deferred_column_is_written_but_never_read(make: Factory) -> None:
    # Reading a deferred column from a row that did not load it is a lazy load, which an
    # async session refuses: every answer leaves it out instead of failing with a 500.
    setup = await make(Resource(Memo, prefix="/memos", filter_fields=["body"]))
    created = await setup.client.post("/memos", json={"title": "a", "body": "long text"})
    assert created.status_code == 201, created.text
    assert created.json() == {"id": 1, "title": "a"}
    await setup.client.post("/memos", json={"title": "b", "body": "other"})
    retrieved = await setup.client.get("/memos/1")
    assert retrieved.status_code == 200 and retrieved.json() == {"id": 1, "title": "a"}
    page = (await setup.client.get("/memos")).json()
    assert page["items"] == [{"id": 1, "title": "a"}, {"id": 2, "title": "b"}]
    assert await ids(setup, "/memos?body=other") == [2]  # filtering on it still works
    response = await setup.client.patch("/memos/1", json={"body": "edited"})
    assert response.status_code == 200 and response.json() == {"id": 1, "title": "a"}
    response = await setup.client.put("/memos/2", json={"title": "c", "body": "replaced"})
    assert response.status_code == 200 and response.json() == {"id": 2, "title": "c"}
    assert await stored_bodies(setup) == ["edited", "replaced"]
    missing = await setup.client.post("/memos", json={"title": "d"})
    assert missing.status_code == 422
    assert [e["loc"] for e in missing.json()["errors"]] == [["body", "body"]]
    assert (await setup.client.get("/memos/1?fields=body")).status_code == 400


class MemoFull(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(from_attributes=True)
    id: int
    title: str
    body: str


async def test_a_read_schema_that_shows_a_deferred_column_gets_it_loaded(make: Factory) -> None:
    setup = await make(Resource(Memo, prefix="/memos", read_schema=MemoFull))
    created = await setup.client.post("/memos", json={"title": "a", "body": "long text"})
    assert created.status_code == 201, created.text
    assert created.json() == {"id": 1, "title": "a", "body": "long text"}
    assert (await setup.client.get("/memos/1")).json()["body"] == "long text"
    assert (await setup.client.get("/memos")).json()["items"][0]["body"] == "long text"
    patched = await setup.client.patch("/memos/1", json={"body": "edited"})
    assert patched.status_code == 200 and patched.json()["body"] == "edited"


class Vehicle(Model):
    # prow's Model with an explicit table name: a subclass that does not set one must
    # still be single-table, its queries filtered by the discriminator.
    __tablename__ = f"res_vehicle_{RUN}"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))
    kind: Mapped[str] = mapped_column(sa.String(10))
    __mapper_args__: ClassVar[dict[str, Any]] = {
        "polymorphic_on": "kind",
        "polymorphic_identity": "vehicle",
    }


class Bike(Vehicle):
    __mapper_args__: ClassVar[dict[str, Any]] = {"polymorphic_identity": "bike"}


async def test_a_subclass_of_a_named_table_lists_only_its_rows(make: Factory) -> None:
    bikes = Resource(Bike, prefix="/bikes", order_fields=["id"], default_limit=1)
    setup = await make(bikes)
    await setup.db.drop_all(Vehicle)  # leftovers of an interrupted run
    await setup.db.create_all(Vehicle)
    try:
        await setup.add(Vehicle(name="Van"), Bike(name="Brompton"), Bike(name="Moulton"))
        page = (await setup.client.get("/bikes")).json()
        assert page["items"] == [{"id": 2, "name": "Brompton", "kind": "bike"}]
        assert page["total"] == 2
        assert await ids(setup, "/bikes?limit=5&order=-id") == [3, 2]
        assert (await setup.client.get("/bikes/1")).status_code == 404  # a van, not a bike
        assert (await setup.client.get("/bikes/3")).json()["name"] == "Moulton"
    finally:
        await setup.db.drop_all(Vehicle)
