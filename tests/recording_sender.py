"""A mail sender that keeps what it was asked to send (test equipment behind the MailSender protocol)."""

from __future__ import annotations

from app.mail.senders import Mail


class RecordingSender:
    def __init__(self) -> None:
        self.sent: list[Mail] = []

    async def send(self, mail: Mail) -> None:
        self.sent.append(mail)
