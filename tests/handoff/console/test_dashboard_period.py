"""The dashboard's period selector: the presets at a frozen moment, the monthly report's figures for the
chosen period (SQLite and PostgreSQL), and a period that cannot be used shown as a sentence."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qsl

import pytest
from markupsafe import escape

from handoff.console.dashboard import build_period_view
from handoff.reports.period import Period, PeriodError, preset_period
from models import Ticket
from tests.handoff.console.conftest import Console, Served
from tests.handoff.reports_data import NOVEMBER_NOW, WIB, Builder, build_november

# Thursday 3 December 2026, 02:00 WIB (still Wednesday the 2nd in UTC).
THURSDAY = datetime(2026, 12, 2, 19, 0, tzinfo=UTC)


@pytest.mark.parametrize(("preset", "start", "end"), [
    ("this_week", date(2026, 11, 30), date(2026, 12, 7)),
    ("last_week", date(2026, 11, 23), date(2026, 11, 30)),
    ("this_month", date(2026, 12, 1), date(2027, 1, 1)),
    ("last_month", date(2026, 11, 1), date(2026, 12, 1)),
])
def test_presets_are_local_weeks_and_months(preset: str, start: date, end: date) -> None:
    assert preset_period(preset, now=THURSDAY, tz=WIB) == Period(start, end, WIB)


def test_custom_dates_and_their_errors() -> None:
    assert preset_period("custom", now=THURSDAY, tz=WIB, since="2026-10-05", until="2026-10-12") == Period(
        date(2026, 10, 5), date(2026, 10, 12), WIB)
    for since, until, key in (("x", "2026-10-12", "error.date_malformed"),
                              ("2026-10-12", "2026-10-12", "error.period_order"),
                              ("2024-01-01", "2026-01-01", "error.period_long"),
                              ("2026-12-04", "2026-12-10", "error.period_future")):
        with pytest.raises(PeriodError) as refused:
            preset_period("custom", now=THURSDAY, tz=WIB, since=since, until=until)
        assert refused.value.key == key
    with pytest.raises(PeriodError) as unknown:
        preset_period("yesterday", now=THURSDAY, tz=WIB)
    assert unknown.value.key == "error.preset_unknown"


async def test_last_month_shows_the_reports_figures(db: str) -> None:
    await build_november(await Builder().setup())
    view = await build_period_view(query={"period": "last_month"}, now=NOVEMBER_NOW, tz=WIB, lang="en")
    assert (view.title, view.previous_title, view.error) == ("November 2026", "October 2026", "")
    rows = {row.label: (row.current, row.previous, row.change) for row in view.rows}
    # Worked out by hand in tests/handoff/test_reports_figures.py: six November tickets, one in October.
    assert rows["Tickets"] == ("6", "1", "+500%")
    assert rows["Average satisfaction (1–5)"][:2] == ("3.67", "5")
    assert {b.label: b.value for b in view.by_channel}["whatsapp"] == 2
    assert (view.by_category[0].label, view.by_category[0].value) == ("Grades", 2)


async def test_the_view_shows_stored_figures_until_asked_to_read_again(db: str) -> None:
    tickets = await build_november(await Builder().setup())
    first = await build_period_view(query={"period": "last_month"}, now=NOVEMBER_NOW, tz=WIB, lang="en")
    await Ticket.filter(id=tickets["T4"].id).update(survey_rating=1)
    minute = NOVEMBER_NOW + timedelta(minutes=1)
    stored = await build_period_view(query={"period": "last_month"}, now=minute, tz=WIB, lang="en")
    assert (stored.rows, stored.as_of) == (first.rows, "1 December 2026 12:00")  # local time of the reading
    assert stored.refresh_query == "period=last_month&refresh=1"
    fresh = await build_period_view(query=dict(parse_qsl(stored.refresh_query)), now=minute, tz=WIB, lang="en")
    assert {r.label: r.current for r in fresh.rows}["Average satisfaction (1–5)"] == "3"
    assert fresh.as_of == "1 December 2026 12:01"
    custom = await build_period_view(query={"period": "custom", "since": "2026-11-02", "until": "2026-11-09"},
                                     now=minute, tz=WIB, lang="id")
    assert dict(parse_qsl(custom.refresh_query)) == {"period": "custom", "since": "2026-11-02",
                                                     "until": "2026-11-09", "refresh": "1"}
    assert custom.as_of == "1 Desember 2026 12.01"


async def test_a_bad_period_is_a_sentence_and_this_month_is_shown(db: str) -> None:
    await Builder().setup()
    view = await build_period_view(query={"period": "custom", "since": "2026-11-30", "until": "2026-11-01"},
                                   now=NOVEMBER_NOW, tz=WIB, lang="id")
    assert view.error == "awal periode 2026-11-30 sesudah akhirnya 2026-11-01"
    assert view.period == Period(date(2026, 12, 1), date(2027, 1, 1), WIB)


async def test_dashboard_page_with_a_period(served: Served, console: Console) -> None:
    await console.login("sari@cc.test")
    page = await console.http.get(f"{served.url}/console/admin/dashboard?period=last_week")
    assert page.status == 200
    text = await page.text()
    assert 'id="period-table"' in text
    assert 'href="/console/admin/dashboard?period=last_week&amp;refresh=1" id="period-refresh"' in text
    assert (await console.http.get(f"{served.url}/console/admin/dashboard?period=last_week&refresh=1")).status == 200
    bad = await console.http.get(f"{served.url}/console/admin/dashboard?period=custom&since=kemarin&until=2026-12-01")
    sentence = "since 'kemarin' bukan tanggal: gunakan YYYY-MM-DD"
    assert bad.status == 400
    assert f'<p class="notice error" role="alert" id="period-error">{escape(sentence)}</p>' in await bad.text()
