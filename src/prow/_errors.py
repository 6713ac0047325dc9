"""Error answers: RFC 9457 problem documents, the debug page when ``debug=True``, and the
log records of errors nobody handled."""

from __future__ import annotations

import html
import logging
import traceback
from collections.abc import Callable
from typing import Any

import pydantic_core

from prow._exceptions import HTTPError
from prow._request import HTTPConnection
from prow._security import ERROR_CSP, error_page_csp
from prow.responses import HTMLResponse, Response
from prow.scope import UNHANDLED

__all__ = [
    "EXPLAINERS",
    "UNHANDLED",
    "debug_response",
    "log_disconnect",
    "log_unhandled",
    "problem_response",
    "server_error_response",
]

PROBLEM_JSON = "application/problem+json"

logger = logging.getLogger("prow.error")

#: Functions that put an unhandled error into words a user can act on (or answer ``None``):
#: the note is added to the exception before it is logged, so the log, the debug page and a
#: failing test all show it. A battery adds its own when it is set up (the database's names
#: a relationship that was read before it was loaded, and the loader option that fixes it).
EXPLAINERS: list[Callable[[BaseException], str | None]] = []


def _forgotten_await(exc: BaseException) -> str | None:
    """A coroutine where a value was expected: an ``await`` left out (``session.scalar(...)``)."""
    for error in (exc, exc.__cause__):
        text = "" if error is None else str(error)
        if "coroutine object" in text or "<class 'coroutine'>" in text:
            return (
                "prow: a coroutine was found where a value was expected: an 'await' is "
                "missing (e.g. 'await session.scalar(...)', 'await db.get(...)')."
            )
    return None


EXPLAINERS.append(_forgotten_await)


def log_unhandled(connection: HTTPConnection, exc: BaseException, *, answered: bool = True) -> None:
    """Log an error nobody handled (once, with its traceback) and report it on the scope.

    It is not re-raised to the server: prow has answered it (``500``), or the response was
    already complete (``answered=False``: an error in a cleanup after it). A server that sees
    an exception closes the connection without ``Connection: close``, so the client's next
    request on that keep-alive connection fails as well, and it logs the traceback again.
    """
    for explain in EXPLAINERS:
        note = explain(exc)
        if note is not None and note not in getattr(exc, "__notes__", ()):
            exc.add_note(note)
    scope = connection.scope
    when = "in" if answered else "after the response to"
    method, path = scope.get("method", "WEBSOCKET"), scope.get("path", "")
    logger.error("unhandled error %s %s %s", when, method, path, exc_info=exc)
    errors: list[BaseException] | None = scope.get(UNHANDLED)
    if errors is not None:
        errors.append(exc)


def log_disconnect(connection: HTTPConnection) -> None:
    """One line, no traceback: a client that goes away mid-upload is routine, not a fault.

    There is nobody left to answer, so no response is attempted either.
    """
    scope = connection.scope
    logger.info(
        "client disconnected during the request body: %s %s",
        scope.get("method", ""),
        scope.get("path", ""),
    )


def problem_response(exc: HTTPError) -> Response:
    """The problem+json answer for an ``HTTPError``; headers such as ``Allow`` are kept."""
    # An invalid input such as 1e400 is echoed as "Infinity" (a string): bare Infinity or
    # NaN would make the whole answer invalid JSON for the client.
    body = pydantic_core.to_json(exc.problem(), fallback=str, inf_nan_mode="strings")
    if exc.status in (204, 304):
        return Response(b"", status_code=exc.status, headers=exc.headers)
    # An error echoes input: opened in a browser, nothing in it may load or run.
    headers = {"Content-Security-Policy": ERROR_CSP, **(exc.headers or {})}
    return Response(body, status_code=exc.status, headers=headers, media_type=PROBLEM_JSON)


def server_error_response(connection: HTTPConnection, exc: BaseException, debug: bool) -> Response:
    """The 500 answer: a bare problem document, or a debug page/JSON when debugging.

    Outside debug mode nothing about the exception reaches the client: tracebacks
    reveal code paths, settings and sometimes secrets.
    """
    if debug:
        return debug_response(connection, exc)
    return problem_response(HTTPError(500, "The server failed to handle this request."))


def debug_response(connection: HTTPConnection, exc: BaseException) -> Response:
    frames = traceback.format_exception(type(exc), exc, exc.__traceback__)
    accept = connection.headers.get("accept", "")
    if "text/html" in accept:
        page = _debug_page(connection, exc, frames)
        return HTMLResponse(page, 500, headers={"Content-Security-Policy": _DEBUG_PAGE_CSP})
    problem: dict[str, Any] = HTTPError(500, f"{type(exc).__name__}: {exc}").problem()
    problem["traceback"] = "".join(frames).splitlines()
    body = pydantic_core.to_json(problem, fallback=str, inf_nan_mode="strings")
    return Response(body, 500, {"Content-Security-Policy": ERROR_CSP}, PROBLEM_JSON)


_DEBUG_STYLE = (
    "body{font:14px/1.5 system-ui,sans-serif;margin:2rem;color:#222}h1{color:#b00;"
    "font-size:1.4rem}pre{background:#f6f6f6;padding:1rem;overflow:auto;border-left:4px solid "
    "#b00}.note{color:#666}"
)
#: The page shows an exception's text, which may hold request input: only its own style runs.
_DEBUG_PAGE_CSP = error_page_csp(_DEBUG_STYLE)


def _debug_page(connection: HTTPConnection, exc: BaseException, frames: list[str]) -> str:
    title = html.escape(f"{type(exc).__name__}: {exc}")
    method = html.escape(str(connection.scope.get("method", "WEBSOCKET")))
    path = html.escape(str(connection.scope.get("path", "")))
    trace = html.escape("".join(frames))
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>500 · "
        f"{title}</title><style>{_DEBUG_STYLE}</style></head><body>"
        f"<h1>{title}</h1><p>{method} {path}</p><pre>{trace}</pre>"
        "<p class='note'>You see this page because the app runs with debug=True. "
        "Never enable debug in production.</p></body></html>"
    )


# -- error pages for browsers ------------------------------------------------------------------
# A browser that asked for a page gets a page, as Django answers: a login redirect for 401 on a
# GET, a small styled page for the other errors. API clients (Accept: application/json, */*,
# or none, as fetch() and httpx send) keep the problem+json document.

_PAGE_STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}"
    "main{max-width:36rem;margin:12vh auto;padding:2rem;background:#fff;border:1px solid #d0d7de;"
    "border-radius:8px}h1{margin:0 0 .5rem;font-size:1.5rem}.status{color:#656d76;font-size:"
    "3rem;font-weight:700;margin:0}p{margin:.5rem 0}a{color:#0969da}"
)
_PAGE_CSP = error_page_csp(_PAGE_STYLE)


def prefers_html(connection: HTTPConnection) -> bool:
    """Whether the client asked for a page: ``text/html`` listed before any JSON type.

    Browsers navigating send ``text/html,...``; ``fetch()``, httpx and curl send ``*/*`` or a
    JSON type, so API clients keep getting JSON.
    """
    accept: str = connection.headers.get("accept", "")
    html_at = accept.find("text/html")
    if html_at < 0:
        return False
    json_at = accept.find("json")
    return json_at < 0 or html_at < json_at


def login_redirect(connection: HTTPConnection, login_url: str) -> Response:
    """303 to ``login_url`` with ``next=`` this page (a path on this site, query kept)."""
    from urllib.parse import urlencode

    from prow.responses import RedirectResponse

    target = str(connection.scope.get("root_path", "")) + str(connection.scope.get("path", "/"))
    query = connection.scope.get("query_string", b"")
    if query:
        target += "?" + query.decode("latin-1")
    separator = "&" if "?" in login_url else "?"
    return RedirectResponse(f"{login_url}{separator}{urlencode({'next': target})}", 303)


def error_page(exc: HTTPError) -> Response:
    """The built-in HTML page for ``exc``: its status, title and (escaped) detail."""
    title = html.escape(exc.title)
    detail = (
        html.escape(str(exc.detail))
        if exc.status < 500
        else ("Something went wrong on our side. Please try again later.")
    )
    page = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><meta name='viewport' "
        f"content='width=device-width,initial-scale=1'><title>{exc.status} {title}</title>"
        f"<style>{_PAGE_STYLE}</style></head><body><main><p class='status'>{exc.status}</p>"
        f"<h1>{title}</h1><p>{detail}</p><p><a href='/'>Go to the home page</a></p>"
        "</main></body></html>"
    )
    headers = {"Content-Security-Policy": _PAGE_CSP, **(exc.headers or {})}
    return HTMLResponse(page, exc.status, headers=headers)
