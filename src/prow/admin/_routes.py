"""Every route of the admin site, under its prefix."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prow._routing._router import Router
from prow.admin._edit_views import EditViews

if TYPE_CHECKING:
    from prow.admin._site import Admin

__all__ = ["admin_router"]


def admin_router(site: Admin) -> Router:
    """Every route of the admin site under its prefix."""
    from prow.auth import Auth

    views = EditViews(site)
    page = views.page  # a mistake in the URL answers an HTML page, as the rest of the site
    router = Router(site.prefix, tags=["admin"])
    hidden: dict[str, Any] = {"include_in_schema": False}
    auth = Auth.of(site._app)
    limited: list[Any] = []
    if auth.login_rate_limit is not None:
        from prow.ratelimit import rate_limit

        limited = [rate_limit(auth.login_rate_limit, key="ip", name="prow.auth.login")]
    router.add_route("/", page(views.index), ["GET"], name="admin_index", **hidden)
    router.add_route("/login", views.login_page, ["GET"], name="admin_login", **hidden)
    router.add_route(
        "/login",
        views.login_submit,
        ["POST"],
        name="admin_login_submit",
        csrf="strict",
        dependencies=limited,
        **hidden,
    )
    router.add_route(
        "/logout", views.logout_submit, ["POST"], name="admin_logout", csrf="strict", **hidden
    )
    router.add_route("/static/{name}", views.static_file, ["GET"], name="admin_static", **hidden)
    model = "/{app_label}/{model_name}"
    router.add_route(model, page(views.changelist), ["GET"], name="admin_changelist", **hidden)
    router.add_route(model, page(views.run_action), ["POST"], name="admin_action", **hidden)
    router.add_route(
        model + "/export.csv", page(views.export_csv), ["GET"], name="admin_export", **hidden
    )
    router.add_route(
        model + "/autocomplete", views.autocomplete, ["GET"], name="admin_autocomplete", **hidden
    )
    router.add_route(model + "/add", page(views.add), ["GET", "POST"], name="admin_add", **hidden)
    obj = model + "/{pk}"
    router.add_route(
        obj + "/change", page(views.change), ["GET", "POST"], name="admin_change", **hidden
    )
    router.add_route(
        obj + "/delete", page(views.delete), ["GET", "POST"], name="admin_delete", **hidden
    )
    router.add_route(obj + "/history", page(views.history), ["GET"], name="admin_history", **hidden)
    router.add_route(
        obj + "/password", page(views.password), ["GET", "POST"], name="admin_password", **hidden
    )
    return router
