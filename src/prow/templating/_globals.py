"""The names every template can use: ``url_for``, ``static``, CSRF, flash messages.

Each reads the current request from the template's context, so one environment serves every
request (and every app) without global state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from prow._csrf import csrf_token as _csrf_token
from prow._exceptions import ConfigurationError
from prow._request import HTTPConnection
from prow.forms._csrf import csrf_input as _csrf_input
from prow.templating._flash import get_flashed_messages as _flashed

__all__ = ["template_globals"]


def _request(context: Context) -> HTTPConnection:
    request = context.get("request")
    if not isinstance(request, HTTPConnection):
        raise RuntimeError("this template was rendered without a request in its context")
    return request


@pass_context
def url_for(context: Context, name: str, /, **params: Any) -> str:
    """The absolute URL of the route (or mount) called ``name``."""
    return str(_request(context).url_for(name, **params))


@pass_context
def csrf_token(context: Context) -> str:
    """A fresh CSRF token, for a header or your own hidden field."""
    return _csrf_token(_request(context))


@pass_context
def csrf_input(context: Context) -> Markup:
    """The hidden ``<input>`` carrying the CSRF token: put it in every POST form."""
    return _csrf_input(_request(context))


@pass_context
def get_flashed_messages(
    context: Context, with_categories: bool = False, category_filter: Iterable[str] = ()
) -> list[Any]:
    """The flash messages waiting in the session (each shown once)."""
    request = _request(context)
    if with_categories:
        return _flashed(request, True, category_filter)
    return _flashed(request, False, category_filter)


def _static(mount: str) -> Callable[..., str]:
    @pass_context
    def static(context: Context, path: str) -> str:
        """The URL of a file served by the static files mount."""
        request = _request(context)
        try:
            return str(request.url_for(mount, path=path))
        except LookupError:
            raise ConfigurationError(
                "prow.E183",
                f"static() builds URLs from the mount named {mount!r}, which the app lacks: "
                f"app.mount('/static', StaticFiles(directory='static'), name={mount!r}), or "
                "pass Templates(static_name=...)",
            ) from None

    return static


def template_globals(static_name: str) -> dict[str, Any]:
    """The request-aware globals of a ``Templates`` environment."""
    return {
        "url_for": url_for,
        "static": _static(static_name),
        "csrf_token": csrf_token,
        "csrf_input": csrf_input,
        "get_flashed_messages": get_flashed_messages,
    }
