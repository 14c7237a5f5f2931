"""deliver_batch: canonical records through an outbound recipe into a template, one result per record
in the caller's order, across several write batches."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from connectors.canonical import Price
from connectors.delivery import deliver_batch
from connectors.recipes import compile_recipe, default_recipe
from connectors.sdk.context import ConnectorContext
from connectors.sdk.domains import Domain
from connectors.templates.flatfile.template import FlatFileTemplate


class TwoPerBatch(FlatFileTemplate):
    batch_size = 2


@pytest.fixture
def template(tmp_path: Path) -> FlatFileTemplate:
    for folder in ("inbound", "outbound"):
        (tmp_path / folder).mkdir()
    return TwoPerBatch(ConnectorContext(config={"transport": "folder", "path": str(tmp_path)}))


RECIPE = compile_recipe(default_recipe("flatfile", "prices", "outbound") or {})


class TestDeliverBatch:
    async def test_results_keep_the_callers_order_across_batches(
        self, template: FlatFileTemplate, tmp_path: Path
    ) -> None:
        prices = [
            Price(sku="A-1", amount=Decimal("1.00"), currency="EUR", channel="S1"),
            Price(sku="A-2", amount=Decimal("2.00"), currency="EUR", channel="S2"),
            Price(sku="A-3", amount=Decimal("3.00"), currency="EUR", channel="S1"),
            Price(sku="A-4", amount=Decimal("4.00"), currency="EUR", channel="S3"),
            Price(sku="A-5", amount=Decimal("5.00"), currency="EUR", channel="S2"),
        ]
        async with template:
            results = await deliver_batch(template, Domain.PRICES, prices, RECIPE)
        assert [(r.index, r.status, r.key) for r in results] == [(i, "ok", f"A-{i + 1}") for i in range(5)]
        written = "".join(p.read_text() for p in sorted((tmp_path / "outbound").glob("*.csv")))
        assert all(f"A-{n}" in written for n in range(1, 6))

    async def test_recipe_failures_fail_alone(self, template: FlatFileTemplate) -> None:
        spec = default_recipe("flatfile", "prices", "outbound") or {}
        strict = compile_recipe(
            spec | {"fields": {**spec["fields"], "sku": {"from": "sku", "cast": "int"}}, "tests": []}
        )
        prices = [
            Price(sku="12", amount=Decimal("1.00"), currency="EUR", channel="S1"),
            Price(sku="X-9", amount=Decimal("2.00"), currency="EUR", channel="S1"),
        ]
        async with template:
            results = await deliver_batch(template, Domain.PRICES, prices, strict)
        assert [r.status for r in results] == ["ok", "failed"]
        assert results[1].error is not None
        assert results[1].error.startswith("recipe: fields.sku")

    async def test_inbound_recipe_refused(self, template: FlatFileTemplate) -> None:
        inbound = compile_recipe(default_recipe("flatfile", "prices", "inbound") or {})
        with pytest.raises(ValueError, match="inbound"):
            await deliver_batch(template, Domain.PRICES, [], inbound)
