"""Every figure of a hand-built month, worked out by hand (tests/handoff/reports_data.py), on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from handoff.reports import sql as sql_module
from handoff.reports.figures import (
    ABANDONED_AFTER,
    ConversationOutcome,
    Spread,
    TargetCounts,
    change,
    compare_figures,
    compute_figures,
)
from handoff.reports.period import Period, PeriodError, parse_month, parse_range
from handoff.reports.sql import Sql
from models import ChannelKind, FlowStep
from tests.handoff.reports_data import NOVEMBER_NOW, WIB, Builder, build_november, wib

NOVEMBER = Period.month(2026, 11, WIB)
MIN = 60.0
HOUR = 3600.0


async def test_a_hand_built_month(db: str) -> None:
    await build_november(await Builder().setup())
    f = await compute_figures(period=NOVEMBER, now=NOVEMBER_NOW)

    assert f.conversations == 10
    assert f.tickets == 6
    assert f.conversations_by_channel == {ChannelKind.WEBCHAT: 4, ChannelKind.TELEGRAM: 2, ChannelKind.WHATSAPP: 3,
                                          ChannelKind.EMAIL: 1}
    assert f.tickets_by_channel == {ChannelKind.WEBCHAT: 2, ChannelKind.TELEGRAM: 1, ChannelKind.WHATSAPP: 2,
                                    ChannelKind.EMAIL: 1}
    # Local days: 00:30 WIB on 1 November is 31 October in UTC, and counts on 1 November.
    days = {d.day: (d.conversations, d.tickets) for d in f.by_day}
    assert len(f.by_day) == 30
    assert {d: v for d, v in days.items() if v != (0, 0)} == {
        date(2026, 11, 1): (1, 0), date(2026, 11, 2): (1, 1), date(2026, 11, 3): (1, 1), date(2026, 11, 5): (1, 0),
        date(2026, 11, 6): (1, 0), date(2026, 11, 10): (1, 1), date(2026, 11, 15): (1, 1),
        date(2026, 11, 20): (1, 1), date(2026, 11, 30): (2, 1),
    }
    assert f.outcomes == {ConversationOutcome.HANDED_OFF: 6, ConversationOutcome.BOT: 1,
                          ConversationOutcome.ABANDONED: 2, ConversationOutcome.IN_PROGRESS: 1}
    assert f.abandoned_by_step == {FlowStep.AWAITING_FEEDBACK: 1, FlowStep.AWAITING_IDENTITY: 1}
    assert f.bot_share == pytest.approx(1 / 9)

    # T1, T3, T6 met; T2 resolved late, T4 past due unresolved; T5 not due yet.
    assert f.resolution_target == TargetCounts(met=3, missed=2, open=1)
    assert f.resolution_target.met_share == pytest.approx(0.6)
    # First responses 10, 20, 30, 40, 100 min; resolutions 1, 2, 5, 30 h.
    assert f.first_response == Spread(5, 30 * MIN, 76 * MIN)
    assert f.resolution == Spread(4, 3.5 * HOUR, 22.5 * HOUR)
    # Categories count once an agent confirmed them: T2 and T3; T1 was closed with the classifier's guess
    # unconfirmed (before confirmation existed, or by the system), T6 without a category.
    assert (f.resolved, f.categorized, f.categorized_share) == (4, 2, 0.5)
    assert (f.agent_categorized, f.predicted_and_agent_categorized, f.agent_agreed_with_prediction) == (2, 2, 1)
    assert [(c.slug, c.tickets) for c in f.tickets_by_category] == [
        ("nilai", 2), ("akun-login", 1), ("reset-password", 1), (None, 2)]
    assert f.tickets_by_category[0].name("id") == "Nilai"
    assert f.tickets_by_category[0].name("en") == "Grades"

    assert f.csat.distribution == {1: 0, 2: 1, 3: 0, 4: 1, 5: 1}
    assert f.csat.average == pytest.approx(11 / 3)
    assert f.csat.satisfied_share == pytest.approx(2 / 3)
    assert f.csat.dissatisfied == 1

    assert [(a.name, a.taken, a.closed, a.first_response, a.ratings, a.rating_average) for a in f.agents] == [
        ("Ani", 3, 2, Spread(3, 20 * MIN, 84 * MIN), 2, 3.5),
        ("Budi", 2, 1, Spread(2, 35 * MIN, 39 * MIN), 1, 4.0),
    ]
    assert (f.escalated, f.linked_to_incident, f.incidents_opened, f.incidents_fixed) == (1, 1, 1, 1)


async def test_older_sqlite_spells_epochs_with_strftime_and_gets_the_same_figures(
        db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # unixepoch() came with SQLite 3.38; an older library reads the same seconds through strftime('%s').
    await build_november(await Builder().setup())
    current = await compute_figures(period=NOVEMBER, now=NOVEMBER_NOW)
    monkeypatch.setattr(sql_module.sqlite3, "sqlite_version_info", (3, 37, 2))
    if db.startswith("sqlite"):
        assert "strftime" in Sql().epoch("t.opened_at")
    assert await compute_figures(period=NOVEMBER, now=NOVEMBER_NOW) == current


async def test_the_previous_month_and_the_change(db: str) -> None:
    await build_november(await Builder().setup())
    both = await compare_figures(period=NOVEMBER, now=NOVEMBER_NOW)
    assert both.previous.period == Period.month(2026, 10, WIB)
    assert (both.previous.conversations, both.previous.tickets) == (2, 1)
    assert both.previous.resolution_target == TargetCounts(met=1, missed=0, open=0)
    assert both.previous.first_response == Spread(1, 15 * MIN, 15 * MIN)
    assert change(both.current.conversations, both.previous.conversations) == 4.0
    assert change(3, 0) is None
    assert change(1, 2) == -0.5


async def test_abandonment_waits_for_the_window(db: str) -> None:
    b = await Builder().setup()
    at = wib(2026, 11, 5, 10)
    await b.conversation(at=at, last_message_at=at)
    before = await compute_figures(period=NOVEMBER, now=at + ABANDONED_AFTER - timedelta(seconds=1))
    after = await compute_figures(period=NOVEMBER, now=at + ABANDONED_AFTER + timedelta(seconds=1))
    assert before.outcome(ConversationOutcome.IN_PROGRESS) == 1
    assert before.outcome(ConversationOutcome.ABANDONED) == 0
    assert after.outcome(ConversationOutcome.ABANDONED) == 1


async def test_an_empty_month_has_zeros_and_no_shares(db: str) -> None:
    f = await compute_figures(period=NOVEMBER, now=NOVEMBER_NOW)
    assert (f.conversations, f.tickets, f.agents, f.tickets_by_category) == (0, 0, (), ())
    assert f.first_response == Spread()
    assert f.resolution_target.met_share is None
    assert f.bot_share is None
    assert f.csat.average is None
    assert [d.conversations for d in f.by_day] == [0] * 30


def test_periods() -> None:
    now = wib(2026, 12, 1, 0, 30)  # 30 November in UTC, December in Jakarta
    assert parse_month("2026-12", tz=WIB, now=now) == Period.month(2026, 12, WIB)
    assert Period.month(2026, 1, WIB).previous() == Period.month(2025, 12, WIB)
    assert Period.month(2026, 3, WIB).previous().days[-1] == date(2026, 2, 28)
    week = parse_range("2026-11-09", "2026-11-16", tz=WIB)
    assert week.previous() == parse_range("2026-11-02", "2026-11-09", tz=WIB)
    assert NOVEMBER.start_utc == wib(2026, 11, 1)
    assert str(NOVEMBER.start_utc) == "2026-10-31 17:00:00+00:00"
    for bad, key in [("2027-01", "error.month_future"), ("2026-13", "error.month_malformed"),
                     ("26-11", "error.month_malformed"), ("2026-1", "error.month_malformed")]:
        with pytest.raises(PeriodError) as raised:
            parse_month(bad, tz=WIB, now=now)
        assert raised.value.key == key
    with pytest.raises(PeriodError) as raised:
        parse_range("2026-11-02", "2026-11-01", tz=WIB)
    assert raised.value.key == "error.period_order"
    with pytest.raises(PeriodError) as raised:
        parse_range("2026-11-31", "2026-12-01", tz=WIB)
    assert raised.value.key == "error.date_malformed"
