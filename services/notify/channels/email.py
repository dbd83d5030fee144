"""E-mail over SMTP (optionally STARTTLS and a login), one connection per message, in a worker thread."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from services.notify.channels import SENT, Message, Result


class SmtpSender:
    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.starttls, self.username, self.password = starttls, username, password
        self.timeout_s = timeout_s

    def compose(self, to: str, message: Message) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = to
        mail["Subject"] = message.text
        mail["Date"] = format_datetime(message.time)
        mail["Message-ID"] = f"<{message.id}@peerline>"
        if message.urgent:
            mail["Importance"] = "high"
        mail.set_content(f"{message.text}\n\n{message.link}\n")
        return mail

    async def send(self, address: dict[str, Any], message: Message) -> Result:
        return await asyncio.to_thread(self._send, self.compose(str(address["email"]), message))

    def _send(self, mail: EmailMessage) -> Result:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused:
            return Result(ok=False, reason="gone", retry=False)
        except smtplib.SMTPResponseException as exc:
            return Result(ok=False, reason="refused", retry=exc.smtp_code < 500)
        except (OSError, smtplib.SMTPException):
            return Result(ok=False, reason="unreachable")
        return SENT
