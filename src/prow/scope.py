"""The ASGI scope keys prow uses: who writes each and who reads it.

The scope is the one object every layer of a request shares. These are all the keys prow
puts in it; nothing else writes ``prow.*`` keys, and a battery that needs a new one adds
it here first.

Each key, then who writes it and who reads it:

``app``
    written by ``App.__call__`` on every request; read by ``Request.app`` and dependencies.
``path_params``
    the route table, on a match; ``Request.path_params`` and parameter plans.
``state``
    the server (a copy of the lifespan state); ``Request.state``.
``prow.headers``
    ``App.__call__``: the app's headers for the scheme (``AppHeaders``, built once), which
    prow's responses add as they start; when a middleware or a mounted app handles the
    request, the ``AppSend`` that wraps ``send`` and adds them to any answer. The CSRF
    check adds its ``Set-Cookie`` with ``add_header`` (seen by a middleware's copy of the
    scope too).
``prow.max_body_size``
    ``Route.handle`` (the route's limit); the body reader (413 past it).
``prow.cookies``
    the cookie parser, once per request (a cache); the same parser for every later reader.
``prow.csrf_secret``
    the CSRF check and ``csrf_token()``; the same, and templates' forms.
``session``
    ``SessionMiddleware``; ``request.session`` and ``login()``/``logout()``.
``user``
    prow.auth (``CurrentUser``, ``OptionalUser``, ``get_user``, ``login``/``logout``): the
    user, or ``None`` when anonymous; read by templates' ``{{ user }}`` and by
    ``rate_limit(key="user")``, which depends on the user lookup so it never runs before it.
``prow.auth.permissions``
    prow.auth's guards (the user's permission codenames, cached); ``requires()`` and
    ``ObjectPermission``, which loads them itself when no guard did.
``prow.flashes``
    ``flash()``; ``get_flashed_messages()``.
``prow.route``
    the wrapper ``prow.observability`` puts on each route (only with metrics or tracing on):
    the matched route's template; its middleware, for metric labels and the span's name.
``prow.db.session``
    ``DBSession`` / ``Connection`` (prow.db): the request's session or connection; read by
    prow.tasks' ``enqueue()``, which writes the task in that transaction.
``prow.tasks.relay``
    prow.tasks' ``enqueue()`` when it wrote an outbox row; read by the ``Tasks`` middleware,
    which wakes the outbox relay after the request.
``prow.task``
    the scope a worker makes for a task's dependencies (no request): the ``TaskMessage``.
``prow.unhandled``
    whoever wants to see the request's unhandled exceptions puts an empty list there before
    calling the app (the test clients, to raise the first one in the test; the access log,
    to name it); prow appends each error it answered 500 (and logged once). Shared by
    reference, so a mounted app's copy of the scope reports to the same list.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "AUTH_PERMISSIONS",
    "COOKIES",
    "CSRF_SECRET",
    "FLASHES",
    "HEADERS",
    "MAX_BODY_SIZE",
    "ROUTE",
    "SESSION",
    "UNHANDLED",
    "USER",
    "HeaderList",
    "with_extra_headers",
]

HEADERS = "prow.headers"
MAX_BODY_SIZE = "prow.max_body_size"
COOKIES = "prow.cookies"
CSRF_SECRET = "prow.csrf_secret"  # noqa: S105 - a key name, not a secret
SESSION = "session"
USER = "user"
AUTH_PERMISSIONS = "prow.auth.permissions"
FLASHES = "prow.flashes"
UNHANDLED = "prow.unhandled"
ROUTE = "prow.route"


class HeaderList(list[tuple[bytes, bytes]]):
    """A header list built once at start-up that knows its own names (for a fast merge)."""

    __slots__ = ("names",)

    def __init__(self, headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
        super().__init__(headers)
        self.names = frozenset(name for name, _ in headers)


def with_extra_headers(
    headers: list[tuple[bytes, bytes]], extra: Sequence[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    """``headers`` plus the app's extra headers (``scope["prow.headers"]``), as a new list.

    A header the response set itself wins over an extra one of the same name, except
    ``Set-Cookie``, of which a response may carry several. ``headers`` is never changed:
    a response object may be sent more than once.
    """
    # This runs for every response: the usual case (the app's prebuilt list, no name in
    # common with the response's two or three headers) is one short loop and a concatenation.
    if type(extra) is HeaderList:
        names = extra.names
        for name, _ in headers:
            if name in names:
                break
        else:
            return headers + extra
    present = {name for name, _ in headers}
    return headers + [item for item in extra if item[0] not in present or item[0] == b"set-cookie"]
