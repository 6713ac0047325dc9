"""Helpers for template tests."""

from __future__ import annotations

from prow import App
from prow.middleware import Middleware
from prow.sessions import SessionMiddleware

KEY = "templating-test-secret-key-" + "k" * 32


def session_app(*, debug: bool = False) -> App:
    """An app with cookie sessions (for flash messages) and CSRF protection on."""
    return App(secret_key=KEY, debug=debug, middleware=[Middleware(SessionMiddleware)])
