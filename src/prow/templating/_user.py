"""``user`` in templates, looked up for the pages that show it even when the handler did not.

prow.auth finds the user when a handler asks for ``CurrentUser`` or ``OptionalUser`` and keeps
it in ``scope["user"]``. Without more, a page whose handler did not ask would greet a
logged-in visitor with "Log in". Finding the user may cost a database query, so ``Templates``
looks it up only when all of these hold (checked cheapest first):

1. the request has not resolved the user yet, and neither you nor a context processor gave
   ``user``;
2. ``Auth`` is set up on the app (an app without it never imports prow.auth);
3. the template, or one it extends, includes or imports, names ``user`` (found from its
   source once per compiled template, with Jinja's own :mod:`jinja2.meta`).

``render_async`` then looks the user up before rendering. ``render`` is synchronous and is
mostly called from ``async def`` handlers, on the event loop, where it cannot wait for the
database: it returns a :class:`UserPage`, which looks the user up and renders when it is
sent. Either way the lookup is :func:`prow.auth.get_user`, the one ``OptionalUser`` makes.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import jinja2
import jinja2.meta

from prow._exceptions import HTTPError
from prow._request import HTTPConnection, Request
from prow.responses import HTMLResponse

if TYPE_CHECKING:
    from prow._types import Receive, Scope, Send

__all__ = ["UserPage", "UserUse", "resolve_user"]


class UserUse:
    """Which templates name ``user``: worked out once per compiled template."""

    def __init__(self) -> None:
        # Keyed by the compiled template: a reloaded template is a new object, worked out anew.
        self._known: weakref.WeakKeyDictionary[jinja2.Template, bool] = weakref.WeakKeyDictionary()

    def wanted(self, request: HTTPConnection, template: jinja2.Template) -> bool:
        """Whether rendering ``template`` needs the user looked up (conditions 2 and 3)."""
        if "auth" not in request.app.state:
            return False
        known = self._known.get(template)
        if known is None:
            env = template.environment
            known = template.name is None or _names_user(env, template.name, set())
            if not env.auto_reload:
                # With reloading, a template it extends may change while it does not.
                self._known[template] = known
        return known


def _names_user(env: jinja2.Environment, name: str, seen: set[str]) -> bool:
    """Whether template ``name``, or one it reaches, reads the variable ``user``."""
    if name in seen or env.loader is None:
        return False
    seen.add(name)
    try:
        source = env.loader.get_source(env, name)[0]
        tree = env.parse(source, name)
    except jinja2.TemplateNotFound:
        return False  # ``include ... ignore missing``; a required one fails when rendered
    except jinja2.TemplateError:
        return True  # rendering reports the error; until then, assume the worst
    if "user" in jinja2.meta.find_undeclared_variables(tree):
        return True
    for other in jinja2.meta.find_referenced_templates(tree):
        # ``None``: a name computed while rendering (``{% extends layout %}``): it may.
        if other is None or _names_user(env, env.join_path(other, name), seen):
            return True
    return False


async def resolve_user(request: HTTPConnection) -> Any:
    """The user for a template: :func:`prow.auth.get_user`, which caches it in the scope."""
    from prow.auth import get_user

    try:
        return await get_user(request)
    except HTTPError as exc:
        if exc.status != 401:
            raise
        # Credentials that do not check out (a stale token) make a visitor of a public
        # page anonymous, as an expired session does; handlers that need the user still
        # answer 401 through CurrentUser.
        request.scope["user"] = None
        return None
    except Exception:
        # A request whose lookup failed (a wrong token answers 401, the database may be
        # down) stays anonymous: the error page answering it may be a template too, and
        # must not try again, which for a UserPage would repeat the failure forever.
        request.scope.setdefault("user", None)
        raise


class UserPage(HTMLResponse):
    """A page rendered when it is sent, once the user is looked up (see the module doc).

    It has no ``body`` until then. An error while looking up or rendering is answered like
    one raised by the handler: through the app's exception handlers (a wrong token 401, the
    debug page, a bare 500).
    """

    def __init__(
        self,
        request: HTTPConnection,
        draw: Callable[[dict[str, Any]], str],
        values: dict[str, Any],
        status_code: int,
        headers: dict[str, str],
        media_type: str | None,
    ) -> None:
        self._body: bytes | None = None
        self._request = request
        self._draw = draw
        self._values = values
        self.status_code = status_code
        if media_type is not None:
            self.media_type = media_type
        self.background = None
        self.raw_headers = self._build_headers(headers)  # no body yet: no Content-Length
        self._plain = not headers

    @property
    def body(self) -> bytes:
        """The page; known only once it was sent."""
        if self._body is None:
            raise AttributeError(
                "this page shows `user`, which is looked up when the page is sent, so its body "
                "is not known yet; use `await templates.render_async(...)` to have it at once"
            )
        return self._body

    @body.setter
    def body(self, value: bytes) -> None:
        self._body = value

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._body is None:
            try:
                self._values["user"] = await resolve_user(self._request)
                content = self._draw(self._values)
            except Exception as exc:
                await self._answer_error(scope, receive, send, exc)
                return
            self._set_body(content.encode(self.charset))
        await super().__call__(scope, receive, send)

    def _set_body(self, body: bytes) -> None:
        self._body = body
        status = self.status_code
        has_length = any(name == b"content-length" for name, _ in self.raw_headers)
        if not has_length and not (status < 200 or status in (204, 304)):
            self.raw_headers.append((b"content-length", str(len(body)).encode("latin-1")))

    async def _answer_error(
        self, scope: Scope, receive: Receive, send: Send, exc: Exception
    ) -> None:
        """Answer as prow answers a handler's error (an unhandled one is logged, not raised)."""
        response, _ = await self._request.app.exception_response(Request(scope, receive), exc)
        await response(scope, receive, send)
