"""``Accounts``: the pages a browser uses to log in, sign up and recover an account.

As Django's ``auth.urls`` and allauth give them, on ``prow.auth``, ``prow.sessions`` and
``prow.mail``. Under ``/accounts`` by default:

=================================  ==================================================
``/accounts/login``                log in (``next=`` a path on this site)
``/accounts/logout``               a confirmation page; ``POST`` logs out
``/accounts/register``             sign up; the account is inactive until verified
``/accounts/verify/{token}``       the link mailed at sign-up: activates the account
``/accounts/password/reset``       ask for a reset link by e-mail
``/accounts/password/reset/{t}``   the mailed link: choose a new password
``/accounts/password/change``      change the password (logged in)
=================================  ==================================================

Every page is a template under ``accounts/`` (``accounts/login.html``...), looked up first in
the app's own template folders: a project overrides one by writing a file of the same name.
Every form carries a CSRF token (prow's CSRF check refuses a post without one) and every
``POST`` is rate limited per client address (``Accounts(rate_limit="10/minute")``).

Tokens are signed with the app's secret key (itsdangerous), expire (``reset_max_age``,
``verify_max_age``) and work once: a reset token carries a digest of the password hash and the
last login, which the reset changes; a verification token is only good for an inactive
account. Threat: account enumeration. The reset page answers the same whether an address has
an account or not, and signing up with a taken address says "check your mail" (the owner is
told instead), so neither tells a stranger which addresses are registered.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prow._request import Request
from prow.auth._auth import Auth
from prow.auth._identity import AccountError, normalize_email
from prow.auth._passwords import password_problems
from prow.auth._router import is_safe_redirect
from prow.extensions import Extension
from prow.mail import Mail
from prow.sessions import Sessions

if TYPE_CHECKING:
    from prow._app import App
    from prow.auth._models import AbstractUser
    from prow.responses import Response
    from prow.templating import Templates

__all__ = ["Accounts"]

_PACKAGE_TEMPLATES = Path(__file__).parent / "templates"
_RESET_SALT = "prow.accounts.reset"
_VERIFY_SALT = "prow.accounts.verify"


class Accounts(Extension):
    """Login, logout, sign-up with e-mail verification, password reset and change pages.

    ``registration=False`` leaves sign-up out; ``verify_email=False`` activates new accounts
    at once. ``templates`` is a folder (or list) searched before prow's own pages; left out,
    the folders of the app's ``Templates`` are. Sets ``app.login_url``, so a browser asking
    for a page that needs a login (401) is sent to the login page with ``next=``.
    """

    requires = (Auth, Sessions, Mail)

    def __init__(
        self,
        *,
        prefix: str = "/accounts",
        registration: bool = True,
        verify_email: bool = True,
        templates: str | Path | list[str | Path] | None = None,
        rate_limit: str | None = "10/minute",
        reset_max_age: datetime.timedelta = datetime.timedelta(hours=1),
        verify_max_age: datetime.timedelta = datetime.timedelta(days=3),
        login_redirect: str | None = None,
        logout_redirect: str | None = None,
    ) -> None:
        self.prefix = prefix
        self.registration = registration
        self.verify_email = verify_email
        self.rate_limit = rate_limit
        self.reset_max_age = reset_max_age
        self.verify_max_age = verify_max_age
        self._folders = templates
        self._login_redirect = login_redirect
        self._logout_redirect = logout_redirect
        self.templates: Templates | None = None
        self._app: App | None = None

    # -- set-up ------------------------------------------------------------------------------

    def setup(self, app: App) -> None:
        """Add the pages, make the templates, and point ``app.login_url`` at the login page."""
        from prow.templating import Templates

        self._app = app
        app.signing_key("accounts")  # a missing secret key stops the app here (prow.E100)
        folders = self._folders
        if folders is None:
            own = [e for e in app.extensions if isinstance(e, Templates)]
            found = [folder for t in own for folder in t.search_path()]
        else:
            found = [str(f) for f in (folders if isinstance(folders, list) else [folders])]
        self.templates = Templates([*found, _PACKAGE_TEMPLATES])
        if app.login_url is None:
            app.login_url = f"{self.prefix}/login"
        from prow.auth._accounts_views import accounts_router

        app.include(accounts_router(self))

    @property
    def auth(self) -> Auth[Any]:
        assert self._app is not None, "Accounts is not set up yet"
        return self._app.extension(Auth)

    @property
    def login_redirect(self) -> str:
        return self._login_redirect or self.auth.login_redirect

    @property
    def logout_redirect(self) -> str:
        return self._logout_redirect or self.auth.logout_redirect

    # -- pages and mail ----------------------------------------------------------------------

    def page(
        self,
        request: Request,
        name: str,
        context: Mapping[str, Any] | None = None,
        status_code: int = 200,
    ) -> Response:
        """Render the page ``accounts/<name>`` (no-store: it may show personal data)."""
        assert self.templates is not None
        values = {"registration": self.registration, **(context or {})}
        headers = {"Cache-Control": "no-store"}
        return self.templates.render(
            request, f"accounts/{name}", values, status_code=status_code, headers=headers
        )

    async def mail_user(
        self, request: Request, user: AbstractUser, subject: str, name: str, context: dict[str, Any]
    ) -> None:
        """Mail ``user`` ``accounts/email/<name>.txt`` (and ``<name>.html`` if there is one)."""
        from jinja2 import TemplateNotFound

        assert self.templates is not None
        values = {"user": user, **context}
        body = self.templates.get_template(f"accounts/email/{name}.txt").render(values)
        try:
            html: str | None = self.templates.get_template(f"accounts/email/{name}.html").render(
                values
            )
        except TemplateNotFound:  # no HTML version of this mail: text only
            html = None
        mail = request.app.extension(Mail)
        await mail.send(mail.message(subject, body, to=user.email, html=html))

    # -- tokens ------------------------------------------------------------------------------

    def _serializer(self, salt: str) -> Any:
        from itsdangerous import URLSafeTimedSerializer

        assert self._app is not None
        return URLSafeTimedSerializer(self._app.signing_key("accounts"), salt=salt)

    def reset_token(self, user: AbstractUser) -> str:
        """A signed, expiring, single-use token to reset ``user``'s password."""
        return str(self._serializer(_RESET_SALT).dumps([str(user.id), _state(user)]))

    def verify_token(self, user: AbstractUser) -> str:
        """A signed, expiring token that activates ``user`` (good while inactive)."""
        return str(self._serializer(_VERIFY_SALT).dumps([str(user.id), user.email]))

    async def user_for_reset(self, session: Any, token: str) -> AbstractUser | None:
        """The user a reset token is for, if it is genuine, fresh and unused."""
        found = self._load(token, _RESET_SALT, self.reset_max_age)
        if found is None:
            return None
        user = await session.get(self.auth.user_model, _id(self.auth, found[0]))
        if user is None or not user.is_active or _state(user) != found[1]:
            return None  # used (the password or last login changed since) or deactivated
        return user  # type: ignore[no-any-return]

    async def user_for_verify(self, session: Any, token: str) -> AbstractUser | None:
        """The inactive user a verification token is for, if genuine and fresh."""
        found = self._load(token, _VERIFY_SALT, self.verify_max_age)
        if found is None:
            return None
        user = await session.get(self.auth.user_model, _id(self.auth, found[0]))
        if user is None or user.is_active or user.email != found[1]:
            return None
        return user  # type: ignore[no-any-return]

    def _load(self, token: str, salt: str, max_age: datetime.timedelta) -> list[str] | None:
        from itsdangerous import BadData

        try:
            value = self._serializer(salt).loads(token, max_age=int(max_age.total_seconds()))
        except BadData:
            return None
        if not (isinstance(value, list) and len(value) == 2):
            return None
        return [str(part) for part in value]


def _state(user: AbstractUser) -> str:
    """What a password reset changes: a digest of the hash and the last login time."""
    stamp = user.last_login.isoformat() if user.last_login else ""
    return hashlib.sha256(f"{user.password}|{stamp}".encode()).hexdigest()[:32]


def _id(auth: Auth[Any], raw: str) -> Any:
    column = auth.user_model.__table__.c.id
    try:
        return column.type.python_type(raw)
    except (TypeError, ValueError, NotImplementedError):
        return raw


def safe_next(value: Any) -> str:
    """``value`` if it is a path on this site (no open redirect), else ``""``."""
    return value if isinstance(value, str) and is_safe_redirect(value) else ""


def new_password_problems(fields: Mapping[str, Any], username: str) -> list[str]:
    """What is wrong with ``password1``/``password2`` as a new password (empty: fine)."""
    first, second = str(fields.get("password1") or ""), str(fields.get("password2") or "")
    if first != second:
        return ["The two passwords differ."]
    return [f"The password: {problem}." for problem in password_problems(first, username=username)]


def email_or_none(value: Any) -> str | None:
    """The normalized address, or ``None`` when ``value`` is not a plausible one."""
    text = str(value or "").strip()
    if "@" not in text:
        return None
    try:
        return normalize_email(text)
    except AccountError:
        return None
