"""prow's side of ``bench/admin.py``: the order table and its ``ModelAdmin``."""

from __future__ import annotations

import datetime

from sqlalchemy import DateTime, Enum, String
from sqlalchemy.orm import Mapped, mapped_column

from prow.admin import ModelAdmin
from prow.db import Model


class Order(Model):
    __tablename__ = "bench_admin_order"
    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    email: Mapped[str] = mapped_column(String(120))
    # A column with choices (Django: CharField(choices=...)): the filter lists them, no query.
    status: Mapped[str] = mapped_column(
        Enum("new", "paid", "shipped", native_enum=False, create_constraint=False, length=10)
    )
    total: Mapped[int]
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime, index=True)


class OrderAdmin(ModelAdmin):
    list_display = ("reference", "email", "total", "status", "created_at")
    list_filter = ("status",)
    search_fields = ("reference",)
    ordering = ("-created_at",)
    app_label = "bench"
