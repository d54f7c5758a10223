"""Supervisors' own Telegram chats (handoff.staff_telegram) through the real python-telegram-bot and the
loopback Bot API, on SQLite and PostgreSQL: linking with the console's one-time code (right, wrong, expired,
reused, limited) without the chat ever reaching the student flow; a breach notice and the digests reaching
the linked chat exactly once however often the sweeps run; a 403 marking the link broken."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.channels.telegram import TelegramChannel
from bot.i18n import catalog
from handoff import notify, sla, staff_telegram
from handoff.digest import send_due
from handoff.escalation_mail import BASE_DELAY, drain
from handoff.identity_limits import LINK_LIMIT
from models import (
    AuditLog,
    ChannelKind,
    Conversation,
    DeliveryStatus,
    EscalationMail,
    IdentityAttempt,
    Message,
    StaffTelegramLink,
    TicketEvent,
    User,
    UserRole,
)
from tests.bot.channels.test_telegram import PUBLIC_URL, TOKEN, client, post_update
from tests.conftest import FlowHarness
from tests.fakes.telegram import BOT_USERNAME, FakeTelegram
from tests.handoff.reports_data import WIB, wib
from tests.handoff.test_actions import agent
from tests.handoff.test_sla_policy import handed_off

__all__ = ["client"]

BOSS_CHAT = 8800001
OTHER_CHAT = 8800002
URL = "https://cc.example.ac.id"


async def boss() -> User:
    return await agent("boss@cc.test", UserRole.SUPERVISOR)


async def code_for(user: User, *, age: timedelta = timedelta(0)) -> str:
    # The console's secret is the app's SECRET_KEY; unset here, both sides read the one stored in the database.
    return await staff_telegram.new_code(user=user, secret_key="", now=datetime.now(UTC) - age)


async def send(client: TestClient[Any, Any], fake: FakeTelegram, chat: int, text: str,
               **extra: Any) -> list[str]:
    before = len(fake.texts(chat))
    update = fake.message_update(chat, text, extra=extra or None)
    assert await post_update(client, update) == 200
    return fake.texts(chat)[before:]


async def test_the_console_code_links_the_chat_once_and_the_chat_never_becomes_a_conversation(
    client: TestClient[Any, Any], fake_telegram: FakeTelegram
) -> None:
    user = await boss()
    code = await code_for(user)
    update = fake_telegram.message_update(BOSS_CHAT, f"/start {code}")  # what the deep link sends
    assert await post_update(client, update) == 200
    done = catalog("id").t("staff_link_done", name="boss")
    assert fake_telegram.texts(BOSS_CHAT) == [done]
    link = await StaffTelegramLink.get(user_id=user.id)
    assert link.chat_id == str(BOSS_CHAT)
    # Telegram delivers the update again: the same answer, nothing counted against the chat.
    assert await post_update(client, update) == 200
    assert fake_telegram.texts(BOSS_CHAT) == [done, done]
    assert await IdentityAttempt.all().count() == 0
    # The code is spent: another chat is told so, and the link stays where it is.
    assert await send(client, fake_telegram, OTHER_CHAT, f"/link {code.lower()}") == [
        catalog("id").t("staff_link_expired")]
    assert (await StaffTelegramLink.get(user_id=user.id)).chat_id == str(BOSS_CHAT)
    # The linked chat writing anything gets a note, not the student flow.
    assert await send(client, fake_telegram, BOSS_CHAT, "halo, saya lupa password") == [
        catalog("id").t("staff_chat_only", name="boss")]
    assert await Message.all().count() == 0
    assert await Conversation.all().count() == 0
    assert [e.action for e in await AuditLog.filter(action__startswith="telegram.")] == ["telegram.link"]


async def test_wrong_and_expired_codes_are_answered_and_limited_per_chat(
    client: TestClient[Any, Any], fake_telegram: FakeTelegram
) -> None:
    user = await boss()
    stale = await code_for(user, age=staff_telegram.VALIDITY + timedelta(minutes=1))
    assert await send(client, fake_telegram, BOSS_CHAT, f"/link {stale}") == [catalog("id").t("staff_link_expired")]
    english = {"from": {"id": BOSS_CHAT, "is_bot": False, "first_name": "Boss", "language_code": "en-GB"}}
    assert await send(client, fake_telegram, BOSS_CHAT, "/link ABCDEFGHJK", **english) == [
        catalog("en").t("staff_link_wrong")]
    assert await send(client, fake_telegram, BOSS_CHAT, "/link") == [catalog("id").t("staff_link_ask")]
    for _ in range(LINK_LIMIT - 2):
        await send(client, fake_telegram, BOSS_CHAT, "/link ZZZZZZZZZZ")
    # Over the limit even the right code waits: a chat cannot guess its way in.
    right = await code_for(user)
    assert await send(client, fake_telegram, BOSS_CHAT, f"/link {right}") == [catalog("id").t("staff_link_limited")]
    assert not await StaffTelegramLink.exists(user_id=user.id)
    # The limit is the chat's own: another chat links with the same code.
    assert await send(client, fake_telegram, OTHER_CHAT, f"/start {right}") == [
        catalog("id").t("staff_link_done", name="boss")]
    assert (await StaffTelegramLink.get(user_id=user.id)).chat_id == str(OTHER_CHAT)
    # A student's plain /start is not a link command: it reaches the flow as ever.
    await send(client, fake_telegram, 5550009, "/start")
    assert await Conversation.all().count() == 1


@pytest.fixture
async def telegram(fake_telegram: FakeTelegram) -> AsyncIterator[TelegramChannel]:
    """The real channel as the outbox worker uses it: started (getMe), sending through PTB."""
    channel = TelegramChannel(token=TOKEN, api_base_url=fake_telegram.base_url, public_url=PUBLIC_URL)
    await channel.start()
    try:
        yield channel
    finally:
        await channel.stop()


async def linked(user: User, chat: int) -> None:
    result = await staff_telegram.link_chat(chat_id=str(chat), code=await code_for(user), secret_key="",
                                            now=datetime.now(UTC))
    assert result.outcome == staff_telegram.Linked.LINKED


async def test_a_breach_reaches_the_linked_chat_once_even_when_the_sweep_runs_twice(
    flow: FlowHarness, fake_telegram: FakeTelegram, telegram: TelegramChannel
) -> None:
    assert telegram.bot_username == BOT_USERNAME  # from getMe: what the console's deep link names
    user = await boss()
    await linked(user, BOSS_CHAT)
    ticket = await handed_off(flow)
    on_notice = notify.breach_mails(public_url=URL)
    for _ in range(2):
        await sla.sweep(now=ticket.opened_at + timedelta(minutes=61), on_notice=on_notice)
    rows = await EscalationMail.filter(channel=ChannelKind.TELEGRAM)
    assert [(r.kind, r.recipients) for r in rows] == [("sla_breach", str(BOSS_CHAT))]
    later = datetime.now(UTC) + timedelta(seconds=1)
    assert await asyncio.gather(*(drain(mailer=None, telegram=telegram, now=later) for _ in range(2))) in (
        [1, 1], [1, 0], [0, 1])  # both sweeps may see the row; only one claims it
    await drain(mailer=None, telegram=telegram, now=later)
    [text] = fake_telegram.texts(BOSS_CHAT)
    assert f"Tiket {ticket.number} melewati target respons pertama" in text
    assert f"Ticket {ticket.number} is past its first response target" in text
    assert f"{URL}/console/t/{ticket.id}" in text
    assert "13521045" not in text
    assert "Test User" not in text
    assert (await EscalationMail.get(id=rows[0].id)).status == DeliveryStatus.SENT
    events = await TicketEvent.filter(ticket_id=ticket.id, kind="sla_breach_telegram")
    assert [e.data["delivered"] for e in events] == [True]
    # The supervisor's mail is its own row, left for a process with SMTP.
    mail = await EscalationMail.get(channel=ChannelKind.EMAIL, kind="sla_breach")
    assert (mail.recipients, mail.status) == ("boss@cc.test", DeliveryStatus.QUEUED)


async def test_the_digests_reach_the_linked_chat_once(
    db: str, fake_telegram: FakeTelegram, telegram: TelegramChannel
) -> None:
    user = await boss()
    await User.filter(id=user.id).update(created_at=wib(2026, 1, 5))  # a supervisor since January
    await linked(user, BOSS_CHAT)
    seven = wib(2026, 12, 1, 7, 0)
    for _ in range(2):  # a second run, or a second scheduler, queues nothing more
        await asyncio.gather(*(send_due(now=seven, tz=WIB, public_url=URL) for _ in range(2)))
    rows = await EscalationMail.filter(channel=ChannelKind.TELEGRAM).order_by("id")
    assert sorted(r.kind for r in rows) == ["digest_daily", "digest_weekly"]
    later = datetime.now(UTC) + timedelta(seconds=1)
    for _ in range(2):
        await drain(mailer=None, telegram=telegram, now=later)
    texts = fake_telegram.texts(BOSS_CHAT)
    assert len(texts) == 2
    daily = next(text for text in texts if text.startswith("Ringkasan harian"))
    indonesian, english = daily.split("\n\n-----\n\n")
    assert "- Belum diambil lebih dari 30 menit: 0" in indonesian
    assert "Daily digest" in english
    assert "- Unassigned for over 30 minutes: 0" in english
    assert f"{URL}/console/admin/tickets?since=" in english
    assert len(daily) < 4096  # one Telegram message, never cut
    assert {r.status for r in await EscalationMail.filter(channel=ChannelKind.TELEGRAM)} == {DeliveryStatus.SENT}


async def test_a_blocked_bot_marks_the_link_broken_and_nothing_is_retried(
    db: str, fake_telegram: FakeTelegram, telegram: TelegramChannel
) -> None:
    user = await boss()
    await linked(user, BOSS_CHAT)
    # A passing failure is retried with the outbox's backoff.
    fake_telegram.fail("sendMessage", 500, "Internal Server Error")
    first = await notify.queue_supervisor_telegram(supervisor=user, kind="digest_daily", text="satu")
    assert first is not None
    now = datetime.now(UTC) + timedelta(seconds=1)
    await drain(mailer=None, telegram=telegram, now=now)
    row = await EscalationMail.get(id=first.id)
    assert (row.status, row.attempts) == (DeliveryStatus.QUEUED, 1)
    await drain(mailer=None, telegram=telegram, now=now + BASE_DELAY)
    assert (await EscalationMail.get(id=first.id)).status == DeliveryStatus.SENT
    # Then the supervisor blocks the bot.
    fake_telegram.fail("sendMessage", 403, "Forbidden: bot was blocked by the user")
    blocked = await notify.queue_supervisor_telegram(supervisor=user, kind="digest_daily", text="dua")
    waiting = await notify.queue_supervisor_telegram(supervisor=user, kind="digest_weekly", text="tiga")
    assert blocked is not None
    assert waiting is not None
    calls = len(fake_telegram.calls)
    await drain(mailer=None, telegram=telegram, now=now + BASE_DELAY)
    assert len(fake_telegram.calls) == calls + 1  # the second notice is given up without asking Telegram
    assert [(r.status, r.attempts) for r in await EscalationMail.filter(id__in=[blocked.id, waiting.id])
            .order_by("id")] == [(DeliveryStatus.FAILED, 1), (DeliveryStatus.FAILED, 0)]
    link = await StaffTelegramLink.get(user_id=user.id)
    assert link.broken_at is not None
    assert "blocked" in (link.broken_reason or "")
    assert await AuditLog.exists(action="telegram.broken")
    for _ in range(2):
        assert await drain(mailer=None, telegram=telegram, now=now + timedelta(hours=1)) == 0
    assert len(fake_telegram.calls) == calls + 1
    # Nothing more is queued for a broken link, until the chat writes to the bot again.
    assert await notify.queue_supervisor_telegram(supervisor=user, kind="digest_daily", text="empat") is None
    assert await staff_telegram.linked_user(str(BOSS_CHAT)) is not None
    assert (await StaffTelegramLink.get(user_id=user.id)).broken_at is None
