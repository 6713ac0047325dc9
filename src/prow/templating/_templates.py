"""``Templates``: Jinja2 set up for prow, answering with ``HTMLResponse``.

Threat: cross-site scripting. Any value put in a page may come from a user; autoescaping is
therefore always on for ``.html``, ``.htm``, ``.xml`` and ``.svg`` templates and for
templates made from strings, and cannot be switched off through ``Templates``. Use
``|safe`` or ``Markup`` only for HTML you produced yourself.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from prow._exceptions import ConfigurationError, HTTPError
from prow.extensions import Extension
from prow.responses import HTMLResponse, Response
from prow.templating._globals import template_globals
from prow.templating._helpers import is_htmx
from prow.templating._user import UserPage, UserUse, resolve_user

if TYPE_CHECKING:
    from prow._app import App
    from prow._request import HTTPConnection

__all__ = ["Templates"]

PathLike = str | os.PathLike[str]
ContextProcessor = Callable[["HTTPConnection"], Mapping[str, Any]]

_ESCAPED = ("html", "htm", "xml", "svg")
_APP_FOLDER = "templates"


class Templates(Extension):
    """Jinja2 templates from ``directory`` (one or several) and from each app's ``templates/``.

    ``apps`` lists app modules (``"myproject.blog"``) whose package folder ``templates/``
    joins the search path after ``directory``; left out, the apps of a project made by
    :func:`prow.apps.create_app` are used. Templates are compiled once and cached; with
    ``auto_reload`` left ``None`` they are reloaded on change when the app runs in debug.
    ``enable_async=True`` lets templates await coroutines: render with ``render_async``.
    Further keyword arguments go to :class:`jinja2.Environment` (except ``autoescape``).

    ``env`` is the environment to configure (filters, globals, tests). When the loader or
    reloading depends on the app (``apps`` or ``auto_reload`` left ``None``), each app
    rendering with these templates gets its own overlay of ``env``, made at its first
    render: it shares ``env``'s filters, globals and tests, so configure ``env`` before
    serving.

    Installed as an extension (``App(extensions=[templates])``), it prepares the app's
    environment when the app is built instead of at the first render; apps may install
    several ``Templates``.
    """

    unique = False

    def __init__(
        self,
        directory: PathLike | Sequence[PathLike] | None = None,
        *,
        apps: Sequence[str] | None = None,
        loader: jinja2.BaseLoader | None = None,
        enable_async: bool = False,
        auto_reload: bool | None = None,
        context_processors: Sequence[ContextProcessor] = (),
        static_name: str = "static",
        **env_options: Any,
    ) -> None:
        if "autoescape" in env_options:
            raise ConfigurationError(
                "prow.E181",
                "Templates escapes HTML always and takes no autoescape option; mark trusted "
                "HTML with |safe or markupsafe.Markup instead",
            )
        self._fixed = _directory_loaders(directory) + ([loader] if loader else [])
        self._apps = apps
        self._auto_reload = auto_reload
        # One environment per app, made once: an environment shared by two apps (a mounted
        # sub-app, two test apps) and re-pointed at each request would throw away Jinja's
        # cache each time the app changes, and an include in a page being rendered could be
        # looked up in the other app's folders.
        self._envs: weakref.WeakKeyDictionary[App, jinja2.Environment] = weakref.WeakKeyDictionary()
        self._last: tuple[App | None, jinja2.Environment | None] = (None, None)
        self.context_processors = list(context_processors)
        self._user_use = UserUse()
        self.env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(self._fixed + _app_loaders(apps or ())),
            autoescape=jinja2.select_autoescape(_ESCAPED, default_for_string=True),
            enable_async=enable_async,
            auto_reload=bool(auto_reload),
            **env_options,
        )
        self.env.globals.update(template_globals(static_name))

    def setup(self, app: App) -> None:
        """Make the app's environment now (search path, reloading) rather than on first use.

        The first ``Templates`` installed also renders the app's error pages for browsers
        from ``404.html``, ``500.html``... (else ``error.html``) when it has them.
        """
        self._env_for(app)
        if app.error_page_renderer is None:
            app.error_page_renderer = self.error_page

    async def error_page(self, request: HTTPConnection, exc: HTTPError) -> Response | None:
        """The page for ``exc`` from ``<status>.html`` or ``error.html``; ``None`` if neither.

        The template sees ``status``, ``title`` and ``detail`` (a 5xx detail says nothing
        of the failure).
        """
        env = self._env_for(request.app)
        try:
            template = env.get_or_select_template([f"{exc.status}.html", "error.html"])
        except jinja2.TemplateNotFound:
            return None
        detail = exc.detail if exc.status < 500 else "Something went wrong on our side."
        values = self.context(request, {"status": exc.status, "title": exc.title, "detail": detail})
        if self.env.is_async:
            text = await template.render_async(values)
        else:
            text = template.render(values)
        return HTMLResponse(text, exc.status, headers=exc.headers)

    def get_template(self, name: str, request: HTTPConnection | None = None) -> jinja2.Template:
        """The compiled template ``name`` (cached); errors name the folders searched."""
        env = self.env if request is None else self._env_for(request.app)
        try:
            with template_errors():
                return env.get_template(name)
        except jinja2.TemplateNotFound as exc:
            if exc.name != name:
                raise  # another template it includes is missing: Jinja names that one
            searched = _search_path(env) or "nothing"
            raise jinja2.TemplateNotFound(
                name, f"template {name!r} not found; searched {searched}"
            ) from None

    def search_path(self, request: HTTPConnection | None = None) -> list[str]:
        """The folders searched for templates, in order (for the app serving ``request``)."""
        return _search_path(self.env if request is None else self._env_for(request.app))

    def _env_for(self, app: App) -> jinja2.Environment:
        """The environment for ``app``: its debug mode and its apps' folders, made once."""
        if self._apps is not None and self._auto_reload is not None:
            return self.env  # nothing depends on the app
        last_app, last_env = self._last  # one tuple: read whole even between threads
        if last_app is app and last_env is not None:
            return last_env
        env = self._envs.get(app)
        if env is None:
            env = self._envs[app] = self._overlay(app)
        self._last = (app, env)
        return env

    def _overlay(self, app: App) -> jinja2.Environment:
        auto_reload = self._auto_reload
        if auto_reload is None:
            auto_reload = bool(getattr(app, "debug", False))
        if self._apps is not None:
            return self.env.overlay(auto_reload=auto_reload)
        names = getattr(getattr(app.state, "settings", None), "apps", None) or ()
        loader = jinja2.ChoiceLoader(self._fixed + _app_loaders(names))
        return self.env.overlay(loader=loader, auto_reload=auto_reload)

    def context(self, request: HTTPConnection, context: Mapping[str, Any] | None) -> dict[str, Any]:
        """The variables a template sees: ``request``, ``user``, processors', then yours.

        ``user`` is ``scope["user"]`` as resolved so far; ``render`` and ``render_async``
        look it up first when the template needs it (see :mod:`prow.templating._user`).
        """
        return self._context(request, context)[0]

    def _context(
        self, request: HTTPConnection, context: Mapping[str, Any] | None
    ) -> tuple[dict[str, Any], bool]:
        """The template's variables, and whether ``user`` was left to prow to fill in."""
        values: dict[str, Any] = {"request": request}
        for processor in self.context_processors:
            values.update(processor(request))
        if context:
            values.update(context)
        if "user" in values:
            return values, False
        values["user"] = request.scope.get("user")
        return values, True

    def render(
        self,
        request: HTTPConnection,
        name: str,
        context: Mapping[str, Any] | None = None,
        *,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        block: str | None = None,
        htmx_block: str | None = None,
    ) -> HTMLResponse:
        """Render ``name`` into an ``HTMLResponse``.

        ``block`` renders only that ``{% block %}`` (a fragment); ``htmx_block`` does so only
        when htmx asked (``HX-Request``), so one handler serves the page and its fragment.

        With ``Auth`` on the app, a template that shows ``user`` on a request that has not
        looked the user up yet is rendered when the response is sent, after the lookup (a
        :class:`~prow.templating._user.UserPage`: its ``body`` is not known before).
        """
        if self.env.is_async:
            raise RuntimeError(
                "these Templates have enable_async=True: use await templates.render_async(...)"
            )
        template, values, chosen, needs_user = self._prepare(
            request, name, context, block, htmx_block
        )
        extra = _headers(headers, htmx_block is not None)
        if needs_user:
            # No waiting for the database here: the page renders when it is sent.
            draw = functools.partial(_draw, template, chosen)
            return UserPage(request, draw, values, status_code, extra, media_type)
        content = _draw(template, chosen, values)
        return HTMLResponse(content, status_code=status_code, headers=extra, media_type=media_type)

    async def render_async(
        self,
        request: HTTPConnection,
        name: str,
        context: Mapping[str, Any] | None = None,
        *,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        block: str | None = None,
        htmx_block: str | None = None,
    ) -> HTMLResponse:
        """:meth:`render` for ``enable_async=True``: templates may await and use async loops.

        Works for the other templates too, and then has the page's ``body`` at once even when
        the template shows ``user`` (it is looked up first).
        """
        template, values, chosen, needs_user = self._prepare(
            request, name, context, block, htmx_block
        )
        if needs_user:
            values["user"] = await resolve_user(request)
        if self.env.is_async:
            content = await _draw_async(template, chosen, values)
        else:
            content = _draw(template, chosen, values)
        extra = _headers(headers, htmx_block is not None)
        return HTMLResponse(content, status_code=status_code, headers=extra, media_type=media_type)

    def _prepare(
        self,
        request: HTTPConnection,
        name: str,
        context: Mapping[str, Any] | None,
        block: str | None,
        htmx_block: str | None,
    ) -> tuple[jinja2.Template, dict[str, Any], str | None, bool]:
        """What both render methods start from: the template, its values, the block to draw.

        And whether ``user`` must be looked up first (see :mod:`prow.templating._user`).
        """
        template = self.get_template(name, request)
        values, user_left = self._context(request, context)
        needs_user = (
            user_left and "user" not in request.scope and self._user_use.wanted(request, template)
        )
        return template, values, _chosen_block(request, block, htmx_block), needs_user


@contextlib.contextmanager
def template_errors() -> Iterator[None]:
    """Add "in template 'x.html', line N" to an error raised while loading or rendering.

    Jinja already puts the template's frame in the traceback (which the debug page shows);
    the note repeats the place at the end, next to the message, where a reader looks first.
    Outside debug mode the client sees none of it: prow answers a bare 500.
    """
    try:
        yield
    except Exception as exc:
        where = _template_frame(exc)
        if where is not None:
            exc.add_note(f"in template {where[0]!r}, line {where[1]}")
        raise


def _template_frame(exc: BaseException) -> tuple[str, int] | None:
    """The innermost template file and line in the traceback of ``exc``."""
    found = None
    tb = exc.__traceback__
    while tb is not None:
        # Jinja's rewritten frames run in globals holding the exception they re-raise.
        if "__jinja_exception__" in tb.tb_frame.f_globals:
            found = (tb.tb_frame.f_code.co_filename, tb.tb_lineno)
        tb = tb.tb_next
    return found


def _search_path(env: jinja2.Environment) -> list[str]:
    loader = env.loader
    loaders = loader.loaders if isinstance(loader, jinja2.ChoiceLoader) else [loader]
    return [p for item in loaders for p in getattr(item, "searchpath", ())]


def _directory_loaders(directory: PathLike | Sequence[PathLike] | None) -> list[jinja2.BaseLoader]:
    if directory is None:
        return []
    folders = [directory] if isinstance(directory, str | os.PathLike) else list(directory)
    for folder in folders:
        if not Path(folder).is_dir():
            raise ConfigurationError(
                "prow.E180",
                f"Templates directory {os.fspath(folder)!r} does not exist (relative paths "
                f"start at {os.getcwd()!r}); create it or fix the path",
            )
    return [jinja2.FileSystemLoader(folders)]


def _app_loaders(names: Sequence[str]) -> list[jinja2.BaseLoader]:
    """A loader for the ``templates/`` folder of each app package that has one."""
    folders = []
    for name in names:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            raise ConfigurationError(
                "prow.E182", f"Templates: app {name!r} cannot be found; check its spelling"
            )
        for location in spec.submodule_search_locations or ():
            folder = Path(location, _APP_FOLDER)
            if folder.is_dir():
                folders.append(folder)
    return [jinja2.FileSystemLoader(folders)] if folders else []


def _chosen_block(request: HTTPConnection, block: str | None, htmx_block: str | None) -> str | None:
    if block is not None:
        return block
    if htmx_block is not None and is_htmx(request):
        return htmx_block
    return None


def _block(template: jinja2.Template, name: str) -> Any:
    render = template.blocks.get(name)
    if render is None:
        known = ", ".join(sorted(template.blocks)) or "none"
        raise LookupError(f"template {template.name!r} has no block {name!r}; its blocks: {known}")
    return render


def _draw(template: jinja2.Template, block: str | None, values: dict[str, Any]) -> str:
    """The whole page, or only ``block`` of it."""
    with template_errors():
        if block is None:
            return template.render(values)
        return _render_block(template, block, values)


async def _draw_async(template: jinja2.Template, block: str | None, values: dict[str, Any]) -> str:
    with template_errors():
        if block is None:
            return await template.render_async(values)
        return await _render_block_async(template, block, values)


def _render_block(template: jinja2.Template, name: str, values: dict[str, Any]) -> str:
    render = _block(template, name)
    try:
        return "".join(render(template.new_context(values)))
    except Exception:
        # Rewrites the traceback so that it shows the template's name and line.
        template.environment.handle_exception()


async def _render_block_async(template: jinja2.Template, name: str, values: dict[str, Any]) -> str:
    render = _block(template, name)
    try:
        return "".join([part async for part in render(template.new_context(values))])
    except Exception:
        template.environment.handle_exception()


def _headers(headers: Mapping[str, str] | None, varies: bool) -> dict[str, str]:
    extra = dict(headers or {})
    if varies:
        # The same URL answers a page or a fragment: caches must keep them apart.
        vary = extra.pop("Vary", None) or extra.pop("vary", None)
        extra["Vary"] = f"{vary}, HX-Request" if vary else "HX-Request"
    return extra
