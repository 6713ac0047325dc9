# mypy: disable-error-code="import-untyped,var-annotated"
"""The benchmark's order table as a Django model (the same columns as prow's)."""

from __future__ import annotations

from django.db import models


class Order(models.Model):
    reference = models.CharField(max_length=20, unique=True)
    email = models.CharField(max_length=120)
    status = models.CharField(
        max_length=10, choices=[("new", "new"), ("paid", "paid"), ("shipped", "shipped")]
    )
    total = models.IntegerField()
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        app_label = "admin_django"
        db_table = "bench_admin_order"

    def __str__(self) -> str:
        return self.reference
