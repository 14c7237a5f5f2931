"""A ``shelfsync worker`` process killed with SIGKILL while a batch is in flight: the next worker process
delivers what was left, the shop ends in the true state, and no write was applied twice."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from app.database.engine import Database
from app.database.scope import DbScope
from app.delivery.models import QueuedDelivery
from app.settings import Settings
from tests.app.api.calls import bearer
from tests.app.sync.conftest import Shop, push, wire
from tests.chaos.conftest import SKUS, stock_writes
from tests.chaos.processes import running_worker, until
from tests.chaos.tcp_proxy import proxied

BATCH = 5


def counts(round_number: int, skus: list[str]) -> list[dict[str, Any]]:
    """Each SKU's count in a round: ``round × 100 + position``, so every value names its round and SKU."""
    return [
        {
            "sku": sku,
            "location": "WH1",
            "on_hand": round_number * 100 + SKUS.index(sku),
            "source": "erp",
            "source_id": f"{sku}@WH1",
            "source_version": round_number,
        }
        for sku in skus
    ]


class TestWorkerKilledMidBatch:
    async def test_the_next_worker_finishes_and_nothing_is_applied_twice(
        self, client: AsyncTestClient[Any], key: str, shop: Shop, settings: Settings, db: Database
    ) -> None:
        """Fault: SIGKILL of a worker process while a batch waits on a slowed shop (two writes of 0.3 s,
        then every write held); then newer counts for half the SKUs arrive while its rows are still
        leased. Load: 30 SKUs × 3 coalesced rounds, batches of 5, then 15 newer counts. End state:
        a second worker process, once the dead one's 2 s lease ends, delivers the rest; the shop holds
        every SKU's last value (the second process, started early, was held off Redis until then), no
        (SKU, value) was stored twice (the killed write never reached the
        shop, and settled batches were not sent again), and each SKU's stored values follow the order
        of its source versions."""
        wiring = await wire(client, key, shop, low_stock_threshold=1000)  # every count urgent: sent at once
        limited = await client.patch(
            f"/api/v1/connections/{wiring.connection_id}", json={"batch_size": BATCH}, headers=bearer(key)
        )
        assert limited.status_code == 200, limited.text
        skus = SKUS[:30]
        for round_number in (1, 2, 3):
            assert (await push(client, key, counts(round_number, skus))).status_code == 202
        await shop.fault(delay=0.3, count=2)
        # every later write is held past the kill: the worker dies with its batch in the shop's hands,
        # before the shop has read it (a held write is dropped once its caller is gone)
        await shop.fault(delay=3, count=100)

        async def writes_received() -> int:
            log = (await shop.control.get("/_sandbox/requests")).json()
            return sum(1 for entry in log if entry["path"] == "/stock/batch")

        async def a_held_write_in_flight_and_the_rest_settled() -> bool:
            # both quick batches stored (a loaded machine may send the third before the second is
            # answered), a held one in the shop's hands, and only the stored rows dequeued
            stored = len(stock_writes(shop))
            return (
                stored == 2 * BATCH and await writes_received() >= 3 and await queued() == len(skus) - stored
            )

        async def queued() -> int:
            async with db.transaction(DbScope.system()) as session:
                return int(await session.scalar(select(func.count()).select_from(QueuedDelivery)) or 0)

        # the second process starts now, held off Redis by a cut link (it waits, it does not exit), so
        # its start-up overlaps the first's work instead of adding to the test's time
        with proxied(settings.redis_url or "") as second_link:
            second_link.cut()
            held_off = replace(settings, redis_url=second_link.address_of(settings.redis_url or ""))
            with running_worker(held_off, lease_seconds=2) as second:
                with running_worker(settings, lease_seconds=2) as first:
                    await until(
                        a_held_write_in_flight_and_the_rest_settled,
                        60,
                        "a held write while the earlier batches are settled",
                        show=first.tail,
                    )
                    first.kill()
                (await shop.control.delete("/_sandbox/faults")).raise_for_status()
                assert len(stock_writes(shop)) == 2 * BATCH  # the two quick batches, settled and dequeued

                newer = skus[::2]
                assert (await push(client, key, counts(4, newer))).status_code == 202
                truth = {item["sku"]: item["on_hand"] for item in counts(3, skus) + counts(4, newer)}

                async def delivered() -> bool:
                    return await queued() == 0 and all(
                        shop.on_hand(sku) == value for sku, value in truth.items()
                    )

                second_link.restore()
                await until(delivered, 60, "the second worker to deliver the rest", show=second.tail)

        assert {sku: shop.on_hand(sku) for sku in skus} == truth
        written = stock_writes(shop)
        assert len(written) == len(set(written)), "a (SKU, value) was stored twice"
        per_sku: dict[str, list[int]] = defaultdict(list)
        for sku, value in written:
            per_sku[sku].append(value // 100)  # the round the value came from
        assert all(rounds == sorted(rounds) for rounds in per_sku.values()), per_sku
        assert all(rounds[-1] >= 3 for rounds in per_sku.values())  # coalesced: rounds 1 and 2 never sent
