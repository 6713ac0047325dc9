"""Users, passwords, login, tokens, API keys and permissions, built on ``prow.db``.

::

    from prow import App
    from prow.auth import Auth, CurrentUser, requires

    app = App(secret_key="...")
    auth = Auth(app)                 # routes under /auth: login, logout, token, refresh, me

    @app.get("/me")
    async def me(user: CurrentUser) -> str:
        return user.username

    @app.post("/articles", dependencies=[requires("article.add")])
    async def add_article() -> None: ...

Needs the ``db`` extra, plus argon2-cffi and PyJWT (the ``auth`` extra).
``prow.auth.User`` and ``prow.auth.APIKey`` (tables ``auth_user``, ``auth_api_key``) are
defined when first used, so a project with its own ``AbstractUser`` model never gets them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prow._extras import missing_extra

try:  # a missing dependency names the extra that installs it, not just the module
    import argon2 as _argon2  # noqa: F401
    import itsdangerous as _itsdangerous  # noqa: F401
    import jwt as _jwt  # noqa: F401
    import sqlalchemy as _sqlalchemy  # noqa: F401
except ModuleNotFoundError as _missing:
    raise missing_extra("prow.auth", _missing) from _missing

from prow.auth._apikeys import hash_api_key, revoke_api_key
from prow.auth._auth import Auth
from prow.auth._current import (
    CurrentUser,
    OptionalUser,
    current_user,
    get_user,
    keep_login,
    login,
    logout,
    optional_user,
)
from prow.auth._identity import (
    AccountError,
    canonical_username,
    normalize_email,
    normalize_username,
    username_problem,
)
from prow.auth._migrations import add_username_key, drop_username_key
from prow.auth._models import AbstractAPIKey, AbstractUser, Group, Permission
from prow.auth._passwords import (
    PasswordError,
    hash_password,
    needs_rehash,
    password_problems,
    set_password_hasher,
    validate_password,
    verify_password,
)
from prow.auth._permissions import (
    create_permissions,
    ensure_permission,
    grant,
    has_perm,
    model_permissions,
    requires,
    resource_permissions,
    user_permissions,
)
from prow.auth._router import is_safe_redirect
from prow.auth._tokens import TokenError

if TYPE_CHECKING:
    from prow.auth._accounts import Accounts
    from prow.auth._default import APIKey, User


def __getattr__(name: str) -> Any:
    # The default models are made on first use: defining them registers their tables.
    if name in ("User", "APIKey"):
        from prow.auth import _default

        return getattr(_default, name)
    if name == "Accounts":  # the account pages need templates and mail: loaded when named
        from prow.auth._accounts import Accounts

        return Accounts
    raise AttributeError(f"module 'prow.auth' has no attribute {name!r}")


__all__ = [
    "APIKey",
    "AbstractAPIKey",
    "AbstractUser",
    "AccountError",
    "Accounts",
    "Auth",
    "CurrentUser",
    "Group",
    "OptionalUser",
    "PasswordError",
    "Permission",
    "TokenError",
    "User",
    "add_username_key",
    "canonical_username",
    "create_permissions",
    "current_user",
    "drop_username_key",
    "ensure_permission",
    "get_user",
    "grant",
    "has_perm",
    "hash_api_key",
    "hash_password",
    "is_safe_redirect",
    "keep_login",
    "login",
    "logout",
    "model_permissions",
    "needs_rehash",
    "normalize_email",
    "normalize_username",
    "optional_user",
    "password_problems",
    "requires",
    "resource_permissions",
    "revoke_api_key",
    "set_password_hasher",
    "user_permissions",
    "username_problem",
    "validate_password",
    "verify_password",
]
