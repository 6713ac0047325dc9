"""A Resource's ``Depends(...)`` permission guards, run for GraphQL the way its routes run them.

Over REST a guard (``permissions={"delete": requires("item.delete")}``, or
``resource_permissions(Item)``) is a dependency of the action's route: the route's plan
resolves it, with its own dependencies (the current user, a session), before the handler runs,
and an ``HTTPError`` it raises (401, 403) is the answer. GraphQL has one route for every
action, so each action's guards are planned here once, with prow's own planner, into a plan
whose handler does nothing; running it for a request resolves the guards exactly as the REST
route would, and closes their ``yield`` dependencies afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prow._exceptions import HTTPError
from prow._params._solve import Context, RoutePlan, close_exits, plan_route
from prow._routing._route import SPECIAL_TYPES
from prow.graphql._errors import graphql_error

__all__ = ["Guards"]


async def _guarded() -> None:
    """The handler of a guard plan: the guards are the whole point."""


class Guards:
    """The planned guards of one resource, by action."""

    def __init__(
        self,
        guards: Mapping[str, list[Any]],
        owner: str,
        overrides: Mapping[Any, Any] | None = None,
    ) -> None:
        self._plans: dict[str, RoutePlan] = {
            action: plan_route(
                _guarded,
                list(depends),
                frozenset(),
                SPECIAL_TYPES,
                overrides or {},
                f"GraphQL {owner} {action}",
            )
            for action, depends in guards.items()
        }

    def __bool__(self) -> bool:
        return bool(self._plans)

    async def check(self, request: Any, action: str) -> None:
        """Run ``action``'s guards for ``request``; a refusal is a GraphQL error."""
        plan = self._plans.get(action)
        if plan is None:
            return
        ctx = Context(request)
        error: BaseException | None = None
        try:
            await plan.run(ctx)
        except HTTPError as exc:
            error = exc
        finally:
            exits = ctx.exits + ctx.early_exits
            if exits:
                closed = await close_exits(exits, error)
                if closed is not None and closed is not error:
                    error = closed
        if isinstance(error, HTTPError):
            raise graphql_error(error) from None
        if error is not None:
            raise error
