"""``SessionMiddleware``: puts ``request.session`` in every request and saves it with the response.

Threats it defends against:

* forged or edited sessions: every cookie is signed (HMAC-SHA256 through itsdangerous) with a
  key derived from the app's secret key, and a cookie whose signature does not verify is
  ignored — the request is simply anonymous;
* replay of old cookies: the signature carries a timestamp, refused after ``max_age``; a
  server-side store also expires the record itself;
* session fixation: :meth:`SessionData.rotate` saves the data under a new random id and
  deletes the old record, and an id that the store does not know is never adopted;
* stealing by scripts or over plain HTTP: the cookie is always HttpOnly, and Secure on https.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from hashlib import sha256
from typing import TYPE_CHECKING, Any, TypedDict

from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer

from prow._errors import problem_response
from prow._exceptions import ConfigurationError, HTTPError
from prow._request import Request
from prow._types import ASGIApp, Message, Receive, Scope, Send
from prow.middleware._headers import add_vary, copy_headers
from prow.sessions._cookie import MAX_COOKIE_SIZE, CookieSpec, SameSite
from prow.sessions._session import SessionData
from prow.sessions._store import SessionStore, SessionStoreUnavailable

if TYPE_CHECKING:
    from prow._app import App

__all__ = ["DEFAULT_MAX_AGE", "SessionMiddleware", "SessionOptions", "SessionTooLarge"]

logger = logging.getLogger("prow.sessions")

#: Two weeks, in seconds.
DEFAULT_MAX_AGE = 14 * 24 * 60 * 60

# Different salts give the two cookie kinds different keys: a signed id can never be
# passed off as signed session data, or the other way round.
_DATA_SALT = "prow.sessions.data"
_ID_SALT = "prow.sessions.id"

#: The ``Retry-After`` (seconds) of the 503 answered while the session store is down.
RETRY_AFTER_SECONDS = 5
#: At most one warning per this many seconds while the store stays unreachable.
_WARN_EVERY = 60.0


class SessionOptions(TypedDict, total=False):
    """The cookie options of :class:`SessionMiddleware` and ``Sessions``."""

    cookie_name: str
    max_age: int
    path: str
    domain: str | None
    same_site: SameSite
    https_only: bool | None


class SessionTooLarge(RuntimeError):
    """A cookie session grew past what browsers keep (4 KB): use a server-side store."""


class SessionMiddleware:
    """Give each request a session (``request.session``), kept between requests by a cookie.

    With ``store=None`` the data itself travels in the cookie, signed (readable by the
    client, not changeable). With a :class:`SessionStore` (``MemorySessionStore()``,
    ``RedisSessionStore(url)``, ``DatabaseSessionStore()``) the data stays on the server and
    the cookie holds a signed random id. The signing key is the app's ``signing_key("sessions")``,
    read at start-up.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        store: SessionStore | None = None,
        cookie_name: str = "session",
        max_age: int = DEFAULT_MAX_AGE,
        path: str = "/",
        domain: str | None = None,
        same_site: SameSite = "lax",
        https_only: bool | None = None,
    ) -> None:
        if store is not None and not isinstance(store, SessionStore):
            raise ConfigurationError(
                "prow.E123",
                f"SessionMiddleware(store=...) needs a SessionStore such as MemorySessionStore(), "
                f"RedisSessionStore(url) or DatabaseSessionStore(), got {store!r}",
            )
        self.app = app
        self.store = store
        self.cookie = CookieSpec(
            cookie_name,
            max_age=max_age,
            path=path,
            domain=domain,
            same_site=same_site,
            https_only=https_only,
        )
        self._serializer: URLSafeTimedSerializer | None = None
        self._signer: TimestampSigner | None = None
        self._warned_at = -_WARN_EVERY

    def setup_app(self, app: App) -> None:
        """Read the signing key (a missing key stops start-up) and set the store up."""
        key = app.signing_key("sessions")  # prow.E100 here when there is no usable key
        self._serializer = URLSafeTimedSerializer(
            key, salt=_DATA_SALT, signer_kwargs={"digest_method": sha256}
        )
        self._signer = TimestampSigner(key, salt=_ID_SALT, digest_method=sha256)
        if self.store is not None:
            self.store.setup_app(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if self._signer is None:
            self.setup_app(scope["app"])  # wrapped around a prow app by hand, not by the app
        if self.store is None:
            await self._cookie_session(scope, receive, send)
        else:
            await self._stored_session(scope, receive, send, self.store)

    # -- sessions kept in the cookie ----------------------------------------------------

    async def _cookie_session(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Even the Cookie header is parsed only when the handler touches the session.
        session = SessionData(loader=lambda: self._decode(self.cookie.read(scope)))
        scope["session"] = session
        if scope["type"] != "http":
            await self.app(scope, receive, send)  # a websocket reads the session, never saves
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and (session.accessed or session.modified):
                header = None
                if session.modified and _succeeded(message):
                    had_cookie = self.cookie.read(scope) is not None
                    header = self._cookie_header(session, had_cookie, scope)
                message = _with_headers(message, header)
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _decode(self, raw: str | None) -> dict[str, Any]:
        assert self._serializer is not None
        if raw is None:
            return {}
        try:
            data = self._serializer.loads(raw, max_age=self.cookie.max_age)
        except BadSignature as exc:  # also SignatureExpired
            logger.debug("session cookie ignored: %s", exc)
            return {}
        return data if isinstance(data, dict) else {}

    def _cookie_header(self, session: SessionData, had_cookie: bool, scope: Scope) -> str | None:
        assert self._serializer is not None
        secure = self.cookie.secure(scope)
        if not session:
            return self.cookie.deletion(secure) if had_cookie else None
        value = self._serializer.dumps(_plain(session))
        header = self.cookie.header(value, secure)
        if len(header) > MAX_COOKIE_SIZE:
            raise SessionTooLarge(
                f"the session cookie would be {len(header)} bytes, over the {MAX_COOKIE_SIZE} "
                "bytes browsers keep; store less in request.session, or use a server-side store: "
                "Sessions(RedisSessionStore(url)) or Sessions(DatabaseSessionStore())"
            )
        return header

    # -- sessions kept in a store ---------------------------------------------------------

    async def _stored_session(
        self, scope: Scope, receive: Receive, send: Send, store: SessionStore
    ) -> None:
        # Only a request that carries a validly signed id costs a store read: anonymous
        # requests, and forged ids, never reach the store.
        session_id = self._unsign(self.cookie.read(scope))
        try:
            data = await self._load(store, session_id) if session_id is not None else None
        except SessionStoreUnavailable as exc:
            # Not anonymous: the handler would act as if the user were logged out (and a
            # login form would write a new session the store cannot keep either).
            await self._unavailable(scope, receive, send, exc)
            return
        if data is None:
            session_id = None
        session = SessionData(data if data is not None else {})
        scope["session"] = session
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        replaced = False

        async def send_with_cookie(message: Message) -> None:
            nonlocal replaced
            if replaced:
                return  # the 503 went out in place of this response
            if message["type"] == "http.response.start" and (session.accessed or session.modified):
                header = None
                if session.modified and _succeeded(message):
                    try:
                        header = await self._save(store, session, session_id, scope)
                    except SessionStoreUnavailable as exc:
                        # The client must not believe its session changed (a logout
                        # that did not happen): the answer becomes the 503.
                        replaced = True
                        await self._unavailable(scope, receive, send, exc)
                        return
                message = _with_headers(message, header)
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    async def _unavailable(
        self, scope: Scope, receive: Receive, send: Send, exc: SessionStoreUnavailable
    ) -> None:
        """Answer 503 with ``Retry-After`` (a websocket: close 1013, "try again later")."""
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY:
            self._warned_at = now  # an outage hits every request: one line a minute
            logger.warning("session store unavailable, answering 503: %s", exc)
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1013, "reason": "try again later"})
            return
        error = HTTPError(
            503,
            "The session store is unavailable; try again shortly.",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
        app: Any = scope.get("app")
        if hasattr(app, "exception_response"):
            # Through the app, so a handler the user registered for 503 still applies.
            response, _ = await app.exception_response(Request(scope, receive), error)
        else:
            response = problem_response(error)
        await response(scope, receive, send)

    def _unsign(self, raw: str | None) -> str | None:
        assert self._signer is not None
        if not raw:
            return None
        try:
            return self._signer.unsign(raw, max_age=self.cookie.max_age).decode()
        except BadSignature as exc:
            logger.debug("session cookie ignored: %s", exc)
            return None

    async def _load(self, store: SessionStore, session_id: str) -> dict[str, Any] | None:
        payload = await store.load(session_id)
        if payload is None:
            return None
        try:
            data = json.loads(payload)
        except ValueError:
            logger.warning("session %s... holds data that is not JSON; ignored", session_id[:6])
            return None
        return data if isinstance(data, dict) else None

    async def _save(
        self, store: SessionStore, session: SessionData, session_id: str | None, scope: Scope
    ) -> str | None:
        secure = self.cookie.secure(scope)
        if not session:
            if session_id is None:
                return None
            await store.delete(session_id)
            return self.cookie.deletion(secure)
        payload = json.dumps(_plain(session), separators=(",", ":"))
        if session_id is None or session.rotating:
            if session_id is not None:
                await store.delete(session_id)  # the old id must stop working at once
            session_id = secrets.token_urlsafe(32)
        await store.save(session_id, payload, self.cookie.max_age)
        assert self._signer is not None
        return self.cookie.header(self._signer.sign(session_id).decode(), secure)


def _succeeded(start: Message) -> bool:
    """Whether the answer reports success: session writes are kept only then.

    A request that fails (4xx/5xx: a commit that hit a constraint and became 409, a 500)
    must not leave its flashes and other session writes behind, or the next page would say
    "added" about a row that was rolled back. The client keeps its old session.
    """
    return int(start.get("status", 200)) < 400


def _plain(session: SessionData) -> dict[str, Any]:
    """The session's dict, checked to be JSON-serialisable (so the error names the problem)."""
    data = session.data
    try:
        json.dumps(data)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"session values must be JSON-serialisable: {exc}") from None
    return data


def _with_headers(message: Message, set_cookie: str | None) -> Message:
    """The start message plus ``Vary: Cookie`` and the ``Set-Cookie`` header, if any."""
    # Vary: a response that depends on the session must never be served by a shared cache
    # to another visitor (with their cookie or, worse, with this visitor's Set-Cookie).
    headers = copy_headers(message.get("headers"))  # the list may belong to a cached response
    add_vary(headers, b"Cookie")
    if set_cookie is not None:
        headers.append((b"set-cookie", set_cookie.encode("latin-1")))
    return {**message, "headers": headers}
