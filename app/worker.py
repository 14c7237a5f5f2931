"""The arq worker: job functions, shared resources in ``ctx``, and the outbox relay beside them.

``shelfsync worker`` runs it; any number of workers on any number of hosts share one PostgreSQL and
one Redis, and no job relies on in-process state. Each job is one unit of work for logs and traces; a
worker serves its own metrics on ``METRICS_PORT`` when set (prometheus-client's ``start_http_server``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import time
from collections.abc import Callable, Coroutine
from typing import Any

import structlog
from arq import Worker
from arq.connections import RedisSettings
from arq.cron import CronJob, cron
from arq.worker import Function, func
from prometheus_client import start_http_server
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.alerts.jobs import evaluate_rules, send_alert_webhook
from app.alerts.notifications import ALERT_WEBHOOK_TASK
from app.billing.jobs import (
    ENSURE_BILLING_ACCOUNT_TASK,
    RECONCILE_BILLING_TASK,
    REPORT_USAGE_TASK,
    SEND_METER_EVENTS_TASK,
    ensure_billing_account,
    reconcile_billing,
    report_usage,
    send_meter_events,
)
from app.clock import Clock, SystemClock
from app.database.engine import Database, app_engine
from app.delivery.jobs import DELIVER_TASK, deliver_destination, dispatch_due, nudge_delivery
from app.delivery.queue import NUDGE_TASK
from app.dispatch.slots import holds_slot
from app.flows.jobs import publish_flow, pull_flow, reconcile_due, reconcile_flow, schedule_pulls
from app.flows.publish import PUBLISH_TASK
from app.flows.pull import PULL_TASK
from app.flows.reconcile import RECONCILE_TASK
from app.invoicing.jobs import issue_invoices
from app.logging import unit_of_work
from app.mail.senders import MailSender, sender_from_settings
from app.mail.service import SEND_MAIL_TASK, send_mail
from app.outbox.jobs import MAX_TRIES, outbox_job
from app.outbox.relay import OutboxRelay
from app.plans.quotas import NOTIFY_QUOTA_TASK, notify_quota
from app.promotions.jobs import advance_promotion, promotion_step, promotions_due
from app.promotions.scheduler import ADVANCE_TASK, PROMOTION_STEP_TASK
from app.redis import arq_redis_settings
from app.retention.jobs import apply_retention, ensure_partitions
from app.settings import Settings
from app.tenant_data.deletion import DELETE_TASK
from app.tenant_data.export import EXPORT_TASK
from app.tenant_data.jobs import JOB_TIMEOUT_SECONDS, delete_tenant, export_tenant
from app.tracing import install_tracing, span

log = structlog.get_logger(__name__)

QUEUE_NAME = "shelfsync:queue"

REDIS_OUTAGE_PAUSE_SECONDS = 1.0
"""How long a worker that lost Redis waits before building itself again (arq's own connection retries
come on top)."""

FUNCTIONS = [
    func(outbox_job(send_mail), name=SEND_MAIL_TASK, max_tries=MAX_TRIES),  # type: ignore[arg-type]
    func(outbox_job(nudge_delivery), name=NUDGE_TASK, max_tries=MAX_TRIES),  # type: ignore[arg-type]
    # keep no result, so the next job for the same destination can be queued under the same id at once
    func(deliver_destination, name=DELIVER_TASK, keep_result=0, max_tries=3),
    func(outbox_job(pull_flow), name=PULL_TASK, max_tries=MAX_TRIES),  # type: ignore[arg-type]
    func(outbox_job(reconcile_flow), name=RECONCILE_TASK, max_tries=MAX_TRIES),  # type: ignore[arg-type]
    func(outbox_job(publish_flow), name=PUBLISH_TASK, max_tries=MAX_TRIES),  # type: ignore[arg-type]
    func(outbox_job(promotion_step), name=PROMOTION_STEP_TASK, max_tries=MAX_TRIES),  # type: ignore[arg-type]
    func(advance_promotion, name=ADVANCE_TASK, keep_result=0, max_tries=3),
    func(report_usage, name=REPORT_USAGE_TASK, keep_result=0, max_tries=3),
    # one sender at a time is enough; a second queued while one runs would only find nothing due
    func(send_meter_events, name=SEND_METER_EVENTS_TASK, keep_result=0, max_tries=3),
    func(reconcile_billing, name=RECONCILE_BILLING_TASK, max_tries=3),
    func(ensure_billing_account, name=ENSURE_BILLING_ACCOUNT_TASK, max_tries=3),
    func(outbox_job(send_alert_webhook), name=ALERT_WEBHOOK_TASK, max_tries=MAX_TRIES),  # type: ignore[arg-type]
    func(outbox_job(notify_quota), name=NOTIFY_QUOTA_TASK, max_tries=MAX_TRIES),  # type: ignore[arg-type]
    func(
        outbox_job(export_tenant),  # type: ignore[arg-type]
        name=EXPORT_TASK,
        max_tries=MAX_TRIES,
        timeout=JOB_TIMEOUT_SECONDS,
    ),
    func(
        outbox_job(delete_tenant),  # type: ignore[arg-type]
        name=DELETE_TASK,
        max_tries=MAX_TRIES,
        timeout=JOB_TIMEOUT_SECONDS,
    ),
]
CRON_JOBS = [
    cron(dispatch_due, second=set(range(60)), unique=True, run_at_startup=True, keep_result=0),
    cron(schedule_pulls, second={0}, unique=True, keep_result=0),
    cron(reconcile_due, second={0}, unique=True, keep_result=0),
    cron(promotions_due, second=set(range(60)), unique=True, run_at_startup=True, keep_result=0),
    # daily, so a day the worker was down is made up the next; issuing is idempotent per period
    cron(issue_invoices, hour={0}, minute={10}, second={0}, unique=True, keep_result=0),
    cron(report_usage, minute=set(range(0, 60, 5)), second={5}, unique=True, keep_result=0),
    cron(send_meter_events, second={35}, unique=True, keep_result=0),
    cron(reconcile_billing, hour={4}, minute={20}, second={0}, unique=True, keep_result=0),
    # half a minute off the jobs at :00, so the evaluation does not queue behind them
    cron(evaluate_rules, second={30}, unique=True, keep_result=0),
    # partitions three months ahead; at startup too, so a worker down over a month end catches up
    cron(
        ensure_partitions, hour={1}, minute={0}, second={0}, unique=True, run_at_startup=True, keep_result=0
    ),
    # daily; a day missed is made up the next (every run deletes all that is past retention)
    cron(apply_retention, hour={3}, minute={40}, second={0}, unique=True, keep_result=0, timeout=3600),
]


Job = Callable[..., Coroutine[Any, Any, Any]]


def observed(job: Job) -> Job:
    """Run a job as one unit of work: its log lines start from the job's id (the correlation id until
    the work names its own) and gain the tenant, flow and run as the job learns them, all cleared after;
    with tracing on, the job is a span."""

    @functools.wraps(job)
    async def run(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        job_id = str(ctx.get("job_id") or "") or None
        with (
            unit_of_work(job=job.__name__, job_id=job_id, correlation_id=job_id),
            span(
                f"job {job.__name__}", {"shelfsync.job_id": job_id, "shelfsync.job_try": ctx.get("job_try")}
            ),
        ):
            return await job(ctx, *args, **kwargs)

    return run


def observed_function(function: Function) -> Function:
    """The job as a unit of work, giving back its fair-queue slot when it ends (:mod:`app.dispatch`)."""
    return dataclasses.replace(function, coroutine=holds_slot(observed(function.coroutine)))


def observed_cron(job: CronJob) -> CronJob:
    return dataclasses.replace(job, coroutine=observed(job.coroutine))


def serve_metrics(port: int) -> Any:
    """Serve this process's Prometheus registry on ``port`` (in a thread); the server, to shut down."""
    server, _thread = start_http_server(port)
    return server


class WorkerSettings:
    """arq's settings class; ``build_worker`` fills in the service URLs and resources."""

    functions = FUNCTIONS
    queue_name = QUEUE_NAME
    job_timeout = 300
    keep_result = 3600
    max_jobs = 20  # the default of settings.worker_max_jobs (WORKER_MAX_JOBS)


async def release_resources(ctx: dict[str, Any]) -> None:
    """Stop the outbox relay, the metrics server and close the database pool; safe to call again
    (after a failed close)."""
    task = ctx.pop("relay_task", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    server = ctx.pop("metrics_server", None)
    if server is not None:
        server.shutdown()
        server.server_close()
    database = ctx.pop("db", None)
    if database is not None:
        await database.dispose()


def build_worker(
    settings: Settings,
    *,
    burst: bool = False,
    relay: bool = True,
    mail_sender: MailSender | None = None,
    clock: Clock | None = None,
) -> Worker:
    """A worker bound to ``settings`` (service URLs resolved). ``burst`` drains the queue and stops."""
    assert settings.redis_url, "resolve services before building a worker"

    async def on_startup(ctx: dict[str, Any]) -> None:
        install_tracing(settings, "shelfsync-worker")
        if settings.metrics_port is not None:
            ctx["metrics_server"] = serve_metrics(settings.metrics_port)
        ctx["settings"] = settings
        ctx["clock"] = clock or SystemClock()
        ctx["db"] = Database.from_engine(app_engine(settings, pool_size=5))
        ctx["mail_sender"] = mail_sender or sender_from_settings(settings)
        ctx["queue_name"] = QUEUE_NAME
        if relay:
            ctx["relay"] = OutboxRelay(
                ctx["db"], ctx["redis"], queue_name=QUEUE_NAME, direct_tasks=frozenset({NUDGE_TASK})
            )
            ctx["relay_task"] = asyncio.create_task(ctx["relay"].run(), name="outbox-relay")
        log.info("worker.started", queue=QUEUE_NAME, relay=relay)

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        await release_resources(ctx)

    redis_settings: RedisSettings = arq_redis_settings(settings.redis_url)
    redis_settings.conn_retries = 5 if not burst else 0
    return Worker(
        functions=[observed_function(f) for f in WorkerSettings.functions],
        queue_name=WorkerSettings.queue_name,
        redis_settings=redis_settings,
        cron_jobs=[observed_cron(c) for c in CRON_JOBS] if not burst else [],
        on_startup=on_startup,
        on_shutdown=on_shutdown,
        job_timeout=WorkerSettings.job_timeout,
        keep_result=WorkerSettings.keep_result,
        max_jobs=settings.worker_max_jobs,
        burst=burst,
        poll_delay=0 if burst else 0.5,
        handle_signals=not burst,
    )


def run_worker(settings: Settings) -> None:
    """Run a worker until it is told to stop (SIGINT, SIGTERM), through Redis outages.

    arq ends its loop (and would end the process) at the first Redis error; the work itself waits in
    PostgreSQL (outbox rows, queued deliveries), so the worker lets its running jobs finish, releases
    its resources and is built again — its connection retries wait for Redis to come back.
    """
    while True:
        worker = build_worker(settings)
        try:
            worker.run()
            return
        except (RedisConnectionError, RedisTimeoutError) as error:
            log.warning("worker.redis_lost", error=f"{type(error).__name__}: {error}")
            # arq's close stops at the first error, before its shutdown hook: release what it did not
            worker.loop.run_until_complete(_discard(worker))
        time.sleep(REDIS_OUTAGE_PAUSE_SECONDS)


async def _discard(worker: Worker) -> None:
    await release_resources(worker.ctx)
    pool = worker._pool  # arq keeps the pool private; None once closed
    if pool is not None:
        with contextlib.suppress(RedisConnectionError, RedisTimeoutError, OSError):
            await pool.aclose()
        worker._pool = None
