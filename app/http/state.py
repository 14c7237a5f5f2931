"""What every request handler can reach: settings, database, Redis, clock (held on ``app.state``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request
from redis.asyncio import Redis

from app.clock import Clock
from app.database.engine import Database
from app.settings import Settings


@dataclass
class Services:
    settings: Settings
    db: Database
    redis: Redis
    clock: Clock


def services_of(request: Request[Any, Any, Any]) -> Services:
    services: Services = request.app.state.services
    return services
