"""Who is making the request: ``CurrentUser``, ``OptionalUser``, ``get_user``, login, logout.

The user is resolved once per request, by whichever asks first (``CurrentUser``,
``OptionalUser``, or ``get_user``, which templates use), in this order, and cached in
``scope["user"]`` (``None`` when anonymous) for templates and per-user rate limits:

1. ``Authorization: Bearer <JWT access token>`` (or the schemes of ``Auth(token_schemes=...)``);
2. an API key: ``X-API-Key: <key>`` or ``Authorization: Api-Key <key>``;
3. the session (``request.session``), set by :func:`login`.

Credentials that were sent but are wrong (a bad token, a revoked key) answer 401 at once:
falling back to the session would hide the client's mistake. A session that names a user
who is gone, inactive, or whose password changed since login is simply anonymous.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Annotated, Any

from prow._exceptions import ConfigurationError, HTTPError
from prow._params import Depends
from prow._request import HTTPConnection, Request
from prow.auth._models import AbstractUser, UserT
from prow.db import DBSession, database

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

__all__ = [
    "CurrentUser",
    "OptionalUser",
    "current_user",
    "get_user",
    "keep_login",
    "login",
    "logout",
    "optional_user",
]

#: Browser-session keys: the user's id, and a fingerprint of their password hash at login.
SESSION_USER_KEY = "_auth_user_id"
SESSION_HASH_KEY = "_auth_hash"

#: OpenAPI: the ways to authenticate, shown by the Authorize button of ``/docs``. ``Auth``
#: sets the real token URL in the app's ``securitySchemes``, which take precedence.
OAUTH2_SCHEME = "OAuth2PasswordBearer"
API_KEY_SCHEME = "APIKeyHeader"
_SECURITY: list[tuple[str, dict[str, Any], list[str]]] = [
    (
        OAUTH2_SCHEME,
        {"type": "oauth2", "flows": {"password": {"tokenUrl": "/auth/token", "scopes": {}}}},
        [],
    ),
    (API_KEY_SCHEME, {"type": "apiKey", "in": "header", "name": "X-API-Key"}, []),
]


async def optional_user(request: Request, session: DBSession) -> AbstractUser | None:
    """The dependency behind ``OptionalUser``: the user, or ``None`` when anonymous."""
    if "user" in request.scope:
        cached: AbstractUser | None = request.scope["user"]
        if cached is not None and cached not in session:
            # Found earlier in a session of its own (a per-user rate limit, a template):
            # attach it to the handler's session, so what the handler changes is saved.
            cached = await session.merge(cached, load=False)
            request.scope["user"] = cached
        return cached
    return await _resolve(request, session)


async def user_if_installed(request: Request) -> AbstractUser | None:
    """The user when the app has ``Auth``, else what ``scope["user"]`` holds (or ``None``).

    The dependency edge of ``rate_limit(key="user")``: the limiter runs after the user is
    known, whatever order the route lists its dependencies in. It looks the user up in a
    session of its own; a handler's ``CurrentUser`` then gets the same user attached to the
    handler's ``DBSession``, without asking the database again.
    """
    if "user" in request.scope:
        cached: AbstractUser | None = request.scope["user"]
        return cached
    from prow.auth._auth import Auth

    if Auth.installed_on(request.app) is None:
        return None
    return await get_user(request)


async def get_user(request: HTTPConnection) -> AbstractUser | None:
    """The request's user, or ``None`` when anonymous, for code that is not a handler.

    The same lookup as ``OptionalUser``, cached in ``scope["user"]`` the same way, but in a
    database session of its own, closed before it returns: the user it gives is detached,
    for reading (templates, exception handlers). A handler that changes the user asks for
    ``CurrentUser``, whose user belongs to the handler's ``DBSession``.
    """
    if "user" in request.scope:
        cached: AbstractUser | None = request.scope["user"]
        return cached
    async with database(request.app).session() as session:
        return await _resolve(request, session)


async def _resolve(request: HTTPConnection, session: AsyncSession) -> AbstractUser | None:
    """Find the request's user with ``Auth`` and keep it in ``scope["user"]``."""
    from prow.auth._auth import Auth

    user = await Auth.of(request.app).resolve(request, session)
    request.scope["user"] = user
    return user


async def current_user(
    request: Request, user: Annotated[AbstractUser | None, Depends(optional_user)]
) -> AbstractUser:
    """The dependency behind ``CurrentUser``: the user, or a 401 when anonymous."""
    if user is None:
        from prow.auth._auth import Auth

        challenge = Auth.of(request.app).challenge()
        raise HTTPError(401, "authentication required", headers={"WWW-Authenticate": challenge})
    return user


def _security(app: Any) -> list[tuple[str, dict[str, Any], list[str]]]:
    """The ways to authenticate that the app takes: an app whose ``Auth`` has no API key
    model is not documented as reading ``X-API-Key`` (a client would send it in vain)."""
    from prow.auth._auth import Auth

    auth = Auth.installed_on(app)
    if auth is None:
        return _SECURITY
    return [(name, scheme, []) for name, scheme in auth.security_schemes().items()]


optional_user.__openapi_security__ = _security  # type: ignore[attr-defined]
current_user.__openapi_security__ = _security  # type: ignore[attr-defined]
# Anonymous requests are answered: the operation documents its security as optional.
optional_user.__openapi_security_optional__ = True  # type: ignore[attr-defined]
optional_user.__openapi_responses__ = {  # type: ignore[attr-defined]
    401: {"description": "Unauthorized: the credentials sent are wrong (sending none is fine)"}
}
current_user.__openapi_responses__ = {  # type: ignore[attr-defined]
    401: {
        "description": "Unauthorized: no valid credentials were sent",
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
    }
}

#: A handler parameter annotated ``CurrentUser`` receives the user; anonymous → 401.
#: ``CurrentUser[Member]`` types it as the project's own user model (``prow.auth.User``
#: when none is named): a generic alias, because a type checker accepts no attribute of an
#: object (such as ``auth.CurrentUser``) as a parameter's type.
CurrentUser = Annotated[UserT, Depends(current_user)]
#: A handler parameter annotated ``OptionalUser`` receives the user or ``None``;
#: ``OptionalUser[Member]`` types it as ``Member | None``.
OptionalUser = Annotated[UserT | None, Depends(optional_user)]


def login(request: Request, user: AbstractUser) -> None:
    """Log ``user`` in for the rest of the browser session (needs a session middleware).

    The session id is rotated first. Threat: session fixation, where an attacker plants a
    session id in the victim's browser and waits for the victim to log in with it.
    """
    from prow.auth._auth import Auth

    auth = Auth.of(request.app)
    session = request.scope.get("session")
    if session is None:
        raise ConfigurationError(
            "prow.E165",
            "login() keeps the user in the session: add "
            "Middleware(prow.sessions.SessionMiddleware) to the app",
        )
    if session.get(SESSION_USER_KEY) not in (None, str(user.id)):
        session.clear()  # another user's leftovers must not carry over
    session.rotate()
    session[SESSION_USER_KEY] = str(user.id)
    session[SESSION_HASH_KEY] = auth.fingerprint(user)
    user.last_login = datetime.datetime.now(datetime.UTC)
    request.scope["user"] = user


def keep_login(request: Request, user: AbstractUser) -> None:
    """After ``user`` changed their password, keep *this* session logged in.

    Every other session (and every token issued before) ends with the old password; the
    current one is given the new fingerprint and a new id.
    """
    from prow.auth._auth import Auth

    session = request.scope.get("session")
    if session is not None and session.get(SESSION_USER_KEY) == str(user.id):
        session.rotate()
        session[SESSION_HASH_KEY] = Auth.of(request.app).fingerprint(user)


def logout(request: Request) -> None:
    """End the login: the session is emptied and gets a new id; the request is anonymous."""
    session = request.scope.get("session")
    if session is not None:
        session.invalidate()
    request.scope["user"] = None
