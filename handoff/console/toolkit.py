"""The console's view toolkit: the state every view reads, the request keys, the language and catalogue of
a request, ``render``, the ``guard`` middleware (session, forced password change, CSRF), form parsing and
the small checks every area shares. The area modules (signin_views, queue_views, ticket_views,
admin_views, live_views, ...) build on these public names and register their own routes; this module
imports none of them, so the console has no import cycle.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web
from multidict import MultiDictProxy

from handoff.actions import Translate, is_supervisor
from handoff.attachments import AttachmentStore
from handoff.console import files as console_files
from handoff.console.config import ConsoleConfig
from handoff.console.sessions import COOKIE, load_session, same
from handoff.delivery import ChannelRegistry
from handoff.escalation_mail import Mailer
from handoff.hours import OperatingHours
from handoff.i18n import LANGUAGES, ConsoleCatalog, choose_language, console_catalog, known, other_language
from handoff.learning import RetrainSettings
from handoff.live import Broker
from handoff.login_throttle import LoginLimiter
from handoff.operations import Operations, defaults_from, load_operations
from handoff.sla import ClockFace, SlaState
from handoff.webinput import InputError, parse_id, read_form, text_fields
from models import ConsoleSession, User

log = logging.getLogger(__name__)

LANG_COOKIE = "cc_console_lang"
PUBLIC_ROUTES = frozenset({"login", "login_post", "static"})
PASSWORD_ROUTES = frozenset({"password", "password_post", "logout"})
# Routes whose forms carry files: their body may be as big as the attachment limits allow.
UPLOAD_ROUTES = frozenset({"reply"})


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
# The target a ticket opened now would get (a supervisor may have changed it since start-up); each
# ticket is judged against its own (handoff.sla), this one is only shown.
SLA = web.RequestKey("console_sla", timedelta)


def console_state(request: web.Request) -> ConsoleState:
    return request.config_dict[STATE]


async def current_operations(state: ConsoleState) -> Operations:
    return await load_operations(defaults=defaults_from(hours=state.hours, sla=state.sla))


def sla_target(request: web.Request) -> timedelta:
    return request.get(SLA) or console_state(request).sla


def request_language(request: web.Request) -> str:
    browser = "en" if request.headers.get("Accept-Language", "").lower().startswith("en") else None
    return choose_language(request.query.get("lang") or request.cookies.get(LANG_COOKIE), browser)


def request_catalog(request: web.Request) -> ConsoleCatalog:
    return console_catalog(request_language(request))


def render(request: web.Request, name: str, context: dict[str, Any], *, status: int = 200) -> web.Response:
    state = console_state(request)
    user = request.get(USER)
    session = request.get(SESSION)
    lang = request_language(request)
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
        "local": lambda moment: local_time(moment, state.tz),
        "sla_minutes": int(sla_target(request).total_seconds() // 60),
    }
    body = state.env.get_template(name).render({**base, **context})
    response = web.Response(text=body, content_type="text/html", status=status)
    if request.query.get("lang") in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, path="/console", samesite="Lax",
                            httponly=True, secure=state.secure_cookies)
    return response


def local_time(moment: datetime | None, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%d-%m-%Y %H:%M") if moment else "—"


@web.middleware
async def guard(request: web.Request, handler: Any) -> web.StreamResponse:
    """Session, forced password change and CSRF for every route but sign-in and static files."""
    route = request.match_info.route.name
    if route in PUBLIC_ROUTES:
        response: web.StreamResponse = await handler(request)
        if route != "static":
            response.headers["Cache-Control"] = "no-store"
        return response
    state = console_state(request)
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
        form = await posted_form(request)
        token = request.headers.get("X-CSRF-Token") or str(form.get("csrf", ""))
        if not same(token, loaded[0].csrf_token):
            console_files.close_uploads(form)
            log.warning("CSRF check failed for user %s on %s", loaded[1].id, route)
            raise web.HTTPForbidden(text="CSRF token missing or wrong; reload the page",
                                    headers={"Cache-Control": "no-store"})
    response = await handler(request)
    response.headers["Cache-Control"] = "no-store"
    return response


async def posted_form(request: web.Request) -> MultiDictProxy[Any]:
    """The posted form. One that cannot be read is the browser's (or a script's) to send again: 400, or
    413 over the size limit, with a sentence saying so, before anything is checked or done."""
    try:
        return await read_form(request)
    except InputError as problem:
        log.info("console form on %s unreadable: %s", request.match_info.route.name, problem.reason)
        text = request_catalog(request)("error_unreadable_form")
        if problem.status == 413:
            raise web.HTTPRequestEntityTooLarge(max_size=request.client_max_size,
                                                actual_size=request.content_length or 0, text=text) from None
        raise web.HTTPBadRequest(text=text, headers={"Cache-Control": "no-store"}) from None


async def form_fields(request: web.Request) -> dict[str, str]:
    return text_fields(await posted_form(request))


def remaining_text(remaining: timedelta) -> str:
    minutes = int(remaining.total_seconds() // 60)
    sign = "-" if minutes < 0 else ""
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours}h {mins:02d}m"


def clock_class(face: ClockFace) -> str:
    """The clock's colour from its face (handoff.sla.clock_face); console.js recolours it at the face's
    moments. A paused clock is grey and never recoloured."""
    if face.paused:
        return "sla-paused"
    if face.state in (SlaState.BREACHED, SlaState.MISSED):
        return "sla-breached"
    if face.state == SlaState.AT_RISK:
        return "sla-risk"
    return "sla-warn" if face.warning else "sla-ok"


def iso(moment: datetime) -> str:
    """A moment as the pages hand it to their script (UTC, ISO 8601)."""
    return moment.astimezone(UTC).isoformat()


def path_id(request: web.Request) -> int:
    found = parse_id(request.match_info["id"])
    if found is None:  # names no row, like a missing one
        raise web.HTTPNotFound(text="not found")
    return found


def require_supervisor(request: web.Request) -> User:
    user = request[USER]
    if not is_supervisor(user):
        raise web.HTTPForbidden(text=request_catalog(request)("error_forbidden"))
    return user
