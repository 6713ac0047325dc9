"""The default ``User`` (table ``auth_user``) and ``APIKey`` (table ``auth_api_key``).

Defined only when first used (``prow.auth.User``, or ``Auth(app)`` without a
``user_model``), so a project with its own user model gets no unused tables.
"""

from __future__ import annotations

from prow.auth._models import AbstractAPIKey, AbstractUser
from prow.db import Model

__all__ = ["APIKey", "User"]


class User(AbstractUser, Model):
    """prow's user model: username, email, password hash, flags, groups, permissions."""

    __tablename__ = "auth_user"


class APIKey(AbstractAPIKey, Model):
    """An API key of a ``User``; only a hash of the key is stored."""

    __tablename__ = "auth_api_key"
    user_model = User
