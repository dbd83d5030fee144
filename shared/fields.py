"""Request fields that reach the permanent log, as validated types: nothing typed freely by a person
gets through. An id follows the id pattern (one subject token, at most 64 characters); a language is a
valid BCP 47 tag (stored in its standard form); a time zone is a name of the zoneinfo database; a time
carries its offset and is stored in UTC."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import available_timezones

import langcodes
from pydantic import AfterValidator, AwareDatetime, StringConstraints

from shared.envelope import TOKEN

Id = Annotated[str, StringConstraints(pattern=TOKEN.pattern, max_length=64)]
EARLIEST, LATEST = datetime(2000, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)


@functools.cache
def zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _zone(value: str) -> str:
    if value not in zones():
        raise ValueError("not a time zone name of the zoneinfo database (e.g. America/Chicago)")
    return value


def _language(value: str) -> str:
    if not langcodes.tag_is_valid(value):
        raise ValueError("not a valid BCP 47 language tag (e.g. en, es-419)")
    return langcodes.standardize_tag(value)


def _utc(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = LATEST
    if not EARLIEST <= utc < LATEST:
        raise ValueError("a time between the years 2000 and 2199")
    return utc


TimeZone = Annotated[str, StringConstraints(max_length=64), AfterValidator(_zone)]
Language = Annotated[str, StringConstraints(max_length=35), AfterValidator(_language)]
UtcTime = Annotated[AwareDatetime, AfterValidator(_utc)]
