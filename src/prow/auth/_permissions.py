"""Permissions: codenames per model and action, groups, ``requires(...)`` guards.

A permission is a codename, ``"<table>.<action>"`` for a model (``"article.change"``) or
any name you choose (``"reports.export"``). A user holds the permissions given to it and to
its groups; an active superuser holds every permission; an inactive user holds none.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Any

from sqlalchemy import select, union
from sqlalchemy.ext.asyncio import AsyncSession

from prow._exceptions import HTTPError
from prow._params import Depends
from prow._request import Request
from prow.auth._current import current_user, get_user
from prow.auth._models import ACTIONS, Group, Permission, group_permissions
from prow.db import DBSession, database
from prow.db._model import model_key
from prow.scope import AUTH_PERMISSIONS

if TYPE_CHECKING:
    from prow.auth._models import AbstractUser

__all__ = [
    "create_permissions",
    "ensure_permission",
    "grant",
    "has_perm",
    "model_permissions",
    "requires",
    "resource_permissions",
    "user_permissions",
]

#: Resource action → permission action.
RESOURCE_ACTIONS = {
    "list": "view",
    "retrieve": "view",
    "create": "add",
    "replace": "change",
    "update": "change",
    "delete": "delete",
}
_CACHE = AUTH_PERMISSIONS


def model_permissions(model: type[Any]) -> list[str]:
    """The codenames of ``model``: ``["article.view", "article.add", ...]``."""
    return [f"{model_key(model)}.{action}" for action in ACTIONS]


async def ensure_permission(session: AsyncSession, codename: str, name: str = "") -> Permission:
    """The ``Permission`` row for ``codename``, created when missing."""
    found = await session.scalar(select(Permission).where(Permission.codename == codename))
    if found is None:
        found = Permission(codename=codename, name=name or codename)
        session.add(found)
        await session.flush()
    return found


async def create_permissions(session: AsyncSession, *models: type[Any]) -> list[Permission]:
    """Create the view/add/change/delete permissions of ``models`` (existing ones are kept)."""
    made = []
    for model in models:
        for codename in model_permissions(model):
            action = codename.rsplit(".", 1)[1]
            made.append(
                await ensure_permission(session, codename, f"Can {action} {model.__name__}")
            )
    return made


async def grant(session: AsyncSession, holder: Any, *codenames: str) -> None:
    """Give ``holder`` (a user or a ``Group``) the permissions, creating them when missing."""
    attribute = "permissions" if isinstance(holder, Group) else "user_permissions"
    held = await getattr(holder.awaitable_attrs, attribute)
    for codename in codenames:
        permission = await ensure_permission(session, codename)
        if permission not in held:
            held.append(permission)
    await session.flush()


async def user_permissions(session: AsyncSession, user: AbstractUser) -> frozenset[str]:
    """Every codename ``user`` holds, directly or through its groups (one query)."""
    if not user.is_active:
        return frozenset()
    model = type(user)
    direct = model.user_permissions.property.secondary
    member = model.groups.property.secondary
    own = (
        select(Permission.codename)
        .join(direct, direct.c.permission_id == Permission.id)
        .where(direct.c.user_id == user.id)
    )
    via_groups = (
        select(Permission.codename)
        .join(group_permissions, group_permissions.c.permission_id == Permission.id)
        .join(member, member.c.group_id == group_permissions.c.group_id)
        .where(member.c.user_id == user.id)
    )
    return frozenset((await session.scalars(union(own, via_groups))).all())


async def has_perm(session: AsyncSession, user: AbstractUser | None, *perms: str) -> bool:
    """Whether ``user`` holds every one of ``perms`` (superusers hold all)."""
    if user is None or not user.is_active:
        return False
    if user.is_superuser:
        return True
    held = await user_permissions(session, user)
    return all(perm in held for perm in perms)


async def _held(request: Request, session: AsyncSession, user: AbstractUser) -> frozenset[str]:
    """The user's permissions, loaded once per request."""
    cached: frozenset[str] | None = request.scope.get(_CACHE)
    if cached is None:
        cached = await user_permissions(session, user)
        request.scope[_CACHE] = cached
    return cached


def requires(*perms: str) -> Any:
    """A guard for ``dependencies=[...]`` (route, router, ``Resource`` permissions).

    Anonymous → 401; a user lacking one of ``perms`` → 403 naming it. With no ``perms``
    it only requires a logged-in user.
    """

    async def guard(
        request: Request,
        session: DBSession,
        user: Annotated[Any, Depends(current_user)],
    ) -> None:
        if user.is_superuser or not perms:
            return
        held = await _held(request, session, user)
        missing = [perm for perm in perms if perm not in held]
        if missing:
            raise HTTPError(403, f"permission required: {', '.join(missing)}")

    guard.__name__ = guard.__qualname__ = f"requires({', '.join(map(repr, perms))})"
    if perms:
        guard.__openapi_responses__ = {  # type: ignore[attr-defined]
            403: {"description": f"Forbidden: needs the permission {', '.join(perms)}"}
        }
    return Depends(guard)


class ObjectPermission:
    """A ``Resource`` check asking ``Auth.has_object_permission`` about each loaded row."""

    def __init__(self, perm: str) -> None:
        self.perm = perm

    async def __call__(self, request: Request, action: str, row: Any) -> bool:
        from prow.auth._auth import Auth

        user = await get_user(request)
        if user is None:
            challenge = Auth.of(request.app).challenge()
            raise HTTPError(401, "authentication required", {"WWW-Authenticate": challenge})
        granted = user.is_superuser or self.perm in await _held_by(request, user)
        if row is None:
            allowed: Any = granted
        else:
            allowed = Auth.of(request.app).has_object_permission(user, self.perm, row, granted)
            if inspect.isawaitable(allowed):
                allowed = await allowed
        if not allowed:
            raise HTTPError(403, f"permission required: {self.perm}")
        return True


async def _held_by(request: Request, user: Any) -> frozenset[str]:
    """The user's codenames: cached by a guard that ran, else loaded in a session of its own."""
    cached: frozenset[str] | None = request.scope.get(_CACHE)
    if cached is not None:
        return cached
    async with database(request.app).session() as session:
        return await _held(request, session, user)


async def _load_permissions(
    request: Request, session: DBSession, user: Annotated[Any, Depends(current_user)]
) -> None:
    await _held(request, session, user)


def resource_permissions(
    model: type[Any], *, object_level: bool = False, actions: Iterable[str] = RESOURCE_ACTIONS
) -> dict[str, Any]:
    """``Resource(model, permissions=resource_permissions(model))``: Django-style guards.

    list/retrieve need ``<table>.view``, create ``.add``, replace/update ``.change``,
    delete ``.delete``. With ``object_level=True`` each loaded row is also passed to
    ``Auth.has_object_permission`` (e.g. "authors may change their own articles").
    """
    table = model_key(model)
    chosen = {action: f"{table}.{RESOURCE_ACTIONS[action]}" for action in actions}
    if not object_level:
        return {action: requires(perm) for action, perm in chosen.items()}
    checks: dict[str, Any] = {"*": Depends(_load_permissions)}
    checks.update({action: ObjectPermission(perm) for action, perm in chosen.items()})
    return checks
