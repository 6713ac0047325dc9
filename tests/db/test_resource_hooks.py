"""Resource subclasses: options as class attributes, and the hooks the handlers await."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import openapi_spec_validator
import pydantic
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from db.conftest import server_url
from prow import App, ConfigurationError, Depends, HTTPError, Request
from prow.auth import Auth, get_user, requires
from prow.db import Resource, ResourceOptions, database, schema_for
from prow.testing import TestClient

# Tables of their own, named for this run: a shared server never sees another run's rows.
RUN = uuid.uuid4().hex[:8]


class Base(DeclarativeBase):
    metadata = sa.MetaData()


class Note(Base):
    __tablename__ = f"hook_note_{RUN}"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str] = mapped_column(sa.String(20))
    title: Mapped[str] = mapped_column(sa.String(50))
    points: Mapped[int] = mapped_column(default=0)
    locked: Mapped[bool] = mapped_column(default=False)


def signed_in(request: Request) -> str:
    """The test's stand-in for a login: the ``x-user`` header names the user."""
    user = request.headers.get("x-user")
    if not user:
        raise HTTPError(401, "sign in first")
    return user


SIGNED_IN = {"*": Depends(signed_in)}


class NoteResource(Resource):
    """Each user sees and changes only their notes; the owner is set by the server."""

    model = Note
    prefix = "/notes"
    filter_fields = ("points", "title")
    order_fields = ("points", "title")
    cursor_field = "id"
    read_only_fields = ("owner",)
    permissions = SIGNED_IN

    async def get_query(
        self, request: Request, session: AsyncSession, statement: sa.Select[Any]
    ) -> sa.Select[Any]:
        return statement.where(Note.owner == request.headers["x-user"])

    async def before_create(
        self, request: Request, session: AsyncSession, data: dict[str, Any]
    ) -> None:
        data["owner"] = request.headers["x-user"]

    async def has_permission(
        self, request: Request, session: AsyncSession, action: str, row: Any
    ) -> bool:
        return row is None or action == "retrieve" or not row.locked


ANN, BOB = {"x-user": "ann"}, {"x-user": "bob"}


def app_for(url: str, *resources: Resource, rows: tuple[Note, ...] = ()) -> App:
    """An app serving ``resources`` on ``url``, its tables made (with ``rows``) and dropped."""

    @contextlib.asynccontextmanager
    async def lifespan(app: App) -> AsyncIterator[None]:
        db = database(app)
        await db.drop_all(metadata=Base.metadata)  # leftovers of an interrupted run
        await db.create_all(metadata=Base.metadata)
        async with db.session() as session:
            for row in rows:  # one flush each: keys 1, 2, 3... on every backend
                session.add(row)
                await session.flush()
            await session.commit()
        yield
        await db.drop_all(metadata=Base.metadata)

    app = App(database_url=url, lifespan=lifespan)
    for resource in resources:
        app.include(resource)
    return app


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'hooks.sqlite3'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def list_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'hooks.sqlite3'}"
    return server_url("postgresql")


@pytest.fixture
def notes(sqlite_url: str) -> Iterator[TestClient]:
    with TestClient(app_for(sqlite_url, NoteResource())) as client:
        yield client


# -- server-set values ----------------------------------------------------------------


def test_the_owner_is_set_by_the_server_from_the_signed_in_user(notes: TestClient) -> None:
    created = notes.post("/notes", json={"title": "mine"}, headers=ANN)
    assert created.status_code == 201
    assert created.json() == {
        "id": 1,
        "owner": "ann",
        "title": "mine",
        "points": 0,
        "locked": False,
    }
    assert notes.post("/notes", json={"title": "anon"}).status_code == 401


def test_a_client_sent_owner_is_refused_not_trusted(notes: TestClient) -> None:
    forged = notes.post("/notes", json={"title": "x", "owner": "bob"}, headers=ANN)
    assert forged.status_code == 422
    assert forged.json()["errors"][0]["loc"] == ["body", "owner"]
    assert "Extra inputs are not permitted" in forged.text
    notes.post("/notes", json={"title": "mine"}, headers=ANN)
    assert notes.patch("/notes/1", json={"owner": "bob"}, headers=ANN).status_code == 422
    assert (
        notes.put("/notes/1", json={"title": "t", "owner": "bob"}, headers=ANN).status_code == 422
    )
    replaced = notes.put("/notes/1", json={"title": "again"}, headers=ANN)
    assert replaced.json()["owner"] == "ann"  # PUT resets writable fields only


def test_read_only_fields_leave_the_write_schemas_only(notes: TestClient) -> None:
    document = notes.get("/openapi.json").json()
    openapi_spec_validator.validate(document)
    schemas = document["components"]["schemas"]
    create = document["paths"]["/notes"]["post"]["requestBody"]["content"]["application/json"]
    assert schemas[create["schema"]["$ref"].rsplit("/", 1)[1]]["properties"].keys() == {
        "title",
        "points",
        "locked",
    }
    assert "owner" not in schemas["NoteUpdate"]["properties"]
    assert "owner" in schemas["NoteRead"]["properties"]
    # has_permission may refuse any action: each documents its 403.
    for path, methods in document["paths"].items():
        if path.startswith("/notes"):
            assert all("403" in operation["responses"] for operation in methods.values())


# -- row-level scoping ------------------------------------------------------------------


def seeded_notes() -> tuple[Note, ...]:
    """Ann's notes 1, 3, 5, ..., 11 and Bob's 2, 4, ..., 12, points 0..11."""
    return tuple(
        Note(owner=("ann", "bob")[i % 2], title=f"note {i:02}", points=i) for i in range(12)
    )


def test_another_users_row_does_not_exist_for_retrieve_update_replace_delete(
    sqlite_url: str,
) -> None:
    with TestClient(app_for(sqlite_url, NoteResource(), rows=seeded_notes())) as client:
        for method, body in (
            ("GET", None),
            ("PATCH", {"title": "stolen"}),
            ("PUT", {"title": "stolen"}),
            ("DELETE", None),
        ):
            answer = client.request(method, "/notes/1", json=body, headers=BOB)
            assert answer.status_code == 404, method
            assert answer.json()["detail"] == "Note 1 does not exist."
        assert client.get("/notes/1", headers=ANN).json()["title"] == "note 00"
        assert client.delete("/notes/2", headers=BOB).status_code == 204


def test_lists_show_only_the_users_rows_with_filters_order_and_pages(list_url: str) -> None:
    with TestClient(app_for(list_url, NoteResource(), rows=seeded_notes())) as client:

        def ids(query: str, headers: dict[str, str] = BOB) -> list[int]:
            answer = client.get(f"/notes?{query}", headers=headers)
            assert answer.status_code == 200, answer.text
            return [item["id"] for item in answer.json()["items"]]

        assert ids("") == [2, 4, 6, 8, 10, 12]
        assert ids("", ANN) == [1, 3, 5, 7, 9, 11]
        assert ids("points__gte=4&order=-points") == [12, 10, 8, 6]
        assert ids("title__in=note 00,note 01") == [2]
        # A full page and a later page count the user's rows only.
        first = client.get("/notes?limit=2&order=-title", headers=BOB).json()
        assert [item["id"] for item in first["items"]] == [12, 10]
        assert first["total"] == 6
        later = client.get("/notes?limit=2&offset=4&points__lt=11", headers=BOB).json()
        assert ([item["id"] for item in later["items"]], later["total"]) == ([10], 5)
        seen, cursor = [], ""
        while cursor is not None:
            page = client.get("/notes", params={"cursor": cursor, "limit": 4}, headers=BOB).json()
            seen += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
        assert seen == [2, 4, 6, 8, 10, 12]
        assert ids("cursor=&order=-id&points__lt=7&limit=2") == [6, 4]


def test_scoping_applies_to_lists_of_objects_too(sqlite_url: str) -> None:
    # A read schema of yours makes the list load ORM objects instead of columns.
    objects = NoteResource(read_schema=schema_for(Note, name="NoteObjects"), prefix="/o")
    with TestClient(app_for(sqlite_url, objects, rows=seeded_notes())) as client:
        page = client.get("/o?limit=4&offset=1&order=-points", headers=ANN).json()
        assert [item["id"] for item in page["items"]] == [9, 7, 5, 3]  # ann: 11, 9, ..., 1
        assert page["total"] == 6


# -- permissions ------------------------------------------------------------------------


def test_has_permission_refusing_is_403_naming_the_action(sqlite_url: str) -> None:
    rows = (Note(owner="ann", title="open"), Note(owner="ann", title="shut", locked=True))
    with TestClient(app_for(sqlite_url, NoteResource(), rows=rows)) as client:
        refused = client.patch("/notes/2", json={"title": "x"}, headers=ANN)
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["detail"] == "not allowed to update Note rows"
        assert client.put("/notes/2", json={"title": "x"}, headers=ANN).status_code == 403
        assert client.delete("/notes/2", headers=ANN).status_code == 403
        assert client.get("/notes/2", headers=ANN).json()["title"] == "shut"  # unchanged
        assert client.patch("/notes/1", json={"title": "y"}, headers=ANN).status_code == 200


def test_has_permission_is_asked_about_each_action_with_its_row(sqlite_url: str) -> None:
    asked: list[tuple[str, int | None]] = []

    class Audited(Resource):
        model = Note

        async def has_permission(
            self, request: Request, session: AsyncSession, action: str, row: Any
        ) -> bool:
            asked.append((action, None if row is None else row.id))
            return action != "list" or "x-staff" in request.headers

    body = {"owner": "ann", "title": "t"}
    with TestClient(app_for(sqlite_url, Audited(prefix="/n"))) as client:
        assert client.get("/n").status_code == 403
        assert client.get("/n", headers={"x-staff": "1"}).status_code == 200
        assert client.post("/n", json=body).status_code == 201
        client.get("/n/1")
        client.put("/n/1", json=body)
        client.patch("/n/1", json={"points": 2})
        client.delete("/n/1")
    assert asked == [
        ("list", None),
        ("list", None),
        ("create", None),
        ("retrieve", 1),
        ("replace", 1),
        ("update", 1),
        ("delete", 1),
    ]


# -- the other hooks --------------------------------------------------------------------


JOURNAL: list[str] = []


class Journaled(Resource):
    """Hooks that query with the request's session and record what they saw."""

    model = Note
    prefix = "/j"
    read_only_fields = ("owner",)

    async def before_create(
        self, request: Request, session: AsyncSession, data: dict[str, Any]
    ) -> None:
        # A hook can query through the request's session: here, a quota of two notes.
        mine = await session.scalar(
            sa.select(sa.func.count()).select_from(Note).where(Note.owner == "ann")
        )
        if mine == 2:
            raise HTTPError(409, "ann has two notes already")
        data["owner"] = "ann"
        data["points"] = 10 * (mine or 0) + data.get("points", 0)

    async def before_update(
        self, request: Request, session: AsyncSession, row: Any, data: dict[str, Any]
    ) -> None:
        JOURNAL.append(f"before {row.title} -> {sorted(data.items())}")
        data.pop("locked", None)  # a hook may also drop what was sent

    async def after_create(self, request: Request, session: AsyncSession, row: Any) -> None:
        JOURNAL.append(f"created {row.id} {row.points}")

    async def after_update(self, request: Request, session: AsyncSession, row: Any) -> None:
        JOURNAL.append(f"updated {row.title} {row.locked}")

    async def after_delete(self, request: Request, session: AsyncSession, row: Any) -> None:
        JOURNAL.append(f"deleted {row.id}")
        if request.headers.get("x-undo"):
            raise HTTPError(409, "undone")  # before the commit: the delete is rolled back


def test_before_and_after_hooks_see_data_and_rows(sqlite_url: str) -> None:
    JOURNAL.clear()
    with TestClient(app_for(sqlite_url, Journaled())) as client:
        assert client.post("/j", json={"title": "a", "points": 1}).json()["points"] == 1
        assert client.post("/j", json={"title": "b"}).json()["points"] == 10
        quota = client.post("/j", json={"title": "c"})
        assert quota.status_code == 409 and quota.json()["detail"] == "ann has two notes already"
        changed = client.patch("/j/1", json={"title": "A", "locked": True})
        assert changed.json()["title"] == "A" and changed.json()["locked"] is False
        client.put("/j/2", json={"title": "B"})
        assert client.delete("/j/2", headers={"x-undo": "1"}).status_code == 409
        assert client.get("/j/2").status_code == 200  # the failed after_delete rolled back
        assert client.delete("/j/2").status_code == 204
    assert JOURNAL == [
        "created 1 1",
        "created 2 10",
        "before a -> [('locked', True), ('title', 'A')]",
        "updated A False",
        "before b -> [('locked', False), ('points', 0), ('title', 'B')]",
        "updated B False",
        "deleted 2",
        "deleted 2",
    ]


def test_hooks_must_be_async() -> None:
    class Sync(Resource):
        model = Note

        def get_query(self, request: Any, session: Any, statement: Any) -> Any:  # type: ignore[override]
            return statement

    with pytest.raises(ConfigurationError) as caught:
        Sync()
    assert caught.value.code == "prow.E516"
    assert "Sync.get_query must be defined with 'async def'" in str(caught.value)


# -- options: class attributes and constructor keywords are one set ----------------------


OPTIONS: ResourceOptions = {
    "prefix": "/opts",
    "filter_fields": ["title", "points"],
    "order_fields": ["points"],
    "default_order": "-points",
    "search_fields": ["title"],
    "max_limit": 7,
    "default_limit": 3,
    "cursor_field": "id",
    "read_only_fields": ["owner", "locked"],
    "permissions": {"delete": lambda request, action, row: False},
    "tags": ["notes"],
    "actions": ("list", "retrieve", "create", "delete"),
}


def test_every_option_is_a_class_attribute_and_a_keyword() -> None:
    names = set(ResourceOptions.__annotations__)
    assert names >= set(OPTIONS) | {"load", "read_schema", "create_schema", "update_schema"}
    assert names <= set(Resource.__annotations__)


def test_class_attributes_make_the_same_resource_as_keywords(sqlite_url: str) -> None:
    by_keywords = Resource(Note, **OPTIONS)
    by_class = type("NoteOptions", (Resource,), {"model": Note, **OPTIONS})()
    documents = []
    for resource in (by_keywords, by_class):
        for name, value in OPTIONS.items():
            if name != "actions":
                assert getattr(resource, name) == value, name
        with TestClient(app_for(sqlite_url, resource, rows=seeded_notes()[:5])) as client:
            page = client.get("/opts?search=note&points__lt=4").json()
            assert [item["points"] for item in page["items"]] == [3, 2, 1]
            assert client.get("/opts?limit=8").status_code == 422
            assert client.delete("/opts/1").status_code == 403
            assert client.patch("/opts/1", json={}).status_code == 405
            documents.append(client.get("/openapi.json").json())
    assert documents[0] == documents[1]


def test_keywords_override_class_attributes_and_subclasses_override_parents() -> None:
    class Base(Resource):
        model = Note
        prefix = "/base"
        max_limit = 50
        filter_fields = ("title",)

    class Child(Base):
        max_limit = 30

    child = Child(filter_fields=["points"], default_limit=2)
    assert (child.prefix, child.max_limit, child.default_limit) == ("/base", 30, 2)
    assert child.filter_fields == ["points"]  # the keyword's value, as given
    assert Base().max_limit == 50 and Base().default_limit == 20
    assert Child(prefix="/other").prefix == "/other"
    assert Resource(Note).prefix == f"/{Note.__tablename__}"  # derived when not given


class Unbound(Resource):
    """A reusable resource class without a model: the model is given per use."""

    read_only_fields = ("owner",)


@pytest.mark.parametrize(
    ("make", "code", "phrase"),
    [
        (Unbound, "prow.E515", "Unbound has no model: pass it, Unbound(Item)"),
        (Resource, "prow.E515", "Resource has no model"),
        (lambda: Resource(Note, filter_field=["title"]), "prow.E514", "['filter_field']"),
        (lambda: Unbound(Note, read_only_fields=["nope"]), "prow.E511", "not a column of Note"),
        (
            lambda: Unbound(Note, create_schema=pydantic.create_model("In", owner=(str, ...))),
            "prow.E517",
            "read_only_fields names ['owner'], which your create_schema In accepts",
        ),
    ],
)
def test_class_form_mistakes_fail_when_made(make: Any, code: str, phrase: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        make()
    assert caught.value.code == code
    assert phrase in str(caught.value)


def test_a_model_less_class_serves_each_model_it_is_given() -> None:
    resource = Unbound(Note, prefix="/n")
    assert resource.model is Note
    assert "owner" not in resource.create_schema.model_fields
    assert "owner" in resource.read_schema.model_fields


# -- with prow.auth: the signed-in user, found once per request ------------------------


class Post(Base):
    __tablename__ = f"hook_post_{RUN}"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int]
    text: Mapped[str] = mapped_column(sa.String(50))


SIGNED_IN_WITH_AUTH = {"*": requires()}
#: (username, whether the user belongs to the request's session), as the hooks saw them.
USERS_SEEN: list[tuple[str, bool]] = []


class PostResource(Resource):
    model = Post
    prefix = "/posts"
    read_only_fields = ("owner_id",)
    permissions = SIGNED_IN_WITH_AUTH  # signed in, or 401 before any hook runs

    async def get_query(
        self, request: Request, session: AsyncSession, statement: sa.Select[Any]
    ) -> sa.Select[Any]:
        user = await self.user(request, session)
        return statement.where(Post.owner_id == user.id)

    async def before_create(
        self, request: Request, session: AsyncSession, data: dict[str, Any]
    ) -> None:
        data["owner_id"] = (await self.user(request, session)).id

    async def user(self, request: Request, session: AsyncSession) -> Any:
        user = await get_user(request)
        assert user is not None  # the guard let no anonymous request through
        # The guard's lookup, cached: the user belongs to the request's session.
        USERS_SEEN.append((user.username, user in session))
        return user


def test_hooks_get_the_user_the_guard_found_in_the_request_session(sqlite_url: str) -> None:
    tokens: dict[str, dict[str, str]] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: App) -> AsyncIterator[None]:
        auth = Auth.of(app)
        await database(app).create_all(*auth.tables(), Post.__table__)
        async with database(app).session() as session:
            for name in ("ann", "bob"):
                user = await auth.create_user(session, name, None)  # no password: tokens only
                tokens[name] = {"Authorization": f"Bearer {auth.create_access_token(user)}"}
            await session.commit()
        yield

    app = App(database_url=sqlite_url, secret_key="a-test-secret-key-" * 3, lifespan=lifespan)
    Auth(app)
    app.include(PostResource())
    USERS_SEEN.clear()
    with TestClient(app) as client:
        ann, bob = tokens["ann"], tokens["bob"]
        assert client.post("/posts", json={"text": "anon"}).status_code == 401
        created = client.post("/posts", json={"text": "hello", "owner_id": 2}, headers=ann)
        assert created.status_code == 422  # the owner is not the client's to choose
        created = client.post("/posts", json={"text": "hello"}, headers=ann)
        assert created.json() == {"id": 1, "owner_id": 1, "text": "hello"}
        assert client.get("/posts", headers=bob).json()["items"] == []
        assert client.get("/posts/1", headers=bob).status_code == 404
        assert client.get("/posts/1", headers=ann).status_code == 200
    assert USERS_SEEN == [("ann", True), ("bob", True), ("bob", True), ("ann", True)]
