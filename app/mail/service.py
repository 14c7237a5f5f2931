"""Queueing mail (in the caller's transaction) and the worker job that sends it exactly once."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.database.scope import DbScope
from app.mail.models import OutboundMail
from app.mail.senders import Mail
from app.outbox.service import claim_work, record_work

SEND_MAIL_TASK = "send_mail"


async def queue_mail(
    session: AsyncSession,
    *,
    to_address: str,
    from_name: str,
    subject: str,
    body: str,
    partner_id: uuid.UUID | None = None,
    tenant_id: uuid.UUID | None = None,
    correlation_id: str | None = None,
) -> OutboundMail:
    """Record a mail and the work to send it, in the session's transaction."""
    mail = OutboundMail(
        to_address=to_address,
        from_name=from_name,
        subject=subject,
        body=body,
        partner_id=partner_id,
        tenant_id=tenant_id,
    )
    session.add(mail)
    await session.flush()
    await record_work(
        session,
        SEND_MAIL_TASK,
        {"mail_id": str(mail.id)},
        tenant_id=tenant_id,
        correlation_id=correlation_id,
    )
    return mail


async def send_mail(ctx: dict[str, Any], outbox_id: int) -> str:
    """arq job: send the mail behind an outbox row, once."""
    async with ctx["db"].transaction(DbScope.system()) as session:
        message = await claim_work(session, outbox_id)
        if message is None:
            return "already-processed"
        mail = await session.get(OutboundMail, uuid.UUID(message.payload["mail_id"]))
        if mail is None or mail.sent_at is not None:
            return "nothing-to-send"
        await ctx["mail_sender"].send(Mail(mail.to_address, mail.from_name, mail.subject, mail.body))
        await session.execute(
            update(OutboundMail).where(OutboundMail.id == mail.id).values(sent_at=func.now())
        )
    return "sent"
