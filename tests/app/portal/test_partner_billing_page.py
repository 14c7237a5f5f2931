"""The partner's platform bill page: subscription, the month's usage reported to Stripe by status,
Stripe invoices and the last reconciliation; another partner sees none of it."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.billing.models import BillingAccount, BillingReconciliation, MeterReport, PartnerInvoice
from app.clock import FrozenClock
from app.database.engine import Database
from app.database.scope import DbScope
from app.metering.periods import period_at
from tests.app.portal.forms import sign_in
from tests.factories import PASSWORD, World


async def seed_bill(db: Database, world: World, clock: FrozenClock) -> None:
    month = period_at(clock.now()).starts_at
    async with db.transaction(DbScope.system()) as session:
        session.add(
            BillingAccount(
                partner_id=world.partner_a.id,
                stripe_customer_id="cus_alpha",
                stripe_subscription_id="sub_alpha",
                subscription_status="active",
                billing_starts_at=month,
                reported_until=month + timedelta(hours=2),
            )
        )
        for hour, (value, status) in enumerate(((1200, "sent"), (300, "sent"), (45, "pending"))):
            start = month + timedelta(hours=hour)
            session.add(
                MeterReport(
                    partner_id=world.partner_a.id,
                    kind="records_synced",
                    event_name="shelfsync_records_synced",
                    window_start=start,
                    window_end=start + timedelta(hours=1),
                    value=value,
                    identifier=f"{world.partner_a.id}:records_synced:{start.isoformat()}",
                    status=status,
                    next_attempt_at=start,
                )
            )
        session.add(
            PartnerInvoice(
                partner_id=world.partner_a.id,
                stripe_invoice_id="in_alpha",
                status="paid",
                amount_due=12345,
                amount_paid=12345,
                currency="usd",
                period_start=month - timedelta(days=30),
                period_end=month,
                updated_at=clock.now(),
            )
        )
        session.add(
            BillingReconciliation(
                partner_id=world.partner_a.id,
                kind="records_synced",
                meter_id="mtr_1",
                period_start=month,
                period_end=month + timedelta(hours=2),
                local_total=1509,
                stripe_total=1500,
                difference=9,
                checked_at=clock.now(),
            )
        )


class TestPartnerBillingPage:
    async def test_the_partner_sees_its_bill(
        self, alpha: AsyncTestClient[Any], world: World, db: Database, clock: FrozenClock
    ) -> None:
        await seed_bill(db, world, clock)
        await sign_in(alpha, world.users["partner_admin_a"].email, PASSWORD)
        page = await alpha.get("/partner/billing")
        assert page.status_code == 200
        assert 'data-testid="subscription-status">active<' in page.text
        row = re.search(
            r'data-meter="records_synced"><td>records synced</td><td>([\d,]+)</td>\s*<td>(\d+)</td>',
            page.text,
        )
        assert row is not None
        assert row.groups() == ("1,500", "45")
        assert "123.45 USD" in page.text
        assert re.search(
            r'records synced</td><td>1509</td><td>1500</td>\s*<td><span class="badge failing">9<', page.text
        )

    async def test_another_partner_sees_none_of_it(
        self, app: Litestar, world: World, db: Database, clock: FrozenClock
    ) -> None:
        await seed_bill(db, world, clock)
        async with AsyncTestClient(app, base_url=f"https://{world.partner_b.slug}.localhost") as beta:
            await sign_in(beta, world.users["partner_admin_b"].email, PASSWORD)
            page = await beta.get("/partner/billing")
        assert page.status_code == 200
        assert 'data-testid="no-account"' in page.text
        assert "cus_alpha" not in page.text

    async def test_retailers_have_no_platform_bill(
        self, alpha: AsyncTestClient[Any], world: World, db: Database, clock: FrozenClock
    ) -> None:
        await sign_in(alpha, world.users["retailer_admin_a1"].email, PASSWORD)
        assert (await alpha.get("/partner/billing")).status_code == 404
