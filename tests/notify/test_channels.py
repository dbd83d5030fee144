"""Each channel against a real receiver: an SMTP server, a webhook endpoint, a Web Push service whose
payload the test decrypts with the subscription's keys (RFC 8291) and whose VAPID token it verifies."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from py_vapid import Vapid02

from services.notify.channels import Message
from services.notify.channels.email import SmtpSender
from services.notify.channels.push import PushSender, load_vapid
from services.notify.channels.webhook import EVENT_TYPE, WebhookSender
from shared.natsserver import free_port
from tests.notify.receivers import Browser, Mailbox, Receiver, verify_signature

pytestmark = pytest.mark.integration
MESSAGE = Message(
    id="d-0123456789abcdef0123456789abcdef",
    kind="page",
    agency="riverton-fire",
    title="Peerline",
    text="Urgent: you are paged for a Peerline escalation — open Peerline now",
    link="https://console.example/escalations/x-1",
    urgent=True,
    time=datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
)
SECRET = "s3cret-s3cret-s3cret"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as c:
        yield c


async def test_email_reaches_a_real_smtp_server_with_generic_text_and_a_stable_message_id() -> None:
    with Mailbox() as mailbox:
        sender = SmtpSender("127.0.0.1", mailbox.port, "Peerline <no-reply@peerline.test>")
        result = await sender.send({"email": "clinician@riverton.example"}, MESSAGE)
        assert result.ok
        [mail] = mailbox.to("clinician@riverton.example")
    assert mail["Subject"] == MESSAGE.text and mail["Message-ID"] == f"<{MESSAGE.id}@peerline>"
    assert MESSAGE.link in mail.get_payload(decode=True).decode()


async def test_email_to_a_server_that_is_not_there_is_worth_retrying() -> None:
    result = await SmtpSender("127.0.0.1", free_port(), "x@peerline.test").send(
        {"email": "a@b.example"}, MESSAGE
    )
    assert not result.ok and result.reason == "unreachable" and result.retry


async def test_webhook_is_a_signed_cloudevent(receiver: Receiver, client: httpx.AsyncClient) -> None:
    result = await WebhookSender(client).send({"url": receiver.url + "/pager", "secret": SECRET}, MESSAGE)
    assert result.ok
    [hit] = receiver.at("/pager")
    assert hit.headers["ce-specversion"] == "1.0" and hit.headers["ce-id"] == MESSAGE.id
    assert hit.headers["ce-type"] == EVENT_TYPE and hit.headers["ce-source"] == "peerline/notify"
    assert verify_signature(hit, SECRET)
    assert not verify_signature(hit, "another-secret-of-16")
    assert b'"link":"https://console.example/escalations/x-1"' in hit.body


async def test_webhook_failures_say_whether_to_retry(receiver: Receiver, client: httpx.AsyncClient) -> None:
    sender = WebhookSender(client)
    receiver.status.update({"/down": 503, "/gone": 410})
    down = await sender.send({"url": receiver.url + "/down", "secret": SECRET}, MESSAGE)
    gone = await sender.send({"url": receiver.url + "/gone", "secret": SECRET}, MESSAGE)
    nobody = await sender.send({"url": f"http://127.0.0.1:{free_port()}/x", "secret": SECRET}, MESSAGE)
    assert (down.reason, down.retry) == ("refused", True)
    assert (gone.reason, gone.retry) == ("gone", False)
    assert (nobody.reason, nobody.retry) == ("unreachable", True)


async def test_web_push_is_encrypted_for_the_subscription_and_vapid_signed(
    receiver: Receiver, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    browser = Browser()
    vapid = load_vapid(tmp_path / "vapid.pem")
    sender = PushSender(client, vapid, "mailto:ops@peerline.test")
    result = await sender.send({"subscription": browser.subscription(receiver.url + "/push/abc")}, MESSAGE)
    assert result.ok
    [hit] = receiver.at("/push/abc")
    assert hit.headers["content-encoding"] == "aes128gcm" and hit.headers["urgency"] == "high"
    assert MESSAGE.text.encode() not in hit.body  # encrypted on the wire
    assert browser.decrypt(hit.body) == {"title": "Peerline", "body": MESSAGE.text, "url": MESSAGE.link}
    assert Vapid02.verify(hit.headers["authorization"])
    receiver.status["/push/old"] = 410
    expired = await sender.send({"subscription": browser.subscription(receiver.url + "/push/old")}, MESSAGE)
    assert (expired.reason, expired.retry) == ("gone", False)
