"""A local mail catcher for the embedded mode: `peerline up` gives notify this SMTP server, so the e-mail
the demo region's people are sent (offers to peers, pages to the clinician on call) arrives somewhere a
person can read it — a Maildir under var/mail — and never leaves the machine."""

from __future__ import annotations

from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox

from shared.files import private_dir

PORT = 1025


def start(mail_dir: Path, port: int = PORT) -> Controller:
    """An SMTP server on 127.0.0.1:`port` storing every message it is given in `mail_dir` (Maildir)."""
    handler = Mailbox(mail_dir)  # makes the Maildir (tmp/, new/, cur/) when it is not there yet
    private_dir(mail_dir).chmod(0o700)
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    return controller
