"""Incidents: escalations linked to one problem, one fix reported for all, users told once (SQLite + PostgreSQL)."""

from __future__ import annotations

import pytest

from bot.i18n import catalog
from handoff import actions
from handoff.actions import ConsoleError, ForbiddenError
from handoff.incidents import report_incident_fix
from models import (
    Category,
    Incident,
    IncidentStatus,
    Message,
    SenderKind,
    Ticket,
    TicketEvent,
    TicketStatus,
    User,
    UserRole,
)
from tests.conftest import IN_HOURS, FlowHarness
from tests.handoff.test_actions import agent, handed_off, translate

FIX = "Layanan reset password sudah normal kembali; silakan coba lagi."


async def escalated(flow: FlowHarness, user: str, nim: str, owner: User, **incident: object) -> Ticket:
    await flow.send("halo", user=user)
    await flow.send(nim, user=user)
    await flow.send("agen", user=user)
    ticket = await Ticket.filter(conversation__identity__external_id=user).order_by("-id").first().get()
    await actions.take_ticket(ticket_id=ticket.id, agent=owner, now=IN_HOURS)
    ticket = await Ticket.get(id=ticket.id)
    await actions.categorize(ticket=ticket, category=await Category.get(slug="bug-sistem"), agent=owner)
    return await actions.escalate(ticket=ticket, agent=owner, now=IN_HOURS, summary="reset gagal",
                                   **incident)  # type: ignore[arg-type]


async def test_a_fix_on_the_incident_reaches_every_linked_open_ticket_once(flow: FlowHarness) -> None:
    ana, bayu = await agent("ana@cc.test"), await agent("bayu@cc.test")
    first = await escalated(flow, "41", "13521045", ana, incident_title="  Reset password   gagal ")
    incident = await Incident.get()
    assert (incident.title, incident.status) == ("Reset password gagal", IncidentStatus.OPEN)
    second = await escalated(flow, "42", "16522101", bayu, incident_id=incident.id)
    unlinked = await escalated(flow, "43", "198503122010121001", ana)
    assert [t.incident_id for t in (first, second, unlinked)] == [incident.id, incident.id, None]  # type: ignore[attr-defined]

    before = len(flow.channel.sent)
    result = await report_incident_fix(incident=incident, actor=ana, text=FIX, notify_users=True,
                                       registry=flow.deps.registry, translate=translate, now=IN_HOURS)
    assert (result.tickets, result.notified) == (2, 2)
    sent = flow.channel.sent[before:]
    assert sorted(m.recipient for m in sent) == ["41", "42"]
    for ticket in (first, second):
        expected = catalog("id").t("incident_fixed", ticket=ticket.number, fix=FIX)
        assert expected in [m.text for m in sent]
        stored = await Message.filter(ticket_id=ticket.id, sender_kind=SenderKind.AGENT).values_list("text", flat=True)
        assert stored == [expected]
        reloaded = await Ticket.get(id=ticket.id)
        assert reloaded.status == TicketStatus.OPEN  # back with its agent, who closes it with the user
        assert reloaded.fix_notified_at == IN_HOURS
        assert await TicketEvent.filter(ticket_id=ticket.id, kind="fix_reported").count() == 1
    assert (await Ticket.get(id=unlinked.id)).status == TicketStatus.ESCALATED
    incident = await Incident.get(id=incident.id)
    assert (incident.status, incident.fix_text, incident.fixed_by_id) == (IncidentStatus.FIXED, FIX, ana.id)  # type: ignore[attr-defined]

    with pytest.raises(ConsoleError) as again:  # reported twice: refused, nobody told twice
        await report_incident_fix(incident=incident, actor=ana, text=FIX, notify_users=True,
                                  registry=flow.deps.registry, translate=translate, now=IN_HOURS)
    assert again.value.code == "error_incident_fixed"
    assert len(flow.channel.sent) == before + 2
    with pytest.raises(ConsoleError) as closed:  # a fixed incident takes no new escalations
        await actions.escalate(ticket=await Ticket.get(id=first.id), agent=ana, now=IN_HOURS, summary="x",
                                incident_id=incident.id)
    assert closed.value.code == "error_unknown_incident"


async def test_without_notify_only_the_tickets_learn_of_the_fix_and_closed_ones_are_never_told(
    flow: FlowHarness,
) -> None:
    ana = await agent("ana@cc.test")
    first = await escalated(flow, "41", "13521045", ana, incident_title="Video tidak bisa diputar")
    incident = await Incident.get()
    second = await escalated(flow, "42", "16522101", ana, incident_id=incident.id)
    await actions.close_ticket(registry=flow.deps.registry, ticket=await Ticket.get(id=second.id), agent=ana,
                                now=IN_HOURS, translate=translate)
    before = len(flow.channel.sent)
    result = await report_incident_fix(incident=incident, actor=ana, text=FIX, notify_users=False,
                                       registry=flow.deps.registry, translate=translate, now=IN_HOURS)
    assert (result.tickets, result.notified) == (2, 0)
    assert len(flow.channel.sent) == before
    assert (await Ticket.get(id=first.id)).fix_notified_at is None


async def test_only_a_supervisor_or_an_owner_of_a_linked_ticket_reports_the_fix(flow: FlowHarness) -> None:
    ana, bayu = await agent("ana@cc.test"), await agent("bayu@cc.test")
    sari = await agent("sari@cc.test", UserRole.SUPERVISOR)
    await escalated(flow, "41", "13521045", ana, incident_title="SSO mati")
    incident = await Incident.get()
    with pytest.raises(ForbiddenError):
        await report_incident_fix(incident=incident, actor=bayu, text=FIX, notify_users=True,
                                  registry=flow.deps.registry, translate=translate, now=IN_HOURS)
    assert (await Incident.get(id=incident.id)).status == IncidentStatus.OPEN
    result = await report_incident_fix(incident=incident, actor=sari, text=FIX, notify_users=True,
                                       registry=flow.deps.registry, translate=translate, now=IN_HOURS)
    assert result.notified == 1


async def test_bad_incident_choices_escalate_nothing(flow: FlowHarness) -> None:
    ana = await agent("ana@cc.test")
    ticket = await handed_off(flow)
    await actions.take_ticket(ticket_id=ticket.id, agent=ana, now=IN_HOURS)
    ticket = await Ticket.get(id=ticket.id)
    with pytest.raises(ConsoleError) as unknown:
        await actions.escalate(ticket=ticket, agent=ana, now=IN_HOURS, summary="x", incident_id=999)
    assert unknown.value.code == "error_unknown_incident"
    assert (await Ticket.get(id=ticket.id)).status == TicketStatus.OPEN
    sari = await agent("sari@cc.test", UserRole.SUPERVISOR)
    incident = await Incident.create(title="t")
    with pytest.raises(ConsoleError) as empty:
        await report_incident_fix(incident=incident, actor=sari, text="  ", notify_users=True,
                                  registry=flow.deps.registry, translate=translate, now=IN_HOURS)
    assert empty.value.code == "error_empty"
    assert (await Incident.get(id=incident.id)).status == IncidentStatus.OPEN
