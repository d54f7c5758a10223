"""The supervisor's ticket list: filters, search, keyset pages and exception counts on a hand-built month,
on SQLite and PostgreSQL; every bad parameter refused with its sentence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from handoff.i18n import console_catalog
from handoff.reports.period import Period
from handoff.ticket_search import (
    MAX_PAGE,
    Flag,
    SearchError,
    SlaFilter,
    TicketSearch,
    exception_counts,
    parse_search,
    search_tickets,
)
from models import ChannelKind, Direction, Message, SenderKind, Ticket
from tests.handoff.reports_data import NOVEMBER_NOW, WIB, Builder, build_supervisor_month

NOVEMBER = Period.month(2026, 11, WIB)


async def _numbers(search: TicketSearch) -> list[str]:
    page = await search_tickets(search, now=NOVEMBER_NOW, lang="id")
    return [row.number for row in page.rows]


def _search(**query: str) -> TicketSearch:
    return parse_search({"since": "2026-11-01", "until": "2026-12-01", **query}, now=NOVEMBER_NOW, tz=WIB)


async def test_exception_counts_of_the_month(db: str) -> None:
    t = await build_supervisor_month()
    counts = await exception_counts(NOVEMBER, now=NOVEMBER_NOW)
    assert counts.counts == {
        Flag.UNASSIGNED: 1,  # U (T6 has no agent, but it is closed)
        Flag.SLA_RISK: 1,  # T4, past its due time (handoff.sla.evaluate); T5 and U are on track
        Flag.UNCONFIRMED_CLOSED: 2,  # T1 closed with the unconfirmed guess, T6 without a category
        Flag.REOPENED: 1,  # R1 (R2's return came 10 days later)
        Flag.LOW_RATING: 1,  # T2
        Flag.ESCALATION_UNANSWERED: 1,  # E (T3 was escalated, and closed)
    }
    assert counts.abandoned == 2  # as in the monthly report (tests/handoff/test_reports_figures.py)
    # Each count lists exactly the tickets it counts.
    listed = {kind: await _numbers(_search(exception=kind.value)) for kind in Flag}
    assert listed == {
        Flag.UNASSIGNED: [t["U"].number], Flag.SLA_RISK: [t["T4"].number],
        Flag.UNCONFIRMED_CLOSED: [t["T6"].number, t["T1"].number], Flag.REOPENED: [t["R1"].number],
        Flag.LOW_RATING: [t["T2"].number], Flag.ESCALATION_UNANSWERED: [t["E"].number],
    }


async def test_filters(db: str) -> None:
    t = await build_supervisor_month()
    n = {k: str(v.number) for k, v in t.items()}
    everything = await _numbers(_search())
    # Newest opened first, November only (T0 is October's, T7 December's in local time).
    assert everything == [n[k] for k in ("T5", "U", "E", "T4", "R3", "T6", "T3", "R2", "R1", "T2", "T1")]
    assert await _numbers(_search(status="open")) == [n["T5"], n["U"], n["T4"]]
    assert await _numbers(_search(channel="whatsapp")) == [n["T5"], n["T1"]]
    assert await _numbers(_search(category="none")) == [n["T5"], n["U"], n["T6"]]
    nilai = (await Ticket.get(id=t["T2"].id)).category_id
    assert await _numbers(_search(category=str(nilai))) == [n["E"], n["T3"], n["T2"]]
    assert await _numbers(_search(confirmed="yes")) == [n["R3"], n["T3"], n["R2"], n["R1"], n["T2"]]
    assert await _numbers(_search(confirmed="no", status="resolved")) == [n["T6"], n["T1"]]
    budi = t["T4"].assignee_id
    assert await _numbers(_search(agent=str(budi))) == [n["E"], n["T4"], n["T3"]]
    assert await _numbers(_search(agent="none")) == [n["U"], n["T6"]]
    assert await _numbers(_search(rating="5")) == [n["T1"]]
    assert await _numbers(_search(sla="missed")) == [n["T2"]]
    assert await _numbers(_search(sla="met")) == [n[k] for k in ("R3", "T6", "T3", "R2", "R1", "T1")]
    assert await _numbers(_search(sla="breached")) == [n["T4"]]
    assert await _numbers(_search(sla="on_track")) == [n["T5"], n["U"], n["E"]]
    assert await _numbers(_search(sla="at_risk")) == []
    page = await search_tickets(_search(q=n["T4"]), now=NOVEMBER_NOW, lang="en")
    row = page.rows[0]
    assert (row.number, row.agent, row.category, row.confirmed, row.sla, row.channel) == (
        n["T4"], "Budi", "Account & login", False, SlaFilter.BREACHED, ChannelKind.EMAIL)


async def test_search(db: str) -> None:
    t = await build_supervisor_month()
    n = {k: str(v.number) for k, v in t.items()}
    student = [n["R3"], n["R2"], n["R1"]]
    assert await _numbers(_search(q="13521099")) == student  # NIM
    assert await _numbers(_search(q=n["T3"].lower())) == [n["T3"]]  # ticket number, any case
    assert await _numbers(_search(q=str(t["T3"].id))) == [n["T3"]]  # its digits
    assert await _numbers(_search(q="rina")) == student  # name, any case
    assert await _numbers(_search(q="tugas_AKHIR 100%")) == [n["R2"]]  # message text; % and _ are literal
    assert await _numbers(_search(q="tugas%akhir")) == []
    assert await _numbers(_search(q="tugasXakhir")) == []
    # Filters and search together.
    assert await _numbers(_search(q="13521099", exception="reopened")) == [n["R1"]]
    # The product's numbers (handoff.tickets.format_number) and the question asked before the hand-off,
    # which has no ticket_id, only the conversation.
    await Ticket.filter(id=t["T3"].id).update(number="CC-2611-000003")
    assert await _numbers(_search(q="cc-2611-000003")) == ["CC-2611-000003"]
    await Message.create(conversation_id=t["T4"].conversation_id, channel=ChannelKind.EMAIL,
                         direction=Direction.INBOUND, sender_kind=SenderKind.USER, text="Sertifikat MOOC hilang")
    assert await _numbers(_search(q="sertifikat")) == [n["T4"]]


async def test_keyset_pages_walk_every_ticket_once(db: str) -> None:
    await build_supervisor_month()
    everything = await _numbers(_search())
    seen: list[str] = []
    search = _search(limit="3")
    pages = 0
    while True:
        page = await search_tickets(search, now=NOVEMBER_NOW, lang="id")
        pages += 1
        assert page.total == len(everything)
        seen += [r.number for r in page.rows]
        if page.next_before is None:
            break
        search = parse_search(search.query_string(before=page.next_before), now=NOVEMBER_NOW, tz=WIB)
    assert (seen, pages) == (everything, 4)


@pytest.mark.parametrize(("query", "key"), [
    ({"status": "closed"}, "search_error_choice"),
    ({"channel": "fax"}, "search_error_choice"),
    ({"sla": "late"}, "search_error_choice"),
    ({"exception": "x"}, "search_error_choice"),
    ({"confirmed": "maybe"}, "search_error_choice"),
    ({"category": "nilai"}, "search_error_id"),
    ({"agent": "-1"}, "search_error_id"),
    ({"team": "99999999999999999999"}, "search_error_id"),
    ({"before": "0"}, "search_error_id"),
    ({"rating": "6"}, "search_error_rating"),
    ({"rating": "²"}, "search_error_rating"),
    ({"limit": str(MAX_PAGE + 1)}, "search_error_limit"),
    ({"since": "2026-13-01"}, "search_error_since"),
    ({"since": "2026-11-01T25:00:00+07:00"}, "search_error_since"),
    ({"since": "0001-01-01T00:00:00+14:00"}, "search_error_since"),  # before any instant a database holds
    ({"until": "2026-12-01T00:00:00+07:00"}, "search_error_date"),
    ({"until": "2026-10-01"}, "search_error_order"),
    ({"since": "2024-01-01"}, "search_error_long"),
    ({"q": "ab"}, "search_error_query_short"),
    ({"q": "x" * 101}, "search_error_query_long"),
    ({"since": "2026-06-01", "q": "password"}, "search_error_text_long"),
    ({"stauts": "open"}, "search_error_unknown"),
])
def test_bad_parameters_are_refused_with_a_sentence(query: dict[str, str], key: str) -> None:
    with pytest.raises(SearchError) as refused:
        _search(**query)
    assert refused.value.key == key
    for lang in ("id", "en"):
        sentence = console_catalog(lang)(key, **refused.value.values)
        assert sentence != key
        assert "{" not in sentence


def test_defaults_are_the_last_thirty_days() -> None:
    search = parse_search({}, now=NOVEMBER_NOW, tz=WIB)
    assert (search.period.start.isoformat(), search.period.end.isoformat()) == ("2026-11-02", "2026-12-02")
    # A long number searches identities and ticket numbers, however long the period.
    assert parse_search({"since": "2026-01-01", "q": "198503122010121001"}, now=NOVEMBER_NOW, tz=WIB).q


def test_since_is_a_day_or_a_moment() -> None:
    day = _search(since="2026-11-10")
    assert (day.period.start.isoformat(), day.opened_from) == ("2026-11-10", None)
    # A moment (the API's since=) starts the period on its local day and bounds it to the moment.
    moment = _search(since="2026-11-09T20:30:00Z")
    assert moment.period.start.isoformat() == "2026-11-10"  # 03:30 on the 10th in Jakarta
    assert moment.opened_from == datetime(2026, 11, 9, 20, 30, tzinfo=UTC)
    assert moment.query_string()["since"] == "2026-11-09T20:30:00+00:00"
    assert _search(since="2026-11-09T20:30:00").opened_from == moment.opened_from  # no offset: UTC


async def test_open_tickets_past_due_and_at_risk(db: str) -> None:
    def _today(**query: str) -> TicketSearch:
        return _search(until="2026-12-02", **query)

    # Past due is the database's answer (handoff.sla.breached_sql), at risk evaluate's; both are the page's.
    b = await Builder().setup()
    late = await b.ticket(at=NOVEMBER_NOW - timedelta(hours=25))
    risky = await b.ticket(at=NOVEMBER_NOW - timedelta(hours=20))
    calm = await b.ticket(at=NOVEMBER_NOW - timedelta(hours=2))
    due_now = await b.ticket(at=NOVEMBER_NOW - timedelta(hours=24))  # remaining 0: breached
    assert await _numbers(_today(sla="breached")) == [due_now.number, late.number]
    assert await _numbers(_today(sla="at_risk")) == [risky.number]
    assert await _numbers(_today(sla="on_track")) == [calm.number]
    assert await _numbers(_today(exception="sla_risk")) == [risky.number, due_now.number, late.number]
    page = await search_tickets(_today(), now=NOVEMBER_NOW, lang="en")
    assert [(r.number, r.sla) for r in page.rows] == [
        (calm.number, SlaFilter.ON_TRACK), (risky.number, SlaFilter.AT_RISK), (due_now.number, SlaFilter.BREACHED),
        (late.number, SlaFilter.BREACHED)]
    counts = await exception_counts(_today().period, now=NOVEMBER_NOW)
    assert counts.counts[Flag.SLA_RISK] == 3
