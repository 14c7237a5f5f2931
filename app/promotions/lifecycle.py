"""The promotion state machine (DESIGN §5): only legal transitions, each recorded with who, when, why."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.promotions.models import PromotionEntry, PromotionTransition

TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"validated"}),
    "validated": frozenset({"approved", "draft"}),
    "approved": frozenset({"scheduled", "draft"}),
    "scheduled": frozenset({"activating", "paused", "draft"}),
    "activating": frozenset({"active", "rolled_back"}),
    "active": frozenset({"expiring", "paused", "rolled_back"}),
    "expiring": frozenset({"expired"}),
    "paused": frozenset({"active", "scheduled", "rolled_back", "expiring"}),
    "expired": frozenset(),
    "rolled_back": frozenset({"draft"}),
}
"""Each state and the states it may move to."""

SCHEDULER = "scheduler"
"""The actor recorded for changes the clock makes (window start and end, deployments settled)."""


class IllegalTransitionError(Exception):
    def __init__(self, current: str, wanted: str) -> None:
        super().__init__(f"a {current} promotion cannot become {wanted}")
        self.current = current
        self.wanted = wanted
        self.allowed = sorted(TRANSITIONS[current])


def move(
    session: AsyncSession,
    promotion: PromotionEntry,
    to: str,
    *,
    actor: str,
    now: datetime,
    reason: str | None = None,
) -> PromotionTransition:
    """Change the state, or raise ``IllegalTransitionError`` naming the allowed ones."""
    if to not in TRANSITIONS.get(promotion.state, frozenset()):
        raise IllegalTransitionError(promotion.state, to)
    transition = PromotionTransition(
        tenant_id=promotion.tenant_id,
        promotion_id=promotion.id,
        from_state=promotion.state,
        to_state=to,
        actor=actor,
        reason=reason,
        at=now,
    )
    promotion.state = to
    promotion.updated_at = now
    session.add(transition)
    return transition
