"""The admin's routes: login, index, change list, add/change/delete, history, actions.

Every page first passes :meth:`AdminViews.gate`: anonymous visitors are sent to the login
page; a signed-in user who is not active staff is refused there too (and never logged in by
it). Each model page then checks the user's view/add/change/delete permission and answers
403 when it is missing, so a hidden button is never the only protection. Every POST needs
the CSRF token (the login form's origin is checked too: "login CSRF").
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from sqlalchemy.exc import IntegrityError

from prow._exceptions import HTTPError
from prow._request import Request
from prow._security import csp_header
from prow.admin import _support as support
from prow.admin._changelist import ChangeList
from prow.admin._history import (
    CHANGE,
    DELETION,
    log_action,
    recent_actions,
)
from prow.auth import OptionalUser, login, logout, user_permissions
from prow.auth._router import is_safe_redirect
from prow.db import DBSession, integrity_error_answer
from prow.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from prow.templating import flash, get_flashed_messages

if TYPE_CHECKING:
    from prow.admin._options import ModelAdmin
    from prow.admin._site import Admin

__all__ = ["ADMIN_CSP", "PERMS_KEY", "AdminViews"]

#: The admin's pages load only their own files and post only to their own origin.
ADMIN_CSP = csp_header(
    {
        "default-src": "'self'",
        "img-src": ["'self'", "data:"],
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
)
_HEADERS = {"Content-Security-Policy": ADMIN_CSP, "Cache-Control": "no-store"}
_STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
}
PERMS_KEY = "prow.admin.perms"
_TITLES = {400: "Bad request", 403: "Permission denied", 404: "Not found", 422: "Invalid value"}


class AdminViews:
    """The handlers of one ``Admin`` site."""

    def __init__(self, site: Admin) -> None:
        self.site = site
        self.prefix = site.prefix
        static = Path(__file__).parent / "static"
        self.static = {
            p.name: (p.read_bytes(), _STATIC_TYPES.get(p.suffix, "application/octet-stream"))
            for p in static.iterdir()
            if p.is_file()
        }

    # -- helpers ---------------------------------------------------------------------------

    def url(self, *parts: Any, query: dict[str, Any] | None = None) -> str:
        path = "/".join(quote(str(part), safe="") for part in parts)
        out = f"{self.prefix}/{path}" if path else self.prefix
        return out + ("?" + urlencode(query) if query else "")

    def model_url(self, model_admin: ModelAdmin, *rest: Any) -> str:
        return self.url(model_admin.app, model_admin.name, *rest)

    def render(
        self, request: Request, name: str, context: dict[str, Any], status: int = 200
    ) -> HTMLResponse:
        base = {
            "site": self.site,
            "admin_url": self.url,
            "model_url": self.model_url,
            "nav": self.nav(request),
            "messages": get_flashed_messages(request, with_categories=True),
            "static_url": lambda file: f"{self.prefix}/static/{file}",
        }
        base.update(context)
        return self.site.templates.render(
            request, f"admin/{name}", base, status_code=status, headers=_HEADERS
        )

    def nav(self, request: Request) -> list[dict[str, Any]]:
        """The models the user may see, grouped by app (for the index and the side menu)."""
        groups: dict[str, list[ModelAdmin]] = {}
        for model_admin in self.site.model_admins:
            if model_admin.has_view_permission(request):
                groups.setdefault(model_admin.app, []).append(model_admin)
        return [
            {"app": app, "models": sorted(models, key=lambda m: m.title_plural)}
            for app, models in sorted(groups.items())
        ]

    async def gate(self, request: Request, session: Any, user: Any) -> Response | None:
        """Let active staff through (their permissions loaded once); send others to log in."""
        if user is None or not user.is_active or not user.is_staff:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(self.url("login", query={"next": target}), status_code=303)
        held = frozenset() if user.is_superuser else await user_permissions(session, user)
        request.scope[PERMS_KEY] = held
        return None

    def page(self, view: Callable[..., Awaitable[Response]]) -> Callable[..., Awaitable[Response]]:
        """``view``, answering its ``HTTPError`` (404, 400...) with the admin's error page."""

        @functools.wraps(view)
        async def answer(**params: Any) -> Response:
            try:
                return await view(**params)
            except HTTPError as exc:
                if exc.status_code not in (400, 403, 404, 405, 422):
                    raise
                request = params["request"]
                context = {"title": _TITLES.get(exc.status_code, "Error"), "message": exc.detail}
                return self.render(request, "error.html", context, exc.status_code)

        return answer

    async def enter(
        self,
        request: Request,
        session: Any,
        user: Any,
        app_label: str,
        model_name: str,
        action: str,
    ) -> ModelAdmin | Response:
        """The model's admin, once the user passed the gate and holds ``action`` on it;
        else the answer to send (the login page, or 403)."""
        refused = await self.gate(request, session, user)
        if refused is not None:
            return refused
        model_admin = self.model_admin(app_label, model_name)
        if not getattr(model_admin, f"has_{action}_permission")(request):
            return self.forbidden(request, f"{action} {model_admin.title_plural}")
        return model_admin

    def model_admin(self, app_label: str, model_name: str) -> ModelAdmin:
        found = self.site.find(app_label, model_name)
        if found is None:
            raise HTTPError(404, f"no model {app_label}/{model_name} in the admin")
        return found

    def forbidden(self, request: Request, what: str) -> HTMLResponse:
        return self.render(
            request,
            "error.html",
            {"title": "Permission denied", "message": f"You may not {what}."},
            403,
        )

    async def get_object(
        self, session: Any, model_admin: ModelAdmin, request: Request, pk: str
    ) -> Any:
        value = model_admin.pk_from_path(pk)
        if value is None:
            raise HTTPError(404, f"no {model_admin.title} with the key {pk[:40]!r}")
        column = getattr(model_admin.model, model_admin.pk_name)
        obj = await session.scalar(model_admin.get_query(request).where(column == value))
        if obj is None:
            raise HTTPError(404, f"no {model_admin.title} with the key {pk[:40]!r}")
        return obj

    # -- login -----------------------------------------------------------------------------

    async def login_page(self, request: Request, user: OptionalUser) -> Response:
        target = request.query_params.get("next") or self.url()
        if not is_safe_redirect(target):
            target = self.url()
        if user is not None and user.is_active and user.is_staff:
            return RedirectResponse(target, status_code=303)
        return self.render(
            request,
            "login.html",
            {"title": "Log in", "next": target, "username": "", "error": None, "user": user},
        )

    async def login_submit(self, request: Request, session: DBSession) -> Response:
        from prow.auth import Auth

        form = await request.form()
        username = str(form.get("username") or "")
        password = str(form.get("password") or "")
        target = str(form.get("next") or self.url())
        if not is_safe_redirect(target):
            raise HTTPError(400, "next must be a path on this site, such as /admin/")
        auth = Auth.of(request.app)
        found = (
            await auth.authenticate(session, username, password) if username and password else None
        )
        if found is None or not found.is_staff or not found.is_active:
            error = (
                "Enter the username and password of a staff account. "
                "Both fields may be case-sensitive."
            )
            context = {
                "title": "Log in",
                "next": target,
                "username": username,
                "error": error,
                "user": None,
            }
            return self.render(request, "login.html", context, 400)
        login(request, found)
        return RedirectResponse(target, status_code=303)

    async def logout_submit(self, request: Request) -> Response:
        logout(request)
        flash(request, "You are logged out.", "info")
        return RedirectResponse(self.url("login"), status_code=303)

    async def static_file(self, name: str) -> Response:
        found = self.static.get(name)
        if found is None:
            raise HTTPError(404, "no such file")
        body, media_type = found
        return Response(
            body, media_type=media_type, headers={"Cache-Control": "public, max-age=3600"}
        )

    # -- index -----------------------------------------------------------------------------

    async def index(self, request: Request, session: DBSession, user: OptionalUser) -> Response:
        refused = await self.gate(request, session, user)
        if refused is not None:
            return refused
        counts: dict[str, str] = {}
        for group in self.nav(request):
            for model_admin in group["models"]:
                counts[model_admin.key] = await support.bounded_count(session, model_admin, request)
        actions = await recent_actions(session, user_id=user.id)  # type: ignore[union-attr]
        return self.render(
            request,
            "index.html",
            {"title": self.site.title, "counts": counts, "recent": actions, "user": user},
        )

    # -- change list -----------------------------------------------------------------------

    async def changelist(
        self,
        request: Request,
        session: DBSession,
        user: OptionalUser,
        app_label: str,
        model_name: str,
    ) -> Response:
        model_admin = await self.enter(request, session, user, app_label, model_name, "view")
        if isinstance(model_admin, Response):
            return model_admin
        listing = ChangeList(model_admin, request)
        await listing.load(session)
        context = {
            "title": model_admin.title_plural,
            "ma": model_admin,
            "cl": listing,
            "user": user,
            "actions": support.actions(model_admin, request),
            "can_add": model_admin.has_add_permission(request),
            "url_for_row": lambda row: self.model_url(
                model_admin, model_admin.pk_of(row), "change"
            ),
        }
        return self.render(request, "change_list.html", context)

    async def export_csv(
        self,
        request: Request,
        session: DBSession,
        user: OptionalUser,
        app_label: str,
        model_name: str,
    ) -> Response:
        model_admin = await self.enter(request, session, user, app_label, model_name, "view")
        if isinstance(model_admin, Response):
            return model_admin
        listing = ChangeList(model_admin, request)
        listing.per_page = 10_000
        await listing.load(session)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([column.label for column in listing.columns])
        for row, extra in listing.rows:
            writer.writerow([support.csv_cell(text) for _, _, text in listing.cells(row, extra)])
        return Response(
            out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{model_admin.key}.csv"',
                "Cache-Control": "no-store",
            },
        )

    async def run_action(
        self,
        request: Request,
        session: DBSession,
        user: OptionalUser,
        app_label: str,
        model_name: str,
    ) -> Response:
        refused = await self.gate(request, session, user)
        if refused is not None:
            return refused
        model_admin = self.model_admin(app_label, model_name)
        form = await request.form()
        name = str(form.get("action") or "")
        chosen = dict(support.actions(model_admin, request))
        back = self.model_url(model_admin) + (f"?{request.url.query}" if request.url.query else "")
        if name not in chosen:
            if not model_admin.has_view_permission(request):
                return self.forbidden(request, f"view {model_admin.title_plural}")
            flash(request, "Choose an action you may run.", "warning")
            return RedirectResponse(back, status_code=303)
        keys = [model_admin.pk_from_path(str(v)) for v in form.getlist("_selected")]
        keys = [k for k in keys if k is not None]
        if not keys:
            flash(request, "Select some rows to run an action on them.", "warning")
            return RedirectResponse(back, status_code=303)
        column = getattr(model_admin.model, model_admin.pk_name)
        rows = list(
            (await session.scalars(model_admin.get_query(request).where(column.in_(keys)))).all()
        )
        if name == "delete_selected":
            return await self.delete_rows(request, session, model_admin, rows, form, back)
        func_ = support.action_function(model_admin, name)
        message = await support.call(func_, model_admin, request, session, rows)
        for row in rows:
            log_action(
                session,
                user,
                model_admin.key,
                model_admin.pk_of(row),
                model_admin.object_repr(row),
                CHANGE,
                [f"action: {name}"],
            )
        flash(request, str(message) if message else f"{chosen[name]}: {len(rows)} done.", "success")
        return RedirectResponse(back, status_code=303)

    async def delete_rows(
        self,
        request: Request,
        session: Any,
        model_admin: ModelAdmin,
        rows: list[Any],
        form: Any,
        back: str,
    ) -> Response:
        if form.get("confirm") != "yes":
            related = await support.related_counts(session, model_admin, rows)
            context = {
                "title": "Are you sure?",
                "ma": model_admin,
                "rows": rows,
                "related": related,
                "back": back,
                "bulk": True,
                "user": request.scope.get("user"),
            }
            return self.render(request, "delete_confirmation.html", context)
        blockers = [
            f"{item['count']} {item['name'].lower()}"
            for item in await support.related_counts(session, model_admin, rows)
            if not item["cascade"]
        ]
        if blockers:  # the ORM would empty their foreign keys, or the database refuse
            flash(
                request, f"Nothing was deleted: {', '.join(blockers)} still refer to it.", "error"
            )
            return RedirectResponse(back, status_code=303)
        user = request.scope.get("user")
        try:
            async with session.begin_nested():
                for row in rows:
                    log_action(
                        session,
                        user,
                        model_admin.key,
                        model_admin.pk_of(row),
                        model_admin.object_repr(row),
                        DELETION,
                    )
                    await model_admin.delete_model(request, session, row)
                await session.flush()
        except IntegrityError as exc:
            flash(request, f"Nothing was deleted: {integrity_error_answer(exc).detail}", "error")
            return RedirectResponse(back, status_code=303)
        noun = model_admin.title_plural if len(rows) != 1 else model_admin.title
        flash(request, f"Deleted {len(rows)} {noun.lower()}.", "success")
        return RedirectResponse(back, status_code=303)

    async def autocomplete(
        self,
        request: Request,
        session: DBSession,
        user: OptionalUser,
        app_label: str,
        model_name: str,
    ) -> Response:
        refused = await self.gate(request, session, user)
        if refused is not None:
            raise HTTPError(401, "log in first")
        model_admin = self.model_admin(app_label, model_name)
        if not model_admin.has_view_permission(request):
            raise HTTPError(403, f"permission required: {model_admin.key}.view")
        listing = ChangeList(model_admin, request)
        listing.per_page = 20
        await listing.load(session)
        results = [
            {"id": model_admin.pk_of(row), "text": model_admin.object_repr(row)}
            for row, _ in listing.rows
        ]
        return JSONResponse({"results": results, "more": listing.has_next})
