"""Post/redirect/get and htmx helpers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prow._request import HTTPConnection
from prow.responses import RedirectResponse

if TYPE_CHECKING:
    from prow._app import App

__all__ = ["is_htmx", "redirect_to"]


def redirect_to(target: HTTPConnection | App, name: str, /, **params: Any) -> RedirectResponse:
    """A ``303 See Other`` to the route called ``name``: the browser follows it with a GET.

    After a successful POST, answering with a redirect (post/redirect/get) means a reload
    shows the next page instead of submitting the form again. Pass the request (the URL
    then keeps the app's mount prefix, ``root_path``) or the app.
    """
    if isinstance(target, HTTPConnection):
        path = target.app.url_for(name, **params)
        url = target.scope.get("root_path", "") + path
    else:
        url = target.url_for(name, **params)
    return RedirectResponse(url, status_code=303)


def is_htmx(request: HTTPConnection) -> bool:
    """Whether htmx sent the request (``HX-Request: true``), so a fragment is wanted.

    A boosted link or form (``hx-boost``) also says ``HX-Request`` but swaps the whole
    body: it still wants the full page, so it does not count here.
    """
    headers = request.headers
    return bool(headers.get("hx-request") == "true" and headers.get("hx-boosted") != "true")
