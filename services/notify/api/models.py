"""Request and response bodies of notify's HTTP API."""

from __future__ import annotations

import base64
import binascii
from datetime import time
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    RootModel,
    field_validator,
    model_validator,
)

from services.notify.queries import Prefs
from shared.envelope import TOKEN

HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EmailContact(_Body):
    channel: Literal["email"]
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)

    def sealed_value(self) -> dict[str, Any]:
        return {"email": self.email}


class SmsContact(_Body):
    channel: Literal["sms"]
    phone: str = Field(pattern=r"^\+[1-9]\d{6,14}$", description="E.164, e.g. +15550107788")

    def sealed_value(self) -> dict[str, Any]:
        return {"phone": self.phone}


class WebhookContact(_Body):
    """An agency paging or messaging system; messages are signed with `secret` (HMAC-SHA256)."""

    channel: Literal["webhook"]
    url: HttpUrl
    secret: str = Field(min_length=16, max_length=256)

    def sealed_value(self) -> dict[str, Any]:
        return {"url": str(self.url), "secret": self.secret}


def _b64url(value: str, size: int) -> str:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc
    if len(raw) != size:
        raise ValueError(f"must decode to {size} bytes")
    return value


class PushKeys(_Body):
    p256dh: str = Field(max_length=200)
    auth: str = Field(max_length=100)

    @field_validator("p256dh")
    @classmethod
    def _p256dh(cls, v: str) -> str:
        return _b64url(v, 65)

    @field_validator("auth")
    @classmethod
    def _auth(cls, v: str) -> str:
        return _b64url(v, 16)


class PushSubscription(BaseModel):
    """A browser's PushSubscription.toJSON()."""

    model_config = ConfigDict(extra="ignore")

    endpoint: HttpUrl
    keys: PushKeys


class PushContact(_Body):
    channel: Literal["push"]
    subscription: PushSubscription

    def sealed_value(self) -> dict[str, Any]:
        sub = self.subscription
        return {"subscription": {"endpoint": str(sub.endpoint), "keys": sub.keys.model_dump()}}


class Contact(
    RootModel[
        Annotated[EmailContact | SmsContact | WebhookContact | PushContact, Field(discriminator="channel")]
    ]
):
    @property
    def channel(self) -> str:
        return self.root.channel

    def sealed_value(self) -> dict[str, Any]:
        return self.root.sealed_value()


class ContactView(BaseModel):
    contact_id: str
    channel: str
    working: bool = Field(description="false after the channel kept failing, or when it is turned off here")
    shown: str = Field(description="the address, number or endpoint host (never a webhook's secret)")


def summary(row: Any, value: dict[str, Any], enabled: bool) -> ContactView:
    match row.channel:
        case "email":
            shown = value["email"]
        case "sms":
            shown = value["phone"]
        case "webhook":
            shown = value["url"]
        case _:
            shown = urlsplit(value["subscription"]["endpoint"]).netloc
    return ContactView(
        contact_id=row.contact_id, channel=row.channel, working=bool(row.working) and enabled, shown=shown
    )


class QuietHours(_Body):
    start: str = Field(pattern=HHMM)
    end: str = Field(pattern=HHMM)


class Preferences(_Body):
    tz: str = Field(default="UTC", max_length=64, description="IANA time zone of the quiet hours")
    quiet_hours: QuietHours | None = Field(default=None, description="no messages but pages in this window")
    opt_in: bool = Field(default=False, description="responders: tell me about debrief offers and check-ins")

    @field_validator("tz")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("not an IANA time zone") from exc
        return v

    def columns(self) -> dict[str, Any]:
        q = self.quiet_hours
        return {"tz": self.tz, "quiet_start": q.start if q else None, "quiet_end": q.end if q else None,
                "opt_in": self.opt_in}  # fmt: skip

    @classmethod
    def of(cls, found: Prefs | None) -> Preferences:
        if found is None:
            return cls()
        q = found.quiet
        hours = QuietHours(start=_hhmm(q.start), end=_hhmm(q.end)) if q else None
        return cls(tz=found.tz, quiet_hours=hours, opt_in=found.opt_in)


def _hhmm(t: time) -> str:
    return t.strftime("%H:%M")


TierRole = Literal["clinician", "coordinator", "command"]


class Shift(_Body):
    ref: str = Field(pattern=TOKEN.pattern, description="the on-call person's subject id")
    starts_at: AwareDatetime
    ends_at: AwareDatetime

    @model_validator(mode="after")
    def _order(self) -> Shift:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class Schedule(_Body):
    shifts: list[Shift] = Field(max_length=1000)
