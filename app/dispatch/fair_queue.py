"""The fair queue: tenant work waits here, in Redis, and is handed to arq round-robin across tenants,
at most ``cap`` jobs of a tenant per lane at a time, the urgent lane before the bulk one.

Why not arq's queue alone: arq starts jobs in the order they were queued, so a retailer who queued a
thousand bulk jobs first (a full publish to many destinations) would hold every worker until they were
done, and another retailer's last-unit stock update would wait behind them. Here each tenant has a queue
per lane; a hand-out walks the lane's ring of tenants with waiting work, giving each tenant under its cap
one job per turn, and only handed-out jobs reach arq. A tenant's cap (its plan's ``concurrency``) bounds
its jobs in arq and running together, so the rest of the workers stay free for everyone else. Urgent
jobs also go into arq scored ahead of every bulk job, so a free worker takes them first.

All state is in Redis and every change is one Lua script, so any number of workers on any number of
hosts hand out from the same queue without handing a job out twice. A job's slot is released when the
job ends (:mod:`app.dispatch.slots`); a slot whose worker died lapses after ``SLOT_TTL_SECONDS``. What
Redis loses is rebuilt from PostgreSQL: the outbox relay hands stale rows out again, and the
once-a-second delivery sweep finds due destinations again.

Keys (``shelfsync:fair:`` prefix; one Redis, not a cluster: the scripts name keys they compute):
``job:<pending id>`` the waiting job (its presence de-duplicates), ``<lane>:queue:<tenant>`` a tenant's
waiting ids, ``<lane>:ring`` + ``<lane>:ringset`` tenants with waiting work in turn order,
``<lane>:running:<tenant>`` the tenant's slots (a sorted set scored by lapse time), ``cap:<tenant>``.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import structlog
from arq.connections import ArqRedis
from redis.asyncio import Redis

log = structlog.get_logger(__name__)

Lane = Literal["urgent", "bulk"]
LANES: tuple[Lane, ...] = ("urgent", "bulk")

PREFIX = "shelfsync:fair:"
SLOT_TTL_SECONDS = 330
"""A slot lapses this long after its hand-out if no job released it (arq's job timeout, 300 s, plus a
margin): the cost of a killed worker is one slot of its tenant for a few minutes, never a lost job."""
URGENT_HEAD_START = timedelta(minutes=10)
"""Urgent jobs enter arq scored this far in the past, ahead of any bulk job queued since."""
JOB_EXPIRES = timedelta(days=1)
"""How long arq keeps a queued job; given explicitly because a score in the past would otherwise
shorten it (arq counts expiry from the score)."""
HAND_OUT_BATCH = 200
WAITING_TTL_SECONDS = 86_400
CAP_TTL_SECONDS = 600

# KEYS[1] job:<pending>, KEYS[2] <lane>:queue:<tenant>, KEYS[3] <lane>:ring, KEYS[4] <lane>:ringset,
# KEYS[5] cap:<tenant>; ARGV job json, pending id, tenant, cap ('' keeps the stored one), waiting ttl,
# cap ttl. 1 if queued, 0 if the same pending id already waits.
_SUBMIT = """
if ARGV[4] ~= '' then
  redis.call('SET', KEYS[5], ARGV[4], 'EX', tonumber(ARGV[6]))
end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', tonumber(ARGV[5])) then
  return 0
end
redis.call('RPUSH', KEYS[2], ARGV[2])
if redis.call('SADD', KEYS[4], ARGV[3]) == 1 then
  redis.call('RPUSH', KEYS[3], ARGV[3])
end
return 1
"""

# ARGV prefix, now ms, slot ttl ms, most jobs to hand out, default cap. Returns job json, slot id, ... in
# hand-out order. Each lane's ring is walked one tenant at a time: a tenant under its cap gives one job
# and goes to the back of the ring if more waits; the walk ends after a whole turn gave nothing.
_HAND_OUT = """
local prefix = ARGV[1]
local now_ms = tonumber(ARGV[2])
local ttl_ms = tonumber(ARGV[3])
local most = tonumber(ARGV[4])
local default_cap = tonumber(ARGV[5])
local out = {}
for _, lane in ipairs({'urgent', 'bulk'}) do
  local ring = prefix .. lane .. ':ring'
  local ringset = prefix .. lane .. ':ringset'
  local turns = redis.call('LLEN', ring)
  local idle = 0
  while #out < 2 * most and turns > 0 and idle < turns do
    local tenant = redis.call('LPOP', ring)
    local queue = prefix .. lane .. ':queue:' .. tenant
    local running = prefix .. lane .. ':running:' .. tenant
    redis.call('ZREMRANGEBYSCORE', running, '-inf', now_ms)
    local cap = tonumber(redis.call('GET', prefix .. 'cap:' .. tenant)) or default_cap
    local gave = false
    if redis.call('ZCARD', running) < cap then
      local pending = redis.call('LPOP', queue)
      if pending then
        local job_key = prefix .. 'job:' .. pending
        local job = redis.call('GET', job_key)
        redis.call('DEL', job_key)
        if job then
          local slot = pending .. '@' .. now_ms
          redis.call('ZADD', running, now_ms + ttl_ms, slot)
          table.insert(out, job)
          table.insert(out, slot)
          gave = true
        end
      end
    end
    if redis.call('LLEN', queue) > 0 then
      redis.call('RPUSH', ring, tenant)
    else
      redis.call('SREM', ringset, tenant)
      turns = turns - 1
    end
    if gave then idle = 0 else idle = idle + 1 end
  end
end
return out
"""


@dataclass(frozen=True, slots=True)
class FairJob:
    """A tenant's arq job waiting for its turn. ``pending_id`` de-duplicates while it waits (a second
    wake of the same destination adds nothing); ``job_id`` is arq's id once handed out."""

    tenant_id: str
    lane: Lane
    task: str
    args: list[Any]
    pending_id: str
    job_id: str


@dataclass(frozen=True, slots=True)
class Slot:
    """What a handed-out job holds until it ends: passed to the job as its ``fair_slot`` argument."""

    tenant_id: str
    lane: Lane
    slot_id: str

    def running_key(self) -> str:
        return running_key(self.lane, self.tenant_id)


def lane_of(is_urgent: bool) -> Lane:
    return "urgent" if is_urgent else "bulk"


def running_key(lane: Lane, tenant_id: str) -> str:
    return f"{PREFIX}{lane}:running:{tenant_id}"


def arq_score(lane: Lane, now: float) -> datetime:
    """When arq should consider the job due: urgent jobs ahead of every bulk job queued lately."""
    due = datetime.fromtimestamp(now, UTC)
    return due - URGENT_HEAD_START if lane == "urgent" else due


class FairQueue:
    """Submitting tenant work, handing it to arq in fair order, and releasing slots."""

    def __init__(self, redis: ArqRedis, queue_name: str, *, default_cap: int = 4) -> None:
        self.redis, self.queue_name, self.default_cap = redis, queue_name, default_cap
        self._submit = redis.register_script(_SUBMIT)
        self._hand_out = redis.register_script(_HAND_OUT)

    async def submit(self, job: FairJob, cap: int | None) -> bool:
        """Queue ``job`` behind its tenant's other work in its lane; False if it already waits. ``cap``
        (the plan's concurrency) is stored for the tenant; None keeps the one stored last (the relay and
        the once-a-second sweep refresh it from the plans), or the default."""
        keys = [
            f"{PREFIX}job:{job.pending_id}",
            f"{PREFIX}{job.lane}:queue:{job.tenant_id}",
            f"{PREFIX}{job.lane}:ring",
            f"{PREFIX}{job.lane}:ringset",
            f"{PREFIX}cap:{job.tenant_id}",
        ]
        args: list[str | int] = [
            json.dumps(asdict(job)),
            job.pending_id,
            job.tenant_id,
            "" if cap is None else cap,
            WAITING_TTL_SECONDS,
            CAP_TTL_SECONDS,
        ]
        return bool(await self._submit(keys=keys, args=args))

    async def hand_out(self, most: int = HAND_OUT_BATCH) -> int:
        """Move the jobs whose turn it is into arq (urgent first, round-robin across tenants, each under
        its cap); returns how many went. Safe to call from anywhere, any time, concurrently."""
        now = time.time()
        reply = await self._hand_out(
            keys=[], args=[PREFIX, int(now * 1000), SLOT_TTL_SECONDS * 1000, most, self.default_cap]
        )
        handed = 0
        for n, (raw_job, raw_slot) in enumerate(zip(reply[::2], reply[1::2], strict=True)):
            job = FairJob(**json.loads(raw_job))
            slot = Slot(
                job.tenant_id, job.lane, raw_slot.decode() if isinstance(raw_slot, bytes) else raw_slot
            )
            queued = await self.redis.enqueue_job(
                job.task,
                *job.args,
                fair_slot=asdict(slot),
                _job_id=job.job_id,
                _queue_name=self.queue_name,
                # a millisecond apart, so arq (which orders equal scores by id) keeps the hand-out order
                _defer_until=arq_score(job.lane, now + n / 1000),
                _expires=JOB_EXPIRES,
            )
            if queued is None:  # arq holds a job of that id already (still running): it does the work
                await release(self.redis, slot)
            else:
                handed += 1
        return handed


def tenant_keys(tenant_id: str) -> list[str]:
    """The keys named by a tenant (its lanes' queues and slots, its cap), for erasing a tenant: its entry
    in a ring goes by itself at the next hand-out, which finds its queue empty."""
    return [
        f"{PREFIX}cap:{tenant_id}",
        *(f"{PREFIX}{lane}:queue:{tenant_id}" for lane in LANES),
        *(running_key(lane, tenant_id) for lane in LANES),
    ]


async def release(redis: Redis, slot: Slot) -> None:
    await redis.zrem(slot.running_key(), slot.slot_id)


async def waiting(redis: Redis, lane: Lane, tenant_id: str) -> int:
    """Jobs of the tenant waiting in the lane (for metrics and tests)."""
    count: int = await redis.llen(f"{PREFIX}{lane}:queue:{tenant_id}")  # type: ignore[misc]
    return count


async def others_waiting(redis: Redis, lane: Lane, tenant_id: str, own_pending_id: str) -> bool:
    """Whether the tenant has work waiting in the lane other than ``own_pending_id`` (a job's own next
    turn, queued by a wake while it runs, is not someone else's)."""
    head = await redis.lrange(f"{PREFIX}{lane}:queue:{tenant_id}", 0, 1)  # type: ignore[misc]
    return any((item.decode() if isinstance(item, bytes) else item) != own_pending_id for item in head)


async def tenants_waiting(redis: Redis, lane: Lane) -> int:
    """Retailers with work waiting in the lane (the ring's length; for metrics)."""
    count: int = await redis.llen(f"{PREFIX}{lane}:ring")  # type: ignore[misc]
    return count


async def running(redis: Redis, lane: Lane, tenant_id: str) -> int:
    """Slots the tenant holds in the lane, lapsed ones included until the next hand-out prunes them."""
    return int(await redis.zcard(running_key(lane, tenant_id)))
