"""The account pages as an app of a project: list ``"prow.auth.accounts"`` in ``settings.apps``.

::

    class Settings(prow.settings.Settings):
        apps: list[str] = ["prow.auth.accounts", "myproject.apps.blog"]

As Django's ``django.contrib.auth`` in ``INSTALLED_APPS``: the app made by
:func:`prow.apps.create_app` gets :class:`~prow.auth.Auth` (unless it has one) and
:class:`~prow.auth.Accounts` (login, sign-up, password reset and change under ``/accounts``),
and the default user tables join the models that ``prow makemigrations`` compares against. A
project with its own user model installs ``Auth(user_model=...)`` and ``Accounts()`` itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prow.auth import _default as models  # the tables of prow.auth.User and APIKey
from prow.auth._accounts import Accounts
from prow.auth._auth import Auth

if TYPE_CHECKING:
    from prow._app import App

__all__ = ["models", "setup"]


def setup(app: App) -> None:
    """Install ``Auth()`` (when the app has none) and ``Accounts()`` on ``app``."""
    if not app.has_extension(Auth):
        app.install(Auth())
    if not app.has_extension(Accounts):
        app.install(Accounts())
