"""Escalation by e-mail: the real aiosmtplib client against aiosmtpd, retried durably (SQLite + PostgreSQL)."""

from __future__ import annotations

import socket

from bot.channels.mail import SmtpConfig, SmtpMailer
from handoff import actions
from handoff.escalation_mail import BASE_DELAY, drain
from models import Category, DeliveryStatus, EscalationMail, Ticket, TicketEvent, TicketStatus
from tests.conftest import IN_HOURS, FlowHarness
from tests.fakes.mail import SmtpSink, smtp_sink
from tests.handoff.test_actions import agent

__all__ = ["smtp_sink"]

DEVS = ("dev-a@edunex.test", "dev-b@edunex.test")


def mailer(port: int) -> SmtpMailer:
    return SmtpMailer(SmtpConfig(host="127.0.0.1", port=port, username="", password="",
                                 sender="Care Center <care@cc.test>", security="none"))


def closed_port() -> int:
    with socket.socket() as s:  # bound, then closed: nothing listens there
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def escalated_ticket(flow: FlowHarness, smtp_port: int) -> Ticket:
    await flow.send("halo")
    await flow.send("13521045")
    await flow.send("password saya tidak bisa dipakai")
    await flow.send("2")  # not helpful: the next suggestion or a person is offered
    await flow.send("2")  # a person: hand-off with the classifier's guesses kept on the conversation
    ticket = await Ticket.filter(conversation__identity__external_id="42").order_by("-id").first().get()
    ana = await agent("ana@cc.test")
    await actions.take_ticket(ticket_id=ticket.id, agent=ana, now=IN_HOURS)
    ticket = await Ticket.get(id=ticket.id)
    await actions.categorize(ticket=ticket, category=await Category.get(slug="bug-sistem"), agent=ana)
    return await actions.escalate(
        ticket=ticket, agent=ana, now=IN_HOURS, summary="Reset password gagal untuk semua mahasiswa",
        ticket_url=f"https://cc.example.ac.id/console/t/{ticket.id}", email_to=DEVS, mailer=mailer(smtp_port),
    )


async def test_escalation_mails_the_summary_to_every_address(flow: FlowHarness, smtp_sink: SmtpSink) -> None:
    ticket = await escalated_ticket(flow, smtp_sink.port)
    assert ticket.status == TicketStatus.ESCALATED
    assert len(smtp_sink.received) == 1
    assert smtp_sink.envelopes[0] == ("care@cc.test", list(DEVS))
    mail = smtp_sink.received[0]
    assert mail["Subject"] == f"[Care Center] Escalated: {ticket.number}"
    assert mail["Auto-Submitted"] == "auto-generated"
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    lines = str(body.get_content()).strip().splitlines()
    assert lines == [
        f"Ticket: {ticket.number}",
        "Category: bug-sistem",
        "Channel: telegram",
        "Question: password saya tidak bisa dipakai",
        "Classifier top-3: reset-password 93%, out_of_scope 1%",
        "Agent's summary: Reset password gagal untuk semua mahasiswa",
        f"Ticket in the console: https://cc.example.ac.id/console/t/{ticket.id}",
    ]
    assert "13521045" not in str(body.get_content())  # the developers get the problem, not the person
    row = await EscalationMail.get(ticket_id=ticket.id)
    assert (row.status, row.attempts) == (DeliveryStatus.SENT, 1)
    events = await TicketEvent.filter(ticket_id=ticket.id, kind="escalation_email")
    assert [e.data["delivered"] for e in events] == [True]


async def test_a_failed_send_is_retried_until_the_server_takes_it(flow: FlowHarness, smtp_sink: SmtpSink) -> None:
    ticket = await escalated_ticket(flow, closed_port())
    row = await EscalationMail.get(ticket_id=ticket.id)
    assert (row.status, row.attempts) == (DeliveryStatus.QUEUED, 1)
    assert row.last_error == "smtp: SMTPConnectError"
    events = await TicketEvent.filter(ticket_id=ticket.id, kind="escalation_email")
    assert [(e.data["delivered"], e.data["final"]) for e in events] == [(False, False)]

    # Not due yet: nothing is tried.
    assert await drain(mailer=mailer(smtp_sink.port), now=row.created_at + BASE_DELAY / 2) == 0
    assert smtp_sink.received == []
    assert await drain(mailer=mailer(smtp_sink.port), now=row.created_at + BASE_DELAY) == 1
    assert len(smtp_sink.received) == 1
    row = await EscalationMail.get(id=row.id)
    assert (row.status, row.attempts, row.last_error) == (DeliveryStatus.SENT, 2, None)
    # Sent is sent: another sweep sends nothing more.
    assert await drain(mailer=mailer(smtp_sink.port), now=row.created_at + BASE_DELAY * 100) == 0
    assert len(smtp_sink.received) == 1


async def test_a_refused_recipient_is_a_final_failure(flow: FlowHarness, smtp_sink: SmtpSink) -> None:
    smtp_sink.refuse = set(DEVS)
    ticket = await escalated_ticket(flow, smtp_sink.port)
    row = await EscalationMail.get(ticket_id=ticket.id)
    assert row.status == DeliveryStatus.FAILED
    event = await TicketEvent.get(ticket_id=ticket.id, kind="escalation_email")
    assert (event.data["delivered"], event.data["final"]) == (False, True)
    assert await drain(mailer=mailer(smtp_sink.port), now=row.created_at + BASE_DELAY * 100) == 0
