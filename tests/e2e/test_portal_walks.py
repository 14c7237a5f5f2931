"""Walks through the branded portal in a real browser.

- A partner admin signs in on the partner's host, brands the portal (the preview follows the form and
  refuses a colour too light for white text before anything is saved), and sees the retailers with
  their health badges; then onboards a retailer through the wizard (an invitation, a connection to a
  REST sandbox from the form the template's schema makes, its real check, a default recipe edited with
  its live preview, a flow, go live), leaving and resuming on the way.
- A retailer admin signs in on the same host, sees the partner's brand and the sync health, edits a
  recipe with its live preview (a problem shows by its path, then the mapped output) and saves a
  version, replays a dead letter, and creates an API key whose secret is shown once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from playwright.async_api import expect

from app.clock import FrozenClock
from app.database.engine import Database
from connectors.sandboxes import rest
from tests.app.portal.sync_facts import seed_sync_facts
from tests.connectors.serving import serve
from tests.factories import PASSWORD, World

HOST = "alpha.localhost"


class TestPartnerAdmin:
    async def test_brands_the_portal_and_sees_retailer_health(
        self,
        portal: Callable[[str, str], str],
        walk: Callable[[str], Any],
        world: World,
        db: Database,
        clock: FrozenClock,
    ) -> None:
        async with httpx.AsyncClient(base_url=portal("127.0.0.1", "")) as api:
            await seed_sync_facts(api, world, db, clock.now())
        me = await walk("partner-admin")
        page = me.page
        await me.sign_in(portal(HOST, "/login"), world.users["partner_admin_a"].email, PASSWORD)
        await expect(page.locator("header .name")).to_have_text("Alpha Commerce")
        await me.shot("home")

        await page.get_by_role("link", name="Branding").click()
        await page.get_by_label("Name").fill("Alpha Retail Cloud")
        await page.get_by_label("Primary colour").fill("#ffee00")
        preview = page.get_by_test_id("brand-preview")
        await expect(preview.locator('[data-field="primary_color"]')).to_contain_text(
            "WCAG AA asks for 4.5:1"
        )
        await expect(preview.get_by_test_id("preview-name")).to_have_text("Alpha Retail Cloud")
        await me.shot("preview-refuses-a-light-colour")

        await page.get_by_role("button", name="Save branding").click()
        await expect(page.locator("#primary_color-error")).to_contain_text("too light")
        await expect(page.locator("header .name")).to_have_text("Alpha Commerce")  # nothing saved
        await page.get_by_label("Primary colour").fill("#0b3d2e")
        await expect(preview.locator('[data-field="primary_color"]')).to_have_count(0)
        await page.get_by_role("button", name="Save branding").click()
        await expect(page.get_by_role("status")).to_contain_text("Saved")
        await expect(page.locator("header .name")).to_have_text("Alpha Retail Cloud")
        assert "Shelfsync" not in await page.content()
        await me.shot("branded")

        await page.get_by_role("link", name="Retailers").click()
        rows = page.locator("tbody tr")
        await expect(rows.filter(has_text="a1").get_by_test_id("tenant-health")).to_have_text("failing")
        await expect(rows.filter(has_text="a2").get_by_test_id("tenant-health")).to_have_text("degraded")
        await me.shot("retailers")

    async def test_onboards_a_retailer_through_the_wizard_against_a_sandbox(
        self,
        portal: Callable[[str, str], str],
        walk: Callable[[str], Any],
        world: World,
    ) -> None:
        me = await walk("onboarding")
        page = me.page
        await me.sign_in(portal(HOST, "/login"), world.users["partner_admin_a"].email, PASSWORD)
        await page.get_by_role("link", name="Retailers").click()
        await page.get_by_role("link", name="Onboard a retailer").click()
        await page.get_by_label("Retailer name").fill("Corner Shop")
        await page.get_by_label("Short name (slug)").fill("corner")
        await page.get_by_role("button", name="Create and continue").click()
        await expect(page.get_by_role("heading", name="Onboarding Corner Shop")).to_be_visible()
        await page.get_by_label("Invite by e-mail").fill("owner@corner.example")
        await page.get_by_role("button", name="Send invitation").click()
        await expect(page.locator("table")).to_contain_text("owner@corner.example")
        await me.shot("invited")

        # leave the wizard, come back through the retailer list: it resumes at connections
        await page.get_by_role("link", name="Home").click()
        await page.get_by_role("link", name="Retailers").click()
        await page.locator("tr", has_text="Corner Shop").get_by_role("link", name="onboarding").click()
        await expect(page.locator('[aria-current="step"]')).to_have_text("3. connections")

        async with serve(rest.create_app()) as shop:
            await page.get_by_label("Add a connection from a template").select_option(
                label="Generic REST/JSON"
            )
            await page.get_by_role("button", name="Choose").click()
            await page.get_by_label("Connection name").fill("web shop")
            await page.get_by_label("base url (required)").fill(shop)
            await page.get_by_label("api key", exact=True).fill("sandbox-key")
            await me.shot("connection-form")
            await page.get_by_role("button", name="Add connection").click()
            await page.get_by_role("button", name="Test connection").click()
            await expect(page.get_by_test_id("connection-check")).to_contain_text("ok")
            await me.shot("connection-checked")
        await page.get_by_role("link", name="Next: recipes").click()
        await page.get_by_role("button", name="Add web shop inventory outbound").click()
        wizard = page.url
        # the partner tunes the retailer's new recipe in the editor, with its live preview
        await page.get_by_role("link", name="web shop inventory outbound").click()
        source = page.get_by_label("Recipe (YAML or JSON)")
        original = await source.input_value()
        await source.fill(original.replace("location: location", "location: sku", 1))
        outcome = page.get_by_test_id("recipe-outcome")
        await expect(outcome.locator('[data-test-case="nothing reserved"]')).to_contain_text("FAILED")
        await me.shot("recipe-test-fails-live")
        await source.fill(original.replace("name: REST stock", "name: Corner Shop stock", 1))
        await expect(outcome.locator('[data-test-case="nothing reserved"]')).to_contain_text("passed")
        await page.get_by_role("button", name="Save as a new version").click()
        await expect(page.get_by_role("status")).to_have_text("Saved as version 2.")
        await page.goto(wizard)
        await page.get_by_role("link", name="Next: flows").click()
        await page.get_by_label("Flow name").fill("stock to the web shop")
        await page.get_by_label("web shop with web shop inventory outbound (inventory)").check()
        await page.get_by_role("button", name="Add flow").click()
        await expect(page.locator("table")).to_contain_text("not yet")
        await page.get_by_role("link", name="Next: go live").click()
        await page.get_by_role("button", name="Go live: switch the flows on").click()
        await expect(page.get_by_test_id("live")).to_have_text("Corner Shop is live.")
        await me.shot("live")


class TestRetailerAdmin:
    async def test_sees_health_edits_a_recipe_replays_a_dead_letter_and_creates_an_api_key(
        self,
        portal: Callable[[str, str], str],
        walk: Callable[[str], Any],
        world: World,
        db: Database,
        clock: FrozenClock,
    ) -> None:
        async with httpx.AsyncClient(base_url=portal("127.0.0.1", "")) as api:
            facts = await seed_sync_facts(api, world, db, clock.now())
        me = await walk("retailer-admin")
        page = me.page
        await me.sign_in(portal(HOST, "/login"), world.users["retailer_admin_a1"].email, PASSWORD)
        await expect(page.locator("header .name")).to_have_text("Alpha Commerce")

        await page.get_by_role("link", name="Health").click()
        await expect(page.get_by_test_id("overall-status")).to_have_text("failing")
        await expect(page.locator('tr[data-flow="stock to the app"]')).to_contain_text("2 dead letter(s)")
        await me.shot("health")

        await page.get_by_role("link", name="Recipes").click()
        await page.get_by_role("link", name="stock to the web stock").click()
        source = page.get_by_label("Recipe (YAML or JSON)")
        original = await source.input_value()
        await source.fill(original.replace("cast: int", "cast: integer-ish", 1))
        outcome = page.get_by_test_id("recipe-outcome")
        await expect(outcome.locator('[data-path="fields.on_hand.cast"]')).to_be_visible()
        await me.shot("recipe-problem-live")
        await source.fill(original.replace("name: REST stock", "name: Web shop stock", 1))
        await expect(outcome.locator('[data-path="fields.on_hand.cast"]')).to_have_count(0)
        await expect(outcome.get_by_test_id("mapped-status")).to_have_text("ok")
        await page.get_by_role("button", name="Save as a new version").click()
        await expect(page.get_by_role("status")).to_have_text("Saved as version 2.")
        await me.shot("recipe-saved")

        await page.get_by_role("link", name="Dead letters").first.click()
        first = facts["letters"][0]
        await page.get_by_label(f"Select dead letter {first}").check()
        await me.shot("dead-letter-ticked")
        await page.get_by_role("button", name="Replay selected").click()
        await expect(page.get_by_test_id("act-result")).to_have_text("1 done.")
        await expect(page.locator(f'tr[data-dead-letter="{first}"]')).to_have_count(0)
        await me.shot("dead-letter-replayed")

        await page.get_by_role("link", name="API keys").click()
        await page.get_by_label("Name").fill("warehouse scanner")
        await page.get_by_role("button", name="Create key").click()
        secret = page.get_by_test_id("new-secret")
        await expect(secret).to_contain_text("ss_")
        await expect(page.locator("tbody")).to_contain_text("warehouse scanner")
        await me.shot("api-key-created")
