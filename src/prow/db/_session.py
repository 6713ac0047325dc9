"""``Session``: one ``AsyncSession`` per request, committed before the response is sent.

::

    @app.post("/posts", status_code=201)
    async def create_post(data: PostIn, session: Session) -> PostOut:
        post = Post(**data.model_dump())
        session.add(post)
        await session.flush()          # the id is known from here on
        return PostOut.model_validate(post, from_attributes=True)

The commit runs after the handler returns and before the response leaves, so a
commit that fails (a unique violation found only at commit) becomes the error
answer: the client is never told "created" about a row that was not stored.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from prow._exceptions import HTTPError
from prow._params import Depends
from prow._request import Request
from prow.db._database import database

__all__ = ["Session", "get_or_404", "get_session"]

T = TypeVar("T")
logger = logging.getLogger("prow.db")


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The ``Session`` dependency: a session of the app's database for this request.

    Commits when the handler returns, rolls back when it raises; always closes.
    """
    async with database(request.app).session() as session:
        try:
            yield session
        except Exception:
            await _rollback_quietly(session)
            raise
        await session.commit()


async def _rollback_quietly(session: AsyncSession) -> None:
    # The handler's error is the one to answer; a rollback failing too (the
    # connection is gone) adds nothing, and closing the session discards the work.
    try:
        await session.rollback()
    except Exception:
        logger.debug("rollback failed after a handler error", exc_info=True)


#: A handler parameter annotated ``Session`` receives the request's ``AsyncSession``.
Session = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_or_404(session: AsyncSession, model: type[T], pk: Any) -> T:
    """The row of ``model`` with primary key ``pk``, or an ``HTTPError(404)`` naming it."""
    found = await session.get(model, pk)
    if found is None:
        raise HTTPError(404, f"{model.__name__} {pk!r} does not exist.")
    return found
