"""The admin's routes: login, index, change list, add/change/delete, history, actions.

Every page first passes :meth:`AdminViews.gate`: anonymous visitors are sent to the login
page; a signed-in user who is not active staff is refused there too (and never logged in by
it). Each model page then checks the user's view/add/change/delete permission and answers
403 when it is missing, so a hidden button is never the only protection. Every POST needs
the CSRF token (the login form's origin is checked too: "login CSRF").
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from prow._exceptions import HTTPError, RequestValidationError
from prow._request import Request
from prow._routing._router import Router
from prow._security import csp_header
from prow.admin._changelist import ChangeList
from prow.admin._forms import AdminForm, FormError
from prow.admin._history import (
    ADDITION,
    CHANGE,
    DELETION,
    log_action,
    object_history,
    recent_actions,
)
from prow.admin._inlines import InlineForm
from prow.admin._options import label_for
from prow.auth import OptionalUser, login, logout, user_permissions
from prow.auth._router import is_safe_redirect
from prow.db import DBSession, integrity_error_answer
from prow.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from prow.templating import flash, get_flashed_messages

if TYPE_CHECKING:
    from prow.admin._options import ModelAdmin
    from prow.admin._site import Admin

__all__ = ["admin_router"]

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
                counts[model_admin.key] = await _bounded_count(session, model_admin, request)
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
        refused = await self.gate(request, session, user)
        if refused is not None:
            return refused
        model_admin = self.model_admin(app_label, model_name)
        if not model_admin.has_view_permission(request):
            return self.forbidden(request, f"view {model_admin.title_plural}")
        listing = ChangeList(model_admin, request)
        await listing.load(session)
        context = {
            "title": model_admin.title_plural,
            "ma": model_admin,
            "cl": listing,
            "user": user,
            "actions": _actions(model_admin, request),
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
        refused = await self.gate(request, session, user)
        if refused is not None:
            return refused
        model_admin = self.model_admin(app_label, model_name)
        if not model_admin.has_view_permission(request):
            return self.forbidden(request, f"view {model_admin.title_plural}")
        listing = ChangeList(model_admin, request)
        listing.per_page = 10_000
        await listing.load(session)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([column.label for column in listing.columns])
        for row, extra in listing.rows:
            writer.writerow([_csv_cell(text) for _, _, text in listing.cells(row, extra)])
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
        chosen = dict(_actions(model_admin, request))
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
        func_ = _action_function(model_admin, name)
        message = await _call(func_, model_admin, request, session, rows)
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
            related = await _related_counts(session, model_admin, rows)
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

    # -- add / change / delete / history ---------------------------------------------------

    async def add(
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
        if not model_admin.has_add_permission(request):
            return self.forbidden(request, f"add {model_admin.title_plural}")
        spec = AdminForm(model_admin, change=False)
        choices = await spec.load_choices(session)
        if request.method == "GET":
            initial = dict(request.query_params.items())
            form = spec.blank(request, initial or None, choices)
            many = await spec.many_fields(session, None)
            inlines = [await InlineForm.load(i, session, None) for i in model_admin.get_inlines()]
            return self.form_page(
                request, model_admin, spec, form, None, many=many, inlines=inlines
            )
        form = await spec.bind(request, choices)
        submitted = await request.form()
        inlines = [InlineForm.read(i, submitted) for i in model_admin.get_inlines()]
        obj = None
        if form.is_valid and not any(inline.has_errors for inline in inlines):
            values = await spec.values(request, form)
            obj = _new(model_admin, values, form)
        if obj is not None:
            related = await spec.many_values(session, request)

            async def write() -> None:
                for name, rows in related.items():
                    setattr(obj, name, rows)
                await model_admin.save_model(request, session, obj, False)
                if inlines:
                    await session.flush()  # the key the child rows point to
                    for inline in inlines:
                        await inline.save(session, obj)

            if await spec.save(session, form, obj, write):
                log_action(
                    session,
                    user,
                    model_admin.key,
                    model_admin.pk_of(obj),
                    model_admin.object_repr(obj),
                    ADDITION,
                )
                flash(
                    request,
                    f"The {model_admin.title.lower()} “{model_admin.object_repr(obj)}” was added.",
                    "success",
                )
                return await self.after_save(request, model_admin, obj, added=True)
        many = await spec.many_fields(session, None, submitted)
        return self.form_page(
            request, model_admin, spec, form, None, 422, many=many, inlines=inlines
        )

    async def change(
        self,
        request: Request,
        session: DBSession,
        user: OptionalUser,
        app_label: str,
        model_name: str,
        pk: str,
    ) -> Response:
        refused = await self.gate(request, session, user)
        if refused is not None:
            return refused
        model_admin = self.model_admin(app_label, model_name)
        if not model_admin.has_view_permission(request):
            return self.forbidden(request, f"view {model_admin.title_plural}")
        obj = await self.get_object(session, model_admin, request, pk)
        spec = AdminForm(model_admin, change=True)
        choices = await spec.load_choices(session)
        if request.method == "GET":
            form = spec.blank(request, obj, choices)
            many = await spec.many_fields(session, obj)
            inlines = [await InlineForm.load(i, session, obj) for i in model_admin.get_inlines()]
            return self.form_page(request, model_admin, spec, form, obj, many=many, inlines=inlines)
        if not model_admin.has_change_permission(request):
            return self.forbidden(request, f"change {model_admin.title_plural}")
        return await self.save_change(request, session, model_admin, spec, obj, choices)

    async def save_change(
        self,
        request: Request,
        session: Any,
        model_admin: ModelAdmin,
        spec: AdminForm,
        obj: Any,
        choices: dict[str, Any],
    ) -> Response:
        """Validate the submitted change form and its inlines; save, or draw them again."""
        form = await spec.bind(request, choices)
        submitted = await request.form()
        inlines = [InlineForm.read(i, submitted) for i in model_admin.get_inlines()]
        if form.is_valid and not any(inline.has_errors for inline in inlines):
            values = await spec.values(request, form)
            changed = [name for name, value in values.items() if getattr(obj, name) != value]
            related = await spec.many_values(session, request)
            for name, rows in related.items():
                if set(await getattr(obj.awaitable_attrs, name)) != set(rows):
                    changed.append(name)

            async def write() -> None:
                _assign(obj, values, form)
                for name, rows in related.items():
                    setattr(obj, name, rows)
                if form.errors:
                    raise FormError
                await model_admin.save_model(request, session, obj, True)
                for inline in inlines:
                    if await inline.save(session, obj):
                        changed.append(inline.inline.title.lower())

            if await spec.save(session, form, obj, write):
                user = request.scope.get("user")
                key, text = model_admin.pk_of(obj), model_admin.object_repr(obj)
                log_action(session, user, model_admin.key, key, text, CHANGE, changed)
                name = f"{model_admin.title.lower()} “{text}”"
                flash(request, f"The {name} was changed.", "success")
                return await self.after_save(request, model_admin, obj)
        many = await spec.many_fields(session, obj, submitted)
        return self.form_page(
            request, model_admin, spec, form, obj, 422, many=many, inlines=inlines
        )

    async def after_save(
        self, request: Request, model_admin: ModelAdmin, obj: Any, *, added: bool = False
    ) -> Response:
        form = await request.form()
        if added and getattr(model_admin, "has_password_form", False):
            flash(request, "Now give the new user a password.", "info")
            target = self.model_url(model_admin, model_admin.pk_of(obj), "password")
        elif "_continue" in form:
            target = self.model_url(model_admin, model_admin.pk_of(obj), "change")
        elif "_addanother" in form:
            target = self.model_url(model_admin, "add")
        else:
            target = self.model_url(model_admin)
        return RedirectResponse(target, status_code=303)

    def form_page(
        self,
        request: Request,
        model_admin: ModelAdmin,
        spec: AdminForm,
        form: Any,
        obj: Any,
        status: int = 200,
        *,
        many: list[Any] | None = None,
        inlines: list[Any] | None = None,
    ) -> HTMLResponse:
        can_change = obj is None or model_admin.has_change_permission(request)
        readonly = (
            [
                (name, _readonly_value(model_admin, obj, name))
                for name in model_admin.readonly_fields
            ]
            if obj is not None
            else []
        )
        autocomplete = {
            name: self.model_url(fk.related_admin, "autocomplete")
            for name, fk in spec.foreign_keys.items()
            if fk.related_admin is not None and name not in spec.choices
        }
        title = (
            (f"Change {model_admin.title.lower()}" if can_change else model_admin.title)
            if obj is not None
            else f"Add {model_admin.title.lower()}"
        )
        context = {
            "title": title,
            "ma": model_admin,
            "form": form,
            "obj": obj,
            "readonly": readonly,
            "can_change": can_change,
            "can_delete": obj is not None and model_admin.has_delete_permission(request),
            "autocomplete": autocomplete,
            "user": request.scope.get("user"),
            "many": many or [],
            "inlines": inlines or [],
            "labels": {name: label_for(name.removesuffix("_id")) for name in spec.foreign_keys},
            "obj_repr": model_admin.object_repr(obj) if obj is not None else None,
            "password_url": self.model_url(model_admin, model_admin.pk_of(obj), "password")
            if obj is not None and getattr(model_admin, "has_password_form", False)
            else None,
        }
        return self.render(request, "change_form.html", context, status)

    async def delete(
        self,
        request: Request,
        session: DBSession,
        user: OptionalUser,
        app_label: str,
        model_name: str,
        pk: str,
    ) -> Response:
        refused = await self.gate(request, session, user)
        if refused is not None:
            return refused
        model_admin = self.model_admin(app_label, model_name)
        if not model_admin.has_delete_permission(request):
            return self.forbidden(request, f"delete {model_admin.title_plural}")
        obj = await self.get_object(session, model_admin, request, pk)
        back = self.model_url(model_admin, pk, "change")
        if request.method == "GET":
            related = await _related_counts(session, model_admin, [obj])
            context = {
                "title": "Are you sure?",
                "ma": model_admin,
                "rows": [obj],
                "related": related,
                "back": back,
                "bulk": False,
                "user": user,
            }
            return self.render(request, "delete_confirmation.html", context)
        response = await self.delete_rows(
            request, session, model_admin, [obj], {"confirm": "yes"}, back
        )
        if response.headers.get("location") == back and not await _exists(
            session, model_admin, obj
        ):
            return RedirectResponse(self.model_url(model_admin), status_code=303)
        return response

    async def history(
        self,
        request: Request,
        session: DBSession,
        user: OptionalUser,
        app_label: str,
        model_name: str,
        pk: str,
    ) -> Response:
        refused = await self.gate(request, session, user)
        if refused is not None:
            return refused
        model_admin = self.model_admin(app_label, model_name)
        if not model_admin.has_view_permission(request):
            return self.forbidden(request, f"view {model_admin.title_plural}")
        entries = await object_history(session, model_admin.key, pk)
        obj = (
            await session.get(model_admin.model, model_admin.pk_from_path(pk))
            if model_admin.pk_from_path(pk) is not None
            else None
        )
        context = {
            "title": "History",
            "ma": model_admin,
            "entries": entries,
            "pk": pk,
            "obj": obj,
            "obj_repr": model_admin.object_repr(obj) if obj is not None else pk,
            "user": user,
        }
        return self.render(request, "history.html", context)

    async def password(
        self,
        request: Request,
        session: DBSession,
        user: OptionalUser,
        app_label: str,
        model_name: str,
        pk: str,
    ) -> Response:
        from prow.auth import Auth, PasswordError, keep_login

        refused = await self.gate(request, session, user)
        if refused is not None:
            return refused
        model_admin = self.model_admin(app_label, model_name)
        if not getattr(model_admin, "has_password_form", False):
            raise HTTPError(404, "this model has no password")
        if not model_admin.has_change_permission(request):
            return self.forbidden(request, f"change {model_admin.title_plural}")
        obj = await self.get_object(session, model_admin, request, pk)
        errors: list[str] = []
        if request.method == "POST":
            form = await request.form()
            first, second = str(form.get("password1") or ""), str(form.get("password2") or "")
            if not first:
                errors.append("Enter a password.")
            elif first != second:
                errors.append("The two passwords differ.")
            else:
                try:
                    await Auth.of(request.app).set_password(obj, first)
                except PasswordError as exc:
                    errors += [f"The password is too weak: {p}." for p in exc.problems]
            if not errors:
                log_action(
                    session,
                    user,
                    model_admin.key,
                    pk,
                    model_admin.object_repr(obj),
                    CHANGE,
                    ["password"],
                )
                if user is not None and user.id == obj.id:
                    keep_login(request, obj)
                flash(request, "The password was changed.", "success")
                return RedirectResponse(self.model_url(model_admin, pk, "change"), status_code=303)
        context = {
            "title": f"Change password: {model_admin.object_repr(obj)}",
            "ma": model_admin,
            "obj": obj,
            "errors": errors,
            "user": user,
            "obj_repr": model_admin.object_repr(obj),
        }
        return self.render(request, "password.html", context, 422 if errors else 200)


def _new(model_admin: ModelAdmin, values: dict[str, Any], form: Any) -> Any:
    obj = model_admin.model()
    _assign(obj, values, form)
    return None if form.errors else obj


def _assign(obj: Any, values: dict[str, Any], form: Any) -> None:
    """Set each value; a model that refuses one (``AccountError``...) marks its field."""
    for name, value in values.items():
        try:
            setattr(obj, name, value)
        except (ValueError, TypeError, RequestValidationError) as exc:
            field = getattr(exc, "field", name)
            form.add_error(field if field in form.model.model_fields else name, _problem(exc))


def _problem(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("msg", exc))
    detail = getattr(exc, "detail", None)
    return str(detail or exc)


def _readonly_value(model_admin: ModelAdmin, obj: Any, name: str) -> str:
    from prow.admin._options import display_value

    method = getattr(model_admin, name, None)
    value = method(obj) if callable(method) else getattr(obj, name, None)
    return display_value(value)


def _csv_cell(text: str) -> str:
    # Threat: a cell starting with = + - @ is a formula to spreadsheet programs (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _actions(model_admin: ModelAdmin, request: Request) -> list[tuple[str, str]]:
    out = []
    if model_admin.has_delete_permission(request):
        out.append(("delete_selected", f"Delete selected {model_admin.title_plural.lower()}"))
    for item in model_admin.actions:
        func_ = _action_function(model_admin, item if isinstance(item, str) else item.__name__)
        if func_ is None:
            continue
        permission = getattr(func_, "admin_permission", "change")
        if model_admin.has_permission(request, permission):
            name = item if isinstance(item, str) else item.__name__
            label = getattr(func_, "admin_description", None) or name.replace("_", " ").capitalize()
            out.append((name, label))
    return out


def _action_function(model_admin: ModelAdmin, name: str) -> Any:
    for item in model_admin.actions:
        if isinstance(item, str) and item == name:
            return getattr(model_admin, item, None)
        if not isinstance(item, str) and item.__name__ == name:
            return item
    return None


async def _call(
    func_: Any, model_admin: ModelAdmin, request: Request, session: Any, rows: list[Any]
) -> Any:
    import inspect

    bound = getattr(func_, "__self__", None) is model_admin
    result = func_(request, session, rows) if bound else func_(model_admin, request, session, rows)
    if inspect.isawaitable(result):
        result = await result
    return result


async def _bounded_count(session: Any, model_admin: ModelAdmin, request: Request) -> str:
    limit = model_admin.count_limit
    pk = getattr(model_admin.model, model_admin.pk_name)
    inner = model_admin.get_query(request).with_only_columns(pk)
    if limit is not None:
        inner = inner.limit(limit + 1)
    total = int(await session.scalar(select(func.count()).select_from(inner.subquery())) or 0)
    return f"{limit:,}+" if limit is not None and total > limit else f"{total:,}"


async def _related_counts(
    session: Any, model_admin: ModelAdmin, rows: list[Any]
) -> list[dict[str, Any]]:
    """What goes with the rows: per one-to-many relationship, how many rows refer to them."""
    keys = [model_admin.pk_of(row) for row in rows]
    out = []
    for rel in model_admin.mapper.relationships:
        if not rel.uselist or rel.secondary is not None:
            continue
        target = rel.mapper.class_
        remote = [pair for pair in rel.local_remote_pairs if pair[0] is model_admin.pk_columns[0]]
        if not remote:
            continue
        column = remote[0][1]
        count = await session.scalar(
            select(func.count()).select_from(column.table).where(column.in_(keys))
        )
        if count:
            cascade = "delete" in rel.cascade or any(
                fk.ondelete and fk.ondelete.upper() == "CASCADE" for fk in column.foreign_keys
            )
            related_admin = model_admin.site.admin_for(target)
            name = related_admin.title_plural if related_admin else target.__name__
            out.append({"name": name, "count": int(count), "cascade": cascade})
    return out


async def _exists(session: Any, model_admin: ModelAdmin, obj: Any) -> bool:
    column = getattr(model_admin.model, model_admin.pk_name)
    found = await session.scalar(select(column).where(column == model_admin.pk_of(obj)))
    return found is not None


def admin_router(site: Admin) -> Router:
    """Every route of the admin site under its prefix."""
    from prow.auth import Auth

    views = AdminViews(site)
    router = Router(site.prefix, tags=["admin"])
    hidden: dict[str, Any] = {"include_in_schema": False}
    auth = Auth.of(site._app)
    limited: list[Any] = []
    if auth.login_rate_limit is not None:
        from prow.ratelimit import rate_limit

        limited = [rate_limit(auth.login_rate_limit, key="ip", name="prow.auth.login")]
    router.add_route("/", views.index, ["GET"], name="admin_index", **hidden)
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
    router.add_route(model, views.changelist, ["GET"], name="admin_changelist", **hidden)
    router.add_route(model, views.run_action, ["POST"], name="admin_action", **hidden)
    router.add_route(
        model + "/export.csv", views.export_csv, ["GET"], name="admin_export", **hidden
    )
    router.add_route(
        model + "/autocomplete", views.autocomplete, ["GET"], name="admin_autocomplete", **hidden
    )
    router.add_route(model + "/add", views.add, ["GET", "POST"], name="admin_add", **hidden)
    obj = model + "/{pk}"
    router.add_route(obj + "/change", views.change, ["GET", "POST"], name="admin_change", **hidden)
    router.add_route(obj + "/delete", views.delete, ["GET", "POST"], name="admin_delete", **hidden)
    router.add_route(obj + "/history", views.history, ["GET"], name="admin_history", **hidden)
    router.add_route(
        obj + "/password", views.password, ["GET", "POST"], name="admin_password", **hidden
    )
    return router
