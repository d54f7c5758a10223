"""The console sub-application: sign-in, queue, conversation view, supervisor pages, live WebSocket.

Views stay thin: the guard middleware resolves the session and checks CSRF, services check role and
ownership and write the events. Pages are server-rendered with autoescaping; the browser script only
re-fetches fragments of these same pages and writes its own strings with textContent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import WSMsgType, web
from multidict import MultiDictProxy

from handoff import actions, teams
from handoff.actions import ConsoleError, Translate, can_act, is_supervisor
from handoff.attachments import AttachmentStore
from handoff.auth import UserExistsError, create_user, generate_password
from handoff.console import files as console_files
from handoff.console.assignment import Assigner, run_assignment
from handoff.console.channel_state import ChannelState, channel_states
from handoff.console.config import ConsoleConfig
from handoff.console.dashboard import build_dashboard
from handoff.console.i18n import LANGUAGES, ConsoleCatalog, console_catalog, known
from handoff.console.live import Broker, LiveEvent
from handoff.console.sessions import (
    COOKIE,
    LOGIN_CSRF_COOKIE,
    PasswordProblemError,
    authenticate,
    change_password,
    end_session,
    load_session,
    same,
    start_session,
)
from handoff.delivery import ChannelRegistry
from handoff.escalation_mail import Mailer
from handoff.hours import OperatingHours
from handoff.i18n import choose_language, other_language
from handoff.learning import RetrainSettings
from handoff.login_throttle import LoginLimiter, retry_after_seconds
from handoff.operations import Operations, defaults_from, load_operations
from handoff.sla import SlaPolicy, SlaState, evaluate
from handoff.templating import ANSWER, TemplateProblem
from handoff.templating import check as check_template
from handoff.templating import render as render_template
from handoff.tickets import UNRESOLVED
from handoff.webinput import (
    InputError,
    ascii_int,
    fits,
    json_id,
    own_origin,
    parse_id,
    parse_json,
    read_form,
    same_origin,
    same_origin_path,
    text_fields,
)
from models import (
    AnswerTemplate,
    AuditLog,
    Category,
    ChannelIdentity,
    ChannelKind,
    ConsoleSession,
    Contact,
    Message,
    Team,
    Ticket,
    TicketEvent,
    TicketStatus,
    User,
    UserRole,
)

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
LANG_COOKIE = "cc_console_lang"
QUEUE_VIEWS = ("unassigned", "mine", "waiting", "escalated", "all")
QUEUE_LIMIT = 200
HISTORY_LIMIT = 300
PUBLIC_ROUTES = frozenset({"login", "login_post", "static"})
PASSWORD_ROUTES = frozenset({"password", "password_post", "logout"})
# Routes whose forms carry files: their body may be as big as the attachment limits allow.
UPLOAD_ROUTES = frozenset({"reply"})
MAX_SORT_ORDER = 10**6


@dataclass(slots=True)
class ConsoleState:
    registry: ChannelRegistry
    broker: Broker
    config: ConsoleConfig
    translate: Translate
    clock: Callable[[], datetime]
    tz: ZoneInfo
    sla: timedelta
    secure_cookies: bool
    public_url: str
    limiter: LoginLimiter
    env: jinja2.Environment
    attachments: AttachmentStore | None = None
    mailer: Mailer | None = None
    # The environment's hours: the defaults until a supervisor saves others (handoff.operations).
    hours: OperatingHours = field(default_factory=OperatingHours)
    # Set by the app: puts a newly activated classifier in the running bot (handoff never imports bot).
    swap_classifier: Callable[[Any], None] | None = None
    retrain: RetrainSettings | None = None


STATE = web.AppKey("console_state", ConsoleState)
BROKER = web.AppKey("console_broker", Broker)
USER = web.RequestKey("console_user", User)
SESSION = web.RequestKey("console_session", ConsoleSession)
# The SLA target in force for this request (a supervisor may have changed it since start-up).
SLA = web.RequestKey("console_sla", timedelta)


def _state(request: web.Request) -> ConsoleState:
    return request.config_dict[STATE]


async def current_operations(state: ConsoleState) -> Operations:
    return await load_operations(defaults=defaults_from(hours=state.hours, sla=state.sla))


def _sla(request: web.Request) -> timedelta:
    return request.get(SLA) or _state(request).sla


def _lang(request: web.Request) -> str:
    browser = "en" if request.headers.get("Accept-Language", "").lower().startswith("en") else None
    return choose_language(request.query.get("lang") or request.cookies.get(LANG_COOKIE), browser)


def _t(request: web.Request) -> ConsoleCatalog:
    return console_catalog(_lang(request))


def render(request: web.Request, name: str, context: dict[str, Any], *, status: int = 200) -> web.Response:
    state = _state(request)
    user = request.get(USER)
    session = request.get(SESSION)
    lang = _lang(request)
    notice = request.query.get("notice", "")
    base = {
        "t": console_catalog(lang),
        "lang": lang,
        "other_lang": other_language(lang),
        "user": user,
        "supervisor": user is not None and is_supervisor(user),
        "csrf": session.csrf_token if session else "",
        "notice": notice if known(notice) else "",
        "path": request.path,
        "page": "",  # the nav marks the current page; pages without a nav entry (password) leave it empty
        "local": lambda moment: _local(moment, state.tz),
        "sla_minutes": int(_sla(request).total_seconds() // 60),
    }
    body = state.env.get_template(name).render({**base, **context})
    response = web.Response(text=body, content_type="text/html", status=status)
    if request.query.get("lang") in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, path="/console", samesite="Lax",
                            httponly=True, secure=state.secure_cookies)
    return response


def _local(moment: datetime | None, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%d-%m-%Y %H:%M") if moment else "—"


def _client_ip(request: web.Request) -> str:
    # The proxy-aware address: bot.app puts handoff.client_address.real_client in front when
    # TRUSTED_PROXIES is set, so request.remote is the client's own even behind a reverse proxy.
    return request.remote or "?"


def _wait_text(request: web.Request, seconds: int) -> str:
    t = _t(request)
    return t("wait_seconds", n=seconds) if seconds < 120 else t("wait_minutes", n=-(-seconds // 60))


@web.middleware
async def guard(request: web.Request, handler: Any) -> web.StreamResponse:
    """Session, forced password change and CSRF for every route but sign-in and static files."""
    route = request.match_info.route.name
    if route in PUBLIC_ROUTES:
        response: web.StreamResponse = await handler(request)
        if route != "static":
            response.headers["Cache-Control"] = "no-store"
        return response
    state = _state(request)
    loaded = await load_session(raw=request.cookies.get(COOKIE, ""), now=state.clock(), ttl=state.config.session_ttl)
    if loaded is None:
        if request.method == "GET" and route != "ws":
            raise web.HTTPSeeOther("/console/login")
        raise web.HTTPUnauthorized(text="sign in at /console/login", headers={"Cache-Control": "no-store"})
    if request.method == "POST" and route in UPLOAD_ROUTES and state.attachments is not None:
        request = request.clone(client_max_size=console_files.upload_limit(state.attachments.policy))
    request[SESSION], request[USER] = loaded
    request[SLA] = (await current_operations(state)).sla
    if loaded[1].must_change_password and route not in PASSWORD_ROUTES:
        raise web.HTTPSeeOther("/console/password")
    if request.method == "POST":
        form = await _read_form(request)
        token = request.headers.get("X-CSRF-Token") or str(form.get("csrf", ""))
        if not same(token, loaded[0].csrf_token):
            console_files.close_uploads(form)
            log.warning("CSRF check failed for user %s on %s", loaded[1].id, route)
            raise web.HTTPForbidden(text="CSRF token missing or wrong; reload the page",
                                    headers={"Cache-Control": "no-store"})
    response = await handler(request)
    response.headers["Cache-Control"] = "no-store"
    return response


async def _read_form(request: web.Request) -> MultiDictProxy[Any]:
    """The posted form. One that cannot be read is the browser's (or a script's) to send again: 400, or
    413 over the size limit, with a sentence saying so, before anything is checked or done."""
    try:
        return await read_form(request)
    except InputError as problem:
        log.info("console form on %s unreadable: %s", request.match_info.route.name, problem.reason)
        text = _t(request)("error_unreadable_form")
        if problem.status == 413:
            raise web.HTTPRequestEntityTooLarge(max_size=request.client_max_size,
                                                actual_size=request.content_length or 0, text=text) from None
        raise web.HTTPBadRequest(text=text, headers={"Cache-Control": "no-store"}) from None


async def _form(request: web.Request) -> dict[str, str]:
    return text_fields(await _read_form(request))


# --- sign-in ---------------------------------------------------------------------------------------


async def login_page(request: web.Request) -> web.Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    if len(token) < 20:
        token = secrets.token_urlsafe(24)
    response = render(request, "login.html", {"login_csrf": token, "email": ""})
    response.set_cookie(LOGIN_CSRF_COOKIE, token, path="/console", httponly=True, samesite="Lax",
                        secure=_state(request).secure_cookies)
    return response


async def login_post(request: web.Request) -> web.Response:
    state = _state(request)
    form = await _form(request)
    # A login form is CSRF-protected too (double submit): a foreign page must not sign a browser in.
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not same(form.get("csrf", ""), cookie):
        raise web.HTTPForbidden(text="CSRF token missing or wrong; reload the page")
    email = form.get("email", "").strip().lower()[:254]
    now = state.clock()
    ip = _client_ip(request)
    context = {"login_csrf": cookie, "email": email}
    # Counted before the password is checked (and refunded if it was right), so parallel tries cannot
    # all pass while the first ones are being checked; a refused try is answered at once, never held.
    attempt = await state.limiter.attempt(email=email, address=ip, now=now)
    if attempt.wait:
        log.warning("console sign-in slowed by the throttle")  # no address or e-mail in the log
        seconds = retry_after_seconds(attempt.wait)
        response = render(request, "login.html", {**context, "error": "login_rate_limited",
                                                   "wait": _wait_text(request, seconds)}, status=429)
        response.headers["Retry-After"] = str(seconds)
        return response
    user = await authenticate(email=email, password=form.get("password", ""))
    if user is None:
        return render(request, "login.html", {**context, "error": "login_failed"}, status=401)
    await state.limiter.succeeded(attempt, now=now)
    _session, raw = await start_session(user=user, now=now, ttl=state.config.session_ttl)
    await actions.audit(actor=user, action="auth.login")
    response = web.HTTPSeeOther("/console/password" if user.must_change_password else "/console/queue")
    response.set_cookie(COOKIE, raw, path="/console", httponly=True, samesite="Lax",
                        secure=state.secure_cookies, max_age=int(state.config.session_ttl.total_seconds()))
    raise response


async def logout(request: web.Request) -> web.Response:
    await end_session(raw=request.cookies.get(COOKIE, ""))
    _state(request).broker.publish("session.ended", {"session_id": request[SESSION].id})
    response = web.HTTPSeeOther("/console/login")
    response.del_cookie(COOKIE, path="/console")
    raise response


async def password_page(request: web.Request) -> web.Response:
    return render(request, "password.html", {})


async def password_post(request: web.Request) -> web.Response:
    state = _state(request)
    form = await _form(request)
    user = request[USER]
    try:
        await change_password(user=user, current=form.get("current", ""), new=form.get("new", ""),
                              confirm=form.get("confirm", ""))
    except PasswordProblemError as problem:
        return render(request, "password.html", {"error": problem.code}, status=400)
    await actions.audit(actor=user, action="auth.password_changed")
    # Every other browser is signed out; this one gets a fresh session so the person carries on.
    state.broker.publish("session.revoked", {"user_id": user.id})
    _session, raw = await start_session(user=user, now=state.clock(), ttl=state.config.session_ttl)
    response = web.HTTPSeeOther("/console/queue?notice=notice_password_changed")
    response.set_cookie(COOKIE, raw, path="/console", httponly=True, samesite="Lax",
                        secure=state.secure_cookies, max_age=int(state.config.session_ttl.total_seconds()))
    raise response


async def availability(request: web.Request) -> web.Response:
    user = request[USER]
    user.available = (await _form(request)).get("available") == "1"
    await user.save(update_fields=["available"])
    await actions.audit(actor=user, action="user.availability", data={"available": user.available})
    _state(request).broker.publish("user.available", {"user_id": user.id, "available": user.available})
    # Back to the page the toggle was on, but only a console page of this very site.
    raise web.HTTPSeeOther(same_origin_path(request.headers.get("Referer"),
                                            own=own_origin(request, _state(request).public_url),
                                            under="/console", default="/console/queue"))


# --- queue -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueueRow:
    ticket: Ticket
    contact_name: str
    verified: bool
    category: str
    predicted: bool
    due_iso: str
    remaining: str
    sla_class: str
    last_message: str
    last_sender: str
    owner: str
    channels: ChannelState | None = None


def remaining_text(remaining: timedelta) -> str:
    minutes = int(remaining.total_seconds() // 60)
    sign = "-" if minutes < 0 else ""
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours}h {mins:02d}m"


def sla_class(remaining: timedelta, sla: timedelta, state: SlaState) -> str:
    if state in (SlaState.BREACHED, SlaState.MISSED):
        return "sla-breached"
    if state == SlaState.AT_RISK:
        return "sla-risk"
    return "sla-warn" if remaining < sla / 2 else "sla-ok"


async def _category_names(lang: str) -> dict[int, str]:
    return {c.id: (c.name_en if lang == "en" else c.name_id) for c in await Category.all()}


async def queue_rows(*, view: str, user: User, now: datetime, sla: timedelta, lang: str) -> list[QueueRow]:
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
    policy = SlaPolicy(target=sla)
    states = await channel_states(list(tickets), now=now)
    rows = []
    for ticket in tickets:
        identity = await ChannelIdentity.get_or_none(id=ticket.conversation.identity_id)  # type: ignore[attr-defined]
        last = await Message.filter(conversation_id=ticket.conversation.id).order_by("-id").first()
        status = evaluate(opened_at=ticket.opened_at, due_at=ticket.due_at, resolved_at=None, policy=policy, now=now)
        category_id = ticket.category_id  # type: ignore[attr-defined]
        rows.append(QueueRow(
            ticket=ticket,
            contact_name=ticket.contact.name or (identity.display_name if identity else "") or "—",
            verified=ticket.contact.verified,
            category=names.get(category_id, "") if category_id else (ticket.predicted_category or ""),
            predicted=category_id is None and bool(ticket.predicted_category),
            due_iso=ticket.due_at.astimezone(UTC).isoformat(),
            remaining=remaining_text(status.remaining),
            sla_class=sla_class(status.remaining, sla, status.state),
            last_message=(last.text[:140] if last else ""),
            last_sender=(last.sender_kind.value if last else ""),
            owner=(ticket.assignee.name or ticket.assignee.email) if ticket.assignee else "",
            channels=states[ticket.id],
        ))
    return rows


async def index(_request: web.Request) -> web.Response:
    raise web.HTTPSeeOther("/console/queue")


async def queue(request: web.Request) -> web.Response:
    state = _state(request)
    user = request[USER]
    view = request.query.get("view", "mine" if await Ticket.filter(
        assignee_id=user.id, status__in=UNRESOLVED).exists() else "unassigned")
    if view not in QUEUE_VIEWS:
        view = "all"
    rows = await queue_rows(view=view, user=user, now=state.clock(), sla=_sla(request), lang=_lang(request))
    return render(request, "queue.html", {"rows": rows, "view": view, "views": QUEUE_VIEWS, "page": "queue"})


# --- conversation view -----------------------------------------------------------------------------


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


def _path_id(request: web.Request) -> int:
    found = parse_id(request.match_info["id"])
    if found is None:  # names no row, like a missing one
        raise web.HTTPNotFound(text="not found")
    return found


async def _ticket(request: web.Request) -> Ticket:
    ticket = await Ticket.get_or_none(id=_path_id(request))
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
            who=(users[m.agent_id].name if m.agent_id in users else ""),  # type: ignore[attr-defined]
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
        actor = users.get(event.actor_id) if event.actor_id else None  # type: ignore[attr-defined]
        if event.kind == "note":
            text = str(event.data.get("text", ""))
        elif event.kind == "escalated":
            text = str(event.data.get("summary", ""))
        elif event.kind in ("survey_comment", "fix_reported"):
            text = str(event.data.get("text", ""))
        else:
            text = ""
        items.append(TimelineItem(kind="note" if event.kind == "note" else "event", at=event.created_at,
                                  sender=event.kind, who=actor.name if actor else "", text=text, order=event.id))
    items.sort(key=lambda i: (i.at, 0 if i.kind == "message" else 1, i.order))
    return items


async def ticket_page(request: web.Request, *, reply_error: str = "", reply_text: str = "",
                      status_code: int = 200) -> web.Response:
    state = _state(request)
    user = request[USER]
    ticket = await _ticket(request)
    await ticket.fetch_related("contact", "conversation", "category", "assignee")
    conversation = ticket.conversation
    identity = await ChannelIdentity.get(id=conversation.identity_id)  # type: ignore[attr-defined]
    tickets = await Ticket.filter(contact_id=ticket.contact.id).order_by("-id")
    users = {u.id: u for u in await User.all()}
    lang = _lang(request)
    now = state.clock()
    status = evaluate(opened_at=ticket.opened_at, due_at=ticket.due_at, resolved_at=ticket.resolved_at,
                      policy=SlaPolicy(target=_sla(request)), now=now)
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
    window: timedelta | None = None
    if conversation.channel == ChannelKind.WHATSAPP and identity.last_inbound_at:
        window = identity.last_inbound_at + actions.WHATSAPP_WINDOW - now
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
        "remaining": remaining_text(status.remaining),
        "sla_class": sla_class(status.remaining, _sla(request), status.state),
        "due_iso": ticket.due_at.astimezone(UTC).isoformat(),
        "top": top,
        "category_names": {c.slug: (c.name_en if lang == "en" else c.name_id) for c in categories},
        "categories": categories,
        "selected_category": (ticket.category.slug if ticket.category else (ticket.predicted_category or "")),
        "templates": sorted(templates, key=lambda t: (not t["match"], t["label"])),
        "agents": [u for u in users.values() if u.active],
        "window": window,
        "window_text": remaining_text(window) if window is not None else "",
        "channels": (await channel_states([ticket], now=now))[ticket.id],
        "reply_error": reply_error,
        "reply_text": reply_text,
        "attach": console_files.form_limits(state.attachments),
        **await escalation_context(ticket),
    }
    return render(request, "ticket.html", context, status=status_code)


def _back(ticket: Ticket, notice: str = "") -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"/console/t/{ticket.id}" + (f"?notice={notice}" if notice else ""))


def _changed(request: web.Request, ticket: Ticket) -> None:
    _state(request).broker.publish("ticket.updated", {"ticket_id": ticket.id})


async def _act(request: web.Request, action: Callable[[Ticket, dict[str, str]], Any], notice: str) -> web.Response:
    ticket = await _ticket(request)
    form = await _form(request)
    try:
        await action(ticket, form)
    except ConsoleError as problem:
        if problem.status == 403:
            raise web.HTTPForbidden(text=_t(request)(problem.code)) from None
        raise _back(ticket, problem.code) from None
    _changed(request, ticket)
    raise _back(ticket, notice)


async def take(request: web.Request) -> web.Response:
    state = _state(request)
    ticket = await _ticket(request)
    result = await actions.take_ticket(ticket_id=ticket.id, agent=request[USER], now=state.clock())
    if result.taken:
        _changed(request, ticket)
        raise _back(ticket, "notice_taken")
    raise _back(ticket, "notice_already_taken")


async def reply_view(request: web.Request) -> web.Response:
    """Text and files; a refused reply shows the page again with the reason and the agent's words kept."""
    state = _state(request)
    ticket = await _ticket(request)
    form = await _read_form(request)
    text = text_fields(form).get("text", "")
    try:
        limit = state.attachments.policy.max_bytes if state.attachments is not None else 0
        files = await console_files.uploaded_files(form, limit=limit)
        await actions.reply(registry=state.registry, ticket=ticket, agent=request[USER], text=text,
                             now=state.clock(), files=files, store=state.attachments)
    except ConsoleError as problem:
        console_files.close_uploads(form)
        if problem.status == 403:
            raise web.HTTPForbidden(text=_t(request)(problem.code)) from None
        return await ticket_page(request, reply_error=problem.code, reply_text=text,
                                 status_code=413 if problem.code.endswith("too_big") else problem.status)
    console_files.close_uploads(form)
    _changed(request, ticket)
    raise _back(ticket, "notice_sent")


async def attachment_view(request: web.Request) -> web.StreamResponse:
    """A file of a message, only to someone who may open a ticket of that conversation's contact."""
    store = _state(request).attachments
    found = await console_files.visible_attachment(_path_id(request), request[USER])
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
        await actions.categorize(ticket=ticket, category=category, agent=request[USER])

    return await _act(request, run, "notice_categorized")


async def assign_view(request: web.Request) -> web.Response:
    state = _state(request)

    async def run(ticket: Ticket, form: dict[str, str]) -> None:
        user_id = parse_id(form.get("user_id"))
        assignee = await User.get_or_none(id=user_id) if user_id is not None else None
        if assignee is None:
            raise ConsoleError("error_unknown_user", 400)
        await actions.assign_ticket(ticket=ticket, assignee=assignee, actor=request[USER], now=state.clock())

    return await _act(request, run, "notice_assigned")


async def waiting_view(request: web.Request) -> web.Response:
    async def run(ticket: Ticket, form: dict[str, str]) -> None:
        await actions.set_waiting(ticket=ticket, agent=request[USER], waiting=form.get("waiting") == "1")

    return await _act(request, run, "notice_status")


async def fixed_view(request: web.Request) -> web.Response:
    async def run(ticket: Ticket, form: dict[str, str]) -> None:
        await actions.report_fix(ticket=ticket, agent=request[USER], text=form.get("text", ""))

    return await _act(request, run, "notice_fix_reported")


async def escalate_view(request: web.Request) -> web.Response:
    state = _state(request)

    async def run(ticket: Ticket, form: dict[str, str]) -> None:
        await actions.escalate(
            ticket=ticket, agent=request[USER], now=state.clock(), summary=form.get("summary", ""),
            webhook_url=state.config.escalation_webhook_url, webhook_secret=state.config.escalation_webhook_secret,
            ticket_url=f"{state.public_url}/console/t/{ticket.id}" if state.public_url else "",
            email_to=state.config.escalation_email_to, mailer=state.mailer, **incident_choice(form),
        )

    return await _act(request, run, "notice_escalated")


async def close_view(request: web.Request) -> web.Response:
    state = _state(request)

    async def run(ticket: Ticket, _form: dict[str, str]) -> None:
        await actions.close_ticket(registry=state.registry, ticket=ticket, agent=request[USER], now=state.clock(),
                                    translate=state.translate, **survey_options(state))

    return await _act(request, run, "notice_closed")


# --- supervisor ------------------------------------------------------------------------------------


def _supervisor(request: web.Request) -> User:
    user = request[USER]
    if not is_supervisor(user):
        raise web.HTTPForbidden(text=_t(request)("error_forbidden"))
    return user


async def dashboard(request: web.Request) -> web.Response:
    _supervisor(request)
    state = _state(request)
    board = await build_dashboard(now=state.clock(), tz=state.tz, sla=_sla(request), lang=_lang(request))
    return render(request, "dashboard.html", {"page": "dashboard", "board": board})


async def categories_page(request: web.Request) -> web.Response:
    _supervisor(request)
    categories = await Category.all()
    return render(request, "categories.html", {"page": "categories", "categories": categories})


async def category_save(request: web.Request) -> web.Response:
    user = _supervisor(request)
    form = await _form(request)
    raw_id = request.match_info.get("id")
    fields: dict[str, object] = {
        "name_id": form.get("name_id", "").strip()[:120],
        "name_en": form.get("name_en", "").strip()[:120],
        "description": form.get("description", "").strip()[:2000],
        "active": form.get("active") == "1",
    }
    fields["sort_order"] = ascii_int(form.get("sort_order", "0") or "0", low=-MAX_SORT_ORDER, high=MAX_SORT_ORDER) or 0
    if not fields["name_id"]:
        raise web.HTTPSeeOther("/console/admin/categories?notice=error_name_required")
    if raw_id is None:
        slug = form.get("slug", "").strip().lower()
        if not slug or not all(c.isalnum() or c == "-" for c in slug) or len(slug) > 64:
            raise web.HTTPSeeOther("/console/admin/categories?notice=error_bad_slug")
        if await Category.exists(slug=slug):
            raise web.HTTPSeeOther("/console/admin/categories?notice=error_slug_taken")
        created = Category(slug=slug)
        created.update_from_dict({**fields, "name_en": fields["name_en"] or fields["name_id"]})
        await created.save()
        await actions.audit(actor=user, action="category.create", target=slug, data={"name_id": fields["name_id"]})
    else:
        category_id = parse_id(raw_id)
        category = await Category.get_or_none(id=category_id) if category_id is not None else None
        if category is None:
            raise web.HTTPNotFound(text="no such category")
        category.update_from_dict(fields)
        await category.save()
        await actions.audit(actor=user, action="category.update", target=category.slug,
                             data={k: v for k, v in fields.items() if k != "description"})
    raise web.HTTPSeeOther("/console/admin/categories?notice=notice_saved")


@dataclass(frozen=True, slots=True)
class _RefusedTemplate:
    """A template the supervisor tried to save, sent back beside its form with the reason."""

    category_id: int
    language: str
    body: str
    problem: TemplateProblem


async def templates_page(request: web.Request, *, refused: _RefusedTemplate | None = None) -> web.Response:
    _supervisor(request)
    categories = await Category.all()
    by_key = {(t.category_id, t.language): t for t in await AnswerTemplate.all()}  # type: ignore[attr-defined]
    rows = [
        {"category": c, "templates": [(lang, by_key.get((c.id, lang))) for lang in LANGUAGES]}
        for c in categories
    ]
    t = console_catalog(_lang(request))
    sample = t("template_preview_name")

    def preview(body: str) -> str:
        # Exactly what the bot sends to a user of that first name: the same renderer, the same values.
        return render_template(ANSWER, body, name=sample)

    def problem(body: str) -> TemplateProblem | None:
        # A template stored before fields were checked: the supervisor sees why it reads oddly.
        return check_template(ANSWER, body)

    return render(request, "templates.html", {"page": "templates", "rows": rows, "preview": preview,
                                              "problem": problem, "sample": sample, "refused": refused},
                  status=400 if refused is not None else 200)


async def template_save(request: web.Request) -> web.Response:
    user = _supervisor(request)
    form = await _form(request)
    lang = request.match_info["lang"]
    category = await Category.get_or_none(id=_path_id(request))
    if category is None or lang not in LANGUAGES:
        raise web.HTTPNotFound(text="no such category or language")
    body = form.get("body", "").replace("\r\n", "\n").strip()
    refused = check_template(ANSWER, body)
    if refused is not None:
        # Nothing saved; the form comes back with what was typed and the field that is not allowed.
        return await templates_page(request, refused=_RefusedTemplate(category.id, lang, body, refused))
    existing = await AnswerTemplate.get_or_none(category=category, language=lang)
    if not body:
        # An empty template means "a person answers this category in this language".
        if existing is not None:
            await existing.delete()
        await actions.audit(actor=user, action="template.delete", target=f"{category.slug}/{lang}")
    elif existing is None:
        await AnswerTemplate.create(category=category, language=lang, body=body)
        await actions.audit(actor=user, action="template.create", target=f"{category.slug}/{lang}")
    else:
        existing.body = body
        await existing.save(update_fields=["body", "updated_at"])
        await actions.audit(actor=user, action="template.update", target=f"{category.slug}/{lang}")
    raise web.HTTPSeeOther(f"/console/admin/templates?notice=notice_saved#c{category.id}")


async def audit_page(request: web.Request) -> web.Response:
    _supervisor(request)
    entries = await AuditLog.all().order_by("-id").limit(300).prefetch_related("actor")
    rows = [{"entry": e, "data": json.dumps(e.data, ensure_ascii=False) if e.data else ""} for e in entries]
    return render(request, "audit.html", {"page": "audit", "rows": rows})


async def users_page(request: web.Request, *, invited: tuple[str, str] | None = None,
                     error: str = "") -> web.Response:
    _supervisor(request)
    users = await User.all().order_by("email").prefetch_related("teams")
    return render(request, "users.html", {"page": "users", "users": users, "roles": [r.value for r in UserRole],
                                          "invited": invited, "error": error, "teams": await Team.all(),
                                          "member_of": {u.id: {t.id for t in u.teams} for u in users}},
                  status=400 if error else 200)


async def user_invite(request: web.Request) -> web.Response:
    """A new agent gets a one-time password, shown once here, and must replace it at first sign-in."""
    actor = _supervisor(request)
    form = await _form(request)
    role = form.get("role", UserRole.AGENT.value)
    if not fits(form.get("email", "").strip(), User, "email"):
        return await users_page(request, error="error_bad_email")
    password = generate_password()
    try:
        created = await create_user(
            email=form.get("email", ""), role=UserRole(role) if role in {r.value for r in UserRole} else UserRole.AGENT,
            password=password, name=form.get("name", "").strip()[:200], must_change_password=True,
        )
    except UserExistsError:
        return await users_page(request, error="error_user_exists")
    except ValueError:
        return await users_page(request, error="error_bad_email")
    capacity = ascii_int(form.get("capacity", "10"), low=-(10**9), high=10**9)
    if capacity is not None:
        created.capacity = max(0, min(100, capacity))
        await created.save(update_fields=["capacity"])
    await actions.audit(actor=actor, action="user.invite", target=created.email, data={"role": created.role.value})
    return await users_page(request, invited=(created.email, password))


async def user_save(request: web.Request) -> web.Response:
    actor = _supervisor(request)
    form = await _form(request)
    target = await User.get_or_none(id=_path_id(request))
    if target is None:
        raise web.HTTPNotFound(text="no such user")
    if form.get("role") in {r.value for r in UserRole} and target.id != actor.id:
        target.role = UserRole(form["role"])
    if target.id != actor.id:  # a supervisor does not lock themselves out
        target.active = form.get("active") == "1"
    capacity = ascii_int(form.get("capacity", str(target.capacity)), low=-(10**9), high=10**9)
    if capacity is not None:
        target.capacity = max(0, min(100, capacity))
    await target.save(update_fields=["role", "active", "capacity"])
    if not target.active:
        await ConsoleSession.filter(user_id=target.id).delete()
        _state(request).broker.publish("session.revoked", {"user_id": target.id})
    data: dict[str, object] = {"role": target.role.value, "active": target.active, "capacity": target.capacity}
    if form.get("teams_shown") == "1":  # the form listed the teams (there are some): apply the ticks
        ticked = (await _read_form(request)).getall("team", [])
        chosen = [team_id for v in ticked if isinstance(v, str) and (team_id := parse_id(v)) is not None]
        data["teams"] = await teams.set_user_teams(target, chosen)
    await actions.audit(actor=actor, action="user.update", target=target.email, data=data)
    raise web.HTTPSeeOther("/console/admin/users?notice=notice_saved")


# --- live ------------------------------------------------------------------------------------------


def _read_frame(data: str, csrf: str) -> tuple[dict[str, Any], None] | tuple[None, dict[str, str]]:
    """A live socket's frame as an action, or the error frame that answers it."""
    try:
        body = parse_json(data)
    except InputError as problem:
        return None, {"type": "error", "error": "bad_request", "detail": problem.reason}
    if not isinstance(body, dict) or not same(str(body.get("csrf", "")), csrf):
        return None, {"type": "error", "error": "csrf"}
    return body, None


async def websocket(request: web.Request) -> web.StreamResponse:
    """Live updates out; presence (viewing, typing) in. Every inbound action carries the CSRF token."""
    state = _state(request)
    origin = request.headers.get("Origin")
    if origin is not None and not same_origin(origin, own_origin(request, state.public_url)):
        raise web.HTTPForbidden(text="cross-origin WebSocket refused")
    user, session = request[USER], request[SESSION]
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=4096)
    await ws.prepare(request)
    queue = state.broker.subscribe()
    viewing: set[int] = set()

    async def pump() -> None:
        while True:
            event: LiveEvent = await queue.get()
            if (event.name == "session.revoked" and event.data.get("user_id") == user.id) or (
                event.name == "session.ended" and event.data.get("session_id") == session.id
            ):
                await ws.close()
                return
            ticket_id = event.data.get("ticket_id")
            if isinstance(ticket_id, int) and not await teams.can_see_id(user, ticket_id):
                continue  # another team's ticket: not even its id reaches this browser
            await ws.send_json({"type": "event", "name": event.name, "data": event.data})

    sender = asyncio.create_task(pump())
    try:
        async for frame in ws:
            if frame.type != WSMsgType.TEXT:
                continue
            body, refusal = _read_frame(frame.data, session.csrf_token)
            if body is None:
                try:
                    await ws.send_json(refusal or {})
                except ConnectionResetError:  # the browser is gone
                    break
                continue
            action = body.get("action")
            ticket_id = json_id(body.get("ticket_id"))  # it is looked up for every console that hears it
            if action in ("view", "typing", "leave") and ticket_id is not None:
                if action == "leave":
                    viewing.discard(ticket_id)
                else:
                    viewing.add(ticket_id)
                state.broker.publish("presence", {"ticket_id": ticket_id, "user_id": user.id,
                                                  "name": user.name or user.email, "state": action})
    finally:
        sender.cancel()
        # The pump ends with ConnectionResetError when it wrote to a socket the browser had closed.
        with contextlib.suppress(asyncio.CancelledError, ConnectionResetError):
            await sender
        state.broker.unsubscribe(queue)
        for ticket_id in viewing:
            state.broker.publish("presence", {"ticket_id": ticket_id, "user_id": user.id,
                                              "name": user.name or user.email, "state": "leave"})
    return ws


from handoff.console.incidents import (  # noqa: E402 - its views use this module's helpers
    add_incident_routes,
    escalation_context,
    incident_choice,
    run_escalation_mail,
    survey_options,
)

# --- factory ---------------------------------------------------------------------------------------


def create_console(
    *,
    registry: ChannelRegistry,
    translate: Translate,
    config: ConsoleConfig | None = None,
    broker: Broker | None = None,
    clock: Callable[[], datetime] | None = None,
    tz: ZoneInfo | None = None,
    sla: timedelta = timedelta(hours=24),
    public_url: str = "",
    attachments: AttachmentStore | None = None,
    escalation_mailer: Mailer | None = None,
    hours: OperatingHours | None = None,
    swap_classifier: Callable[[Any], None] | None = None,
    retrain: RetrainSettings | None = None,
) -> web.Application:
    """The console, to mount at /console. ``broker`` is what FlowDeps.notify publishes to."""
    config = config or ConsoleConfig()
    console = web.Application(middlewares=[guard])
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("handoff.console", "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
    )
    console[STATE] = ConsoleState(
        registry=registry,
        broker=broker or Broker(),
        config=config,
        translate=translate,
        clock=clock or (lambda: datetime.now(UTC)),
        tz=tz or ZoneInfo("Asia/Jakarta"),
        sla=sla,
        secure_cookies=public_url.startswith("https://"),
        public_url=public_url.rstrip("/"),
        limiter=LoginLimiter(),
        env=env,
        attachments=attachments,
        mailer=escalation_mailer,
        hours=hours or OperatingHours(tz=tz or ZoneInfo("Asia/Jakarta")),
        swap_classifier=swap_classifier,
        retrain=retrain,
    )
    console[BROKER] = console[STATE].broker
    run_escalation_mail(console, mailer=escalation_mailer, clock=console[STATE].clock)
    if config.auto_assign:
        run_assignment(console, assigner=Assigner(answer_within=config.answer_within), broker=console[BROKER],
                       clock=console[STATE].clock)
    r = console.router
    r.add_static("/static", HERE / "static", name="static")
    r.add_get("/login", login_page, name="login")
    r.add_post("/login", login_post, name="login_post")
    r.add_post("/logout", logout, name="logout")
    r.add_get("/password", password_page, name="password")
    r.add_post("/password", password_post, name="password_post")
    r.add_post("/availability", availability, name="availability")
    r.add_get("", index, name="index")
    r.add_get("/", index, name="index_slash")
    r.add_get("/queue", queue, name="queue")
    r.add_get("/t/{id}", ticket_page, name="ticket")
    r.add_post("/t/{id}/take", take, name="take")
    r.add_post("/t/{id}/reply", reply_view, name="reply")
    r.add_post("/t/{id}/note", note_view, name="note")
    r.add_post("/t/{id}/categorize", categorize_view, name="categorize")
    r.add_post("/t/{id}/assign", assign_view, name="assign")
    r.add_post("/t/{id}/waiting", waiting_view, name="waiting")
    r.add_post("/t/{id}/escalate", escalate_view, name="escalate")
    r.add_post("/t/{id}/close", close_view, name="close")
    r.add_post("/t/{id}/fixed", fixed_view, name="fixed")
    r.add_get("/attachments/{id}", attachment_view, name="attachment")
    r.add_get("/admin/dashboard", dashboard, name="dashboard")
    r.add_get("/admin/categories", categories_page, name="categories")
    r.add_post("/admin/categories", category_save, name="category_create")
    r.add_post("/admin/categories/{id}", category_save, name="category_update")
    r.add_get("/admin/templates", templates_page, name="templates")
    r.add_post("/admin/templates/{id}/{lang}", template_save, name="template_save")
    r.add_get("/admin/audit", audit_page, name="audit")
    r.add_get("/admin/users", users_page, name="users")
    r.add_post("/admin/users", user_invite, name="user_invite")
    r.add_post("/admin/users/{id}", user_save, name="user_save")
    r.add_get("/ws", websocket, name="ws")
    add_incident_routes(r)
    # Imported here: these modules build on this one's helpers (render, STATE, USER).
    from handoff.console import classifier_views, settings_views, teams_views, tokens_views

    settings_views.add_routes(console)
    classifier_views.add_routes(console)
    teams_views.add_routes(console)
    tokens_views.add_routes(console)
    return console
