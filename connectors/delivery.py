"""Delivering canonical records to a destination: map each through the outbound recipe, then write in
batches, with one result per record in the order given.

A record the recipe cannot map fails alone (its result carries the recipe's path and reason); a record
the recipe's filter skips is reported ``skipped`` and never sent. The sync engine calls this for every
delivery; the connector tests call it to prove a change made in Shelfsync lands in the real system.
"""

from __future__ import annotations

from collections.abc import Sequence

from connectors.canonical import Record
from connectors.recipes import CompiledRecipe, record_input
from connectors.sdk.domains import Domain
from connectors.sdk.results import WriteResult
from connectors.sdk.template import ConnectorTemplate


async def deliver_batch(
    template: ConnectorTemplate, domain: Domain, records: Sequence[Record], recipe: CompiledRecipe
) -> list[WriteResult]:
    if recipe.recipe.direction != "outbound":
        raise ValueError(f"{recipe.recipe.name} is an inbound recipe; delivery needs an outbound one")
    template.check_domain(domain, writing=True)
    results: dict[int, WriteResult] = {}
    payloads: list[dict[str, object]] = []
    positions: list[int] = []
    for mapped in recipe.map_many(record_input(record) for record in records):
        if mapped.status == "skipped":
            results[mapped.index] = WriteResult(index=mapped.index, status="skipped")
        elif mapped.status == "failed":
            assert mapped.error is not None
            results[mapped.index] = WriteResult.failed(mapped.index, f"recipe: {mapped.error}")
        else:
            assert mapped.output is not None
            payloads.append(mapped.output)
            positions.append(mapped.index)
    size = max(template.batch_size, 1)
    for start in range(0, len(payloads), size):
        written = await template.write(domain, payloads[start : start + size])
        for result in written:
            index = positions[start + result.index]
            results[index] = WriteResult(
                index=index,
                status=result.status,
                key=result.key,
                error=result.error,
                retryable=result.retryable,
                destination_id=result.destination_id,
                details=result.details,
            )
    return [results[i] for i in range(len(records))]
