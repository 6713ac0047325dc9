"""The shop the admin tests use: customers, orders (status, dates, a foreign key), lines.

``build(url)`` makes the app: ``Admin`` with ``OrderAdmin`` and the seeded users below.

========  =====================================================================
boss      superuser and staff
clerk     staff; may view and change orders (not add or delete), view customers
viewer    staff; may view orders only
plain     not staff (refused by the admin), even as a superuser would not be
========  =====================================================================
"""

from __future__ import annotations

import contextlib
import datetime
import decimal
import enum
import os
import re
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from prow import App
from prow.admin import Admin, ModelAdmin, TabularInline, action
from prow.auth import Auth, grant
from prow.db import Database, Model, database
from prow.testing import TestClient

PASSWORD = "correct horse battery"
SECRET = "a-test-secret-key-that-is-long-enough-0123456789"
POSTGRES_URL = os.environ.get(
    "PROW_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


class Status(enum.Enum):
    NEW = "new"
    PAID = "paid"
    SHIPPED = "shipped"


class Customer(Model):
    __tablename__ = "adm_customer"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(120), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    vip: Mapped[bool] = mapped_column(default=False)
    orders: Mapped[list[Order]] = relationship(back_populates="customer")

    def __str__(self) -> str:
        return self.name


class Order(Model):
    __tablename__ = "adm_order"
    __table_args__ = (CheckConstraint("total >= 0", name="total_positive"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("adm_customer.id"))
    customer: Mapped[Customer] = relationship(back_populates="orders")
    total: Mapped[decimal.Decimal] = mapped_column(Numeric(10, 2))
    status: Mapped[Status] = mapped_column(default=Status.NEW)
    note: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime.datetime] = mapped_column(
        DateTime(timezone=True), default=lambda: datetime.datetime.now(datetime.UTC)
    )
    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", cascade="all, delete-orphan"
    )

    def __str__(self) -> str:
        return self.reference


class OrderLine(Model):
    __tablename__ = "adm_order_line"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("adm_order.id", ondelete="CASCADE"))
    order: Mapped[Order] = relationship(back_populates="lines")
    product: Mapped[str] = mapped_column(String(80))
    quantity: Mapped[int] = mapped_column(default=1)


class LineInline(TabularInline):
    model = OrderLine
    fields = ("product", "quantity")
    extra = 2


class OrderAdmin(ModelAdmin):
    list_display = ("reference", "customer__email", "total", "status", "created_at")
    list_filter = ("status", "created_at", "customer")
    search_fields = ("reference", "customer__email")
    ordering = ("-created_at",)
    readonly_fields = ("created_at",)
    actions = ("mark_shipped",)
    inlines = (LineInline,)
    list_per_page = 10

    @action(description="Mark as shipped")
    async def mark_shipped(self, request: Any, session: Any, rows: list[Order]) -> str:
        for row in rows:
            row.status = Status.SHIPPED
        return f"{len(rows)} orders shipped."


class CustomerAdmin(ModelAdmin):
    list_display = ("name", "email", "vip")
    list_filter = ("vip",)
    search_fields = ("name", "^email")


MODELS = (Customer, Order, OrderLine)


async def seed(app: App, session: Any) -> None:
    auth = Auth.of(app)
    await auth.create_user(session, "boss", PASSWORD, is_superuser=True, is_staff=True)
    clerk = await auth.create_user(session, "clerk", PASSWORD, is_staff=True)
    await grant(session, clerk, "adm_order.view", "adm_order.change", "adm_customer.view")
    viewer = await auth.create_user(session, "viewer", PASSWORD, is_staff=True)
    await grant(session, viewer, "adm_order.view")
    await auth.create_user(session, "plain", PASSWORD)
    ada = Customer(email="ada@example.com", name="Ada", vip=True)
    bob = Customer(email="bob@example.com", name="Bob <script>alert(1)</script>")
    session.add_all([ada, bob])
    await session.flush()
    start = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
    for n in range(25):
        order = Order(
            reference=f"R{n:03d}",
            customer_id=(ada if n % 2 else bob).id,
            total=decimal.Decimal(n * 10),
            status=[Status.NEW, Status.PAID, Status.SHIPPED][n % 3],
            created_at=start + datetime.timedelta(days=n),
        )
        session.add(order)
    await session.flush()
    session.add(OrderLine(order_id=1, product="Widget", quantity=2))


def build(url: str, **admin_options: Any) -> App:
    @contextlib.asynccontextmanager
    async def lifespan(app: App) -> AsyncIterator[None]:
        db = database(app)
        tables = [*Auth.of(app).tables(), *Admin.tables(admin), *(m.__table__ for m in MODELS)]
        await db.drop_all(*tables)
        await db.create_all(*tables)
        async with db.session() as session:
            await seed(app, session)
            await session.commit()
        yield
        await db.drop_all(*tables)

    app = App(secret_key=SECRET, lifespan=lifespan, extensions=[Database(url)])
    admin = Admin(app, **admin_options)
    admin.register(Order, OrderAdmin)
    admin.register(Customer, CustomerAdmin)
    admin.register(OrderLine)
    return app


def csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def log_in(client: TestClient, username: str = "boss") -> None:
    page = client.get("/admin/login").text
    form = {"username": username, "password": PASSWORD, "next": "/admin", "csrf_token": csrf(page)}
    answer = client.post("/admin/login", data=form, follow_redirects=False)
    assert answer.status_code == 303, answer.text
