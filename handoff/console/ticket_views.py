"""The console's ticket page (timeline, SLA, templates, reply window) and its actions (take, reply, note,
categorize, priority, assign, waiting, escalate, close, fix reported, attachments); each calls handoff.actions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from handoff import actions, reply_window, teams, verification
from handoff.actions import ConsoleError, can_act
from handoff.categorization import is_confirmed
from handoff.console import files as console_files
from handoff.console.channel_state import channel_states
from handoff.console.incidents import escalation_context, incident_choice, survey_options
from handoff.console.toolkit import (
    USER,
    clock_class,
    console_state,
    form_fields,
    iso,
    path_id,
    posted_form,
    remaining_text,
    render,
    request_catalog,
    request_language,
)
from handoff.sla import clock_face, evaluate_targets, load_policy
from handoff.templating import ANSWER
from handoff.templating import render as render_template
from handoff.tickets import default_target, reply_targets
from handoff.webinput import fits, parse_id, text_fields
from models import (
    AnswerTemplate,
    Category,
    ChannelIdentity,
    Contact,
    Message,
    Priority,
    Ticket,
    TicketEvent,
    TicketStatus,
    User,
)

HISTORY_LIMIT = 300


@dataclass(frozen=True, slots=True)
class TimelineItem:
    kind: str  # message | note | event
    at: datetime
    sender: str
    who: str
    text: str
    channel: str = ""
    delivery: str = ""
    order: int = 0
    attachments: tuple[console_files.AttachmentView, ...] = ()


@dataclass(frozen=True, slots=True)
class AddressView:
    """One address of the ticket's person as the agent sees it: how sure we are it is theirs (issue 13)."""

    id: int
    channel: str
    label: str
    level: str  # proven | claimed | none
    method: str
    proven_at: datetime | None
    claimed_number: str
    own: bool  # the address the ticket was opened on
    unreachable: bool


def address_label(identity: ChannelIdentity) -> str:
    """What tells two addresses on one channel apart (two web chat sessions) without a wall of id."""
    return identity.display_name or identity.external_id[:40]


async def _addresses(ticket: Ticket, own: ChannelIdentity) -> list[AddressView]:
    identities = await ChannelIdentity.filter(contact_id=ticket.contact_id).order_by("id")
    if all(i.id != own.id for i in identities):
        identities.insert(0, own)
    return [
        AddressView(id=i.id, channel=i.channel.value, label=address_label(i), level=i.proof.value,
                    method=i.proof_method.value if i.proof_method else "", proven_at=i.proven_at,
                    claimed_number=i.claimed_number or "", own=i.id == own.id, unreachable=i.unreachable)
        for i in identities
    ]



async def _ticket(request: web.Request) -> Ticket:
    ticket = await Ticket.get_or_none(id=path_id(request))
    # Another team's ticket answers exactly like a missing one: ids cannot be probed.
    if ticket is None or not await teams.can_see(request[USER], ticket):
        raise web.HTTPNotFound(text="no such ticket")
    return ticket


async def _timeline(contact: Contact, tickets: list[Ticket], users: dict[int, User]) -> list[TimelineItem]:
    messages = await Message.filter(conversation__contact_id=contact.id).order_by("-id").limit(HISTORY_LIMIT)
    files = await console_files.attachments_of([m.id for m in messages])
    items = [
        TimelineItem(
            kind="message", at=m.created_at, sender=m.sender_kind.value,
            who=(users[m.agent_id].name if m.agent_id in users else ""),
            text=m.text, channel=m.channel.value,
            delivery=m.delivery_status.value if m.delivery_status else "", order=m.id,
            attachments=files.get(m.id, ()),
        )
        for m in reversed(messages)
    ]
    events = await TicketEvent.filter(ticket_id__in=[t.id for t in tickets]).exclude(
        kind__in=["user_message", "agent_reply"]
    )
    for event in events:
        actor = users.get(event.actor_id) if event.actor_id else None
        if event.kind == "note":
            text = str(event.data.get("text", ""))
        elif event.kind == "escalated":
            text = str(event.data.get("summary", ""))
        elif event.kind in ("survey_comment", "fix_reported"):
            text = str(event.data.get("text", ""))
        elif event.kind in ("identity_proven", "identity_revoked"):  # the agent's reason, as audited
            text = str(event.data.get("reason", ""))
        else:
            text = ""
        items.append(TimelineItem(kind="note" if event.kind == "note" else "event", at=event.created_at,
                                  sender=event.kind, who=actor.name if actor else "", text=text, order=event.id))
    items.sort(key=lambda i: (i.at, 0 if i.kind == "message" else 1, i.order))
    return items


def _name(user: User | None) -> str:
    return (user.name or user.email) if user is not None else "—"


async def ticket_page(request: web.Request, *, reply_error: str = "", reply_text: str = "",
                      status_code: int = 200, reply_choice: int | None = None) -> web.Response:
    state = console_state(request)
    user = request[USER]
    ticket = await _ticket(request)
    await ticket.fetch_related("contact", "conversation", "category", "assignee")
    conversation = ticket.conversation
    identity = await ChannelIdentity.get(id=conversation.identity_id)
    tickets = await Ticket.filter(contact_id=ticket.contact.id).order_by("-id")
    users = {u.id: u for u in await User.all()}
    lang = request_language(request)
    now = state.clock()
    policy = await load_policy(hours=state.hours, resolution=state.sla)
    face = clock_face(ticket, policy, now)  # the queue's clock too: one reading of the ticket's SLA
    sla_report = evaluate_targets(ticket, policy, now)
    prediction = conversation.last_prediction or {}
    top = [(str(label), float(p)) for label, p in (prediction.get("top") or [])[:3]]
    categories = await Category.filter(active=True)
    templates = []
    first_name = ticket.contact.name.split(" ")[0] if ticket.contact.name else ""
    for template in await AnswerTemplate.filter(category__active=True).prefetch_related("category"):
        body = render_template(ANSWER, template.body, name=first_name, ticket=ticket.number or "", agent=user.name)
        label = template.category.name_en if lang == "en" else template.category.name_id
        templates.append({"label": f"{label} ({template.language})", "body": body,
                          "match": template.language == conversation.language})
    targets = await reply_targets(ticket)
    directory_query = request.query.get("q", "")
    directory_hits: verification.DirectoryHits | None = None
    directory_error = ""
    if directory_query and can_act(user, ticket):  # the search is part of deciding, so the deciders' only
        try:
            directory_hits = await verification.search_directory(directory_query)
        except ConsoleError as problem:
            directory_error = problem.code
    closing_at = reply_window.closes_at(conversation.channel, identity.last_inbound_at)
    window: timedelta | None = None if closing_at is None else closing_at - now
    context = {
        "page": "ticket",
        "ticket": ticket,
        "contact": ticket.contact,
        "identity": identity,
        "conversation": conversation,
        "timeline": await _timeline(ticket.contact, tickets, users),
        "other_tickets": [t for t in tickets if t.id != ticket.id][:10],
        "can_act": can_act(user, ticket),
        "open": ticket.status != TicketStatus.RESOLVED,
        "clock": face,
        "remaining": remaining_text(face.due_at - now) if face.due_at else "",
        "sla_class": clock_class(face),
        "due_iso": iso(face.due_at) if face.due_at else "",
        "sla_report": sla_report,
        "at_risk_iso": iso(face.at_risk_from) if face.at_risk_from else "",
        "warning_iso": iso(face.warning_from) if face.warning_from else "",
        "top": top,
        "category_names": {c.slug: (c.name_en if lang == "en" else c.name_id) for c in categories},
        "categories": categories,
        "priorities": [p.value for p in Priority],
        "selected_category": (ticket.category.slug if ticket.category else (ticket.predicted_category or "")),
        "confirmed": is_confirmed(ticket),
        "confirmed_by": _name(users.get(ticket.category_confirmed_by_id or 0)),
        "templates": sorted(templates, key=lambda t: (not t["match"], t["label"])),
        "agents": [u for u in users.values() if u.active],
        "window": window,
        "window_text": remaining_text(window) if window is not None else "",
        "channels": (await channel_states([ticket], now=now))[ticket.id],
        "reply_error": reply_error,
        "reply_text": reply_text,
        "addresses": await _addresses(ticket, identity),
        "reply_targets": [(t, address_label(t.identity)) for t in targets],
        "reply_default": reply_choice or default_target(targets).identity.id,
        "directory_query": directory_query[:verification.MAX_QUERY_CHARS],
        "directory_hits": directory_hits,
        "directory_error": directory_error,
        "status_key": verification.status_key,
        "attach": console_files.form_limits(state.attachments),
        **await escalation_context(ticket),
    }
    return render(request, "ticket.html", context, status=status_code)


def _back(ticket: Ticket, notice: str = "") -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"/console/t/{ticket.id}" + (f"?notice={notice}" if notice else ""))


def _changed(request: web.Request, ticket: Ticket) -> None:
    console_state(request).broker.publish("ticket.updated", {"ticket_id": ticket.id})


async def _act(request: web.Request, action: Callable[[Ticket, dict[str, str]], Any], notice: str) -> web.Response:
    ticket = await _ticket(request)
    form = await form_fields(request)
    try:
        await action(ticket, form)
    except ConsoleError as problem:
        if problem.status == 403:
            raise web.HTTPForbidden(text=request_catalog(request)(problem.code)) from None
        raise _back(ticket, problem.code) from None
    _changed(request, ticket)
    raise _back(ticket, notice)


async def take(request: web.Request) -> web.Response:
    state = console_state(request)
    ticket = await _ticket(request)
    result = await actions.take_ticket(ticket_id=ticket.id, agent=request[USER], now=state.clock())
    if result.taken:
        _changed(request, ticket)
        raise _back(ticket, "notice_taken")
    raise _back(ticket, "notice_already_taken")


async def reply_view(request: web.Request) -> web.Response:
    """Text and files; a refused reply shows the page again with the reason and the agent's words kept."""
    state = console_state(request)
    ticket = await _ticket(request)
    form = await posted_form(request)
    fields = text_fields(form)
    text = fields.get("text", "")
    raw_to = fields.get("to", "")
    to = parse_id(raw_to) if raw_to else None
    try:
        if raw_to and to is None:  # a choice that names no address is a forged one: refused, nothing sent
            raise ConsoleError("error_reply_target", 400)
        limit = state.attachments.policy.max_bytes if state.attachments is not None else 0
        files = await console_files.uploaded_files(form, limit=limit)
        await actions.reply(registry=state.registry, ticket=ticket, agent=request[USER], text=text,
                             now=state.clock(), files=files, store=state.attachments, to=to)
    except ConsoleError as problem:
        console_files.close_uploads(form)
        if problem.status == 403:
            raise web.HTTPForbidden(text=request_catalog(request)(problem.code)) from None
        return await ticket_page(request, reply_error=problem.code, reply_text=text,
                                 status_code=413 if problem.code.endswith("too_big") else problem.status,
                                 reply_choice=None if problem.code == "error_reply_target" else to)
    console_files.close_uploads(form)
    _changed(request, ticket)
    raise _back(ticket, "notice_sent")


async def attachment_view(request: web.Request) -> web.StreamResponse:
    """A file of a message, only to someone who may open a ticket of that conversation's contact."""
    store = console_state(request).attachments
    found = await console_files.visible_attachment(path_id(request), request[USER])
    if found is None or store is None:
        raise web.HTTPNotFound(text="not found")
    return await console_files.file_response(found, store)


async def note_view(request: web.Request) -> web.Response:
    async def run(ticket: Ticket, form: dict[str, str]) -> None:
        await actions.add_note(ticket=ticket, agent=request[USER], text=form.get("text", ""))

    return await _act(request, run, "notice_noted")


async def categorize_view(request: web.Request) -> web.Response:
    async def run(ticket: Ticket, form: dict[str, str]) -> None:
        slug = form.get("category", "")
        category = await Category.get_or_none(slug=slug) if fits(slug, Category, "slug") else None
        if category is None:
            raise ConsoleError("error_unknown_category", 400)
        await actions.categorize(ticket=ticket, category=category, agent=request[USER],
                                 now=console_state(request).clock())

    return await _act(request, run, "notice_categorized")


async def assign_view(request: web.Request) -> web.Response:
    state = console_state(request)

    async def run(ticket: Ticket, form: dict[str, str]) -> None:
        user_id = parse_id(form.get("user_id"))
        assignee = await User.get_or_none(id=user_id) if user_id is not None else None
        if assignee is None:
            raise ConsoleError("error_unknown_user", 400)
        await actions.assign_ticket(ticket=ticket, assignee=assignee, actor=request[USER], now=state.clock())

    return await _act(request, run, "notice_assigned")


async def priority_view(request: web.Request) -> web.Response:
    async def run(ticket: Ticket, form: dict[str, str]) -> None:
        try:
            priority = Priority(form.get("priority", ""))
        except ValueError:
            raise ConsoleError("error_sla_priority", 400) from None
        await actions.set_priority(ticket=ticket, agent=request[USER], priority=priority,
                                   now=console_state(request).clock())

    return await _act(request, run, "notice_priority")


async def waiting_view(request: web.Request) -> web.Response:
    async def run(ticket: Ticket, form: dict[str, str]) -> None:
        await actions.set_waiting(ticket=ticket, agent=request[USER], waiting=form.get("waiting") == "1",
                                  now=console_state(request).clock())

    return await _act(request, run, "notice_status")


async def fixed_view(request: web.Request) -> web.Response:
    async def run(ticket: Ticket, form: dict[str, str]) -> None:
        await actions.report_fix(ticket=ticket, agent=request[USER], text=form.get("text", ""))

    return await _act(request, run, "notice_fix_reported")


async def escalate_view(request: web.Request) -> web.Response:
    state = console_state(request)

    async def run(ticket: Ticket, form: dict[str, str]) -> None:
        await actions.escalate(
            ticket=ticket, agent=request[USER], now=state.clock(), summary=form.get("summary", ""),
            webhook_url=state.config.escalation_webhook_url, webhook_secret=state.config.escalation_webhook_secret,
            ticket_url=f"{state.public_url}/console/t/{ticket.id}" if state.public_url else "",
            email_to=state.config.escalation_email_to, mailer=state.mailer, **incident_choice(form),
        )

    return await _act(request, run, "notice_escalated")


async def close_view(request: web.Request) -> web.Response:
    state = console_state(request)

    async def run(ticket: Ticket, _form: dict[str, str]) -> None:
        await actions.close_ticket(registry=state.registry, ticket=ticket, agent=request[USER], now=state.clock(),
                                    translate=state.translate, **survey_options(state))

    return await _act(request, run, "notice_closed")

def _address_id(form: dict[str, str]) -> int | None:
    """The address a decision is about; none given means the ticket's own, one that names no row is refused."""
    raw = form.get("identity_id", "")
    found = parse_id(raw) if raw else None
    if raw and found is None:
        raise ConsoleError("error_not_this_contact", 400)
    return found


async def prove_view(request: web.Request) -> web.Response:
    state = console_state(request)

    async def run(ticket: Ticket, form: dict[str, str]) -> None:
        await verification.agent_prove(ticket=ticket, agent=request[USER], identity_id=_address_id(form),
                                       id_number=form.get("id_number") or None, reason=form.get("reason", ""),
                                       now=state.clock())

    return await _act(request, run, "notice_identity_proven")


async def revoke_view(request: web.Request) -> web.Response:
    async def run(ticket: Ticket, form: dict[str, str]) -> None:
        await verification.agent_revoke(ticket=ticket, agent=request[USER], identity_id=_address_id(form),
                                        reason=form.get("reason", ""))

    return await _act(request, run, "notice_identity_revoked")


def add_routes(console: web.Application) -> None:
    r = console.router
    r.add_get("/t/{id}", ticket_page, name="ticket")
    r.add_post("/t/{id}/take", take, name="take")
    r.add_post("/t/{id}/reply", reply_view, name="reply")
    r.add_post("/t/{id}/note", note_view, name="note")
    r.add_post("/t/{id}/categorize", categorize_view, name="categorize")
    r.add_post("/t/{id}/assign", assign_view, name="assign")
    r.add_post("/t/{id}/priority", priority_view, name="priority")
    r.add_post("/t/{id}/waiting", waiting_view, name="waiting")
    r.add_post("/t/{id}/escalate", escalate_view, name="escalate")
    r.add_post("/t/{id}/close", close_view, name="close")
    r.add_post("/t/{id}/fixed", fixed_view, name="fixed")
    r.add_post("/t/{id}/identity/prove", prove_view, name="identity_prove")
    r.add_post("/t/{id}/identity/revoke", revoke_view, name="identity_revoke")
    r.add_get("/attachments/{id}", attachment_view, name="attachment")
