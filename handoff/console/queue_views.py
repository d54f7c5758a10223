"""The console queue: the views (unassigned, mine, waiting, escalated, all) with each ticket's SLA
clock, channel state and last message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from aiohttp import web

from handoff import teams
from handoff.categorization import is_confirmed
from handoff.console.channel_state import ChannelState, channel_states
from handoff.console.toolkit import USER, clock_class, console_state, iso, remaining_text, render, request_language
from handoff.sla import ClockFace, SlaPolicy, clock_face, load_policy
from models import UNRESOLVED, Category, ChannelIdentity, Message, Ticket, TicketStatus, User

QUEUE_VIEWS = ("unassigned", "mine", "waiting", "escalated", "all")
QUEUE_LIMIT = 200


@dataclass(frozen=True, slots=True)
class QueueRow:
    ticket: Ticket
    contact_name: str
    verified: bool
    category: str
    unconfirmed: bool  # the category is still the classifier's guess (handoff.categorization)
    clock: ClockFace  # handoff.sla's reading of the ticket's own clock: state, share used, paused
    due_iso: str  # "" while paused: the page's script counts down only a running clock
    at_risk_iso: str
    warning_iso: str
    remaining: str
    sla_class: str
    last_message: str
    last_sender: str
    owner: str
    channels: ChannelState | None = None





async def _category_names(lang: str) -> dict[int, str]:
    return {c.id: (c.name_en if lang == "en" else c.name_id) for c in await Category.all()}


async def queue_rows(*, view: str, user: User, now: datetime, lang: str, policy: SlaPolicy) -> list[QueueRow]:
    query = Ticket.filter(status__in=UNRESOLVED)
    if view == "unassigned":
        query = query.filter(assignee_id=None)
    elif view == "mine":
        query = query.filter(assignee_id=user.id)
    elif view == "waiting":
        query = query.filter(status=TicketStatus.PENDING)
    elif view == "escalated":
        query = query.filter(status=TicketStatus.ESCALATED)
    query = await teams.scope(query, user)
    tickets = await query.order_by("due_at").limit(QUEUE_LIMIT).prefetch_related("contact", "assignee", "conversation")
    names = await _category_names(lang)
    states = await channel_states(list(tickets), now=now)
    rows = []
    for ticket in tickets:
        identity = await ChannelIdentity.get_or_none(id=ticket.conversation.identity_id)
        last = await Message.filter(conversation_id=ticket.conversation.id).order_by("-id").first()
        face = clock_face(ticket, policy, now)
        category_id = ticket.category_id
        rows.append(QueueRow(
            ticket=ticket,
            contact_name=ticket.contact.name or (identity.display_name if identity else "") or "—",
            verified=ticket.contact.verified,
            category=names.get(category_id, "") if category_id else (ticket.predicted_category or ""),
            unconfirmed=not is_confirmed(ticket),
            clock=face,
            due_iso=iso(face.due_at) if face.due_at else "",
            at_risk_iso=iso(face.at_risk_from) if face.at_risk_from else "",
            warning_iso=iso(face.warning_from) if face.warning_from else "",
            remaining=remaining_text(face.due_at - now) if face.due_at else "",
            sla_class=clock_class(face),
            last_message=(last.text[:140] if last else ""),
            last_sender=(last.sender_kind.value if last else ""),
            owner=(ticket.assignee.name or ticket.assignee.email) if ticket.assignee else "",
            channels=states[ticket.id],
        ))
    return rows


async def index(_request: web.Request) -> web.Response:
    raise web.HTTPSeeOther("/console/queue")


async def queue(request: web.Request) -> web.Response:
    state = console_state(request)
    user = request[USER]
    view = request.query.get("view", "mine" if await Ticket.filter(
        assignee_id=user.id, status__in=UNRESOLVED).exists() else "unassigned")
    if view not in QUEUE_VIEWS:
        view = "all"
    rows = await queue_rows(view=view, user=user, now=state.clock(), lang=request_language(request),
                            policy=await load_policy(hours=state.hours, resolution=state.sla))
    return render(request, "queue.html", {"rows": rows, "view": view, "views": QUEUE_VIEWS, "page": "queue"})

def add_routes(console: web.Application) -> None:
    r = console.router
    r.add_get("", index, name="index")
    r.add_get("/", index, name="index_slash")
    r.add_get("/queue", queue, name="queue")
