"""SLA breach mails (handoff.notify): queued with the notice, sent through the outbox to aiosmtpd, both parts."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from handoff import sla, staff_telegram
from handoff.console.incidents import escalation_context
from handoff.escalation_mail import drain
from handoff.notify import breach_mails
from models import ChannelKind, DeliveryStatus, EscalationMail, StaffTelegramLink, TicketEvent, User, UserRole
from tests.conftest import FlowHarness
from tests.fakes.mail import SmtpSink, smtp_sink
from tests.handoff.test_actions import agent
from tests.handoff.test_escalation_mail import mailer
from tests.handoff.test_sla_policy import handed_off

__all__ = ["smtp_sink"]


async def test_a_breach_mails_each_supervisor_once_and_skips_one_without_an_address(
    flow: FlowHarness, smtp_sink: SmtpSink, caplog: pytest.LogCaptureFixture
) -> None:
    await agent("boss@cc.test", UserRole.SUPERVISOR)
    nomail = await agent("nomail@cc.test", UserRole.SUPERVISOR)
    await User.filter(id=nomail.id).update(email=" ")
    await agent("ana@cc.test")  # agents get warnings in the console, never mail
    ticket = await handed_off(flow)
    on_notice = breach_mails(public_url="https://cc.example.ac.id")
    await sla.sweep(now=ticket.opened_at + timedelta(minutes=31), on_notice=on_notice)
    assert await EscalationMail.filter(kind="sla_breach").count() == 0  # a warning is not mailed
    with caplog.at_level(logging.WARNING, logger="handoff.notify"):
        for _ in range(2):  # a second sweep (or scheduler) queues nothing more
            await sla.sweep(now=ticket.opened_at + timedelta(minutes=61), on_notice=on_notice)
    rows = await EscalationMail.filter(kind="sla_breach")
    assert [r.recipients for r in rows] == ["boss@cc.test"]
    skipped = [r.getMessage() for r in caplog.records if r.name == "handoff.notify"]
    assert skipped == [f"SLA breach mail skipped: supervisor {nomail.id} has no usable e-mail address"]
    # The outbox sends it (a minute's grace for a row never tried, then the first try).
    assert await drain(mailer=mailer(smtp_sink.port), now=datetime.now(UTC) + timedelta(minutes=2)) == 1
    assert smtp_sink.envelopes == [("care@cc.test", ["boss@cc.test"])]
    mail = smtp_sink.received[0]
    assert mail["Subject"] == f"[Care Center] Tiket {ticket.number} melewati target respons pertama"
    plain, rich = mail.get_body(preferencelist=("plain",)), mail.get_body(preferencelist=("html",))
    assert plain is not None
    assert rich is not None
    text = str(plain.get_content())
    assert f"https://cc.example.ac.id/console/t/{ticket.id}" in text
    assert "past its first response target" in text  # English follows the Indonesian
    assert "13521045" not in text
    assert "Test User" not in text
    assert "<p>" in str(rich.get_content())
    events = await TicketEvent.filter(ticket_id=ticket.id, kind="sla_breach_email")
    assert [e.data["delivered"] for e in events] == [True]
    assert (await EscalationMail.get(id=rows[0].id)).status == DeliveryStatus.SENT


async def test_a_breach_goes_to_a_linked_chat_too_and_is_no_developer_mail_on_the_ticket(flow: FlowHarness) -> None:
    boss = await agent("boss@cc.test", UserRole.SUPERVISOR)
    await User.filter(id=boss.id).update(email=" ")  # no address: the chat still gets it
    await StaffTelegramLink.create(user_id=boss.id, chat_id="4242", linked_at=datetime.now(UTC))
    broken = await agent("wakil@cc.test", UserRole.SUPERVISOR)
    await StaffTelegramLink.create(user_id=broken.id, chat_id="4343", linked_at=datetime.now(UTC),
                                   broken_at=datetime.now(UTC), broken_reason="forbidden")
    ticket = await handed_off(flow)
    await sla.sweep(now=ticket.opened_at + timedelta(minutes=61), on_notice=breach_mails(public_url=""))
    rows = await EscalationMail.filter(kind="sla_breach").order_by("id")
    assert [(r.channel, r.recipients) for r in rows] == [(ChannelKind.TELEGRAM, "4242"),
                                                         (ChannelKind.EMAIL, "wakil@cc.test")]
    assert await staff_telegram.working_chat("4343") is False
    # The ticket page's "developer e-mail" lists the escalation's mails, not the supervisors' notices.
    assert (await escalation_context(ticket))["escalation_mails"] == []
