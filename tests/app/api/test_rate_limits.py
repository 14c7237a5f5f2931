"""Per-key API rate limits: a token bucket in Redis sized by the plan, with the IETF RateLimit fields on
every answer and 429 problems past the budget."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from app.database.engine import Database
from app.database.scope import DbScope
from app.metering.models import UsageEvent
from app.plans.terms import DEFAULT_TERMS, Quotas
from tests import factories
from tests.app.api.calls import assert_problem, bearer
from tests.factories import World


def fields(response: Any) -> tuple[dict[str, int], dict[str, int]]:
    """The policy's and the standing's parameters, e.g. ({"q": 5, "w": 50}, {"r": 0, "t": 9})."""
    parsed = []
    for name in ("ratelimit-policy", "ratelimit"):
        value = response.headers[name]
        assert value.startswith('"per-key";'), value
        parsed.append({k: int(v) for k, v in re.findall(r";(\w+)=(\d+)", value)})
    return parsed[0], parsed[1]


class TestApiRateLimit:
    async def test_every_answer_carries_the_fields(
        self, client: AsyncTestClient[Any], world: World, db: Database
    ) -> None:
        key = await factories.make_api_key(db, world.tenant_a1, ["tenant:read"])
        first = await client.get("/api/v1/tenant", headers=bearer(key))
        second = await client.get("/api/v1/tenant", headers=bearer(key))
        assert first.status_code == second.status_code == 200
        policy, standing = fields(first)
        default = DEFAULT_TERMS.quotas
        assert policy == {
            "q": default.api_burst,
            "w": round(default.api_burst / default.api_requests_per_second),
        }
        assert standing["r"] == default.api_burst - 1
        assert fields(second)[1]["r"] in (default.api_burst - 2, default.api_burst - 1)  # a refill may land
        # a problem answered after authentication carries them too
        missing = await client.get("/api/v1/stock", headers=bearer(key))
        assert_problem(missing, 403, "missing-scope")
        assert "ratelimit" in missing.headers

    async def test_a_burst_past_the_limit_gets_429s_and_other_keys_go_on(
        self, client: AsyncTestClient[Any], world: World, db: Database, clock: Any
    ) -> None:
        await factories.put_on_plan(
            db, world.tenant_a1, "tiny", Quotas(api_requests_per_second=0.1, api_burst=3), clock.now()
        )
        noisy = await factories.make_api_key(db, world.tenant_a1, ["tenant:read"], name="noisy")
        sibling = await factories.make_api_key(db, world.tenant_a1, ["tenant:read"], name="sibling")
        other = await factories.make_api_key(db, world.tenant_b1, ["tenant:read"], name="other")

        answers = await asyncio.gather(
            *(client.get("/api/v1/tenant", headers=bearer(noisy)) for _ in range(10))
        )

        statuses = sorted(answer.status_code for answer in answers)
        assert statuses == [200] * 3 + [429] * 7
        for answer in answers:
            policy, standing = fields(answer)
            assert policy == {"q": 3, "w": 30}
            if answer.status_code == 429:
                body = assert_problem(answer, 429, "rate-limited")
                assert body["instance"] == "/api/v1/tenant"
                retry_after = int(answer.headers["retry-after"])
                assert 1 <= retry_after <= 10
                assert standing == {"r": 0, "t": retry_after}
        # the tenant's other key and another tenant's key have budgets of their own
        assert (await client.get("/api/v1/tenant", headers=bearer(sibling))).status_code == 200
        assert (await client.get("/api/v1/tenant", headers=bearer(other))).status_code == 200

        # refused calls are not metered: three accepted for the noisy key, one for its sibling
        async with db.transaction(DbScope.system()) as session:
            metered = await session.scalar(
                select(func.sum(UsageEvent.quantity)).where(
                    UsageEvent.tenant_id == world.tenant_a1.id, UsageEvent.kind == "api_calls"
                )
            )
        assert metered == 4

    async def test_a_plan_change_applies_to_the_next_request(
        self, client: AsyncTestClient[Any], world: World, db: Database, clock: Any
    ) -> None:
        key = await factories.make_api_key(db, world.tenant_a1, ["tenant:read"])
        assert (
            fields(await client.get("/api/v1/tenant", headers=bearer(key)))[0]["q"]
            == DEFAULT_TERMS.quotas.api_burst
        )
        await factories.put_on_plan(
            db, world.tenant_a1, "small", Quotas(api_requests_per_second=5, api_burst=10), clock.now()
        )
        assert fields(await client.get("/api/v1/tenant", headers=bearer(key)))[0] == {"q": 10, "w": 2}
