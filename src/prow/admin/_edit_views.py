"""The admin's object pages: add, change (inlines, many-to-many), delete, history, password."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prow._exceptions import HTTPError
from prow._request import Request
from prow.admin import _support as support
from prow.admin._forms import AdminForm, FormError
from prow.admin._history import (
    ADDITION,
    CHANGE,
    log_action,
    object_history,
)
from prow.admin._inlines import InlineForm
from prow.admin._options import label_for
from prow.admin._views import AdminViews
from prow.auth import OptionalUser
from prow.db import DBSession
from prow.responses import HTMLResponse, RedirectResponse, Response
from prow.templating import flash

if TYPE_CHECKING:
    from prow.admin._options import ModelAdmin

__all__ = ["EditViews"]


class EditViews(AdminViews):
    """The site's views plus those of one object."""

    # -- add / change / delete / history ---------------------------------------------------

    async def add(
        self,
        request: Request,
        session: DBSession,
        user: OptionalUser,
        app_label: str,
        model_name: str,
    ) -> Response:
        model_admin = await self.enter(request, session, user, app_label, model_name, "add")
        if isinstance(model_admin, Response):
            return model_admin
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
            obj = support.new(model_admin, values, form)
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
        model_admin = await self.enter(request, session, user, app_label, model_name, "view")
        if isinstance(model_admin, Response):
            return model_admin
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
                support.assign(obj, values, form)
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
                (name, support.readonly_value(model_admin, obj, name))
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
        model_admin = await self.enter(request, session, user, app_label, model_name, "delete")
        if isinstance(model_admin, Response):
            return model_admin
        obj = await self.get_object(session, model_admin, request, pk)
        back = self.model_url(model_admin, pk, "change")
        if request.method == "GET":
            related = await support.related_counts(session, model_admin, [obj])
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
        if response.headers.get("location") == back and not await support.exists(
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
        model_admin = await self.enter(request, session, user, app_label, model_name, "view")
        if isinstance(model_admin, Response):
            return model_admin
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

        model_admin = await self.enter(request, session, user, app_label, model_name, "change")
        if isinstance(model_admin, Response):
            return model_admin
        if not getattr(model_admin, "has_password_form", False):
            raise HTTPError(404, "this model has no password")
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
