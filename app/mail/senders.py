"""Mail senders. The worker holds one; which one is a setting (``MAIL_BACKEND``)."""

from __future__ import annotations

import asyncio
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr
from typing import Protocol
from urllib.parse import unquote, urlsplit

import structlog

from app.settings import Settings

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Mail:
    to_address: str
    from_name: str
    subject: str
    body: str


class MailSender(Protocol):
    async def send(self, mail: Mail) -> None:
        """Deliver one message or raise."""
        ...


class LogMailSender:
    """Development sender: the whole message goes to the log, links included."""

    async def send(self, mail: Mail) -> None:
        log.info("mail.sent", to=mail.to_address, subject=mail.subject, body=mail.body)


class SmtpMailSender:
    """SMTP with STARTTLS when offered (``SMTP_URL=smtp://user:password@host:port``)."""

    def __init__(self, url: str, from_address: str) -> None:
        self._url = urlsplit(url)
        self._from = from_address

    def _send_blocking(self, mail: Mail) -> None:
        message = EmailMessage()
        message["From"] = formataddr((mail.from_name, self._from))
        message["To"] = mail.to_address
        message["Subject"] = mail.subject
        message.set_content(mail.body)
        with smtplib.SMTP(self._url.hostname or "localhost", self._url.port or 25, timeout=30) as smtp:
            smtp.ehlo()
            if smtp.has_extn("starttls"):
                smtp.starttls()
                smtp.ehlo()
            if self._url.username:
                smtp.login(unquote(self._url.username), unquote(self._url.password or ""))
            smtp.send_message(message)

    async def send(self, mail: Mail) -> None:
        await asyncio.to_thread(self._send_blocking, mail)


def sender_from_settings(settings: Settings) -> MailSender:
    if settings.mail_backend == "smtp" and settings.smtp_url:
        return SmtpMailSender(settings.smtp_url, settings.mail_from)
    return LogMailSender()
