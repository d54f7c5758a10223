"""Templates filled by name only: the renderer, the check on save, and the bot sending what was written
(real database: SQLite, and PostgreSQL where one answers)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from handoff.hours import OperatingHours
from handoff.operations import defaults_from, save_operations
from handoff.templating import ANSWER, OUT_OF_HOURS, check, render
from models import AnswerTemplate, Category, Ticket
from tests.conftest import FlowHarness

# Saturday 28 Nov 2026, 10:00 WIB: outside the default hours.
SATURDAY_10 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("Halo {name}, silakan.", {"name": "Budi"}, "Halo Budi, silakan."),
        ("Halo {name}, silakan.", {}, "Halo, silakan."),
        ("Halo {name} dan {name}!", {"name": "Ana"}, "Halo Ana dan Ana!"),
        ("Kurung {{name}} dan {{{name}}}", {"name": "Ana"}, "Kurung {name} dan {Ana}"),
        ("Tiket {ticket} oleh {agent}", {"name": "Ana"}, "Tiket  oleh "),
        # Not a field of the kind, or more than a bare name: left as written, nothing evaluated.
        ("{name.__class__.__mro__}", {"name": "Ana"}, "{name.__class__.__mro__}"),
        ("{name[0]} {name!r} {name:>30}", {"name": "Ana"}, "{name[0]} {name!r} {name:>30}"),
        ("{nama} {0} {} { name }", {"name": "Ana"}, "{nama} {0} {} { name }"),
        ("kurung { sendiri } dan {name", {"name": "Ana"}, "kurung { sendiri } dan {name"),
        # A value is never read as a template itself.
        ("Halo {name}", {"name": "{agent} {{x}} {name.__class__}"}, "Halo {agent} {{x}} {name.__class__}"),
        ("tanpa isian", {}, "tanpa isian"),
    ],
)
def test_render_fills_bare_fields_only(text: str, values: dict[str, str], expected: str) -> None:
    assert render(ANSWER, text, **values) == expected


def test_a_value_given_for_a_field_of_another_kind_is_not_used() -> None:
    assert render(OUT_OF_HOURS, "{name} {ticket}", name="Ana", ticket="CC-1") == "{name} CC-1"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Halo {name}, tiket {ticket} dari {agent}. {{literal}}", None),
        ("", None),
        ("Halo {nama}", ("error_template_field", "{nama}")),
        ("Halo {name.__class__.__mro__}", ("error_template_format", "{name.__class__.__mro__}")),
        ("Halo {name[0]}", ("error_template_format", "{name[0]}")),
        ("Halo {name!r}", ("error_template_format", "{name!r}")),
        ("Halo {name:>20000}", ("error_template_format", "{name:>20000}")),
        ("Halo {0}", ("error_template_field", "{0}")),
        ("Halo {}", ("error_template_field", "{}")),
        ("Halo {name", ("error_template_brace", "{")),
        ("Halo name}", ("error_template_brace", "}")),
        ("{hours}", ("error_template_field", "{hours}")),  # an out-of-hours field, not an answer's
    ],
)
def test_check_names_the_first_placeholder_that_is_not_a_bare_field(
    text: str, problem: tuple[str, str] | None
) -> None:
    found = check(ANSWER, text)
    assert (None if found is None else (found.code, found.field)) == problem
    if found is not None:
        assert found.allowed == "{name}, {ticket}, {agent}"


async def template(slug: str, body: str) -> None:
    category = await Category.get(slug=slug)
    await AnswerTemplate.filter(category=category).update(body=body)


async def test_an_answer_template_is_never_evaluated_by_the_bot(flow: FlowHarness) -> None:
    # Stored before templates were checked on save (or written to the database directly).
    await template("reset-password", "Halo {name}: {name.__class__.__mro__} {name:>200} {{ok}}")
    await flow.send("halo")
    await flow.send("13521045")
    await flow.prove()
    await flow.send("saya lupa password")
    assert flow.replies()[0] == "Halo Budi: {name.__class__.__mro__} {name:>200} {ok}"


async def test_a_stored_out_of_hours_message_with_a_width_goes_out_as_written(flow: FlowHarness) -> None:
    # Saved before the check refused it: a width once turned one hand-off into 13 WhatsApp sends.
    defaults = defaults_from(hours=OperatingHours(), sla=timedelta(hours=24))
    await save_operations(operations=replace(defaults, messages={"id": "Tutup. Tiket {ticket:#>20000}, {ticket}."}))
    flow.now = SATURDAY_10
    await flow.send("halo")
    await flow.send("13521045")
    await flow.send("agen")
    ticket = await Ticket.get()
    assert flow.replies()[-1] == f"Tutup. Tiket {{ticket:#>20000}}, {ticket.number}."
