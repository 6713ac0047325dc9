"""The admin site: Django's admin, generated from prow's models.

::

    from prow.admin import Admin, ModelAdmin

    admin = Admin(app)                       # or App(extensions=[Admin()]); at /admin
    admin.register(Item)                     # everything derived from the model

    @admin.register(Order)
    class OrderAdmin(ModelAdmin):            # Django's options, as class attributes
        list_display = ["id", "customer__email", "total", "status", "created_at"]
        list_filter = ["status", "created_at"]
        search_fields = ["customer__email", "=id"]
        ordering = ["-created_at"]

Staff users (``is_staff``) log in at ``/admin/login``; each model's pages follow
``prow.auth``'s view/add/change/delete permissions. Forms validate with ``schema_for``, as
the API does; every add, change and delete is kept in the history (``admin_log``). Needs
the ``admin`` extra (``pip install 'prow[admin]'``: the ``db``, ``auth`` and ``templates``
pieces). ``import prow`` never imports this package.
"""

from __future__ import annotations

from prow.admin._history import LogEntry
from prow.admin._inlines import InlineAdmin, TabularInline
from prow.admin._options import ModelAdmin, action
from prow.admin._site import Admin

__all__ = ["Admin", "InlineAdmin", "LogEntry", "ModelAdmin", "TabularInline", "action"]
