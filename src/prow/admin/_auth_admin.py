"""The user and group admins that ``Admin`` registers for ``prow.auth``'s models.

A user's password hash is never shown nor written by a form: the change form links to a
dedicated password form, which hashes (off the event loop) what is typed twice.
"""

from __future__ import annotations

from typing import Any

from prow.admin._options import ModelAdmin

__all__ = ["GroupAdmin", "UserAdmin"]


class UserAdmin(ModelAdmin):
    """Users: flags editable here (only staff with ``change`` on users reach this form)."""

    list_display = ("username", "email", "is_staff", "is_superuser", "is_active")
    list_filter = ("is_staff", "is_superuser", "is_active")
    search_fields = ("username", "email")
    ordering = ("username",)
    fields = (
        "username",
        "email",
        "is_active",
        "is_staff",
        "is_superuser",
        "groups",
        "user_permissions",
    )
    readonly_fields = ("date_joined", "last_login")
    app_label = "auth"
    has_password_form = True

    def object_repr(self, obj: Any) -> str:
        return str(obj.username)


class GroupAdmin(ModelAdmin):
    list_display = ("name",)
    fields = ("name", "permissions")
    search_fields = ("name",)
    ordering = ("name",)
    app_label = "auth"
