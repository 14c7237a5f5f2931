"""``/api/v1/promotions/{id}``: ``/activate``, ``/pause``, ``/rollback`` (for every destination, or the
ones named) and ``/deployments``, the per-destination view with timestamps and activation lateness."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import Provide
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.auth import provide_principal, provide_tenant_session, requires_scope
from app.http.actor import request_actor
from app.http.correlation import correlation_id_of
from app.http.problems import Problem
from app.http.state import services_of
from app.promotions import actions
from app.promotions.actions import Decision, UnknownDestinationError
from app.promotions.deployments import deployments_of
from app.promotions.http import DeploymentView, PromotionView, actor_of, illegal_problem, load_promotion
from app.promotions.lifecycle import IllegalTransitionError
from tenants.api_keys import ApiPrincipal
from tenants.audit import record_audit


class DeploymentAction(msgspec.Struct, forbid_unknown_fields=True):
    destinations: Annotated[list[uuid.UUID], msgspec.Meta(min_length=1, max_length=200)] | None = None
    """Flow destination ids (as the deployment view lists them); omitted: the whole promotion."""
    reason: Annotated[str, msgspec.Meta(max_length=2000)] | None = None


Action = Callable[..., Awaitable[None]]


async def _act(
    name: str,
    action: Action,
    request: Request[Any, Any, Any],
    session: AsyncSession,
    principal: ApiPrincipal,
    promotion_id: uuid.UUID,
    data: DeploymentAction,
) -> PromotionView:
    row = await load_promotion(session, principal, promotion_id, for_update=True)
    before = row.state
    try:
        decision = Decision(
            actor_of(principal),
            services_of(request).clock.now(),
            data.reason,
            correlation_id_of(request.scope),
        )
        await action(session, row, data.destinations, decision)
    except IllegalTransitionError as error:
        raise illegal_problem(error) from None
    except UnknownDestinationError as error:
        raise Problem(
            422,
            str(error),
            errors=[
                {"path": "destinations", "reason": f"no deployment on {destination}"}
                for destination in error.missing
            ],
        ) from None
    await record_audit(
        session,
        request_actor(request, "api_key", principal.key_id),
        action=f"promotion.{name}",
        target_type="promotion",
        target_id=row.id,
        tenant_id=principal.tenant_id,
        changes={
            "state": {"before": before, "after": row.state},
            "destinations": None if data.destinations is None else [str(d) for d in data.destinations],
            "reason": data.reason,
        },
    )
    return PromotionView.of(row, None, await deployments_of(session, row.id))


class PromotionDeploymentController(Controller):
    path = "/promotions/{promotion_id:uuid}"
    tags = ["promotions"]
    dependencies = {"session": Provide(provide_tenant_session), "principal": Provide(provide_principal)}

    @post(
        "/activate",
        operation_id="ActivatePromotion",
        guards=[requires_scope("promotions:write")],
        status_code=200,
    )
    async def activate(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        principal: ApiPrincipal,
        promotion_id: uuid.UUID,
        data: DeploymentAction,
    ) -> PromotionView:
        """An approved promotion is scheduled: the scheduler activates it at the window's start (at once
        if that has passed). A paused one resumes. With ``destinations``, an active promotion is deployed
        again where it was paused or rolled back."""
        return await _act("activated", actions.activate, request, session, principal, promotion_id, data)

    @post(
        "/pause", operation_id="PausePromotion", guards=[requires_scope("promotions:write")], status_code=200
    )
    async def pause(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        principal: ApiPrincipal,
        promotion_id: uuid.UUID,
        data: DeploymentAction,
    ) -> PromotionView:
        """Put the regular prices back everywhere (or on ``destinations``) until ``/activate``."""
        return await _act("paused", actions.pause, request, session, principal, promotion_id, data)

    @post(
        "/rollback",
        operation_id="RollbackPromotion",
        guards=[requires_scope("promotions:write")],
        status_code=200,
    )
    async def rollback(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        principal: ApiPrincipal,
        promotion_id: uuid.UUID,
        data: DeploymentAction,
    ) -> PromotionView:
        """Restore the prices in force before the promotion, everywhere (the promotion is then rolled
        back) or on ``destinations`` only (it stays active elsewhere)."""
        return await _act("rolled_back", actions.rollback, request, session, principal, promotion_id, data)

    @get(
        "/deployments",
        operation_id="ListPromotionDeployments",
        guards=[requires_scope("promotions:read")],
    )
    async def deployments(
        self, session: AsyncSession, principal: ApiPrincipal, promotion_id: uuid.UUID
    ) -> list[DeploymentView]:
        """One row per destination in deployment order: goal, status, attempts, last error, timestamps
        and activation lateness."""
        row = await load_promotion(session, principal, promotion_id)
        return [DeploymentView.of(d) for d in await deployments_of(session, row.id)]
