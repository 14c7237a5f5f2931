"""``/metrics`` in Prometheus's text format.

- Requests: Litestar's Prometheus middleware, labelled by method, route *template* and status (never a
  raw path, so no SKU or record id can become a label).
- The engine's state, read from PostgreSQL at each scrape (workers run in other processes; stored facts
  are the truth): the delivery backlog and its oldest due time, open dead letters, pending outbox work,
  runs of the last five minutes by kind and status, promotion deployments by status; and the arq
  queue's depth and the retailers waiting in each lane of the fair queue, read from Redis.
- Work done in this process (runs finished, records delivered, destination call latency:
  ``app/flows/metrics.py``, ``app/delivery/metrics.py``). Workers are other processes: each serves its
  own on ``METRICS_PORT`` (``app/worker.py``), and Prometheus scrapes them beside this endpoint.

Labels are bounded sets (route template, domain, kind, status, connector kind): never a tenant id, SKU,
record id or URL.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog
from litestar import Request, get
from litestar.plugins.prometheus import PrometheusConfig
from litestar.response import Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Gauge, generate_latest
from redis.exceptions import RedisError
from sqlalchemy import func, select

from app.database.scope import DbScope
from app.delivery.models import DeadLetter, QueuedDelivery
from app.dispatch.fair_queue import LANES, tenants_waiting
from app.flows.models import Run
from app.http.state import services_of
from app.outbox.models import OutboxMessage
from app.promotions.models import PromotionDeployment
from app.worker import QUEUE_NAME

log = structlog.get_logger(__name__)

RECENT = timedelta(minutes=5)

BACKLOG = Gauge("shelfsync_delivery_backlog", "Changes queued for destinations, not yet delivered")
BACKLOG_AGE = Gauge(
    "shelfsync_delivery_backlog_oldest_due_seconds", "How long the oldest due change has waited"
)
DEAD_LETTERS = Gauge("shelfsync_dead_letters_open", "Dead letters waiting for a person")
OUTBOX = Gauge("shelfsync_outbox_pending", "Outbox rows not yet processed by a worker")
RUNS = Gauge("shelfsync_runs_recent", "Runs started in the last 5 minutes", ["kind", "status"])
QUEUE_DEPTH = Gauge("shelfsync_queue_depth", "Jobs waiting in the arq queue (Redis), due or deferred")
DEPLOYMENTS = Gauge("shelfsync_promotion_deployments", "Promotion deployments by status", ["status"])
FAIR_WAITING = Gauge(
    "shelfsync_fair_queue_tenants_waiting",
    "Retailers with work waiting for its turn in the fair queue",
    ["lane"],
)


def metrics_config() -> PrometheusConfig:
    return PrometheusConfig(
        app_name="shelfsync",
        prefix="shelfsync",
        group_path=True,
        exclude=["^/metrics", "^/static/"],
        exclude_unhandled_paths=True,
    )


async def refresh_facts(request: Request[Any, Any, Any]) -> None:
    services = services_of(request)
    now = services.clock.now()
    async with services.db.transaction(DbScope.system()) as session:
        total, oldest_due = (
            await session.execute(
                select(func.count(), func.min(QueuedDelivery.due_at).filter(QueuedDelivery.due_at <= now))
            )
        ).one()
        BACKLOG.set(total or 0)
        BACKLOG_AGE.set((now - oldest_due).total_seconds() if oldest_due is not None else 0)
        DEAD_LETTERS.set(
            await session.scalar(
                select(func.count()).select_from(DeadLetter).where(DeadLetter.status == "open")
            )
            or 0
        )
        OUTBOX.set(
            await session.scalar(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.processed_at.is_(None))
            )
            or 0
        )
        RUNS.clear()
        for kind, status, runs in await session.execute(
            select(Run.kind, Run.status, func.count())
            .where(Run.started_at >= now - RECENT)
            .group_by(Run.kind, Run.status)
        ):
            RUNS.labels(kind, status).set(runs)
        DEPLOYMENTS.clear()
        for status, deployments in await session.execute(
            select(PromotionDeployment.status, func.count()).group_by(PromotionDeployment.status)
        ):
            DEPLOYMENTS.labels(status).set(deployments)
    try:
        QUEUE_DEPTH.set(await services.redis.zcard(QUEUE_NAME))
        for lane in LANES:
            FAIR_WAITING.labels(lane).set(await tenants_waiting(services.redis, lane))
    except RedisError as error:
        # the rest of the scrape still matters most when Redis is away: show the depth as unknown
        QUEUE_DEPTH.set(float("nan"))
        for lane in LANES:
            FAIR_WAITING.labels(lane).set(float("nan"))
        log.warning("metrics.queue_depth_unavailable", error=str(error))


@get("/metrics", include_in_schema=False)
async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The process's request metrics and the engine's state, in Prometheus's text format."""
    await refresh_facts(request)
    return Response(generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})
