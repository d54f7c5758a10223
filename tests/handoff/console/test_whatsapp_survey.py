"""The survey after WhatsApp's 24-hour window: the approved "survey" template through the real twilio client
against the loopback Twilio, or skipped with an event when none is configured (SQLite + PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from bot.app import REGISTRY, console_config
from bot.i18n import catalog
from handoff import actions
from handoff.auth import create_user
from models import Category, ChannelIdentity, ChannelKind, Conversation, FlowStep, Ticket, TicketEvent, UserRole
from tests.bot.channels.test_whatsapp import TEMPLATE, client, say, settings_for, start
from tests.fakes.twilio import FakeTwilio, fake_twilio

__all__ = ["client", "fake_twilio"]

ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]


def translate(lang: str, key: str, /, **values: object) -> str:
    return catalog(lang).t(key, **values)


async def close_after_the_window(client: TestClient[Any, Any], fake: FakeTwilio, *, template: bool) -> Ticket:
    for text in ("halo", "13521045", "agen"):
        await say(client, fake, text)
    ticket = await Ticket.get(channel=ChannelKind.WHATSAPP)
    ana = await create_user(email="ana@cc.test", role=UserRole.AGENT, password="a-long-password")
    now = datetime.now(UTC)
    await actions.take_ticket(ticket_id=ticket.id, agent=ana, now=now)
    ticket = await Ticket.get(id=ticket.id)
    await actions.categorize(ticket=ticket, category=await Category.get(slug="akun-login"), agent=ana)
    await ChannelIdentity.filter(channel=ChannelKind.WHATSAPP).update(last_inbound_at=now - timedelta(hours=25))
    assert client.app is not None
    return await actions.close_ticket(registry=client.app[REGISTRY], ticket=ticket, agent=ana, now=now,
                                       translate=translate, survey_template=template)


async def test_after_the_window_the_survey_goes_out_as_the_template_and_a_number_answers_it(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path, fake_twilio: FakeTwilio
) -> None:
    settings = settings_for(fake_twilio, db_url, tmp_path, twilio_templates={"survey": TEMPLATE})
    assert console_config(settings).survey_template is True  # TWILIO_TEMPLATE_SURVEY reaches the console
    client = await start(aiohttp_client, settings)
    ticket = await close_after_the_window(client, fake_twilio, template=True)
    sent = fake_twilio.messages[-1]
    assert sent["ContentSid"] == TEMPLATE
    assert "Body" not in sent
    assert json.loads(sent["ContentVariables"])["1"].startswith(f"Tiket {ticket.number} telah ditutup")
    event = await TicketEvent.get(ticket_id=ticket.id, kind="survey_sent")
    assert event.data == {"template": True}
    conversation = await Conversation.get(id=ticket.conversation_id)  # type: ignore[attr-defined]
    assert conversation.step == FlowStep.AWAITING_SURVEY

    replies = await say(client, fake_twilio, "2")  # the numbered reply works as in the window
    assert replies[0] == catalog("id").t("survey_thanks_low")
    stored = await Ticket.get(id=ticket.id)
    assert (stored.survey_rating, stored.flagged) == (2, True)


async def test_after_the_window_without_a_template_the_survey_is_skipped(
    client: TestClient[Any, Any], fake_twilio: FakeTwilio
) -> None:
    ticket = await close_after_the_window(client, fake_twilio, template=False)
    event = await TicketEvent.get(ticket_id=ticket.id, kind="survey_skipped")
    assert event.data == {"reason": "whatsapp_window_closed"}
    assert ticket.survey_sent_at is None
    assert not await TicketEvent.exists(ticket_id=ticket.id, kind="survey_sent")
    assert not any("telah ditutup" in (m.get("Body", "") + m.get("ContentVariables", ""))
                   for m in fake_twilio.messages)
