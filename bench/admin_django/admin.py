# mypy: disable-error-code="import-untyped,untyped-decorator"
"""Django's admin over the order table: the options prow's side sets too."""

from __future__ import annotations

from django.contrib import admin

from bench.admin_django.models import Order


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("reference", "email", "total", "status", "created_at")
    list_filter = ("status",)
    search_fields = ("reference",)
    ordering = ("-created_at",)
    list_per_page = 50
