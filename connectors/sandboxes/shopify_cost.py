"""The Shopify sandbox's query cost and leaky bucket, after Shopify's documented rules.

Cost of a query: scalars and enums 0, each object 1, a connection 2 + (first or last) × the cost of one
of its nodes; each mutation field 10. The bucket holds ``maximum`` points and leaks back ``restore_rate``
per second; a query whose requested cost exceeds what is available is refused with ``THROTTLED``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    is_leaf_type,
)

MUTATION_COST = 10
CONNECTION_BASE_COST = 2


@dataclass
class QueryCoster:
    schema: GraphQLSchema
    variables: Mapping[str, Any]
    fragments: Mapping[str, FragmentDefinitionNode]

    def _argument(self, node: FieldNode, name: str) -> int | None:
        for argument in node.arguments or ():
            if argument.name.value != name:
                continue
            value = argument.value
            if isinstance(value, VariableNode):
                given = self.variables.get(value.name.value)
                return given if isinstance(given, int) else None
            if isinstance(value, IntValueNode):
                return int(value.value)
        return None

    def fields_of(self, selection_set: SelectionSetNode | None) -> list[FieldNode]:
        """The fields of a selection set, fragments flattened (type conditions ignored: an upper bound)."""
        if selection_set is None:
            return []
        fields: list[FieldNode] = []
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                fields.append(selection)
            elif isinstance(selection, InlineFragmentNode):
                fields.extend(self.fields_of(selection.selection_set))
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    fields.extend(self.fields_of(fragment.selection_set))
        return fields

    def selection_cost(self, selection_set: SelectionSetNode | None, parent: Any) -> int:
        total = 0
        for node in self.fields_of(selection_set):
            definition = getattr(parent, "fields", {}).get(node.name.value)
            if definition is None:
                continue  # __typename, or a field of a fragment's narrower type
            total += self.field_cost(node, get_named_type(definition.type))
        return total

    def field_cost(self, node: FieldNode, named: Any) -> int:
        if is_leaf_type(named):
            return 0
        if named.name.endswith("Connection") and isinstance(named, GraphQLObjectType):
            size = self._argument(node, "first") or self._argument(node, "last") or 0
            per_node = 0
            for child in self.fields_of(node.selection_set):
                if child.name.value in ("nodes", "edges"):
                    child_type = get_named_type(named.fields[child.name.value].type)
                    per_node += self.field_cost(child, child_type)
            return CONNECTION_BASE_COST + size * per_node
        return 1 + self.selection_cost(node.selection_set, _FieldsOf(self.schema, named))


class _FieldsOf:
    """The fields of an object type, or of every member of an interface or union (fragments on any)."""

    def __init__(self, schema: GraphQLSchema, named: Any) -> None:
        self.fields: dict[str, Any] = dict(getattr(named, "fields", {}))
        if not isinstance(named, GraphQLObjectType):
            for member in schema.get_possible_types(named):
                self.fields.update(member.fields)


def requested_cost(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
) -> int:
    """The cost Shopify would report as ``requestedQueryCost`` for ``operation``."""
    coster = QueryCoster(schema, variables, fragments)
    if operation.operation is OperationType.MUTATION:
        return MUTATION_COST * len(coster.fields_of(operation.selection_set))
    return coster.selection_cost(operation.selection_set, schema.query_type)


@dataclass
class CostBucket:
    """Shopify's leaky bucket of query-cost points for one app on one shop."""

    maximum: float = 2000.0
    restore_rate: float = 100.0
    clock: Callable[[], float] = time.monotonic
    _available: float = field(init=False)
    _updated: float = field(init=False)

    def __post_init__(self) -> None:
        self._available = self.maximum
        self._updated = self.clock()

    def available(self) -> float:
        now = self.clock()
        self._available = min(self.maximum, self._available + (now - self._updated) * self.restore_rate)
        self._updated = now
        return self._available

    def try_spend(self, cost: float) -> bool:
        # A small tolerance: a client that waited exactly (cost − available) / rate must get through.
        if cost > self.available() + 1e-6:
            return False
        self._available = max(self._available - cost, 0.0)
        return True

    def refill(self) -> None:
        self._available, self._updated = self.maximum, self.clock()

    def status(self) -> dict[str, float]:
        return {
            "maximumAvailable": self.maximum,
            "currentlyAvailable": round(self.available(), 3),
            "restoreRate": self.restore_rate,
        }
