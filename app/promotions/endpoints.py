"""``/api/v1/promotions``: propose, edit (as a draft), validate, approve — each state change audited.
Activation, pause and rollback are in ``deployment_endpoints``."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, get, patch, post
from litestar.di import Provide
from litestar.params import Parameter, QueryParameter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.auth import provide_principal, provide_tenant_session, requires_scope
from app.http.actor import request_actor
from app.http.pagination import DEFAULT_LIMIT, Page, newest_first
from app.http.problems import PROBLEM_JSON, Problem, problem_body
from app.http.state import services_of
from app.promotions.deployments import deployments_of
from app.promotions.http import PromotionView, actor_of, illegal_problem, load_promotion
from app.promotions.lifecycle import IllegalTransitionError, move
from app.promotions.models import PromotionEntry, PromotionTransition
from app.promotions.validation import validate_promotion
from connectors.canonical import CanonicalError, Promotion, parse, to_builtins
from tenants.api_keys import ApiPrincipal
from tenants.audit import record_audit

ConnectorKind = Literal["erp", "ecommerce", "pos", "marketplace", "wms", "file", "edi", "webhook"]
KindSequence = Annotated[list[ConnectorKind], msgspec.Meta(max_length=8)]


class ProposePromotion(msgspec.Struct, forbid_unknown_fields=True):
    promotion: dict[str, Any]
    """A canonical promotion: code, name, rule, window, eligibility, exclusions, limits, funding."""
    requires_second_approver: bool = True
    """Two-person rule: the key that approves must not be the one that proposed."""
    sequence: KindSequence = msgspec.field(default_factory=list)
    """Connector kinds in deployment order; kinds left out deploy last. Empty: file, pos, edi,
    ecommerce, marketplace."""


class EditPromotion(msgspec.Struct, forbid_unknown_fields=True):
    promotion: dict[str, Any]
    sequence: KindSequence | None = None


class ValidateRequest(msgspec.Struct, forbid_unknown_fields=True):
    min_available: Annotated[int, msgspec.Meta(ge=0)] = 1
    """Units each eligible SKU must have available for the expected uplift."""


class DecisionRequest(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=2000)] | None = None


def _canonical(value: dict[str, Any]) -> dict[str, Any]:
    try:
        promotion = parse(Promotion, value)
    except CanonicalError as error:
        path = f"promotion.{error.path}" if error.path else "promotion"
        raise Problem(
            422, "The promotion is not valid.", errors=[{"path": path, "reason": error.reason}]
        ) from None
    spec: dict[str, Any] = to_builtins(promotion)
    return spec


def _window_of(row: PromotionEntry) -> None:
    """Copy the window out of the spec, where the scheduler's indexed sweep finds it."""
    window = parse(Promotion, row.spec).window
    row.starts_at, row.ends_at = window.starts_at, window.ends_at


class PromotionController(Controller):
    path = "/promotions"
    tags = ["promotions"]
    dependencies = {"session": Provide(provide_tenant_session), "principal": Provide(provide_principal)}

    @get("/", operation_id="ListPromotions", guards=[requires_scope("promotions:read")])
    async def list_promotions(
        self,
        session: AsyncSession,
        principal: ApiPrincipal,
        # ``state`` is Litestar's application state as a parameter name, hence the alias
        lifecycle_state: Annotated[str | None, QueryParameter(name="state")] = None,
        limit: Annotated[int, Parameter(ge=1, le=500)] = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page[PromotionView]:
        """The tenant's promotions, newest first; filter by ``state``."""
        query = select(PromotionEntry).where(PromotionEntry.tenant_id == principal.tenant_id)
        if lifecycle_state is not None:
            query = query.where(PromotionEntry.state == lifecycle_state)
        return await newest_first(
            session, query, (PromotionEntry.created_at, PromotionEntry.id), limit, cursor, PromotionView.of
        )

    @post("/", operation_id="ProposePromotion", guards=[requires_scope("promotions:write")])
    async def propose(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        principal: ApiPrincipal,
        data: ProposePromotion,
    ) -> PromotionView:
        """Propose a promotion; it starts as a draft."""
        spec = _canonical(data.promotion)
        taken = await session.scalar(
            select(PromotionEntry.id).where(
                PromotionEntry.tenant_id == principal.tenant_id, PromotionEntry.code == spec["code"]
            )
        )
        if taken:
            raise Problem(409, f"A promotion {spec['code']!r} exists.", type_slug="duplicate-code")
        row = PromotionEntry(
            tenant_id=principal.tenant_id,
            code=spec["code"],
            spec=spec,
            state="draft",
            requires_second_approver=data.requires_second_approver,
            proposed_by=actor_of(principal),
            validation={},
            sequence=list(dict.fromkeys(data.sequence)),
        )
        _window_of(row)
        session.add(row)
        await session.flush()
        await record_audit(
            session,
            request_actor(request, "api_key", principal.key_id),
            action="promotion.proposed",
            target_type="promotion",
            target_id=row.id,
            tenant_id=principal.tenant_id,
            changes={"after": {"code": row.code, "state": row.state}},
        )
        return PromotionView.of(row, [])

    @get("/{promotion_id:uuid}", operation_id="GetPromotion", guards=[requires_scope("promotions:read")])
    async def read(
        self, session: AsyncSession, principal: ApiPrincipal, promotion_id: uuid.UUID
    ) -> PromotionView:
        """One promotion with its state history (who moved it, when, why) and its deployment on each
        destination."""
        row = await load_promotion(session, principal, promotion_id)
        history = list(
            (
                await session.scalars(
                    select(PromotionTransition)
                    .where(PromotionTransition.promotion_id == row.id)
                    .order_by(PromotionTransition.id)
                )
            ).all()
        )
        return PromotionView.of(row, history, await deployments_of(session, row.id))

    @patch("/{promotion_id:uuid}", operation_id="EditPromotion", guards=[requires_scope("promotions:write")])
    async def edit(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        principal: ApiPrincipal,
        promotion_id: uuid.UUID,
        data: EditPromotion,
    ) -> PromotionView:
        """Change a draft (reopen a validated or approved promotion first)."""
        row = await load_promotion(session, principal, promotion_id)
        if row.state != "draft":
            raise Problem(
                409, f"Only drafts can be edited; this one is {row.state}.", type_slug="not-a-draft"
            )
        spec = _canonical(data.promotion)
        if spec["code"] != row.code:
            raise Problem(
                422, "The code cannot change.", errors=[{"path": "promotion.code", "reason": "is fixed"}]
            )
        before, row.spec, row.validation = row.spec, spec, {}
        _window_of(row)
        if data.sequence is not None:
            row.sequence = list(dict.fromkeys(data.sequence))
        row.updated_at = services_of(request).clock.now()
        await record_audit(
            session,
            request_actor(request, "api_key", principal.key_id),
            action="promotion.edited",
            target_type="promotion",
            target_id=row.id,
            tenant_id=principal.tenant_id,
            changes={"before": before, "after": spec},
        )
        return PromotionView.of(row)

    @post(
        "/{promotion_id:uuid}/validate",
        operation_id="ValidatePromotion",
        guards=[requires_scope("promotions:write")],
        status_code=200,
    )
    async def validate(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        principal: ApiPrincipal,
        promotion_id: uuid.UUID,
        data: ValidateRequest,
    ) -> Response[Any]:
        """Run every rule; a draft that passes becomes validated. Failures are listed per rule with the
        offending SKUs, locations, channels or promotions (422)."""
        row = await load_promotion(session, principal, promotion_id)
        if row.state not in ("draft", "validated"):
            raise illegal_problem(IllegalTransitionError(row.state, "validated"))
        report = await validate_promotion(session, row, min_available=data.min_available)
        row.validation = report.as_dict()
        if not report.ok:
            # an answer, not an exception: the report is kept on the promotion for the portal to show
            body = problem_body(
                422,
                f"{len(report.failures)} rule(s) failed.",
                request.url.path,
                type_slug="promotion-invalid",
                errors=row.validation["failures"],
            )
            return Response(body, status_code=422, media_type=PROBLEM_JSON)
        if row.state == "draft":
            move(session, row, "validated", actor=actor_of(principal), now=services_of(request).clock.now())
            await record_audit(
                session,
                request_actor(request, "api_key", principal.key_id),
                action="promotion.validated",
                target_type="promotion",
                target_id=row.id,
                tenant_id=principal.tenant_id,
            )
        return Response(PromotionView.of(row))

    @post(
        "/{promotion_id:uuid}/approve",
        operation_id="ApprovePromotion",
        guards=[requires_scope("promotions:write")],
        status_code=200,
    )
    async def approve(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        principal: ApiPrincipal,
        promotion_id: uuid.UUID,
        data: DecisionRequest,
    ) -> PromotionView:
        """Approve a validated promotion; with the two-person rule, not by the key that proposed it."""
        row = await load_promotion(session, principal, promotion_id)
        if row.requires_second_approver and row.proposed_by == actor_of(principal):
            raise Problem(
                403,
                "The two-person rule is on: a promotion is approved by someone other than who proposed it.",
                type_slug="two-person-rule",
            )
        try:
            move(
                session,
                row,
                "approved",
                actor=actor_of(principal),
                now=services_of(request).clock.now(),
                reason=data.reason,
            )
        except IllegalTransitionError as error:
            raise illegal_problem(error) from None
        row.approved_by = actor_of(principal)
        await record_audit(
            session,
            request_actor(request, "api_key", principal.key_id),
            action="promotion.approved",
            target_type="promotion",
            target_id=row.id,
            tenant_id=principal.tenant_id,
            changes={"reason": data.reason},
        )
        return PromotionView.of(row)

    @post(
        "/{promotion_id:uuid}/reopen",
        operation_id="ReopenPromotion",
        guards=[requires_scope("promotions:write")],
        status_code=200,
    )
    async def reopen(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        principal: ApiPrincipal,
        promotion_id: uuid.UUID,
        data: DecisionRequest,
    ) -> PromotionView:
        """Back to draft for changes (from validated, approved or rolled back); approval is withdrawn."""
        row = await load_promotion(session, principal, promotion_id)
        try:
            move(
                session,
                row,
                "draft",
                actor=actor_of(principal),
                now=services_of(request).clock.now(),
                reason=data.reason,
            )
        except IllegalTransitionError as error:
            raise illegal_problem(error) from None
        row.approved_by = None
        await record_audit(
            session,
            request_actor(request, "api_key", principal.key_id),
            action="promotion.reopened",
            target_type="promotion",
            target_id=row.id,
            tenant_id=principal.tenant_id,
            changes={"reason": data.reason},
        )
        return PromotionView.of(row)
