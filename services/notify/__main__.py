"""Notify: turns events into messages to people — Web Push, e-mail, signed webhooks, text messages."""

from services.notify.main import main

main()
