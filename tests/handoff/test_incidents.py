"""Incidents: escalations linked to one problem, one fix reported for all, users told once (SQLite + PostgreSQL)."""

from __future__ import annotations

import pytest

from bot.i18n import catalog
from handoff import actions
from handoff.actions import ConsoleError, ForbiddenError
from handoff.incidents import incident_terms, report_incident_fix, terms_of
from models import (
    Category,
    Conversation,
    Incident,
    IncidentFollower,
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


# --- issue 14: incident-aware answers ----------------------------------------------------------------------


def test_the_distinctive_words_of_a_message_leave_out_what_every_edunex_message_says() -> None:
    # Slang is normalised first ("gabisa" is "tidak"), then common and short words and numbers go.
    assert terms_of("Kak, edunex gabisa login, error 502 terus 😭") == {"login", "error"}
    assert terms_of("halo kak mau tanya") == frozenset()


def test_an_incident_matches_by_category_by_two_shared_words_or_by_its_whole_short_title() -> None:
    outage = incident_terms(1, "Halaman login Edunex error 502", [], set())
    assert outage.matches(terms_of("login edunex error terus kak"), None)  # two shared words
    assert outage.matches(terms_of("The login page shows an error"), None)
    assert not outage.matches(terms_of("saya lupa password login"), None)  # one shared word is not enough
    assert not outage.matches(terms_of("nilai kuis saya belum keluar"), None)  # another problem altogether
    short = incident_terms(2, "Edunex down", [], set())
    assert short.matches(terms_of("edunex down ya kak?"), None)  # every distinctive word of a short title
    assert not short.matches(terms_of("edunex lemot"), None)
    reports = ["video tidak bisa diputar", "video kuliah tidak bisa diputar minggu ini", "rekaman tidak muncul"]
    videos = incident_terms(3, "Video kuliah", reports, {"materi-video"})
    # Words recurring in the linked tickets join the title's; one student's detail ("rekaman") does not.
    assert videos.terms == {"video", "kuliah", "diputar"}
    assert videos.matches(terms_of("kok video nya ga bisa diputar"), None)
    assert not videos.matches(terms_of("rekaman kelas saya hilang"), None)
    assert videos.matches(frozenset(), "materi-video")  # the classifier's confident category
    assert not videos.matches(frozenset(), "nilai")
    single = incident_terms(4, "SSO", ["SSO gagal redirect ke edunex"], set())
    assert single.terms == {"sso", "gagal", "redirect"}  # one linked ticket: its subject's words all count


OUTAGE = "Halaman login Edunex error 502"
STUDENT_WRITES = ("kak edunex error 502 pas login, gabisa masuk", "Login edunex error terus kak",
                  "halaman login edunex error, kenapa ya?", "The Edunex login page shows error 502")


async def test_an_outage_with_twenty_students_writing_opens_no_ticket_and_the_fix_reaches_each_of_them(
    flow: FlowHarness,
) -> None:
    sari = await agent("sari@cc.test", UserRole.SUPERVISOR)
    incident = await Incident.create(title=OUTAGE)
    students = [str(100 + i) for i in range(20)]
    for i, user in enumerate(students):
        await flow.send("halo", user=user)
        await flow.send(f"13521{101 + i:03d}", user=user)
        text = STUDENT_WRITES[i % len(STUDENT_WRITES)]
        before = len(flow.channel.sent)
        await flow.send(text, user=user)
        lang = "en" if text.startswith("The") else "id"
        assert [m.text for m in flow.channel.sent[before:]] == [catalog(lang).t("incident_notice")]
        await flow.send(text, user=user)  # writing again: told again, linked once
    assert await Ticket.all().count() == 0
    assert await IncidentFollower.filter(incident_id=incident.id).count() == 20

    before = len(flow.channel.sent)
    result = await report_incident_fix(incident=incident, actor=sari, text=FIX, notify_users=True,
                                       registry=flow.deps.registry, translate=translate, now=IN_HOURS)
    assert (result.tickets, result.notified, result.followers) == (0, 20, 20)
    sent = flow.channel.sent[before:]
    assert sorted(m.recipient for m in sent) == sorted(students)
    for user in students:
        conversation = await Conversation.get(identity__external_id=user)
        # On the conversation the student wrote on, in its language.
        expected = catalog(conversation.language).t("incident_fixed_followed", fix=FIX)
        assert [m.text for m in sent if m.recipient == user] == [expected]
        assert await Message.filter(conversation_id=conversation.id, text=expected).count() == 1
    assert await IncidentFollower.filter(incident_id=incident.id, notified_at=IN_HOURS).count() == 20
    with pytest.raises(ConsoleError):  # reported twice: refused, nobody told twice
        await report_incident_fix(incident=incident, actor=sari, text=FIX, notify_users=True,
                                  registry=flow.deps.registry, translate=translate, now=IN_HOURS)
    assert len(flow.channel.sent) == before + 20


async def test_a_student_on_an_escalated_ticket_and_following_the_incident_is_told_once(flow: FlowHarness) -> None:
    ana = await agent("ana@cc.test")
    ticket = await escalated(flow, "41", "13521045", ana, incident_title=OUTAGE)
    incident = await Incident.get()
    conversation = await Conversation.get(id=ticket.conversation_id)  # type: ignore[attr-defined]
    await IncidentFollower.create(incident=incident, conversation=conversation, created_at=IN_HOURS)
    before = len(flow.channel.sent)
    result = await report_incident_fix(incident=incident, actor=ana, text=FIX, notify_users=True,
                                       registry=flow.deps.registry, translate=translate, now=IN_HOURS)
    assert (result.notified, result.followers) == (1, 0)
    assert [m.text for m in flow.channel.sent[before:]] == [
        catalog("id").t("incident_fixed", ticket=ticket.number, fix=FIX)]


async def test_a_fixed_incident_no_longer_answers_questions(flow: FlowHarness) -> None:
    sari = await agent("sari@cc.test", UserRole.SUPERVISOR)
    incident = await Incident.create(title=OUTAGE)
    await report_incident_fix(incident=incident, actor=sari, text=FIX, notify_users=True,
                              registry=flow.deps.registry, translate=translate, now=IN_HOURS)
    await flow.send("halo")
    await flow.send("13521045")
    await flow.send("login edunex error terus kak")
    assert catalog("id").t("incident_notice") not in flow.replies()
    assert await IncidentFollower.all().count() == 0
