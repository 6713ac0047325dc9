"""Nested relationships loaded in batches: one DataLoader per relationship and request.

A query for 50 items with their category and tags must not cost 1 + 50 + 50 statements. Each
relationship field hands its parent row to the request's loader for that relationship; the
loader waits until every field of the level has asked, then loads all the related rows with one
statement (many-to-one, one-to-many, many-to-many through a plain link table). Relationships
of another shape (several key columns, a custom join) take two: the parents again, with
SQLAlchemy's ``selectinload`` filling the relationship in.

The statements are planned once per relationship (``RelationLoad``); a request only binds the
keys. Loaded rows are ORM objects of the request's session: the nested fields read their
columns like the top-level ones.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import RelationshipDirection, RelationshipProperty, selectinload
from strawberry.dataloader import DataLoader

__all__ = ["Loaders", "RelationLoad"]


class RelationLoad:
    """How one relationship's rows are loaded for many parents at once, planned once."""

    def __init__(self, rel: RelationshipProperty[Any]) -> None:
        self.rel = rel
        self.many = bool(rel.uselist)
        parent = rel.parent
        target = rel.mapper
        self._target = target.class_
        self._order = _order_of(rel, target)
        pairs = rel.local_remote_pairs or []
        self._mode = "generic"
        if rel.secondary is None and len(pairs) == 1:
            local, remote = pairs[0]
            self._parent_key = parent.get_property_by_column(local).key
            self._remote = remote
            self._remote_key = target.get_property_by_column(remote).key
            self._mode = "direct"
        elif (
            rel.direction is RelationshipDirection.MANYTOMANY
            and len(rel.synchronize_pairs) == 1
            and rel.secondaryjoin is not None
        ):
            local, link = rel.synchronize_pairs[0]
            self._parent_key = parent.get_property_by_column(local).key
            self._link = link
            self._mode = "link"
        if self._mode == "generic":
            keys = parent.primary_key
            self._parent_pk = keys[0] if len(keys) == 1 else None
            self._parent_pk_key = parent.get_property_by_column(keys[0]).key

    async def load(self, session: AsyncSession, parents: Sequence[Any]) -> list[Any]:
        """The related row (or list of rows) of each parent, in the parents' order."""
        if self._mode == "direct":
            return await self._direct(session, parents)
        if self._mode == "link":
            return await self._linked(session, parents)
        return await self._generic(session, parents)

    async def _direct(self, session: AsyncSession, parents: Sequence[Any]) -> list[Any]:
        keys = [getattr(parent, self._parent_key) for parent in parents]
        wanted = {key for key in keys if key is not None}
        found: dict[Any, list[Any]] = defaultdict(list)
        if wanted:
            statement = sa.select(self._target).where(self._remote.in_(wanted))
            for row in (await session.scalars(statement.order_by(*self._order))).all():
                found[getattr(row, self._remote_key)].append(row)
        return [self._shape(found.get(key, [])) for key in keys]

    async def _linked(self, session: AsyncSession, parents: Sequence[Any]) -> list[Any]:
        rel = self.rel
        keys = [getattr(parent, self._parent_key) for parent in parents]
        found: dict[Any, list[Any]] = defaultdict(list)
        if keys:
            assert rel.secondary is not None and rel.secondaryjoin is not None
            statement = (
                sa.select(self._target, self._link)
                .join(rel.secondary, rel.secondaryjoin)
                .where(self._link.in_(set(keys)))
                .order_by(*self._order)
            )
            for row, key in (await session.execute(statement)).all():
                found[key].append(row)
        return [self._shape(found.get(key, [])) for key in keys]

    async def _generic(self, session: AsyncSession, parents: Sequence[Any]) -> list[Any]:
        model = self.rel.parent.class_
        if self._parent_pk is not None:
            keys = [getattr(parent, self._parent_pk_key) for parent in parents]
            statement = (
                sa.select(model)
                .where(self._parent_pk.in_(keys))
                .options(selectinload(getattr(model, self.rel.key)))
            )
            await session.execute(statement)
        # Loaded on the parents themselves (the identity map hands back the same objects).
        return [getattr(parent, self.rel.key) for parent in parents]

    def _shape(self, rows: list[Any]) -> Any:
        if self.many:
            return rows
        return rows[0] if rows else None


def _order_of(rel: RelationshipProperty[Any], target: Any) -> list[Any]:
    """The relationship's ``order_by``, else the target's primary key: a stable order."""
    order = rel.order_by
    if order:
        return list(order)
    return list(target.primary_key)


class Loaders:
    """The DataLoaders of one request (or websocket operation), made on first use."""

    __slots__ = ("_loaders", "_session")

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._loaders: dict[RelationLoad, DataLoader[Any, Any]] = {}

    def for_relation(self, plan: RelationLoad) -> DataLoader[Any, Any]:
        loader = self._loaders.get(plan)
        if loader is None:
            session = self._session

            async def batch(parents: list[Any]) -> list[Any]:
                return await plan.load(session, parents)

            # Parents are ORM objects: hashed by identity, one per row in a session.
            loader = self._loaders[plan] = DataLoader(load_fn=batch)
        return loader
