"""Supervisor-set hours, closed dates, out-of-hours message and SLA: validation, storage, and the bot using
them at once (real database: SQLite, and PostgreSQL where one answers)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from handoff.hours import OperatingHours
from handoff.operations import (
    OperationsFormError,
    defaults_from,
    form_values,
    load_operations,
    parse_form,
    save_operations,
)
from models import Setting, Ticket
from tests.conftest import FlowHarness

DEFAULTS = defaults_from(hours=OperatingHours(), sla=timedelta(hours=24))
# Saturday 28 Nov 2026, 10:00 WIB.
SATURDAY_10 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


def weekdays_form(**overrides: str) -> dict[str, str]:
    form = {"public_holidays": "1", "sla_hours": "24", "closed_dates": "", "message_id": "", "message_en": ""}
    for day in range(5):
        form |= {f"open_{day}": "1", f"opens_{day}": "08:00", f"closes_{day}": "16:00"}
    return form | overrides


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"closes_0": "07:00"}, "closes_0", "error_end_before_start"),
        ({"opens_2": "25:00"}, "opens_2", "error_bad_time"),
        ({"closes_4": "16:60"}, "closes_4", "error_bad_time"),
        ({"opens_1": "pagi"}, "opens_1", "error_bad_time"),
        ({"sla_hours": "0"}, "sla_hours", "error_sla_range"),
        ({"sla_hours": "-4"}, "sla_hours", "error_sla_range"),
        ({"sla_hours": "100000"}, "sla_hours", "error_sla_range"),
        ({"sla_hours": "nan"}, "sla_hours", "error_sla_range"),
        ({"sla_hours": "sehari"}, "sla_hours", "error_sla_number"),
        ({"closed_dates": "2026-12-24\n2026-02-30"}, "closed_dates", "error_bad_date"),
        ({"message_id": "Tiket {ticket} dibuka {nama}"}, "message_id", "error_template_field"),
        ({"message_en": "Ticket {ticket"}, "message_en", "error_template_brace"),
        ({"message_en": "Ticket {ticket:#>20000}"}, "message_en", "error_template_format"),
    ],
)
def test_bad_input_names_the_field(overrides: dict[str, str], field: str, code: str) -> None:
    with pytest.raises(OperationsFormError) as caught:
        parse_form(weekdays_form(**overrides), defaults=DEFAULTS)
    assert caught.value.errors == {field: code}


@pytest.mark.parametrize(
    ("message", "field"),
    [
        # A width: one hand-off once became a 20,000-character message, 13 WhatsApp sends.
        ("Tiket {ticket:#>20000} dibuka.", "{ticket:#>20000}"),
        ("Tiket {ticket.__class__.__mro__}", "{ticket.__class__.__mro__}"),
        ("Tiket {ticket!r}", "{ticket!r}"),
        ("Tiket {ticket[0]}", "{ticket[0]}"),
        ("Tiket {0}", "{0}"),
    ],
)
def test_an_out_of_hours_message_naming_anything_but_a_bare_field_is_refused(message: str, field: str) -> None:
    with pytest.raises(OperationsFormError) as caught:
        parse_form(weekdays_form(message_id=message), defaults=DEFAULTS)
    assert caught.value.params == {"message_id": {"field": field,
                                                  "allowed": "{ticket}, {hours}, {next_open}, {sla_hours}"}}


def test_a_good_form_becomes_the_schedule() -> None:
    ops = parse_form(weekdays_form(open_5="1", opens_5="08:00", closes_5="12:00", closed_dates="2026-12-24, 2026-12-31",
                                   sla_hours="8", public_holidays=""), defaults=DEFAULTS)
    assert ops.hours.span(5) == (time(8), time(12))
    assert ops.hours.span(6) is None
    assert ops.hours.closed_dates == frozenset({date(2026, 12, 24), date(2026, 12, 31)})
    assert ops.sla == timedelta(hours=8)
    assert ops.hours.public_holidays is False
    assert ops.hours.is_open(SATURDAY_10)
    # Thursday 24 Dec 10:00 WIB is an extra closed date: the next shift is Friday 25 Dec... unless a
    # holiday; public holidays are off here, so Friday it is.
    thursday = datetime(2026, 12, 24, 3, 0, tzinfo=UTC)
    assert not ops.hours.is_open(thursday)
    assert ops.hours.next_open(thursday) == datetime(2026, 12, 25, 8, 0, tzinfo=ops.hours.tz)


async def test_stored_values_round_trip_and_start_from_the_environment(db: str) -> None:
    assert await load_operations(defaults=DEFAULTS) is DEFAULTS
    ops = parse_form(weekdays_form(sla_hours="12", message_en="Closed now; ticket {ticket}, back {next_open}."),
                     defaults=DEFAULTS)
    await save_operations(operations=ops)
    await save_operations(operations=ops)  # saving twice keeps one row
    assert await Setting.filter(key="operations").count() == 1
    loaded = await load_operations(defaults=DEFAULTS)
    assert loaded.stored
    assert loaded.sla == timedelta(hours=12)
    assert loaded.message("en") == "Closed now; ticket {ticket}, back {next_open}."
    assert [loaded.hours.span(d) for d in range(7)] == [ops.hours.span(d) for d in range(7)]


async def test_the_bot_uses_the_stored_hours_message_and_sla_without_a_restart(flow: FlowHarness) -> None:
    flow.now = SATURDAY_10  # closed on Saturdays by default
    await flow.send("halo", user="1")
    await flow.send("13521045", user="1")
    await flow.send("agen", user="1")
    first = await Ticket.filter(conversation__identity__external_id="1").get()
    assert first.due_at - first.opened_at == timedelta(hours=24)
    assert "di luar jam layanan" in flow.replies()[-1]

    message = "Kantor tutup. Tiket {ticket}, dibalas mulai {next_open}."
    ops = parse_form(weekdays_form(sla_hours="6", message_id=message), defaults=DEFAULTS)
    await save_operations(operations=ops)
    await flow.send("halo", user="2")
    # Other students: Budi's NIM again would be Budi, whose message joins his ticket still open.
    await flow.send("16522101", user="2")
    await flow.send("agen", user="2")
    second = await Ticket.filter(conversation__identity__external_id="2").get()
    assert second.due_at - second.opened_at == timedelta(hours=6)
    monday = "Senin, 30 November 2026 pukul 08.00 WIB"
    assert flow.replies()[-1] == f"Kantor tutup. Tiket {second.number}, dibalas mulai {monday}."

    # Open on Saturdays now: the in-hours message, with the hours written from the schedule and the new target.
    await save_operations(operations=parse_form(
        weekdays_form(open_5="1", opens_5="09:00", closes_5="12:00", sla_hours="6"), defaults=DEFAULTS))
    await flow.send("halo", user="3")
    await flow.send("10623077", user="3")
    await flow.send("agen", user="3")
    reply = flow.replies()[-1]
    assert "Senin–Jumat 08.00–16.00; Sabtu 09.00–12.00 WIB, kecuali hari libur nasional" in reply
    assert "target penyelesaian kami 6 jam" in reply


def test_a_break_splits_the_day_and_comes_back_on_the_form() -> None:
    form = {f"open_{d}": "1" for d in range(5)} | {f"opens_{d}": "08:00" for d in range(5)} | {
        f"closes_{d}": "16:00" for d in range(5)} | {"break_from_4": "11:30", "break_until_4": "13:00",
                                                     "sla_hours": "24"}
    ops = parse_form(form, defaults=DEFAULTS)
    assert ops.hours.periods(4) == ((time(8), time(11, 30)), (time(13), time(16)))
    assert ops.hours.periods(3) == ((time(8), time(16)),)
    values = form_values(ops)
    assert (values["break_from_4"], values["break_until_4"], values["break_from_3"]) == ("11:30", "13:00", "")


def test_a_break_outside_the_day_or_half_given_is_refused() -> None:
    base = {"open_4": "1", "opens_4": "08:00", "closes_4": "16:00", "sla_hours": "24"}
    with pytest.raises(OperationsFormError) as outside:
        parse_form(base | {"break_from_4": "15:00", "break_until_4": "17:00"}, defaults=DEFAULTS)
    assert outside.value.errors == {"break_until_4": "error_break_outside"}
    with pytest.raises(OperationsFormError) as half:
        parse_form(base | {"break_from_4": "11:30"}, defaults=DEFAULTS)
    assert half.value.errors == {"break_until_4": "error_bad_time"}


async def test_breaks_survive_saving_and_loading(db: str) -> None:
    form = {"open_4": "1", "opens_4": "08:00", "closes_4": "16:00", "break_from_4": "11:30",
            "break_until_4": "13:00", "sla_hours": "24"}
    await save_operations(operations=parse_form(form, defaults=DEFAULTS))
    loaded = await load_operations(defaults=DEFAULTS)
    assert loaded.hours.periods(4) == ((time(8), time(11, 30)), (time(13), time(16)))
