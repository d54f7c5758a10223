"""A datetime filter means the same moment on SQLite as on PostgreSQL, whatever zone it was written in.

SQLite stores datetimes as text and compares them as text; the product stores UTC. A filter value in
another zone (+07:00 for a Jakarta midnight) compared as text is off by the offset (models.db).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from models import ChannelIdentity, ChannelKind, Contact, Conversation

WIB = timezone(timedelta(hours=7), "WIB")
NEW_YORK_WINTER = timezone(timedelta(hours=-5))
STORED = datetime(2026, 11, 23, 17, 30, tzinfo=UTC)  # 00:30 WIB on 24 Nov


async def conversation_created(at: datetime) -> Conversation:
    contact = await Contact.create()
    identity = await ChannelIdentity.create(contact=contact, channel=ChannelKind.TELEGRAM, external_id=str(contact.id))
    conversation = await Conversation.create(contact=contact, identity=identity, channel=ChannelKind.TELEGRAM)
    await Conversation.filter(id=conversation.id).update(created_at=at)
    return conversation


@pytest.mark.parametrize("zone", [UTC, WIB, NEW_YORK_WINTER], ids=["utc", "wib", "new-york"])
async def test_filters_compare_moments_in_any_zone(db: str, zone: timezone) -> None:
    await conversation_created(STORED)
    midnight_wib = datetime(2026, 11, 24, tzinfo=WIB).astimezone(zone)

    assert await Conversation.filter(created_at__gte=midnight_wib).count() == 1
    assert await Conversation.filter(created_at__lt=midnight_wib).count() == 0
    assert await Conversation.filter(created_at__gt=STORED.astimezone(zone)).count() == 0
    assert await Conversation.filter(created_at=STORED.astimezone(zone)).count() == 1


async def test_a_datetime_written_in_local_time_is_stored_as_the_same_moment(db: str) -> None:
    conversation = await conversation_created(datetime(2026, 11, 24, 0, 30, tzinfo=WIB))

    assert (await Conversation.get(id=conversation.id)).created_at == STORED
    # Ordered by the moment beside a UTC value half an hour later ("2026-11-23 18:00:00+00:00" sorts before
    # "2026-11-24 00:30:00+07:00" as text).
    await conversation_created(STORED + timedelta(minutes=30))
    ordered = await Conversation.all().order_by("created_at").values_list("created_at", flat=True)
    assert ordered == [STORED, STORED + timedelta(minutes=30)]
    assert await Conversation.filter(created_at__lt=STORED + timedelta(minutes=30)).count() == 1
