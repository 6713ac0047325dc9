"""The hooks a ``Resource`` subclass overrides: row scoping, permissions, server-set values.

::

    class NoteResource(Resource):
        model = Note
        read_only_fields = ["owner_id"]

        async def get_query(self, request, session, statement):
            user = await get_user(request)
            return statement.where(Note.owner_id == user.id)

        async def before_create(self, request, session, data):
            data["owner_id"] = (await get_user(request)).id

Every hook is awaited by the generated handlers with the request and the request's
database ``session`` (the one the handler commits), so a hook can query and its changes
are committed with the rest, or rolled back with them when anything fails. The defaults
here do nothing; a resource finds out once, when it is made, which hooks its class
overrides, and a request only pays for those (``HookSet``).

As in Django's admin and DRF's viewsets, a row outside ``get_query`` does not exist for
the resource (a 404, absent from lists), and ``has_permission`` refusing is a 403: hide
rows with the first, refuse actions on rows a user may see with the second.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from prow._exceptions import ConfigurationError
from prow._request import Request

__all__ = ["HOOKS", "HookSet", "ResourceHooks"]

#: The hooks, in the order the handlers call them.
HOOKS = (
    "get_query",
    "has_permission",
    "before_create",
    "before_update",
    "after_create",
    "after_update",
    "after_delete",
)


class ResourceHooks:
    """Do-nothing hooks; ``Resource`` subclasses override the ones they need (``async def``)."""

    async def get_query(
        self, request: Request, session: AsyncSession, statement: sa.Select[Any]
    ) -> sa.Select[Any]:
        """The rows this request may see: ``statement`` with your conditions added.

        Called for list, retrieve, replace, update and delete with the statement that
        selects the model's rows (or, for a list, their columns): add ``where``/``join``
        clauses, do not change what it selects. A row it leaves out is a 404 and absent
        from every page; filters, ordering and pagination apply on top.
        """
        return statement

    async def has_permission(
        self, request: Request, session: AsyncSession, action: str, row: Any
    ) -> bool:
        """Whether this request may do ``action`` (``"list"``, ``"retrieve"``, ``"create"``,
        ``"replace"``, ``"update"``, ``"delete"``) on ``row``; ``False`` answers 403.

        ``row`` is ``None`` for list and create, else the row, loaded through ``get_query``.
        Raise an ``HTTPError`` for another answer (401 for anonymous requests).
        """
        return True

    async def before_create(
        self, request: Request, session: AsyncSession, data: dict[str, Any]
    ) -> None:
        """Change ``data`` in place before the row is made from it: ``Model(**data)``.

        ``data`` holds the validated fields of the body that the client sent; values you
        add (``data["owner_id"] = user.id``) are not validated: they are the server's.
        """

    async def before_update(
        self, request: Request, session: AsyncSession, row: Any, data: dict[str, Any]
    ) -> None:
        """Change ``data`` in place before it is set on ``row`` (PUT and PATCH alike).

        For PATCH ``data`` holds the fields sent; for PUT every writable field (those not
        sent back at their defaults). ``row`` still has its old values.
        """

    async def after_create(self, request: Request, session: AsyncSession, row: Any) -> None:
        """Called with the new row, read back, before the commit (raising rolls it back)."""

    async def after_update(self, request: Request, session: AsyncSession, row: Any) -> None:
        """Called with the changed row, read back, before the commit (raising rolls it back)."""

    async def after_delete(self, request: Request, session: AsyncSession, row: Any) -> None:
        """Called with the deleted row (as it was loaded) before the commit."""


@dataclasses.dataclass(frozen=True, slots=True)
class HookSet:
    """Which hooks a resource's class overrides: the handlers call only those."""

    get_query: bool = False
    has_permission: bool = False
    before_create: bool = False
    before_update: bool = False
    after_create: bool = False
    after_update: bool = False
    after_delete: bool = False

    @classmethod
    def of(cls, resource_class: type[ResourceHooks]) -> HookSet:
        """The overridden hooks of ``resource_class``; ``prow.E516`` for one not ``async``."""
        found: dict[str, bool] = {}
        for name in HOOKS:
            hook = getattr(resource_class, name)
            found[name] = hook is not getattr(ResourceHooks, name)
            if found[name] and not inspect.iscoroutinefunction(hook):
                # Awaiting a plain function's result would fail at the first request.
                raise ConfigurationError(
                    "prow.E516",
                    f"{resource_class.__name__}.{name} must be defined with 'async def': "
                    "resource hooks are awaited",
                )
        return cls(**found)
