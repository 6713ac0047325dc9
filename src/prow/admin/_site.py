"""``Admin``: the admin site as an extension: its registry of models and its routes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, overload

from prow._exceptions import ConfigurationError
from prow.admin._options import ModelAdmin
from prow.auth import Auth
from prow.extensions import Extension

if TYPE_CHECKING:
    from sqlalchemy import Table

    from prow import App
    from prow.templating import Templates

__all__ = ["Admin"]

M = TypeVar("M", bound=type[ModelAdmin])
HERE = Path(__file__).parent


class Admin(Extension):
    """The admin site, served at ``prefix`` (``/admin``) for staff users.

    ::

        admin = Admin(app)                     # or App(extensions=[Admin()])
        admin.register(Item)                   # everything derived from the model

        @admin.register(Order)
        class OrderAdmin(ModelAdmin):
            list_display = ["id", "customer__email", "total", "status"]

    Needs ``Auth`` (installed with its defaults when missing) and a browser session
    (a ``Sessions`` extension or a ``SessionMiddleware``; one is added when neither is).
    ``templates`` adds folders searched before the admin's own, to override its pages
    (``admin/base.html``, ``admin/change_list.html``...).
    """

    requires = (Auth,)

    def __init__(
        self,
        app: App | None = None,
        *,
        prefix: str = "/admin",
        title: str = "Administration",
        templates: list[str | Path] | None = None,
        register_auth: bool = True,
    ) -> None:
        if not prefix.startswith("/") or prefix.endswith("/"):
            raise ConfigurationError(
                "prow.E204", f"Admin prefix must start with / and not end with one, not {prefix!r}"
            )
        self.prefix = prefix
        self.title = title
        self.extra_templates = list(templates or [])
        self.register_auth = register_auth
        self._registry: dict[type[Any], ModelAdmin] = {}
        self._pending: list[tuple[type[Any], type[ModelAdmin]]] = []
        self._templates: Templates | None = None
        self._app: App | None = None
        if app is not None:
            app.install(self)

    def __repr__(self) -> str:
        return f"Admin(prefix={self.prefix!r})"

    # -- registering models -------------------------------------------------------------

    @overload
    def register(self, model: type[Any], admin_class: None = None) -> Callable[[M], M]: ...
    @overload
    def register(self, model: type[Any], admin_class: type[ModelAdmin]) -> None: ...

    def register(
        self, model: type[Any], admin_class: type[ModelAdmin] | None = None
    ) -> Callable[[M], M] | None:
        """Show ``model`` in the admin: ``register(Item)``, ``register(Item, ItemAdmin)``,
        or as a decorator of a ``ModelAdmin`` subclass, ``@admin.register(Order)``."""
        if admin_class is not None:
            self._add(model, admin_class)
            return None
        self._add(model, ModelAdmin)

        def decorate(cls: M) -> M:
            self._add(model, cls)
            return cls

        return decorate

    def _add(self, model: type[Any], admin_class: type[ModelAdmin]) -> None:
        if not (isinstance(admin_class, type) and issubclass(admin_class, ModelAdmin)):
            raise ConfigurationError(
                "prow.E200", f"register() takes a ModelAdmin subclass, not {admin_class!r}"
            )
        model_admin = admin_class(model, self)
        self._registry[model] = model_admin  # a decorator replaces the plain registration

    def unregister(self, model: type[Any]) -> None:
        self._registry.pop(model, None)

    def is_registered(self, model: type[Any]) -> bool:
        return model in self._registry

    def admin_for(self, model: type[Any]) -> ModelAdmin | None:
        """The ``ModelAdmin`` of ``model``, or ``None`` when it is not registered."""
        return self._registry.get(model)

    @property
    def model_admins(self) -> list[ModelAdmin]:
        return list(self._registry.values())

    def find(self, app_label: str, model_name: str) -> ModelAdmin | None:
        for model_admin in self._registry.values():
            if model_admin.app == app_label and model_admin.name == model_name:
                return model_admin
        return None

    def tables(self) -> list[Table]:
        """The admin's own table (``admin_log``, the history), for ``create_all`` in tests."""
        from prow.admin._history import LogEntry

        return [LogEntry.__table__]  # type: ignore[list-item]

    # -- the extension ------------------------------------------------------------------

    def setup(self, app: App) -> None:
        """Check every registration, then add the session middleware and the routes."""
        from prow.admin._changelist import check_options
        from prow.admin._views import admin_router

        self._app = app
        if self.register_auth:
            self._register_auth(app)
        seen: dict[tuple[str, str], type[Any]] = {}
        for model, model_admin in self._registry.items():
            check_options(model_admin)
            where = (model_admin.app, model_admin.name)
            if where in seen:
                raise ConfigurationError(
                    "prow.E202",
                    f"{model.__name__} and {seen[where].__name__} would both be at "
                    f"{self.prefix}/{where[0]}/{where[1]}; set app_label on one ModelAdmin",
                )
            seen[where] = model
        _ensure_sessions(app)
        app.include(admin_router(self))

    def _register_auth(self, app: App) -> None:
        from prow.admin._auth_admin import GroupAdmin, UserAdmin
        from prow.auth import Group

        auth = Auth.of(app)
        if auth.user_model not in self._registry:
            self._registry[auth.user_model] = UserAdmin(auth.user_model, self)
        if Group not in self._registry:
            self._registry[Group] = GroupAdmin(Group, self)

    @property
    def templates(self) -> Templates:
        if self._templates is None:
            from prow.templating import Templates

            self._templates = Templates(
                [*self.extra_templates, HERE / "templates"], trim_blocks=True, lstrip_blocks=True
            )
        return self._templates


def _ensure_sessions(app: App) -> None:
    from prow.sessions import SessionMiddleware, Sessions

    if app.has_extension(Sessions):
        return
    if any(getattr(spec, "cls", None) is SessionMiddleware for spec in app.user_middleware):
        return
    app.add_middleware(SessionMiddleware)
