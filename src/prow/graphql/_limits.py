"""The cost of a query, checked before it runs: a validation rule for graphql-core.

Depth is Strawberry's ``QueryDepthLimiter``. Complexity is counted here, because neither
Strawberry nor graphql-core has a rule for it: every field costs 1, and what a list field
selects costs as many times as the rows it may return: its ``first`` argument when the query
writes it, else ``list_size`` for a connection (or a variable ``first``); a nested list of a
row (an item's tags) counts once. So
``items(first: 50) { edges { node { id category { name } } } }`` costs
1 + 50 x (1 + 1 + 1 + 1 + 1) = 251.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)

__all__ = ["complexity_rule"]


def complexity_rule(limit: int, list_size: int) -> type[ValidationRule]:
    """A validation rule refusing operations that cost more than ``limit``."""

    class ComplexityRule(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self._fragments = {
                definition.name.value: definition
                for definition in context.document.definitions
                if isinstance(definition, FragmentDefinitionNode)
            }

        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            cost = self._cost(node.selection_set, frozenset())
            if cost > limit:
                name = node.name.value if node.name else "anonymous"
                self.report_error(
                    GraphQLError(
                        f"operation {name!r} costs {cost}, more than the limit of {limit}: "
                        "ask for fewer rows (first:) or fewer nested fields",
                        node,
                        extensions={"code": "QUERY_TOO_COMPLEX", "cost": cost, "limit": limit},
                    )
                )

        def _cost(self, selections: SelectionSetNode | None, seen: frozenset[str]) -> int:
            if selections is None:
                return 0
            total = 0
            for selection in selections.selections:
                if isinstance(selection, FieldNode):
                    inner = self._cost(selection.selection_set, seen)
                    total += 1 + _rows(selection, list_size) * inner
                elif isinstance(selection, InlineFragmentNode):
                    total += self._cost(selection.selection_set, seen)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    fragment = self._fragments.get(name)
                    if fragment is not None and name not in seen:  # cycles: another rule's
                        total += self._cost(fragment.selection_set, seen | {name})
            return total

    return ComplexityRule


def _rows(field: FieldNode, list_size: int) -> int:
    """How many times ``field``'s selection may be repeated.

    Its ``first`` when written; ``list_size`` for a variable ``first`` or a connection
    (a selection with ``edges``) that does not say; else 1.
    """
    for argument in field.arguments or ():
        if argument.name.value == "first":
            if isinstance(argument.value, IntValueNode):
                return max(int(argument.value.value), 1)
            return list_size
    selections = field.selection_set.selections if field.selection_set else ()
    connection = any(
        isinstance(selection, FieldNode) and selection.name.value == "edges"
        for selection in selections
    )
    return list_size if connection else 1
