"""The Conduit app: prow.auth with `Authorization: Token <jwt>`, errors in the spec's format.

``prow migrate`` then ``prow run`` in examples/conduit serve it on http://127.0.0.1:8000/api.
"""

from __future__ import annotations

import datetime
from typing import Any

from prow import App, HTTPError, JSONResponse, Request, RequestValidationError
from prow.auth import AbstractUser, Auth
from prow.middleware import CORSMiddleware, Middleware
from prow.settings import Settings, app_kwargs, load_settings

from . import articles, users
from .models import User
from .schemas import Errors

#: The spec's wording (Rails') for the writes prow.db refuses.
_WORDING = {"unique": "has already been taken", "not_null": "can't be blank"}


def _message(error: dict[str, Any]) -> str:
    """The spec's wording for a blank or missing value; pydantic's message for the others."""
    blank = error["type"] == "missing" or ("input" in error and error["input"] in ("", None))
    return "can't be blank" if blank else str(error["msg"])


def errors(request: Request, exc: HTTPError) -> JSONResponse:
    """Every error as ``{"errors": {"field": ["message", ...]}}``, as the spec asks."""
    if isinstance(exc, RequestValidationError):
        found: dict[str, list[str]] = {}
        for error in exc.errors:
            field = [part for part in error["loc"] if isinstance(part, str)][-1]
            found.setdefault(field, []).append(_message(error))
    elif exc.extra.get("fields"):  # prow.db names the columns of unique and not-null violations
        message = _WORDING.get(exc.extra["violation"], str(exc.detail))
        found = {field: [message] for field in exc.extra["fields"]}
    elif exc.status == 401 and "field" not in exc.extra:  # current_user's: no token, or a bad one
        found = {"token": [str(exc.detail) if "authorization" in request.headers else "is missing"]}
    else:
        found = {exc.extra.get("field", "body"): [str(exc.detail)]}
    return JSONResponse({"errors": found}, exc.status, headers=exc.headers)


class SpecAuth(Auth):
    """prow's ``Auth``, except that a password change does not end the tokens issued before
    (prow's default does): the RealWorld suite changes a password and goes on with its token."""

    def fingerprint(self, user: AbstractUser) -> str:
        return ""  # the same whatever the password (prow's: a keyed digest of its hash)


def create_app(settings: Settings | None = None) -> App:
    """The app, configured from ``PROW_*`` variables and ``.env`` (or the given settings)."""
    # prefix=None: no /auth routes, the spec has its own; tokens last as long as a reading session.
    auth = SpecAuth(
        user_model=User,
        prefix=None,
        token_schemes=("Token", "Bearer"),  # the spec's scheme, and the usual one
        login_field="email",
        access_token_lifetime=datetime.timedelta(days=7),
    )
    app = App(
        **app_kwargs(settings or load_settings()),
        title="Conduit",
        version="2.0.0",
        extensions=[auth],
        exception_handlers={HTTPError: errors},
        # The document says so: every error answer is the spec's JSON, not a problem document.
        error_responses={"default": {"model": Errors, "media_type": "application/json"}},
        # Browsers send the token only when the frontend's script adds it (no cookies), so any
        # origin may call the API: another site's script has no token to send.
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=["*"],
                allow_methods=["*"],
                allow_headers=["Authorization", "Content-Type"],
            )
        ],
    )
    app.include(users.router)
    app.include(articles.router)
    return app


app = create_app()
