"""A handler parameter typed with an extension class receives the app's installed extension.

::

    @app.post("/login")
    async def log_in(form: Login, auth: Auth[Member], session: DBSession) -> str:
        user = await auth.authenticate(session, form.email, form.password)
        ...

The planner turns such a parameter into a dependency on :func:`extension_dependency`, once,
at start-up; a request only looks the extension up on its app (one dict lookup), so two apps
in one process each get their own. A route that asks for an extension the app lacks gets
one with its defaults installed when the app is built, as ``DBSession`` gets a ``Database``.
"""

from __future__ import annotations

import typing
from collections.abc import Awaitable, Callable
from typing import Any

from prow._request import HTTPConnection
from prow.extensions import Extension
from prow.extensions._set import ExtensionT, requires_extension

__all__ = ["extension_dependency", "extension_kind"]


def extension_kind(annotation: Any) -> type[Extension] | None:
    """The extension class a parameter's type names (``Auth`` or ``Auth[Member]``), or None."""
    target = typing.get_origin(annotation) or annotation
    if isinstance(target, type) and issubclass(target, Extension):
        return target
    return None


# One dependency per class (a memo of a pure function, not configuration): routes that ask
# for the same extension share it, so a request looks the extension up once.
_DEPENDENCIES: dict[type[Extension], Callable[[HTTPConnection], Awaitable[Any]]] = {}


def extension_dependency(
    kind: type[ExtensionT],
) -> Callable[[HTTPConnection], Awaitable[ExtensionT]]:
    """The dependency that gives the ``kind`` extension installed on the request's app."""
    found = _DEPENDENCIES.get(kind)
    if found is None:

        @requires_extension(kind)
        async def installed_extension(connection: HTTPConnection) -> ExtensionT:
            return connection.app.extension(kind)

        installed_extension.__qualname__ = f"installed_extension[{kind.__qualname__}]"
        found = _DEPENDENCIES[kind] = installed_extension
    return found
