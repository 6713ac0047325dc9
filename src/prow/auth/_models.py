"""The auth tables: ``Group``, ``Permission``, and the ``AbstractUser`` / ``AbstractAPIKey`` bases.

``Group`` and ``Permission`` are concrete (tables ``auth_group``, ``auth_permission`` and the
link table ``auth_group_permissions``). The user and API-key models are mixins, so that a
project can define its own user class::

    class Member(AbstractUser, Model):
        __tablename__ = "member"
        nickname: Mapped[str | None] = mapped_column(String(50))

The link tables between a user class and groups / permissions are declared for each
concrete user class (``<user table>_groups``, ``<user table>_user_permissions``), so every
table belongs to ``Model.metadata`` and ``prow makemigrations`` sees it like any model.
The default ``User`` and ``APIKey`` live in ``_default`` and are only defined when first
used, so a project with its own user model gets no unused ``auth_user`` table.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from sqlalchemy import Column, DateTime, ForeignKey, String, Table, func
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship, validates

from prow.db import Model

__all__ = [
    "AbstractAPIKey",
    "AbstractUser",
    "Group",
    "Permission",
    "UserT",
    "group_permissions",
]

ACTIONS = ("view", "add", "change", "delete")

group_permissions = Table(
    "auth_group_permissions",
    Model.metadata,
    Column("group_id", ForeignKey("auth_group.id", ondelete="CASCADE"), primary_key=True),
    Column("permission_id", ForeignKey("auth_permission.id", ondelete="CASCADE"), primary_key=True),
)


class Permission(Model):
    """A permission a user may hold, by codename: ``"article.change"``, ``"reports.export"``."""

    __tablename__ = "auth_permission"

    id: Mapped[int] = mapped_column(primary_key=True)
    codename: Mapped[str] = mapped_column(String(150), unique=True)
    name: Mapped[str] = mapped_column(String(255), default="")


class Group(Model):
    """A named set of permissions; a user holds the permissions of every group it is in."""

    __tablename__ = "auth_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(150), unique=True)
    permissions: Mapped[list[Permission]] = relationship(secondary=group_permissions)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class AbstractUser:
    """The columns and relationships of a user; mix into a ``Model`` subclass.

    ``password`` holds an argon2id hash (never the password); ``""`` means "cannot log in
    with a password" (a user made for API keys only). It is marked sensitive, so derived
    schemas (``schema_for``, ``Resource``) never show or write it; the flags that grant
    privileges and the login history are read-only there. Set passwords with
    ``await auth.set_password(user, ...)`` (checks the strength) or ``await
    user.aset_password(...)``, privileges with code or ``prow createsuperuser``.

    Setting ``username`` normalizes it (NFKC) and refuses look-alike and invisible
    characters (:class:`~prow.auth.AccountError`, a 422), and fills ``username_key``, its
    case-folded canonical form: that column is unique, so ``Alice`` and ``alice`` are one
    account, and logins look users up by it. Setting ``email`` stores it in lower case.
    (See ``_identity`` for the rules and why.)
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    # Derived from username, so in no schema (never written by a client, never shown);
    # a constraint broken on it is reported as broken on username.
    username_key: Mapped[str] = mapped_column(
        String(150), unique=True, info={"sensitive": True, "derived_from": "username"}
    )
    email: Mapped[str] = mapped_column(String(254), default="")
    # info= is read by prow.db.schema_for, and so by Resource: a sensitive column is in no
    # derived schema (a hash served to a client can be cracked offline); a read-only one
    # is shown but never written (a client allowed to edit users must not make itself a
    # superuser, nor write a "hash" that is really a plain password).
    password: Mapped[str] = mapped_column(String(255), default="", info={"sensitive": True})
    is_active: Mapped[bool] = mapped_column(default=True)
    is_staff: Mapped[bool] = mapped_column(default=False, info={"read_only": True})
    is_superuser: Mapped[bool] = mapped_column(default=False, info={"read_only": True})
    date_joined: Mapped[datetime.datetime] = mapped_column(
        DateTime(timezone=True), default=_now, server_default=func.now(), info={"read_only": True}
    )
    last_login: Mapped[datetime.datetime | None] = mapped_column(
        DateTime(timezone=True), info={"read_only": True}
    )

    if TYPE_CHECKING:
        groups: Mapped[list[Group]]
        user_permissions: Mapped[list[Permission]]
    else:

        @declared_attr
        def groups(cls) -> Mapped[list[Group]]:
            table = _link_table(cls, "groups", "auth_group")
            return relationship(Group, secondary=table, info={"read_only": True})

        @declared_attr
        def user_permissions(cls) -> Mapped[list[Permission]]:
            table = _link_table(cls, "user_permissions", "auth_permission")
            return relationship(Permission, secondary=table, info={"read_only": True})

    @validates("username")
    def _normalize_username(self, _key: str, name: str | None) -> str | None:
        from prow.auth._identity import canonical_username, normalize_username

        if name is None:  # left to the column, which refuses it (422 "must not be null")
            self.username_key = None  # type: ignore[assignment]
            return None
        normal = normalize_username(name, max_length=_max_length(type(self)))
        self.username_key = canonical_username(normal)
        return normal

    @validates("email")
    def _normalize_email(self, _key: str, address: str | None) -> str | None:
        from prow.auth._identity import normalize_email

        return None if address is None else normalize_email(address)

    def set_password(self, password: str) -> None:
        """Store the argon2id hash of ``password`` (no strength check: ``validate_password``).

        For scripts, the shell and ``def`` handlers: on a running event loop it raises
        ``RuntimeError`` (hashing would stall every request); await :meth:`aset_password`.
        """
        from prow.auth._passwords import hash_password, refuse_on_event_loop

        refuse_on_event_loop("user.set_password()")
        self.password = hash_password(password)

    async def aset_password(self, password: str) -> None:
        """:meth:`set_password` in a worker thread, for async code (flush to store it)."""
        import anyio.to_thread

        from prow.auth._passwords import hash_password

        self.password = await anyio.to_thread.run_sync(hash_password, password)

    def check_password(self, password: str) -> bool:
        """Whether ``password`` matches the stored hash (refused on an event loop, as above)."""
        from prow.auth._passwords import refuse_on_event_loop, verify_password

        refuse_on_event_loop("user.check_password()")
        return verify_password(password, self.password)

    async def acheck_password(self, password: str) -> bool:
        """:meth:`check_password` in a worker thread, for async code."""
        import anyio.to_thread

        from prow.auth._passwords import verify_password

        return await anyio.to_thread.run_sync(verify_password, password, self.password)

    def __str__(self) -> str:
        return self.username


def _max_length(user_class: Any) -> int | None:
    """The longest username both columns hold (``None``: no limit, such as ``Text``)."""
    columns = user_class.__table__.c
    lengths = [getattr(columns[name].type, "length", None) for name in ("username", "username_key")]
    known = [length for length in lengths if isinstance(length, int)]
    return min(known) if known else None


if TYPE_CHECKING:
    from typing_extensions import TypeVar as DefaultTypeVar  # PEP 696: Python 3.13's TypeVar

    from prow.auth._default import User

    #: The project's user model: ``Auth[UserT]``, ``CurrentUser[UserT]``. Type checkers take
    #: ``prow.auth.User`` when none is named, so a bare ``CurrentUser`` is a ``User``.
    UserT = DefaultTypeVar("UserT", bound=AbstractUser, default=User)
else:
    # The default is for type checkers only: ``User`` is defined on first use, never here.
    UserT = TypeVar("UserT", bound=AbstractUser)


def _link_table(user_class: Any, name: str, target: str) -> Table:
    """The many-to-many table between ``user_class`` and ``target`` (made once per class)."""
    user_table = user_class.__tablename__
    table_name = f"{user_table}_{name}"
    existing = Model.metadata.tables.get(table_name)
    if existing is not None:
        return existing
    other = target.removeprefix("auth_")
    return Table(
        table_name,
        Model.metadata,
        Column("user_id", ForeignKey(f"{user_table}.id", ondelete="CASCADE"), primary_key=True),
        Column(f"{other}_id", ForeignKey(f"{target}.id", ondelete="CASCADE"), primary_key=True),
    )


class AbstractAPIKey:
    """An API key: only a SHA-256 hash of the secret is stored, found by its public prefix.

    A concrete class names its user model in ``user_model``::

        class MemberKey(AbstractAPIKey, Model):
            __tablename__ = "member_api_key"
            user_model = Member
    """

    user_model: ClassVar[type[Any]]

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), info={"sensitive": True})
    created: Mapped[datetime.datetime] = mapped_column(
        DateTime(timezone=True), default=_now, server_default=func.now(), info={"read_only": True}
    )
    last_used: Mapped[datetime.datetime | None] = mapped_column(
        DateTime(timezone=True), info={"read_only": True}
    )
    expires: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(default=False)

    if TYPE_CHECKING:
        user_id: Mapped[int]
        user: Mapped[Any]
    else:

        @declared_attr
        def user_id(cls) -> Mapped[int]:
            target = f"{cls.user_model.__tablename__}.id"
            return mapped_column(ForeignKey(target, ondelete="CASCADE"), index=True)

        @declared_attr
        def user(cls) -> Mapped[Any]:
            return relationship(cls.user_model)
