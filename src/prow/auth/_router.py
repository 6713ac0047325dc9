"""The routes ``Auth`` adds under its prefix (``/auth`` by default).

===========================  ==================================================================
``POST /auth/login``         session login; a form (303 to ``next``) or JSON (200, the user)
``POST /auth/logout``        session logout; a form (303) or anything else (204)
``POST /auth/token``         OAuth2 token endpoint (``grant_type=password`` or ``refresh_token``)
``POST /auth/refresh``       JSON ``{"refresh_token": ...}`` → a new token pair
``GET  /auth/me``            the current user
===========================  ==================================================================

Login and token routes are rate limited per client IP (``Auth(login_rate_limit=...)``).
Threat: password guessing. Wrong credentials answer 400 ``invalid_grant`` without saying
whether the username exists, and take as long either way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from prow._exceptions import HTTPError
from prow._formdata import FORM_MEDIA_TYPES
from prow._request import Request
from prow._routing._router import Router
from prow.auth._current import CurrentUser, login, logout
from prow.auth._tokens import TokenError
from prow.db import DBSession
from prow.responses import JSONResponse, RedirectResponse, Response

if TYPE_CHECKING:
    from prow.auth._auth import Auth
    from prow.auth._models import AbstractUser

__all__ = ["auth_router", "is_safe_redirect"]

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_FORM = "application/x-www-form-urlencoded"
_JSON = "application/json"


# -- what the routes read and answer, for the OpenAPI document --------------------------------
# The views read their bodies themselves (a form or JSON, as the client sends), so these
# models document the bodies (request_body=) and answers (response_model=) of the routes.


class Credentials(BaseModel):
    """A username and password (the field the ``Auth`` logs in with, e.g. an e-mail)."""

    username: str = Field(min_length=1)
    password: str = Field(min_length=1)


#: What ``is_safe_redirect`` accepts, as a JSON Schema pattern (empty: the default page).
SAFE_NEXT = r"^(/([^/\\\u0000-\u001f\u007f][^\\\u0000-\u001f\u007f]*)?)?$"


class LoginForm(Credentials):
    """The login form: credentials, and the page to go to afterwards (a path on this site)."""

    next: str = Field(
        "",
        description="A path on this site to go to after login, e.g. /account",
        json_schema_extra={"pattern": SAFE_NEXT},
    )


class PasswordGrant(Credentials):
    """OAuth2 resource owner password grant."""

    grant_type: Literal["password"] = "password"
    scope: str | None = None


class RefreshGrant(BaseModel):
    """OAuth2 refresh token grant."""

    grant_type: Literal["refresh_token"]
    refresh_token: str = Field(min_length=1)


class RefreshRequest(BaseModel):
    """A refresh token to trade for a new token pair."""

    refresh_token: str = Field(min_length=1)


class TokenPair(BaseModel):
    """An OAuth2 token answer."""

    access_token: str
    token_type: Literal["bearer"]
    expires_in: int = Field(description="Seconds the access token stays valid")
    refresh_token: str


class UserInfo(BaseModel):
    """The logged-in user, as the auth routes show it."""

    id: int | str
    username: str
    email: str | None
    is_staff: bool
    is_superuser: bool


_BAD_CREDENTIALS = "Bad Request: wrong username or password (invalid_grant), or an unsafe next"
_BAD_GRANT = "Bad Request: invalid_grant (wrong credentials or token) or unsupported_grant_type"
_REDIRECT = {
    "description": "See Other: a form was posted; the browser goes on to the next page",
    "headers": {"Location": {"schema": {"type": "string"}}},
}


def is_safe_redirect(target: str) -> bool:
    """Whether ``target`` is a path on this site, safe to redirect to after login.

    Threat: open redirect. ``next=https://evil.example`` (or ``//evil.example``,
    ``/\\evil.example``, which browsers read as another host) would send a user who just
    logged in on the real site to a look-alike one. Only plain paths are accepted.
    """
    if not target.startswith("/") or target.startswith("//"):
        return False
    if "\\" in target or any(ord(char) < 0x20 or ord(char) == 0x7F for char in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def _user_data(user: AbstractUser) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "is_staff": user.is_staff,
        "is_superuser": user.is_superuser,
    }


async def _read_fields(request: Request) -> tuple[dict[str, Any], bool]:
    """The submitted fields and whether they came from a form (else JSON)."""
    kind = request.content_type
    if kind in FORM_MEDIA_TYPES:
        form = await request.form()
        return {key: form.get(key) for key in form}, True
    if kind == "application/json":
        data = await request.json()
        if not isinstance(data, dict):
            raise HTTPError(422, "the body must be a JSON object")
        return data, False
    raise HTTPError(415, "send a form (application/x-www-form-urlencoded) or a JSON object")


def _text(fields: dict[str, Any], name: str, problems: list[str]) -> str:
    value = fields.get(name)
    if not isinstance(value, str) or not value:
        problems.append(name)
        return ""
    return value


def _credentials(fields: dict[str, Any]) -> tuple[str, str]:
    problems: list[str] = []
    username, password = _text(fields, "username", problems), _text(fields, "password", problems)
    if problems:
        raise HTTPError(422, f"missing or empty field(s): {', '.join(problems)}")
    return username, password


def _invalid_grant(detail: str) -> HTTPError:
    return HTTPError(
        400,
        detail,
        headers=_NO_STORE,
        extra={"error": "invalid_grant", "error_description": detail},
    )


def _next(request: Request, fields: dict[str, Any], default: str) -> str:
    target = fields.get("next") or request.query_params.get("next")
    if not target:
        return default
    if not isinstance(target, str) or not is_safe_redirect(target):
        raise HTTPError(400, "next must be a path on this site, such as /account")
    return target


def _guards(auth: Auth[Any]) -> list[Any]:
    if auth.login_rate_limit is None:
        return []
    from prow.ratelimit import rate_limit

    return [rate_limit(auth.login_rate_limit, key="ip", name="prow.auth.login")]


def auth_router(auth: Auth[Any]) -> Router:
    """The login, logout, token, refresh and "me" routes of ``auth``."""
    assert auth.prefix is not None
    router = Router(auth.prefix, tags=["auth"])
    limited: dict[Any, Any] = {"dependencies": _guards(auth)}

    async def login_view(request: Request, session: DBSession) -> Response:
        """Log in with a username and password (form or JSON); sets the session cookie."""
        fields, is_form = await _read_fields(request)
        target = _next(request, fields, auth.login_redirect) if is_form else None
        user = await auth.authenticate(session, *_credentials(fields))
        if user is None:
            raise _invalid_grant("invalid username or password")
        login(request, user)
        if target is not None:
            return RedirectResponse(target, status_code=303)
        return JSONResponse(_user_data(user))

    async def logout_view(request: Request) -> Response:
        """Log out: the session is emptied and its id changed."""
        is_form = request.content_type in FORM_MEDIA_TYPES
        logout(request)
        if is_form:
            return RedirectResponse(auth.logout_redirect, status_code=303)
        return Response(status_code=204)

    async def token_view(request: Request, session: DBSession) -> Response:
        """OAuth2 token endpoint: ``grant_type=password`` or ``grant_type=refresh_token``."""
        fields, _ = await _read_fields(request)
        grant = fields.get("grant_type") or "password"
        if grant == "password":
            user = await auth.authenticate(session, *_credentials(fields))
            if user is None:
                raise _invalid_grant("invalid username or password")
        elif grant == "refresh_token":
            user = await _refreshed(auth, session, fields)
        else:
            raise HTTPError(
                400,
                f"unsupported grant_type {grant!r}; use password or refresh_token",
                extra={"error": "unsupported_grant_type"},
            )
        return JSONResponse(auth.create_tokens(user), headers=_NO_STORE)

    async def refresh_view(request: Request, session: DBSession) -> Response:
        """Trade a refresh token for a new access and refresh token."""
        fields, _ = await _read_fields(request)
        user = await _refreshed(auth, session, fields)
        return JSONResponse(auth.create_tokens(user), headers=_NO_STORE)

    async def me_view(user: CurrentUser) -> UserInfo:
        """The user making the request."""
        return UserInfo(**_user_data(user))

    # Login CSRF: a cross-site form carries no SameSite=Lax cookie, yet could log the
    # victim's browser into the attacker's account (or out): "strict" checks its origin anyway.
    router.add_route(
        "/login",
        login_view,
        ["POST"],
        name="auth_login",
        csrf="strict",
        request_body={_JSON: Credentials, _FORM: LoginForm},
        response_model=UserInfo,
        responses={303: _REDIRECT, 400: {"description": _BAD_CREDENTIALS}},
        **limited,
    )
    router.add_route(
        "/logout",
        logout_view,
        ["POST"],
        name="auth_logout",
        csrf="strict",
        status_code=204,
        responses={303: _REDIRECT},
    )
    # The token routes read no cookie to authenticate, so cross-site forgery gains nothing.
    router.add_route(
        "/token",
        token_view,
        ["POST"],
        name="auth_token",
        csrf=False,
        request_body={_FORM: PasswordGrant | RefreshGrant, _JSON: PasswordGrant | RefreshGrant},
        response_model=TokenPair,
        responses={400: {"description": _BAD_GRANT}},
        **limited,
    )
    router.add_route(
        "/refresh",
        refresh_view,
        ["POST"],
        name="auth_refresh",
        csrf=False,
        request_body={_JSON: RefreshRequest, _FORM: RefreshRequest},
        response_model=TokenPair,
        responses={400: {"description": _BAD_GRANT}},
    )
    router.add_route("/me", me_view, ["GET"], name="auth_me")
    return router


async def _refreshed(auth: Auth[Any], session: Any, fields: dict[str, Any]) -> AbstractUser:
    token = fields.get("refresh_token")
    if not isinstance(token, str) or not token:
        raise HTTPError(422, "missing or empty field(s): refresh_token")
    try:
        user: AbstractUser = await auth.user_from_token(session, token, "refresh")
    except TokenError as exc:
        raise _invalid_grant(f"invalid refresh token: {exc}") from None
    return user
