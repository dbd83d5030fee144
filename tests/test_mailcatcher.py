"""The embedded mode's local mail catcher: notify's e-mail to demo people lands in var/mail."""

from __future__ import annotations

import mailbox
import smtplib
from email.message import EmailMessage
from pathlib import Path

import pytest

from shared import mailcatcher
from shared.natsserver import free_port

pytestmark = pytest.mark.unit


def test_a_message_sent_over_smtp_lands_in_the_maildir_and_only_its_owner_can_read_it(tmp_path: Path) -> None:
    port = free_port()
    catcher = mailcatcher.start(tmp_path / "mail", port=port)
    try:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "a@peerline.invalid", "b@x.invalid", "Peerline"
        message.set_content("You have a new peer-support request — open Peerline")
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
            smtp.send_message(message)
    finally:
        catcher.stop()
    [stored] = list(mailbox.Maildir(tmp_path / "mail"))
    assert stored["To"] == "b@x.invalid" and "open Peerline" in stored.get_payload()
    assert (tmp_path / "mail").stat().st_mode & 0o777 == 0o700
