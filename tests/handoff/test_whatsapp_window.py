"""The WhatsApp window warning: once per window, only for users waiting on an agent, safe to run twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.channels.base import InboundMessage
from bot.channels.memory import MemoryChannel
from bot.conversation.inline import handle_inbound
from handoff.actions import reply, set_waiting, take_ticket
from handoff.auth import create_user
from handoff.contacts import prove
from handoff.scheduler import build_scheduler
from handoff.tickets import reply_conversation
from handoff.whatsapp_window import EVENT, LIVE_EVENT, WINDOW, sweep
from models import ChannelIdentity, ChannelKind, ProofMethod, Ticket, TicketEvent, UserRole
from tests.conftest import FlowHarness
from tests.handoff.people import BUDI

NUMBER = "whatsapp:+6281200000001"
LEAD = timedelta(minutes=120)


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, name: str, data: dict[str, Any]) -> None:
        self.events.append((name, data))


async def whatsapp(flow: FlowHarness, text: str, *, number: str = NUMBER) -> None:
    flow.counter += 1
    await handle_inbound(
        InboundMessage(channel=ChannelKind.WHATSAPP, external_id=number, provider_message_id=f"SM{flow.counter}",
                       text=text, received_at=flow.now, phone=number.removeprefix("whatsapp:")),
        flow.deps,
    )


async def waiting_ticket(flow: FlowHarness, number: str = NUMBER) -> Ticket:
    flow.deps.registry.add(MemoryChannel(kind=ChannelKind.WHATSAPP))
    await whatsapp(flow, "halo", number=number)
    await whatsapp(flow, "13521045", number=number)
    await flow.prove(channel=ChannelKind.WHATSAPP, user=number)
    await whatsapp(flow, "agen", number=number)
    return await Ticket.get(channel=ChannelKind.WHATSAPP)


async def warnings_of(ticket: Ticket) -> list[dict[str, Any]]:
    return list(await TicketEvent.filter(ticket_id=ticket.id, kind=EVENT).values_list("data", flat=True))


async def test_warned_once_when_the_window_closes_within_the_lead(flow: FlowHarness) -> None:
    ticket = await waiting_ticket(flow)
    last = flow.now
    notify = Recorder()
    assert await sweep(now=last + WINDOW - LEAD - timedelta(minutes=1), lead=LEAD, notify=notify) == []
    warned = await sweep(now=last + WINDOW - LEAD + timedelta(minutes=1), lead=LEAD, notify=notify)
    assert [(w.ticket_id, w.assignee_id, w.closes_at) for w in warned] == [(ticket.id, None, last + WINDOW)]
    closes = (last + WINDOW).isoformat()
    assert notify.events == [(LIVE_EVENT, {"ticket_id": ticket.id, "assignee_id": None, "closes_at": closes})]
    # Every later sweep of the same window, as after a restart, finds it done.
    for minutes in (2, 30, 119):
        assert await sweep(now=last + WINDOW - LEAD + timedelta(minutes=minutes), lead=LEAD, notify=notify) == []
    assert await warnings_of(ticket) == [{"closes_at": closes, "assignee_id": None}]
    assert len(notify.events) == 1
    # Once closed there is nothing left to warn about.
    assert await sweep(now=last + WINDOW + timedelta(minutes=1), lead=LEAD) == []


async def test_a_new_message_opens_a_new_window_warned_about_again(flow: FlowHarness) -> None:
    ticket = await waiting_ticket(flow)
    first = flow.now
    assert len(await sweep(now=first + WINDOW - timedelta(minutes=60), lead=LEAD)) == 1
    flow.now = first + timedelta(hours=10)
    await whatsapp(flow, "masih menunggu")  # filed on the ticket; the window starts again
    assert await sweep(now=first + WINDOW - timedelta(minutes=30), lead=LEAD) == []
    assert len(await sweep(now=flow.now + WINDOW - timedelta(minutes=60), lead=LEAD)) == 1
    assert [d["closes_at"] for d in await warnings_of(ticket)] == [
        (first + WINDOW).isoformat(), (flow.now + WINDOW).isoformat()
    ]


async def test_the_assigned_agent_is_named_and_an_answered_user_is_not_waiting(flow: FlowHarness) -> None:
    ticket = await waiting_ticket(flow)
    agent = await create_user(email="ana@cc.test", role=UserRole.AGENT, password="x" * 12, name="Ana")
    await take_ticket(ticket_id=ticket.id, agent=agent, now=flow.now)
    notify = Recorder()
    near = flow.now + WINDOW - timedelta(minutes=90)
    (warning,) = await sweep(now=near, lead=LEAD, notify=notify)
    assert warning.assignee_id == agent.id
    assert notify.events[0][1]["assignee_id"] == agent.id

    # A second user whom the agent has answered since their last message is not waiting on us.
    flow.counter += 10
    await whatsapp(flow, "halo", number="whatsapp:+6281200000002")
    await whatsapp(flow, "13521045 agen", number="whatsapp:+6281200000002")
    second = await Ticket.filter(channel=ChannelKind.WHATSAPP).order_by("-id").first()
    assert second is not None
    assert second.id != ticket.id
    taken = await take_ticket(ticket_id=second.id, agent=agent, now=flow.now)
    await reply(registry=flow.deps.registry, ticket=taken.ticket, agent=agent, text="Sedang kami cek.", now=flow.now)
    assert await sweep(now=near + timedelta(minutes=1), lead=LEAD) == []
    assert await warnings_of(second) == []


async def test_tickets_waiting_on_the_user_and_other_channels_are_left_alone(flow: FlowHarness) -> None:
    ticket = await waiting_ticket(flow)
    agent = await create_user(email="ana@cc.test", role=UserRole.AGENT, password="x" * 12, name="Ana")
    taken = await take_ticket(ticket_id=ticket.id, agent=agent, now=flow.now)
    await set_waiting(ticket=taken.ticket, agent=agent, waiting=True)
    await flow.send("halo")  # a Telegram user handed off at the same moment
    await flow.send("13521045 agen")
    assert await Ticket.filter(channel=ChannelKind.TELEGRAM).count() == 1
    assert await sweep(now=flow.now + WINDOW - timedelta(minutes=30), lead=LEAD) == []
    assert await sweep(now=flow.now + WINDOW - timedelta(minutes=30), lead=timedelta(0)) == []


async def test_no_warning_when_the_person_has_moved_to_another_channel(flow: FlowHarness) -> None:
    ticket = await waiting_ticket(flow)
    first = flow.now
    flow.now = first + timedelta(hours=1)
    # Budi writes from his campus address: filed on the ticket, and the agent's reply now goes by e-mail.
    await flow.on(ChannelKind.EMAIL, "budi.contoh@students.itb.ac.id", "apakah sudah ada kabar?",
                  email="budi.contoh@students.itb.ac.id")
    # Arriving from the campus address on record proves it (issue 13), as the bot does: a reply may go there.
    mail = await ChannelIdentity.get(channel=ChannelKind.EMAIL, external_id="budi.contoh@students.itb.ac.id")
    await prove(identity=mail, person=BUDI, method=ProofMethod.ADDRESS, now=flow.now)
    assert (await reply_conversation(ticket)).channel == ChannelKind.EMAIL
    assert await sweep(now=first + WINDOW - timedelta(minutes=30), lead=LEAD) == []
    assert await warnings_of(ticket) == []


def test_the_scheduler_runs_the_window_sweep_beside_the_sla_sweep() -> None:
    scheduler = build_scheduler(tz=ZoneInfo("Asia/Jakarta"), holder="test", window_warning=timedelta(minutes=45))
    assert {job.id for job in scheduler.get_jobs()} == {
        "sla_sweep", "whatsapp_window_warnings", "inbox_prune", "login_throttle_prune", "identity_attempts_prune",
        "monthly_report", "digests", "figure_snapshots",
    }
