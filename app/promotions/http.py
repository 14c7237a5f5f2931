"""What the promotion endpoints share: the views they answer with, and finding a promotion of the
caller's retailer, naming the caller, and the 409 for an illegal state change."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.http.problems import Problem
from app.promotions.lifecycle import IllegalTransitionError
from app.promotions.models import PromotionDeployment, PromotionEntry, PromotionTransition
from tenants.api_keys import ApiPrincipal


class TransitionView(msgspec.Struct):
    from_state: str
    to_state: str
    actor: str
    reason: str | None
    at: datetime


class DeploymentView(msgspec.Struct):
    """A promotion on one destination: where it is, what it should show, and when each step happened."""

    destination_id: uuid.UUID
    connection: str
    kind: str
    stage: int
    goal: str
    status: str
    attempts: int
    records: int
    last_error: str | None
    next_attempt_at: datetime | None
    deployed_at: datetime | None
    verified_at: datetime | None
    failed_at: datetime | None
    restored_at: datetime | None
    lateness_seconds: float | None
    """Deployed-at minus the window's start, for the activation SLA."""

    @classmethod
    def of(cls, row: PromotionDeployment) -> DeploymentView:
        return cls(
            row.destination_id,
            row.connection_name,
            row.kind,
            row.stage,
            row.goal,
            row.status,
            row.attempts,
            row.records,
            row.last_error,
            row.next_attempt_at,
            row.deployed_at,
            row.verified_at,
            row.failed_at,
            row.restored_at,
            None if row.lateness_ms is None else row.lateness_ms / 1000,
        )


class PromotionView(msgspec.Struct):
    id: uuid.UUID
    code: str
    state: str
    promotion: dict[str, Any]
    requires_second_approver: bool
    proposed_by: str
    approved_by: str | None
    validation: dict[str, Any]
    sequence: list[str]
    created_at: datetime
    history: list[TransitionView] | None = None
    deployments: list[DeploymentView] | None = None

    @classmethod
    def of(
        cls,
        row: PromotionEntry,
        history: list[PromotionTransition] | None = None,
        deployments: list[PromotionDeployment] | None = None,
    ) -> PromotionView:
        return cls(
            row.id,
            row.code,
            row.state,
            row.spec,
            row.requires_second_approver,
            row.proposed_by,
            row.approved_by,
            row.validation,
            row.sequence,
            row.created_at,
            None
            if history is None
            else [TransitionView(t.from_state, t.to_state, t.actor, t.reason, t.at) for t in history],
            None if deployments is None else [DeploymentView.of(d) for d in deployments],
        )


def illegal_problem(error: IllegalTransitionError) -> Problem:
    return Problem(
        409,
        str(error),
        type_slug="illegal-transition",
        state=error.current,
        allowed=error.allowed,
    )


def actor_of(principal: ApiPrincipal) -> str:
    return f"api_key:{principal.key_id}"


async def load_promotion(
    session: AsyncSession, principal: ApiPrincipal, promotion_id: uuid.UUID, *, for_update: bool = False
) -> PromotionEntry:
    query = select(PromotionEntry).where(
        PromotionEntry.tenant_id == principal.tenant_id, PromotionEntry.id == promotion_id
    )
    row = await session.scalar(query.with_for_update() if for_update else query)
    if row is None:
        raise Problem(404, "No such promotion.")
    return row
