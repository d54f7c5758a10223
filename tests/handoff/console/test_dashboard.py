"""The supervisor's dashboard counts the local day and the last 30 days by the moment, not by the text.

Every time is stored in UTC. Jakarta's day starts at 17:00 UTC the day before, so the first seven hours
of a WIB day are still "yesterday" in UTC: on SQLite, which compares datetimes as text, a filter written
as the local midnight (+07:00) found none of them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from handoff.console.dashboard import Bar, build_dashboard
from handoff.tickets import open_ticket
from models import Conversation, HandoffReason
from tests.conftest import FlowHarness

WIB = ZoneInfo("Asia/Jakarta")
MIDNIGHT = datetime(2026, 11, 24, tzinfo=WIB)  # Tuesday 24 Nov 2026, 00:00 WIB = 23 Nov, 17:00 UTC


def wib(hour: int, minute: int = 0, *, day: int = 24) -> datetime:
    """A WIB wall-clock time, as the product stores it (UTC)."""
    return datetime(2026, 11, day, hour, minute, tzinfo=WIB).astimezone(UTC)


async def conversation_at(flow: FlowHarness, user: str, created: datetime) -> Conversation:
    await flow.send("halo", user=user)
    conversation = await Conversation.get(identity__external_id=user)
    await Conversation.filter(id=conversation.id).update(created_at=created)
    return conversation


async def test_today_at_one_in_the_morning_counts_the_night(flow: FlowHarness) -> None:
    # Three people wrote after midnight WIB, one just before it.
    for user, created in (("1", wib(0, 10)), ("2", wib(0, 30)), ("3", wib(0, 50)), ("4", wib(23, 50, day=23))):
        conversation = await conversation_at(flow, user, created)
        if user in ("2", "4"):  # handed off at once, the category guessed right
            await open_ticket(conversation=conversation, reason=HandoffReason.USER_REQUEST, now=created,
                              predicted_category="nilai")

    board = await build_dashboard(now=wib(1, 0), tz=WIB, sla=timedelta(hours=24), lang="en")

    assert board.today_total == 3
    assert board.today_by_channel == [Bar("telegram", 3, 1.0)]
    assert board.today_by_category == [Bar("Grades", 1, 1.0)]
    # The last 30 days are 30 days back from the moment, both hand-offs in them.
    assert board.handed_off == 2


async def test_today_later_in_the_day_still_counts_the_night(flow: FlowHarness) -> None:
    for user, created in (("1", wib(0, 30)), ("2", wib(9, 15))):
        await conversation_at(flow, user, created)

    board = await build_dashboard(now=wib(10, 0), tz=WIB, sla=timedelta(hours=24), lang="id")

    assert board.today_total == 2
