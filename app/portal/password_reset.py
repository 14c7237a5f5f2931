"""Password reset: a single-use token mailed to the user (through the outbox), valid for an hour. An
invitation is the same token, valid for a week, with a welcome instead of a reset notice."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.mail.service import queue_mail
from tenants.audit import Actor, record_audit
from tenants.branding import Brand
from tenants.models import PasswordResetToken, User
from tenants.passwords import hash_password
from tenants.service import find_user_by_email

TOKEN_LIFETIME = timedelta(hours=1)
INVITE_LIFETIME = timedelta(days=7)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def request_reset(
    session: AsyncSession,
    *,
    email: str,
    brand: Brand,
    reset_url_base: str,
    now: datetime,
    correlation_id: str | None = None,
) -> bool:
    """Mail a reset link if the account exists (the caller answers the same either way).

    Runs in the ``system`` scope. Returns whether a mail was queued.
    """
    user = await find_user_by_email(session, email)
    if user is None or not user.is_active:
        return False
    link = _issue_link(session, user, reset_url_base, now + TOKEN_LIFETIME)
    await queue_mail(
        session,
        to_address=user.email,
        from_name=brand.name,
        subject=f"Reset your {brand.name} password",
        body=(
            f"Someone asked to reset the password of {user.email} at {brand.name}.\n\n"
            f"Open this link within an hour to choose a new password:\n{link}\n\n"
            "If it was not you, ignore this message; your password stays as it is."
        ),
        partner_id=None if brand.partner_id is None else uuid.UUID(brand.partner_id),
        correlation_id=correlation_id,
    )
    await record_audit(
        session,
        Actor("user", user.id, correlation_id=correlation_id),
        action="password_reset.requested",
        target_type="user",
        target_id=user.id,
    )
    return True


def _issue_link(session: AsyncSession, user: User, url_base: str, expires_at: datetime) -> str:
    """A new single-use token for ``user`` (only its digest is stored); the link that carries it."""
    token = secrets.token_urlsafe(32)
    session.add(PasswordResetToken(user_id=user.id, token_hash=_digest(token), expires_at=expires_at))
    return f"{url_base.rstrip('/')}/password-reset/{token}"


async def send_invitation(
    session: AsyncSession,
    *,
    user: User,
    inviter: Actor,
    place: str,
    brand: Brand,
    url_base: str,
    now: datetime,
) -> None:
    """Mail ``user`` a link to choose a password and sign in to ``place`` (valid for a week)."""
    link = _issue_link(session, user, url_base, now + INVITE_LIFETIME)
    await queue_mail(
        session,
        to_address=user.email,
        from_name=brand.name,
        subject=f"You are invited to {place} at {brand.name}",
        body=(
            f"You have been given access to {place} at {brand.name}.\n\n"
            f"Open this link within a week to choose your password:\n{link}\n"
        ),
        partner_id=None if brand.partner_id is None else uuid.UUID(brand.partner_id),
        correlation_id=inviter.correlation_id,
    )
    await record_audit(
        session,
        inviter,
        action="user.invited",
        target_type="user",
        target_id=user.id,
        changes={"place": place},
    )


async def find_valid_token(session: AsyncSession, token: str, now: datetime) -> PasswordResetToken | None:
    return await session.scalar(
        select(PasswordResetToken).where(
            PasswordResetToken.token_hash == _digest(token),
            PasswordResetToken.used_at.is_(None),
            PasswordResetToken.expires_at > now,
        )
    )


async def complete_reset(
    session: AsyncSession,
    *,
    token: str,
    new_password: str,
    now: datetime,
    correlation_id: str | None = None,
) -> User | None:
    """Set the new password and spend the token (and every other open token of the user)."""
    found = await find_valid_token(session, token, now)
    if found is None:
        return None
    user = await session.get(User, found.user_id, with_for_update=True)
    if user is None or not user.is_active:
        return None
    user.password_hash = hash_password(new_password)
    await session.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.user_id == user.id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now)
    )
    await record_audit(
        session,
        Actor("user", user.id, correlation_id=correlation_id),
        action="password_reset.completed",
        target_type="user",
        target_id=user.id,
    )
    return user
