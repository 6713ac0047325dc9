"""The prow demo: a small catalogue API on a database, with migrations and offline API docs.

Run it with ``python -m examples.demo`` from the repository root, then open
http://127.0.0.1:8000/docs. It stores its rows in ``./demo.sqlite3`` (or the database named by
``PROW_DATABASE_URL``), applies the migrations in ``examples/demo/migrations/`` when it starts
and adds a few sample rows to an empty catalogue, and two users: ``alice``, who may add,
change and delete items (permissions ``item.add``, ``item.change``...), and ``bob``, who may only
read (passwords in ``DEMO_USERS``). Alice is staff: she logs in to the admin at /admin, where
she sees and edits what her permissions allow.

Pages: http://127.0.0.1:8000/items (a form that adds an item), /login, /account (only when
logged in), /graphql (the catalogue over GraphQL, with GraphiQL). Sessions are signed with
``PROW_SECRET_KEY``, or with a random key per process.

After changing the models, write the next migration (on a database that has every migration
so far, e.g. ./demo.sqlite3 once the demo has run) with::

    prow makemigrations -m "what changed" --app examples.demo:app \
        --directory examples/demo/migrations
"""

from __future__ import annotations

import asyncio
import datetime
import os
import pathlib
import secrets
from typing import Annotated

from pydantic import BaseModel
from sqlalchemy import CheckConstraint, ForeignKey, String, func, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from prow import App, HTTPError, Query, Router
from prow.admin import Admin, ModelAdmin
from prow.auth import Auth, grant, requires, resource_permissions
from prow.db import Database, DBSession, Migration, Model, Resource, database, get_or_404, migrate
from prow.graphql import GraphQL
from prow.ratelimit import RateLimits
from prow.sessions import Sessions

#: Where the demo keeps its data unless ``PROW_DATABASE_URL`` names another database.
DEMO_DATABASE_URL = "sqlite+aiosqlite:///./demo.sqlite3"
#: The demo's migrations, written by ``prow makemigrations``.
MIGRATIONS = pathlib.Path(__file__).resolve().parent / "migrations"
#: The demo's users, their passwords and permissions (a demo on localhost: never do this online).
DEMO_USERS = {
    "alice": (
        "wonderland-tea-party",
        ["item.add", "item.change", "item.delete", "category.add", "category.change"],
    ),
    "bob": ("builder-can-fix-it", []),
}
#: The demo's users who may log in to the admin at /admin (with the permissions above).
DEMO_STAFF = frozenset({"alice"})
#: Anyone may read the catalogue; writing needs the model's add/change/delete permission.
WRITES = ("create", "replace", "update", "delete")

#: Every route of the demo; :func:`create_app` serves them.
routes = Router()


def create_app(database_url: str | None = None) -> App:
    """The demo app on ``database_url`` (default: ``PROW_DATABASE_URL``, else ./demo.sqlite3).

    Each call makes a new app with batteries of its own (database, sessions, rate limits,
    users): tests make one per test, each on its own database.
    """
    demo = App(
        title="prow demo",
        version="0.3.0",
        description="A tour of prow: typed handlers, a data layer with migrations, offline API "
        "docs, users with permissions, and server-rendered pages.",
        # A random key when none is set: sessions and tokens then last as long as the process.
        secret_key=os.environ.get("PROW_SECRET_KEY") or secrets.token_urlsafe(32),
        extensions=[
            Database(database_url or os.environ.get("PROW_DATABASE_URL") or DEMO_DATABASE_URL),
            Sessions(),
            RateLimits(),
            Auth(),
            _admin(),
            catalogue_graphql(),
        ],
    )
    demo.include(routes)
    return demo


def _admin() -> Admin:
    """The admin site at /admin: the catalogue, and prow.auth's users and groups."""
    site = Admin(title="prow demo admin")
    site.register(Category, CategoryAdmin)
    site.register(Item, ItemAdmin)
    return site


# -- models: tables "category" and "item" -----------------------------------------------------


class Category(Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True, doc="Shown in the shop's menu.")
    items: Mapped[list[Item]] = relationship(back_populates="category")


class Item(Model):
    # The database refuses what no client should store, whichever code path writes the row:
    # a violation is answered 422 naming the constraint.
    __table_args__ = (
        CheckConstraint("price > 0", name="price_positive"),
        CheckConstraint("length(name) > 0", name="name_not_empty"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    price: Mapped[float] = mapped_column(doc="Price in euros.")
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id"))
    category: Mapped[Category] = relationship(back_populates="items")
    created_at: Mapped[datetime.datetime] = mapped_column(server_default=func.now())


class CategoryAdmin(ModelAdmin):
    app_label = "catalogue"
    list_display = ("name",)
    search_fields = ("name",)
    ordering = ("name",)


class ItemAdmin(ModelAdmin):
    app_label = "catalogue"
    list_display = ("name", "category__name", "price", "created_at")
    list_filter = ("category", "created_at")
    search_fields = ("name", "category__name")
    ordering = ("name",)
    readonly_fields = ("created_at",)


# -- the API: two resources and two hand-written routes ---------------------------------------

categories = Resource(
    Category,
    prefix="/api/categories",
    filter_fields=["name"],
    order_fields=["name"],
    default_order="name",
    tags=["categories"],
    permissions=resource_permissions(Category, actions=WRITES),
)
items = Resource(
    Item,
    prefix="/api/items",
    filter_fields=["name", "price", "category_id", "created_at"],
    order_fields=["name", "price", "created_at"],
    search_fields=["name"],
    load=["category"],  # each item shows its category, fetched with one query per page
    tags=["items"],
    permissions=resource_permissions(Item, actions=WRITES),
)
routes.include(categories)
routes.include(items)


def catalogue_graphql() -> GraphQL:
    """The catalogue over GraphQL at /graphql (GraphiQL for browsers): the same Resources,
    so the same fields, filters, ordering, search and permissions as /api/items."""
    gql = GraphQL(path="/graphql")
    gql.expose(items, categories)
    return gql


class CategoryStats(BaseModel):
    category: str
    items: int
    average_price: float | None


class Stats(BaseModel):
    items: int
    categories: list[CategoryStats]


class PriceChange(BaseModel):
    id: int
    name: str
    old_price: float
    new_price: float


api = Router(prefix="/api", tags=["shop"])


@routes.get("/")
async def index() -> dict[str, str]:
    """Say hello and point at the docs and the API."""
    return {"message": "Hello from prow", "docs": "/docs", "items": "/api/items"}


@api.get("/stats")
async def stats(session: DBSession) -> Stats:
    """How many items each category holds, and their average price."""
    query = (
        select(Category.name, func.count(Item.id), func.avg(Item.price))
        .outerjoin(Item)
        .group_by(Category.id, Category.name)
        .order_by(Category.name)
    )
    rows = (await session.execute(query)).all()
    categories = [
        CategoryStats(category=name, items=count, average_price=_rounded(average))
        for name, count, average in rows
    ]
    return Stats(items=sum(c.items for c in categories), categories=categories)


@api.post("/items/{item_id}/discount", dependencies=[requires("item.change")])
async def discount(
    item_id: int, session: DBSession, percent: Annotated[int, Query(ge=1, le=90)] = 10
) -> PriceChange:
    """Lower an item's price by ``percent`` (committed when the handler returns).

    Only users with the ``item.change`` permission may: anonymous callers get 401, others 403.
    """
    item = await get_or_404(session, Item, item_id)
    old_price = item.price
    new_price = round(old_price * (100 - percent) / 100, 2)
    if new_price <= 0:  # the table refuses it; say why in the item's terms
        raise HTTPError(409, f"{item.name} costs too little to discount by {percent}%")
    item.price = new_price
    return PriceChange(id=item.id, name=item.name, old_price=old_price, new_price=item.price)


routes.include(api)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


# -- start-up: migrate, then seed -------------------------------------------------------------


def prepare(url: str | None = None) -> list[Migration]:
    """Apply the pending migrations, then add sample rows if the catalogue is empty.

    ``url`` defaults to the app's database. Returns the migrations that were applied. Call it
    before the server starts (it runs its own event loop).
    """
    url = url or database(app).url
    applied = migrate("head", url=url, directory=MIGRATIONS)
    asyncio.run(_seed_once(url))
    return applied


async def _seed_once(url: str) -> None:
    # A Database of its own: its pool belongs to this event loop, not to the server's.
    db = Database(url)
    try:
        await seed(db)
    finally:
        await db.dispose()


async def seed(db: Database) -> None:
    """Add a few categories and items, and the demo users, unless there are items already."""
    async with db.session() as session:
        if await session.scalar(select(func.count(Item.id))):
            return
        for username, (password, permissions) in DEMO_USERS.items():
            staff = username in DEMO_STAFF
            user = await Auth().create_user(session, username, password, is_staff=staff)
            for permission in permissions:
                await grant(session, user, permission)
        tools, snacks = Category(name="tools"), Category(name="snacks")
        session.add_all(
            [
                Item(name="Hammer", price=12.5, category=tools),
                Item(name="Screwdriver", price=4.2, category=tools),
                Item(name="Spirit level", price=19.9, category=tools),
                Item(name="Pretzel", price=1.8, category=snacks),
                Item(name="Dark chocolate", price=2.6, category=snacks),
            ]
        )
        await session.commit()


# The server-rendered pages import the models above, so they come last.
from examples.demo import pages  # noqa: E402

routes.include(pages.router)

#: The demo served by ``python -m examples.demo`` (and ``prow ... --app examples.demo:app``).
app = create_app()
