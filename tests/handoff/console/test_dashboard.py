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
from models import Category, Conversation, ConversationStatus, HandoffReason, Ticket, TicketStatus
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

    board = await build_dashboard(now=wib(1, 0), tz=WIB, lang="en")

    assert board.today_total == 3
    assert board.today_by_channel == [Bar("telegram", 3, 1.0)]
    assert board.today_by_category == [Bar("Grades", 1, 1.0)]
    # The last 30 days are 30 days back from the moment, both hand-offs in them.
    assert board.handed_off == 2


async def test_today_later_in_the_day_still_counts_the_night(flow: FlowHarness) -> None:
    for user, created in (("1", wib(0, 30)), ("2", wib(9, 15))):
        await conversation_at(flow, user, created)

    board = await build_dashboard(now=wib(10, 0), tz=WIB, lang="id")

    assert board.today_total == 2


async def test_the_last_30_days_share_satisfaction_and_corrections(flow: FlowHarness) -> None:
    now = wib(10, 0)
    inside, outside = now - timedelta(days=29), now - timedelta(days=31)
    categories = {c.slug: c.id for c in await Category.all()}

    async def handed_off(user: str, created: datetime, *, rating: int | None, category: str,
                         confirmed: bool = True) -> Ticket:
        conversation = await conversation_at(flow, user, created)
        ticket = await open_ticket(conversation=conversation, reason=HandoffReason.NOT_HELPFUL, now=created,
                                   predicted_category="nilai")
        await Ticket.filter(id=ticket.id).update(status=TicketStatus.RESOLVED, resolved_at=created,
                                                 category_id=categories[category], survey_rating=rating,
                                                 survey_answered_at=created if rating else None,
                                                 category_confirmed_at=created if confirmed else None,
                                                 category_agreed=category == "nilai" if confirmed else None)
        await Conversation.filter(id=conversation.id).update(status=ConversationStatus.RESOLVED)
        return ticket

    bot_only = await conversation_at(flow, "1", inside)
    await Conversation.filter(id=bot_only.id).update(status=ConversationStatus.RESOLVED)
    agreed = await handed_off("2", inside, rating=5, category="nilai")
    await handed_off("3", inside, rating=2, category="akun-login")
    await handed_off("4", outside, rating=1, category="akun-login")
    # Closed with the bot's guess that no agent confirmed: neither agreement nor a correction, and it is
    # what "closed without a confirmed category" counts.
    await handed_off("5", inside, rating=None, category="nilai", confirmed=False)
    # A second ticket on the same conversation is still one conversation handed off.
    await open_ticket(conversation=await Conversation.get(id=agreed.conversation_id),  # type: ignore[attr-defined]
                              reason=HandoffReason.USER_REQUEST, now=inside)

    board = await build_dashboard(now=now, tz=WIB, lang="en")

    assert (board.bot_resolved, board.handed_off, board.bot_share) == (1, 3, 1 / 4)
    assert (board.csat_count, board.csat_average, board.csat_satisfied_share) == (2, 3.5, 0.5)
    assert (board.predicted_total, board.predicted_agreed) == (2, 1)
    assert board.corrections == [("Grades", "Account & login", 1)]
    assert board.closed_without_category == 1


async def test_the_backlog_is_counted_and_only_the_most_overdue_are_listed(db: str) -> None:
    from handoff.console.dashboard import LISTED
    from tests.handoff.reports_data import Builder

    b = await Builder().setup()
    now = wib(12, 0)
    # LISTED + 5 past their target (the oldest the most overdue), 2 at risk (under 6 of 24 hours left),
    # 3 on track, of which one waits on the user; one closed ticket that counts nowhere here.
    late = [await b.ticket(at=now - timedelta(hours=30 + n), agent="Ani") for n in range(LISTED + 5)]
    risky = [await b.ticket(at=now - timedelta(hours=20)) for _ in range(2)]
    for n in range(3):
        await b.ticket(at=now - timedelta(hours=1), agent="Budi",
                       status=TicketStatus.PENDING if n == 0 else None)
    await b.ticket(at=now - timedelta(hours=3), agent="Budi", resolved=timedelta(hours=1))
    board = await build_dashboard(now=now, tz=WIB, lang="id")
    assert (board.breached_count, board.at_risk_count, board.unassigned) == (LISTED + 5, 2, 2)
    assert [t.id for t in board.breached] == [t.id for t in reversed(late)][:LISTED]
    assert {t.id for t in board.at_risk} == {t.id for t in risky}
    assert board.breached[0].assignee is not None
    assert {bar.label: bar.value for bar in board.open_by_status} == {"open": LISTED + 5 + 2 + 2, "pending": 1,
                                                                      "escalated": 0}
    assert {bar.label: bar.value for bar in board.open_by_age} == {"age_lt_4h": 3, "age_4_12h": 0,
                                                                  "age_12_24h": 2, "age_gt_24h": LISTED + 5}
    assert {(a.name, a.open) for a in board.agents} >= {("Ani", LISTED + 5), ("Budi", 3)}
    assert board.backlog_since is not None
    assert board.backlog_since.isoformat() == "2025-11-24"  # with tomorrow, the longest period (366 days)
