"""The format-string corpus (format_templates.txt): refused when a supervisor saves it, as an answer template or
as an out-of-hours message, and never evaluated when a template already stored holds it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from handoff.templating import ANSWER, OUT_OF_HOURS, TemplateKind, check, render
from models import AnswerTemplate, Category, Setting
from tests.corpora import corpus
from tests.handoff.console.conftest import Console, serve_console

PLACEHOLDERS = corpus("format_templates.txt")
VALUES = {"name": "Budi", "ticket": "CC-2612-000001", "agent": "Ana Agen", "hours": "Senin–Jumat 08.00–16.00",
          "next_open": "Senin pukul 08.00", "sla_hours": "24"}
# What str.format leaves behind when a template reaches into an object.
EVALUATED = re.compile(r"<class |<built-in |<function |<bound method | object at 0x|<module |\{'|mappingproxy")


def sentence(placeholder: str) -> str:
    return f"Halo, tiket Anda {placeholder} sudah kami terima."


@pytest.mark.parametrize("kind", [ANSWER, OUT_OF_HOURS], ids=lambda kind: kind.name)
def test_every_placeholder_of_the_corpus_is_refused(kind: TemplateKind) -> None:
    accepted = [p for p in PLACEHOLDERS if check(kind, sentence(p)) is None]
    assert accepted == []


@pytest.mark.parametrize("kind", [ANSWER, OUT_OF_HOURS], ids=lambda kind: kind.name)
def test_no_placeholder_of_the_corpus_is_evaluated_when_rendered(kind: TemplateKind) -> None:
    for placeholder in PLACEHOLDERS:
        text = sentence(placeholder)
        rendered = render(kind, text, **VALUES)
        assert EVALUATED.search(rendered) is None, placeholder
        # No width or padding: never longer than the text with every value in it once more.
        assert len(rendered) <= len(text) + sum(map(len, VALUES.values())), placeholder


async def test_the_console_refuses_to_save_any_of_them(tmp_path: Path) -> None:
    async with serve_console(tmp_path) as served:
        category = await Category.get(slug="reset-password")
        before = await AnswerTemplate.get(category=category, language="id")
        web = Console(served.url)
        try:
            await web.login("sari@cc.test")
            template_statuses = {p: (await web.post(f"/console/admin/templates/{category.id}/id",
                                                    {"body": sentence(p)})).status for p in PLACEHOLDERS}
            settings = {"public_holidays": "1", "sla_hours": "24", "closed_dates": "", "message_en": "",
                        **{f"open_{day}": "1" for day in range(5)},
                        **{f"opens_{day}": "08:00" for day in range(5)},
                        **{f"closes_{day}": "16:00" for day in range(5)}}
            message_statuses = {p: (await web.post("/console/admin/settings",
                                                   {**settings, "message_id": sentence(p)})).status
                                for p in PLACEHOLDERS}
            # The control: the same forms with bare fields are saved.
            good_template = await web.post(f"/console/admin/templates/{category.id}/id",
                                           {"body": "Halo {name}, {{kurung}}"})
            good_message = await web.post("/console/admin/settings", {**settings, "message_id": "Tiket {ticket}."})
        finally:
            await web.close()
        assert template_statuses == dict.fromkeys(PLACEHOLDERS, 400)
        assert message_statuses == dict.fromkeys(PLACEHOLDERS, 400)
        assert (good_template.status, good_message.status) == (303, 303)
        assert (await AnswerTemplate.get(id=before.id)).body == "Halo {name}, {{kurung}}"
        assert await Setting.filter(key="operations").count() == 1
