"""Telemetry of a real delivery (API → outbox → burst worker → sandbox): every log line of the job
carries its tenant, flow, run and correlation id; the destination receives the correlation id; the
worker's metrics count the work with bounded labels; with tracing on, spans carry the same ids."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import select

from app.clock import FrozenClock
from app.database.engine import Database
from app.database.scope import DbScope
from app.delivery.service import Deliverer
from app.flows.models import Run
from app.settings import Settings
from app.tracing import install_tracing, installed_provider, shutdown_tracing, span
from app.worker import serve_metrics
from tests.app.sync.conftest import Shop, deliver_all, push, wire
from tests.app.sync.test_delivery_worker import relay_and_work
from tests.app.test_metrics import sample
from tests.factories import World
from tests.json_logs import captured_logs

UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.I)
SKU = re.compile(r"SKU-\d+")
LABEL = re.compile(r'="([^"]*)"')


async def delivery_runs(db: Database) -> list[Run]:
    async with db.transaction(DbScope.system()) as session:
        return list((await session.scalars(select(Run).where(Run.kind == "delivery"))).all())


async def sandbox_calls(shop: Shop, path: str) -> list[dict[str, Any]]:
    return [entry for entry in (await shop.control.get("/_sandbox/requests")).json() if entry["path"] == path]


class TestDeliveryLogs:
    async def test_every_line_of_the_job_carries_tenant_flow_run_and_correlation(
        self,
        client: AsyncTestClient[Any],
        key: str,
        shop: Shop,
        settings: Settings,
        db: Database,
        world: World,
    ) -> None:
        wiring = await wire(client, key, shop)
        with captured_logs() as logs:
            pushed = await push(
                client,
                key,
                [{"sku": "SKU-002", "location": "WH1", "on_hand": 1}],  # low stock: delivered at once
                **{"X-Correlation-Id": "corr-telemetry-1"},
            )
            assert pushed.json()["accepted"] == 1
            await relay_and_work(settings, db)
        assert shop.on_hand("SKU-002") == 1
        [run] = await delivery_runs(db)
        lines = logs.lines()
        job = [line for line in lines if str(line.get("job_id", "")).startswith("deliver:")]
        assert {line["event"] for line in job} >= {"delivery.batch"}
        assert any(line["logger"] == "httpx" for line in job)  # the library's own lines too
        for line in job:
            assert line["tenant_id"] == str(world.tenant_a1.id), line
            assert line["flow_id"] == wiring.flow_id, line
            assert line["run_id"] == str(run.id), line
            assert line["correlation_id"] == "corr-telemetry-1", line
        # the worker's own lines (arq's, between jobs) are no job's: nothing of the delivery leaked there
        outside = [line for line in lines if line["logger"].startswith("arq")]
        assert outside
        assert all("run_id" not in line and "tenant_id" not in line for line in outside)
        # and the destination was told which change it was receiving
        [call] = await sandbox_calls(shop, "/stock/batch")
        assert call["correlation_id"] == "corr-telemetry-1"

    async def test_a_batch_sends_its_runs_correlation_id(
        self,
        client: AsyncTestClient[Any],
        key: str,
        shop: Shop,
        deliverer: Deliverer,
        clock: FrozenClock,
        db: Database,
    ) -> None:
        wiring = await wire(client, key, shop)
        for n, correlation_id in enumerate(["corr-a", "corr-b"], start=1):
            await push(
                client,
                key,
                [{"sku": f"SKU-00{n}", "location": "WH1", "on_hand": 40}],
                **{"X-Correlation-Id": correlation_id},
            )
        report = await deliver_all(deliverer, wiring, clock, after=6)  # one batch: both SKUs
        assert report.delivered == 2
        [run] = await delivery_runs(db)
        assert run.correlation_id in {"corr-a", "corr-b"}
        calls = await sandbox_calls(shop, "/stock/batch")
        assert [call["correlation_id"] for call in calls] == [run.correlation_id]


class TestWorkerMetrics:
    async def test_work_is_counted_with_bounded_labels(
        self,
        client: AsyncTestClient[Any],
        key: str,
        shop: Shop,
        settings: Settings,
        db: Database,
    ) -> None:
        before = (await client.get("/metrics")).text
        await wire(client, key, shop)
        await push(client, key, [{"sku": "SKU-002", "location": "WH1", "on_hand": 1}])
        await relay_and_work(settings, db)
        assert shop.on_hand("SKU-002") == 1

        def grew(text: str, name: str, by: float, **labels: str) -> bool:
            return (sample(text, name, **labels) or 0) - (sample(before, name, **labels) or 0) == by

        # the burst worker ran in this process, so the API's /metrics shows its registry too
        text = (await client.get("/metrics")).text
        inventory = {"domain": "inventory"}
        assert grew(
            text, "shelfsync_runs_finished_total", 1, kind="delivery", status="succeeded", **inventory
        )
        assert grew(text, "shelfsync_run_duration_seconds_count", 1, **inventory)
        assert grew(text, "shelfsync_records_delivered_total", 1, connector="rest", **inventory)
        assert sample(text, "shelfsync_records_failed_total", connector="rest", **inventory) is not None
        assert (
            sample(text, "shelfsync_records_dead_lettered_total", connector="rest", **inventory) is not None
        )
        assert grew(text, "shelfsync_destination_call_seconds_count", 1, connector="rest")
        assert sample(text, "shelfsync_queue_depth") == 0  # the burst worker drained it
        assert sample(text, "shelfsync_outbox_pending") == 0
        values = {
            value for line in text.splitlines() if not line.startswith("#") for value in LABEL.findall(line)
        }
        assert values
        assert not [value for value in values if UUID.search(value) or SKU.search(value)]

    async def test_a_worker_serves_its_registry_on_its_metrics_port(self) -> None:
        server = serve_metrics(0)  # a free port; workers take METRICS_PORT
        try:
            async with httpx.AsyncClient() as scraper:
                response = await scraper.get(f"http://127.0.0.1:{server.server_port}/metrics")
        finally:
            server.shutdown()
            server.server_close()
        assert response.status_code == 200
        assert "# TYPE shelfsync_runs_finished_total counter" in response.text
        assert "# TYPE shelfsync_destination_call_seconds histogram" in response.text


@pytest.fixture
def spans(settings: Settings) -> Iterator[tuple[Settings, InMemorySpanExporter]]:
    """Tracing on (an endpoint set), spans kept in memory instead of sent."""
    exporter = InMemorySpanExporter()
    traced = replace(settings, otel_endpoint="http://127.0.0.1:4318")
    install_tracing(traced, "shelfsync-test", exporter=exporter)
    try:
        yield traced, exporter
    finally:
        shutdown_tracing()


class TestTracing:
    def test_off_by_default_installs_nothing(self, settings: Settings) -> None:
        assert settings.otel_endpoint is None
        assert install_tracing(settings, "shelfsync-api") is None
        assert installed_provider() is None
        assert not isinstance(trace.get_tracer_provider(), TracerProvider)
        with span("anything") as current:
            assert current is None

    async def test_a_delivery_leaves_spans_with_its_ids(
        self,
        client: AsyncTestClient[Any],
        key: str,
        shop: Shop,
        db: Database,
        world: World,
        spans: tuple[Settings, InMemorySpanExporter],
    ) -> None:
        traced, exporter = spans
        wiring = await wire(client, key, shop)
        caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736"
        await push(
            client,
            key,
            [{"sku": "SKU-002", "location": "WH1", "on_hand": 1}],
            **{"X-Correlation-Id": "corr-traced", "traceparent": f"00-{caller_trace}-00f067aa0ba902b7-01"},
        )
        await relay_and_work(traced, db)
        [run] = await delivery_runs(db)
        finished = exporter.get_finished_spans()
        ids = {
            "shelfsync.tenant_id": str(world.tenant_a1.id),
            "shelfsync.flow_id": wiring.flow_id,
            "shelfsync.run_id": str(run.id),
            "shelfsync.correlation_id": "corr-traced",
        }
        [write] = [s for s in finished if s.name == "destination.write"]
        [job] = [s for s in finished if s.name == "job deliver_destination"]
        for traced_span in (write, job):
            assert traced_span.attributes is not None
            assert {k: traced_span.attributes.get(k) for k in ids} == ids
        assert write.attributes is not None
        assert write.attributes["shelfsync.connector"] == "rest"
        assert write.parent is not None
        assert write.parent.span_id == job.context.span_id
        [request] = [s for s in finished if s.name == "POST /api/v1/events/{domain}"]
        assert request.attributes is not None
        assert request.attributes["shelfsync.tenant_id"] == str(world.tenant_a1.id)
        assert request.attributes["shelfsync.correlation_id"] == "corr-traced"
        assert request.attributes["http.response.status_code"] == 202
        assert format(request.context.trace_id, "032x") == caller_trace  # continues the caller's trace
