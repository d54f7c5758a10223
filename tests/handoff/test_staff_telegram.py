"""Linking a console user's Telegram chat (handoff.staff_telegram), on SQLite and PostgreSQL: which texts are
link commands, one chat per user and one user per chat, an inactive user's code, unlinking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from handoff import staff_telegram
from handoff.staff_telegram import Linked, command_code, deep_link, link_chat, new_code
from models import AuditLog, StaffLinkCode, StaffTelegramLink, User, UserRole
from tests.handoff.test_actions import agent

NOW = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "code"), [
    ("/start ABCDEFGHJK", "ABCDEFGHJK"),
    ("/link abcdefghjk", "abcdefghjk"),
    ("  /LINK@carecenter_bot ABCDEFGHJK  ", "ABCDEFGHJK"),
    ("/link", ""),
    ("/start", None),  # a student's first message
    ("/start@carecenter_bot", None),
    ("saya mau /link ABC", None),
    ("/link ABC DEF", None),
    ("/linked ABC", None),
])
def test_which_texts_are_link_commands(text: str, code: str | None) -> None:
    assert command_code(text) == code


def test_the_deep_link() -> None:
    assert deep_link("carecenter_bot", "ABCDEFGHJK") == "https://t.me/carecenter_bot?start=ABCDEFGHJK"


async def test_a_chat_moves_to_the_user_whose_code_it_sends_last(db: str) -> None:
    sari = await agent("sari@cc.test", UserRole.SUPERVISOR)
    budi = await agent("budi@cc.test", UserRole.SUPERVISOR)
    code = await new_code(user=sari, secret_key="k", now=NOW)
    assert len(code) == staff_telegram.LENGTH
    assert set(code) <= set(staff_telegram.ALPHABET)
    assert (await link_chat(chat_id="42", code=code, secret_key="k", now=NOW)).outcome == Linked.LINKED
    # Another secret makes another hash: a code is worth nothing under another installation's key.
    other = await new_code(user=budi, secret_key="k", now=NOW)
    assert (await link_chat(chat_id="42", code=other, secret_key="not-k", now=NOW)).outcome == Linked.WRONG
    assert (await link_chat(chat_id="42", code=other, secret_key="k", now=NOW)).outcome == Linked.LINKED
    links = [(link.user_id, link.chat_id) for link in await StaffTelegramLink.all()]
    assert links == [(budi.id, "42")]
    moved = await AuditLog.filter(action="telegram.link").order_by("-id").first()
    assert moved is not None
    assert moved.data == {"moved_from_user": sari.id}
    # Budi links a second chat: his first one is forgotten, one chat per user.
    third = await new_code(user=budi, secret_key="k", now=NOW)
    assert (await link_chat(chat_id="43", code=third, secret_key="k", now=NOW)).outcome == Linked.LINKED
    assert [(link.user_id, link.chat_id) for link in await StaffTelegramLink.all()] == [(budi.id, "43")]


async def test_an_inactive_users_code_links_nothing_and_unlink_is_audited(db: str) -> None:
    sari = await agent("sari@cc.test", UserRole.SUPERVISOR)
    code = await new_code(user=sari, secret_key="", now=NOW)
    await User.filter(id=sari.id).update(active=False)
    assert (await link_chat(chat_id="42", code=code, secret_key="", now=NOW)).outcome == Linked.WRONG
    await User.filter(id=sari.id).update(active=True)
    assert (await link_chat(chat_id="42", code=code, secret_key="",
                            now=NOW + timedelta(minutes=10))).outcome == Linked.EXPIRED
    assert await StaffLinkCode.filter(used_at__isnull=False).count() == 0
    await StaffTelegramLink.create(user_id=sari.id, chat_id="42", linked_at=NOW)
    assert await staff_telegram.unlink(user=sari, actor=sari) is True
    assert await staff_telegram.unlink(user=sari, actor=sari) is False
    assert await AuditLog.filter(action="telegram.unlink").count() == 1
