"""``Auth(app)``: the app's authentication settings and the operations that need them.

One ``Auth`` per app, stored in ``app.state.auth`` (no module globals, so two apps in one
process keep their own users, keys and token lifetimes).
"""

from __future__ import annotations

import datetime
import hmac
import logging
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any, Generic

import anyio.to_thread
from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from prow._exceptions import ConfigurationError, HTTPError
from prow._request import HTTPConnection, Request
from prow.auth import _apikeys, _tokens
from prow.auth._current import API_KEY_SCHEME, OAUTH2_SCHEME, SESSION_HASH_KEY, SESSION_USER_KEY
from prow.auth._identity import AccountError, canonical_username, normalize_email
from prow.auth._models import UserT
from prow.auth._passwords import (
    PasswordError,
    hash_password,
    needs_rehash,
    spend_verification_time,
    validate_password,
    verify_password,
)
from prow.db import Database
from prow.extensions import Extension
from prow.responses import Response

if TYPE_CHECKING:
    from prow import App
    from prow.auth._models import AbstractUser

__all__ = ["Auth"]

logger = logging.getLogger("prow.auth")
_DEFAULT: Any = object()


class Auth(Extension, Generic[UserT]):
    """Users, login, tokens and API keys: the auth battery.

    ::

        app = App(extensions=[Auth()])           # prow.auth.User, routes under /auth
        auth = Auth(app, user_model=Member)      # the same, Flask style; your own user model

    ``Auth(user_model=Member)`` is an ``Auth[Member]``: ``create_user``, ``authenticate``
    and the others give ``Member`` objects to a type checker. A handler or dependency gets
    the app's ``Auth`` by asking for it (``auth: Auth[Member]``), like any extension.

    Options (keyword-only): ``user_model``, ``api_key_model`` (default: ``APIKey`` with the
    default user model, none with a custom one), ``prefix`` (``"/auth"``; ``None`` adds no
    routes), ``access_token_lifetime`` (15 minutes), ``refresh_token_lifetime`` (7 days),
    ``login_rate_limit`` (``"10/minute"`` per client IP on the login and token routes;
    ``None`` to turn it off), ``login_redirect`` / ``logout_redirect`` (``"/"``: where form
    logins go when no ``next`` is given), ``leeway`` (seconds of clock skew allowed),
    ``token_schemes`` (``("Bearer",)``: the ``Authorization`` schemes that carry an access
    token, such as ``("Token",)`` for an API whose clients send ``Token <jwt>``),
    ``login_field`` (``"username"``: the unique user column a login names, such as
    ``"email"``).

    Subclass it to decide object-level permissions in :meth:`has_object_permission`.
    """

    requires = (Database,)

    def __init__(
        self,
        app: App | None = None,
        *,
        user_model: type[UserT] | None = None,
        api_key_model: type[Any] | None = _DEFAULT,
        prefix: str | None = "/auth",
        access_token_lifetime: datetime.timedelta = datetime.timedelta(minutes=15),
        refresh_token_lifetime: datetime.timedelta = datetime.timedelta(days=7),
        login_rate_limit: str | None = "10/minute",
        login_redirect: str = "/",
        logout_redirect: str = "/",
        leeway: float = 0,
        token_schemes: Sequence[str] = ("Bearer",),
        login_field: str = "username",
    ) -> None:
        self.user_model: type[UserT]
        self.user_model, self.api_key_model = _models(user_model, api_key_model)
        self.prefix = prefix
        self.access_token_lifetime = access_token_lifetime
        self.refresh_token_lifetime = refresh_token_lifetime
        self.login_rate_limit = login_rate_limit
        self.login_redirect = login_redirect
        self.logout_redirect = logout_redirect
        self.leeway = leeway
        self.token_schemes = _token_schemes(token_schemes)
        self._token_scheme_names = frozenset(scheme.lower() for scheme in self.token_schemes)
        self.login_field = _login_field(self.user_model, login_field)
        self._key: bytes | None = None
        self._app: App | None = None
        if app is not None:
            # ``Auth(app)``, as Flask extensions are written: installed now, set up when
            # the app is built, like ``App(extensions=[Auth()])``.
            if app.has_extension(Auth):
                raise ConfigurationError(
                    "prow.E161",
                    "Auth(app) was called twice for the same app; keep one Auth per app",
                )
            self._app = app
            app.install(self)

    def __repr__(self) -> str:
        return f"Auth(user_model={self.user_model.__name__})"

    @property
    def app(self) -> App:
        """The app this ``Auth`` is installed on."""
        if self._app is None:
            raise ConfigurationError(
                "prow.E162", "this Auth is not installed on an app: App(extensions=[Auth()])"
            )
        return self._app

    def setup(self, app: App) -> None:
        """Install the token schemes, the error answers, OpenAPI schemes and ``/auth`` routes."""
        self._app = app
        app.state.auth = self
        # Requests carrying these are token-authenticated, so the CSRF check lets them pass.
        app.csrf_guard.add_token_schemes(self.token_schemes)
        app.exception_handlers.setdefault(PasswordError, _password_error)
        schemes = app.openapi_settings.setdefault("securitySchemes", {})
        schemes.update(self.security_schemes())
        if self.prefix is not None:
            from prow.auth._router import auth_router

            app.include(auth_router(self))

    async def startup(self, app: App) -> None:
        """Read the token signing key: no usable key stops the start-up (``prow.E100``)."""
        self._key = app.signing_key("jwt")

    @classmethod
    def installed_on(cls, app: Any) -> Auth[Any] | None:
        """The ``Auth`` installed on ``app``, or ``None``."""
        extensions = getattr(app, "_extensions", None)
        return None if extensions is None else extensions.find(Auth)

    @classmethod
    def of(cls, app: Any) -> Auth[Any]:
        """The ``Auth`` installed on ``app``; ``prow.E162`` when there is none."""
        found = cls.installed_on(app)
        if found is None:
            raise ConfigurationError(
                "prow.E162",
                "CurrentUser, requires() and login() need Auth installed on the app: "
                "App(extensions=[Auth()]) or Auth(app)",
            )
        if found._app is None:  # installed with App(extensions=[...]), not set up yet (CLI)
            found._app = app
        return found

    # -- keys and tokens ------------------------------------------------------------------

    @property
    def key(self) -> bytes:
        """The key that signs tokens and password fingerprints."""
        if self._key is None:
            self._key = self.app.signing_key("jwt")
        return self._key

    def fingerprint(self, user: AbstractUser) -> str:
        """A keyed digest of the user's password hash: it changes with the password."""
        return _tokens.password_fingerprint(self.key, user.password or "")

    def create_access_token(self, user: AbstractUser) -> str:
        """A JWT access token for ``user`` (``access_token_lifetime``), and no refresh token."""
        return self._token(user, "access", self.access_token_lifetime)

    def create_tokens(self, user: AbstractUser) -> dict[str, Any]:
        """An OAuth2 token answer: a JWT access token and a refresh token for ``user``."""
        access = self.create_access_token(user)
        refresh = self._token(user, "refresh", self.refresh_token_lifetime)
        return {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": int(self.access_token_lifetime.total_seconds()),
            "refresh_token": refresh,
        }

    def _token(
        self, user: AbstractUser, typ: _tokens.TokenType, lifetime: datetime.timedelta
    ) -> str:
        return _tokens.encode_token(
            self.key,
            subject=str(user.id),
            typ=typ,
            lifetime=lifetime,
            fingerprint=self.fingerprint(user),
        )

    async def user_from_token(
        self, session: AsyncSession, token: str, typ: _tokens.TokenType = "access"
    ) -> UserT:
        """The active user a valid token of ``typ`` names; raises ``TokenError`` otherwise."""
        claims = _tokens.decode_token(self.key, token, typ=typ, leeway=self.leeway)
        subject = claims["sub"]
        user = await self._get_user(session, subject)
        if user is None:
            raise _tokens.TokenError("the token's user does not exist or is inactive")
        if not hmac.compare_digest(str(claims.get("pwd", "")), self.fingerprint(user)):
            raise _tokens.TokenError("the token was issued before the password changed")
        return user

    def tables(self) -> list[Table]:
        """Every table auth uses, for ``database(app).create_all(*auth.tables())`` in tests.

        A project creates them with migrations (``prow makemigrations``) like its own.
        """
        from prow.auth._models import Group, Permission, group_permissions

        user: Any = self.user_model
        tables = [
            Permission.__table__,
            Group.__table__,
            group_permissions,
            user.__table__,
            user.groups.property.secondary,
            user.user_permissions.property.secondary,
        ]
        if self.api_key_model is not None:
            tables.append(self.api_key_model.__table__)
        return tables

    # -- users --------------------------------------------------------------------------

    async def create_user(
        self,
        session: AsyncSession,
        username: str,
        password: str | None,
        *,
        validate: bool = True,
        **fields: Any,
    ) -> UserT:
        """Add a user (``fields``: ``email``, ``is_staff``, ``is_superuser``...) and flush.

        The username is normalized and checked (:class:`AccountError`, a 422 naming the
        field, for invisible or look-alike characters), the e-mail address lower-cased; a
        username taken in any case or form (``Alice`` when ``alice`` exists) is a 409, as
        is an e-mail address taken where the column is unique. The password is checked by
        ``validate_password`` unless ``validate=False`` (:class:`PasswordError` answers
        422 listing the problems); ``None`` makes a user who cannot log in with a password.
        It is hashed in a worker thread.
        """
        model: Any = self.user_model  # a Model subclass: its constructor takes columns
        user: UserT = model(username=username, **fields)  # normalizes, or AccountError
        if password is not None and validate:
            validate_password(password, username=user.username)
        user.password = "" if password is None else await _hash(password)
        session.add(user)
        await session.flush()
        return user

    async def set_password(
        self, user: AbstractUser, password: str, *, validate: bool = True
    ) -> None:
        """Give ``user`` a new password, hashed in a worker thread (flush to store it).

        Checked by ``validate_password`` unless ``validate=False``. Every token issued
        before, and every session but one kept with ``keep_login``, stops working.
        """
        if validate:
            validate_password(password, username=user.username)
        user.password = await _hash(password)

    # -- authentication -------------------------------------------------------------------

    async def authenticate(
        self, session: AsyncSession, username: str, password: str
    ) -> UserT | None:
        """The active user with these credentials, or ``None``; records the login time.

        ``username`` is matched against the ``login_field`` column (the username unless
        ``Auth(login_field="email")``). An outdated hash is replaced by one with today's
        parameters (the password is only known now). Hashing runs in a worker thread: it
        takes tens of milliseconds on purpose.
        """
        user = await self._find_login(session, username)
        if user is None:
            await anyio.to_thread.run_sync(spend_verification_time, password)
            return None
        valid = await anyio.to_thread.run_sync(verify_password, password, user.password)
        if not valid or not user.is_active:
            return None
        if needs_rehash(user.password):
            user.password = await _hash(password)
        user.last_login = datetime.datetime.now(datetime.UTC)
        return user

    async def _find_login(self, session: AsyncSession, name: str) -> UserT | None:
        """The user a login names, compared the way accounts are told apart (``_identity``):
        a username in any case or Unicode form, an e-mail address in any case."""
        model: Any = self.user_model
        field = self.login_field
        if field == "username":
            condition = model.username_key == canonical_username(name)
        elif field == "email":
            try:
                condition = model.email == normalize_email(name)
            except AccountError:
                return None  # no stored address has spaces or invisible characters
            found = (await session.scalars(select(model).where(condition))).one_or_none()
            if found is not None or name == normalize_email(name):
                return found
            # An address stored before prow lower-cased them, typed as it was stored.
            condition = model.email == name
        else:
            condition = getattr(model, field) == name
        user: UserT | None = (await session.scalars(select(model).where(condition))).one_or_none()
        return user

    async def resolve(self, request: HTTPConnection, session: AsyncSession) -> UserT | None:
        """The request's user: JWT, then API key, then session (see ``_current``)."""
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        scheme = scheme.lower()
        if scheme in self._token_scheme_names:
            return await self._bearer_user(session, credentials.strip())
        if scheme == "api-key":
            return await self._api_key_user(session, credentials.strip())
        if scheme in self.app.csrf_guard.token_schemes:
            # Threat: CSRF. The CSRF check let this request pass as token-authenticated;
            # answering it from the session cookie would let a forged request through.
            raise _unauthorized(
                self.token_schemes[0],
                f"the Authorization scheme {scheme!r} is not accepted here; "
                f"send {self.token_schemes[0]} <token>",
            )
        key = request.headers.get("x-api-key")
        if key is not None:  # never the session, even with API keys off: see above
            return await self._api_key_user(session, key.strip())
        return await self._session_user(request, session)

    async def _bearer_user(self, session: AsyncSession, token: str) -> UserT:
        try:
            return await self.user_from_token(session, token, "access")
        except _tokens.TokenError as exc:
            raise _unauthorized(self.token_schemes[0], f"invalid token: {exc}") from None

    async def _api_key_user(self, session: AsyncSession, key: str) -> UserT:
        if self.api_key_model is None:
            raise _unauthorized("Api-Key", "API keys are not enabled on this app")
        row = await _apikeys.find_api_key(session, self.api_key_model, key)
        user = None if row is None else await self._get_user(session, row.user_id)
        if user is None:
            raise _unauthorized("Api-Key", "invalid API key (unknown, revoked or expired)")
        return user

    async def _session_user(self, request: HTTPConnection, session: AsyncSession) -> UserT | None:
        data = request.scope.get("session")
        if data is None:
            return None
        raw, stored = data.get(SESSION_USER_KEY), data.get(SESSION_HASH_KEY)
        if not isinstance(raw, str) or not isinstance(stored, str):
            return None
        user = await self._get_user(session, raw)
        if user is None or not hmac.compare_digest(stored, self.fingerprint(user)):
            return None  # the password changed since this login: log the session out
        return user

    async def _get_user(self, session: AsyncSession, raw_id: Any) -> UserT | None:
        try:
            user_id = int(raw_id)
        except (TypeError, ValueError):
            return None
        user = await session.get(self.user_model, user_id)
        return user if user is not None and user.is_active else None

    def challenge(self) -> str:
        """The ``WWW-Authenticate`` value of a 401: how to send a token here."""
        return f'{self.token_schemes[0]} realm="api"'

    # -- authorization hook -----------------------------------------------------------------

    def has_object_permission(
        self, user: AbstractUser, perm: str, obj: Any, granted: bool
    ) -> bool | Awaitable[bool]:
        """Whether ``user`` may use ``perm`` on ``obj``; override for per-object rules.

        ``granted`` is the model-level answer (the user holds ``perm``, or is a superuser).
        The default returns it. May be ``async``.
        """
        return granted

    # -- OpenAPI ------------------------------------------------------------------------------

    def security_schemes(self) -> dict[str, Any]:
        """The OpenAPI security schemes: how to send a token, and the API key header.

        The first of ``token_schemes`` is advertised. ``Bearer`` with the ``/auth`` routes is
        the OAuth2 password flow (the Authorize button of ``/docs`` logs in); ``Bearer``
        without them is HTTP bearer; another scheme (``Token``) is the ``Authorization``
        header described as an API key.
        """
        schemes: dict[str, Any] = {OAUTH2_SCHEME: self._token_security_scheme()}
        if self.api_key_model is not None:
            schemes[API_KEY_SCHEME] = {"type": "apiKey", "in": "header", "name": "X-API-Key"}
        return schemes

    def _token_security_scheme(self) -> dict[str, Any]:
        scheme = self.token_schemes[0]  # the first scheme is the one advertised
        if scheme.lower() != "bearer":
            return {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": f"A JWT access token, sent as `Authorization: {scheme} <token>`",
            }
        if self.prefix is None:
            return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
        token_url = f"{self.prefix}/token"
        flow = {"tokenUrl": token_url, "refreshUrl": token_url, "scopes": {}}
        return {"type": "oauth2", "flows": {"password": flow}}

    # -- API keys ---------------------------------------------------------------------------

    async def create_api_key(
        self,
        session: AsyncSession,
        user: AbstractUser,
        *,
        name: str = "",
        expires: datetime.datetime | None = None,
    ) -> tuple[Any, str]:
        """A new key for ``user``: ``(row, key)``. Only the hash is stored: show the key now."""
        model = self.api_key_model
        if model is None:
            raise ConfigurationError(
                "prow.E163",
                "API keys are off: pass api_key_model= to Auth (a subclass of AbstractAPIKey)",
            )
        return await _apikeys.create_api_key(session, model, user, name=name, expires=expires)


async def _hash(password: str) -> str:
    # argon2id takes a large fraction of a second on purpose: never on the event loop.
    return await anyio.to_thread.run_sync(hash_password, password)


def _token_schemes(schemes: Sequence[str]) -> tuple[str, ...]:
    """Check ``token_schemes``: one or more HTTP auth-scheme names, none taken by API keys."""
    found = (schemes,) if isinstance(schemes, str) else tuple(schemes)
    for scheme in found:
        if not isinstance(scheme, str) or not scheme.isascii() or not scheme.isalnum():
            # Token characters only, so a header can never be read two ways.
            found = ()
            break
    if not found or "api-key" in (scheme.lower() for scheme in found):
        raise ConfigurationError(
            "prow.E166",
            f"token_schemes must name one or more Authorization schemes such as "
            f'("Bearer",) or ("Token",), other than Api-Key; got {schemes!r}',
        )
    return found


def _login_field(user_model: Any, name: str) -> str:
    """Check ``login_field``: a unique column of the user model, so a login finds one user."""
    column = user_model.__table__.c.get(name)
    if column is None or not (column.unique or column.primary_key or _unique_index(column)):
        raise ConfigurationError(
            "prow.E167",
            f"login_field={name!r} must name a unique column of {user_model.__name__} "
            "(declare it with unique=True), so that a login finds exactly one user",
        )
    return name


def _unique_index(column: Any) -> bool:
    from sqlalchemy import Index, UniqueConstraint

    table = column.table
    for item in [*table.indexes, *table.constraints]:
        unique = isinstance(item, UniqueConstraint) or (isinstance(item, Index) and item.unique)
        if unique and list(item.columns) == [column]:
            return True
    return False


async def _password_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PasswordError)
    # Through the app: a browser gets a page, an API client the problem document.
    response, _ = await request.app.exception_response(request, exc.http_error())
    return response


def _unauthorized(scheme: str, detail: str) -> HTTPError:
    challenge = f'{scheme} realm="api"'
    if scheme == "Bearer":
        challenge += ', error="invalid_token"'
    return HTTPError(401, detail, headers={"WWW-Authenticate": challenge})


def _models(user_model: type[Any] | None, api_key_model: type[Any] | None) -> tuple[Any, Any]:
    """The user and API key models, defining the defaults only when they are used."""
    from prow.auth._models import AbstractAPIKey, AbstractUser

    if user_model is None:
        from prow.auth._default import APIKey, User

        user_model = User
        if api_key_model is _DEFAULT:
            api_key_model = APIKey
    if api_key_model is _DEFAULT:
        api_key_model = None
    if not (isinstance(user_model, type) and issubclass(user_model, AbstractUser)):
        raise ConfigurationError(
            "prow.E164", f"user_model must be a Model subclass of AbstractUser, not {user_model!r}"
        )
    if api_key_model is not None and not issubclass(api_key_model, AbstractAPIKey):
        raise ConfigurationError(
            "prow.E164", f"api_key_model must subclass AbstractAPIKey, not {api_key_model!r}"
        )
    return user_model, api_key_model
