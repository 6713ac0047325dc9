"""prow's GraphQL API: generated from the same models, schemas and permissions as ``Resource``.

::

    from prow.graphql import GraphQL

    gql = GraphQL(path="/graphql")               # an extension: App(extensions=[gql])
    gql.expose(Item, Category)                   # or from Resources: gql.expose(items)

    @gql.query                                   # Strawberry's own types and decorators
    async def item_count(db: DBSession) -> int:
        return await db.scalar(select(func.count()).select_from(Item)) or 0

Built on Strawberry (the ``graphql`` extra: ``pip install 'prow[graphql]'``); ``import prow``
never imports this package. See ``docs/graphql.md``.
"""

from __future__ import annotations

try:
    import strawberry as _strawberry
except ModuleNotFoundError as _missing:  # pragma: no cover - depends on the environment
    raise ModuleNotFoundError(
        "prow.graphql needs Strawberry; install it with: pip install 'prow[graphql]'",
        name=_missing.name,
    ) from _missing

from prow.graphql._extension import GraphQL

del _strawberry

__all__ = ["GraphQL"]
