"""JSON logs: secrets redacted whatever the call passes, and every line of an API request carrying its
correlation id and (once its key is known) its tenant, with nothing left over for the next request."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import structlog
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.database.engine import Database
from app.logging import bind_work, unit_of_work
from tests import factories
from tests.app.api.calls import bearer
from tests.app.portal.forms import sign_in
from tests.factories import PASSWORD, World
from tests.json_logs import captured_logs


class TestRedaction:
    def test_secrets_in_a_log_call_never_reach_the_line(self) -> None:
        with captured_logs() as logs:
            structlog.get_logger("tests.redaction").info(
                "connection.checked",
                authorization="Bearer sk-live-123456",
                password="hunter2-pw",
                config={
                    "base_url": "https://erp-user:erp-pass-99@erp.example.com/api",
                    "Client-Secret": "cs-abcdef",
                    "nested": [{"api_key": "ak-777"}],
                },
                note="sent Authorization: Bearer tok-9999 to the ERP",
            )
            logging.getLogger("httpx").warning("retrying with token=%s", "Bearer tok-std-42")
        text = logs.text()
        for secret in ("sk-live-123456", "hunter2-pw", "erp-pass-99", "cs-abcdef", "ak-777", "tok-9999"):
            assert secret not in text
        assert "tok-std-42" not in text  # standard-library records go through the same processors
        line, stdlib = logs.lines()
        assert line["authorization"] == "[redacted]"
        assert line["password"] == "[redacted]"
        assert line["config"]["Client-Secret"] == "[redacted]"
        assert line["config"]["nested"] == [{"api_key": "[redacted]"}]
        assert line["config"]["base_url"] == "https://erp-user:[redacted]@erp.example.com/api"
        assert line["note"] == "sent Authorization: Bearer [redacted] to the ERP"
        assert stdlib["logger"] == "httpx"
        assert stdlib["event"] == "retrying with token=Bearer [redacted]"


class TestRequestLines:
    async def test_every_line_of_an_api_request_carries_its_ids(
        self, client: AsyncTestClient[Any], world: World, db: Database
    ) -> None:
        key = await factories.make_api_key(db, world.tenant_a1, ["flows:read"])
        with captured_logs() as logs:
            listed = await client.get(
                "/api/v1/flows", headers={**bearer(key), "X-Correlation-Id": "req-telemetry-1"}
            )
            anonymous = await client.get("/api/v1/flows", headers={"X-Correlation-Id": "req-telemetry-2"})
        assert (listed.status_code, anonymous.status_code) == (200, 401)
        lines = logs.lines()
        mine = [line for line in lines if line.get("correlation_id") == "req-telemetry-1"]
        assert [line["event"] for line in mine] == ["request.finished"]
        assert all(line["tenant_id"] == str(world.tenant_a1.id) for line in mine)
        assert mine[0]["route"] == "/api/v1/flows"
        assert mine[0]["status"] == 200
        # the next request (no key) starts clean: no tenant carried over
        other = [line for line in lines if line.get("correlation_id") == "req-telemetry-2"]
        assert other
        assert all("tenant_id" not in line for line in other)
        assert all("correlation_id" in line for line in lines if line.get("logger", "").startswith("app."))

    async def test_a_portal_request_names_the_user_and_the_retailer(
        self, app: Litestar, world: World
    ) -> None:
        async with AsyncTestClient(app, base_url="https://alpha.localhost") as alpha:
            await sign_in(alpha, world.users["retailer_admin_a1"].email, PASSWORD)
            with captured_logs() as logs:
                page = await alpha.get("/health", headers={"X-Correlation-Id": "portal-telemetry-1"})
        assert page.status_code == 200
        [line] = [x for x in logs.lines() if x.get("correlation_id") == "portal-telemetry-1"]
        assert line["event"] == "request.finished"
        assert line["tenant_id"] == str(world.tenant_a1.id)
        assert line["user_id"] == str(world.users["retailer_admin_a1"].id)


class TestUnitOfWork:
    def test_what_the_work_binds_is_gone_after(self) -> None:
        structlog.contextvars.bind_contextvars(worker="w1")  # the process's own context
        try:
            with unit_of_work(job="deliver_destination", correlation_id="job-1"):
                bind_work(tenant_id=uuid.UUID(int=1), run_id=None)
                assert structlog.contextvars.get_contextvars() == {
                    "job": "deliver_destination",
                    "correlation_id": "job-1",
                    "tenant_id": str(uuid.UUID(int=1)),
                }  # starts clean: not even the process's own fields; None ones are not bound
            assert structlog.contextvars.get_contextvars() == {"worker": "w1"}
        finally:
            structlog.contextvars.clear_contextvars()
