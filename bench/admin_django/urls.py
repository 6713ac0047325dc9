# mypy: disable-error-code="import-untyped"
"""The URLconf: the admin site only."""

from django.contrib import admin
from django.urls import path

urlpatterns = [path("admin/", admin.site.urls)]
