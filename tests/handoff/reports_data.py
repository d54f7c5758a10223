"""Tickets and conversations built by hand for the report and export tests, at local (WIB) times."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from handoff.seed import seed_defaults
from models import (
    Category,
    ChannelIdentity,
    ChannelKind,
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    FlowStep,
    HandoffReason,
    Incident,
    Message,
    ResolvedBy,
    SenderKind,
    Ticket,
    TicketStatus,
    User,
    UserRole,
)

WIB = ZoneInfo("Asia/Jakarta")


def wib(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A local Jakarta time, stored as the product stores it (UTC)."""
    return datetime(year, month, day, hour, minute, tzinfo=WIB).astimezone(UTC)


@dataclass
class Builder:
    counter: int = 0
    agents: dict[str, User] = field(default_factory=dict)

    async def setup(self) -> Builder:
        await seed_defaults()
        return self

    async def agent(self, name: str) -> User:
        if name not in self.agents:
            self.agents[name] = await User.create(email=f"{name.lower()}@care.test", name=name,
                                                  role=UserRole.AGENT, password_hash="-")
        return self.agents[name]

    async def conversation(
        self, *, at: datetime, channel: ChannelKind = ChannelKind.WEBCHAT,
        status: ConversationStatus = ConversationStatus.BOT, step: FlowStep = FlowStep.AWAITING_QUESTION,
        last_message_at: datetime | None = None, contact: Contact | None = None,
    ) -> Conversation:
        self.counter += 1
        contact = contact or await Contact.create(name=f"Person {self.counter}")
        identity = await ChannelIdentity.create(contact=contact, channel=channel, external_id=f"x{self.counter}")
        return await Conversation.create(contact=contact, identity=identity, channel=channel, status=status,
                                         step=step, created_at=at, last_message_at=last_message_at)

    async def ticket(
        self, *, at: datetime, channel: ChannelKind = ChannelKind.WEBCHAT, category: str | None = None,
        predicted: str | None = None, agent: str | None = None, first_response: timedelta | None = None,
        resolved: timedelta | None = None, due: timedelta = timedelta(hours=24), breached: bool = False,
        rating: int | None = None, comment: str | None = None, escalated: bool = False,
        incident: Incident | None = None, confirmed: bool = False, contact: Contact | None = None,
        status: TicketStatus | None = None,
    ) -> Ticket:
        conversation = await self.conversation(at=at - timedelta(minutes=5), channel=channel,
                                               status=ConversationStatus.PENDING, step=FlowStep.WITH_AGENT,
                                               contact=contact)
        chosen = await Category.get(slug=category) if category else None
        ticket = await Ticket.create(
            conversation=conversation, contact_id=conversation.contact_id, channel=channel, category=chosen,  # type: ignore[attr-defined]
            predicted_category=predicted, reason=HandoffReason.LOW_CONFIDENCE, opened_at=at, due_at=at + due,
            assignee=await self.agent(agent) if agent else None,
            first_response_at=at + first_response if first_response is not None else None,
            resolved_at=at + resolved if resolved is not None else None,
            resolved_by=ResolvedBy.AGENT if resolved is not None else None,
            status=status or (TicketStatus.RESOLVED if resolved is not None else TicketStatus.OPEN),
            breached_at=at + due if breached else None,
            survey_rating=rating, survey_comment=comment,
            escalated_at=at + timedelta(hours=1) if escalated else None, incident=incident,
        )
        ticket.number = f"CC-{ticket.id:06d}"
        await ticket.save(update_fields=["number"])
        if confirmed:  # the fact the figures read (handoff.categorization); no event is needed for it
            assert chosen is not None
            ticket.category_confirmed_at = at + timedelta(minutes=30)
            ticket.category_confirmed_by = await self.agent(agent or "Ani")
            ticket.category_agreed = None if predicted is None else chosen.slug == predicted
            await ticket.save(update_fields=["category_confirmed_at", "category_confirmed_by_id", "category_agreed"])
        return ticket


# The hand-built month of the report tests: November 2026 in Jakarta, looked at on 1 December, 12:00 WIB.
NOVEMBER_NOW = wib(2026, 12, 1, 12, 0)
H = timedelta(hours=1)
M = timedelta(minutes=1)


async def build_november(builder: Builder) -> dict[str, Ticket]:
    """Six tickets and ten conversations in November (four of them bot-only), one of each in October,
    and rows just outside the month on both sides of its local midnights. The expected figures are
    worked out by hand in test_reports_figures.py."""
    b = builder
    incident = await Incident.create(title="Login SSO down", created_at=wib(2026, 11, 10, 11),
                                     fixed_at=wib(2026, 11, 12))
    await Incident.create(title="Old one", created_at=wib(2026, 10, 3))
    tickets = {
        "T1": await b.ticket(at=wib(2026, 11, 2, 9), channel=ChannelKind.WHATSAPP, category="reset-password",
                             predicted="reset-password", agent="Ani", first_response=10 * M, resolved=2 * H, rating=5,
                             comment="Mantap, terima kasih"),
        "T2": await b.ticket(at=wib(2026, 11, 3, 9), channel=ChannelKind.TELEGRAM, category="nilai",
                             predicted="akun-login", agent="Ani", first_response=20 * M, resolved=30 * H,
                             breached=True, rating=2, confirmed=True, comment="=HYPERLINK(\"http://x\")"),
        "T3": await b.ticket(at=wib(2026, 11, 10, 10), channel=ChannelKind.WEBCHAT, category="nilai",
                             predicted="nilai", agent="Budi", first_response=30 * M, resolved=5 * H, rating=4,
                             escalated=True, incident=incident, confirmed=True),
        "T4": await b.ticket(at=wib(2026, 11, 20, 8), channel=ChannelKind.EMAIL, category="akun-login",
                             predicted="akun-login", agent="Budi", first_response=40 * M),
        "T5": await b.ticket(at=wib(2026, 11, 30, 23, 30), channel=ChannelKind.WHATSAPP, agent="Ani",
                             first_response=100 * M),
        "T6": await b.ticket(at=wib(2026, 11, 15, 12), resolved=1 * H),
        # Outside November: the month before, and 00:10 on 1 December (still 30 November in UTC).
        "T0": await b.ticket(at=wib(2026, 10, 15, 9), category="nilai", predicted="nilai", agent="Ani",
                             first_response=15 * M, resolved=3 * H, rating=5, confirmed=True),
        "T7": await b.ticket(at=wib(2026, 12, 1, 0, 10), category="nilai", predicted="nilai"),
    }
    # Bot-only conversations: 00:30 on 1 November (31 October in UTC) resolved by the bot; 23:30 on
    # 31 October (October); 23:59 on 30 November still talking; 00:30 on 1 December (December); two
    # left with the bot for more than a day.
    await b.conversation(at=wib(2026, 11, 1, 0, 30), status=ConversationStatus.RESOLVED, step=FlowStep.DONE)
    await b.conversation(at=wib(2026, 10, 31, 23, 30), channel=ChannelKind.TELEGRAM,
                         status=ConversationStatus.RESOLVED, step=FlowStep.DONE)
    await b.conversation(at=wib(2026, 11, 30, 23, 59), channel=ChannelKind.WHATSAPP,
                         last_message_at=wib(2026, 11, 30, 23, 59))
    await b.conversation(at=wib(2026, 12, 1, 0, 30), channel=ChannelKind.WHATSAPP)
    await b.conversation(at=wib(2026, 11, 5, 10), channel=ChannelKind.TELEGRAM, step=FlowStep.AWAITING_FEEDBACK,
                         last_message_at=wib(2026, 11, 5, 10, 2))
    await b.conversation(at=wib(2026, 11, 6, 11), step=FlowStep.AWAITING_IDENTITY)
    return tickets


async def build_supervisor_month() -> dict[str, Ticket]:
    """The reports' November, plus one ticket for each exception it lacks."""
    b = await Builder().setup()
    tickets = await build_november(b)
    # Opened 20:00 on 30 November, nobody took it: 16 hours later it is unassigned (and not yet at risk).
    tickets["U"] = await b.ticket(at=wib(2026, 11, 30, 20))
    tickets["E"] = await b.ticket(at=wib(2026, 11, 25, 9), agent="Budi", escalated=True, category="nilai",
                                  status=TicketStatus.ESCALATED, due=timedelta(days=30))
    # The same student closed on the 8th and back on the 9th (reopened), then again 10 days later (not).
    student = await Contact.create(name="Rina Wulandari", id_number="13521099", verified=True)
    tickets["R1"] = await b.ticket(at=wib(2026, 11, 8, 10), contact=student, agent="Ani", resolved=2 * H,
                                   category="akun-login", confirmed=True)
    tickets["R2"] = await b.ticket(at=wib(2026, 11, 9, 10), contact=student, agent="Ani", resolved=1 * H,
                                   category="akun-login", confirmed=True)
    tickets["R3"] = await b.ticket(at=wib(2026, 11, 19, 12), contact=student, agent="Ani", resolved=1 * H,
                                   category="akun-login", confirmed=True)
    r2 = tickets["R2"]
    await Message.create(conversation_id=r2.conversation_id, ticket=r2, channel=ChannelKind.WEBCHAT,
                         direction=Direction.INBOUND, sender_kind=SenderKind.USER,
                         text="Tidak bisa unggah TUGAS_akhir 100% gagal")
    return tickets
