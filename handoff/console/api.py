"""Ticket actions over /api/v1 (take, assign, reply, note, categorize, priority, escalate, close) for integrations.

The same services as the console, so the same rules: a token acts as the console user it belongs to,
with that user's role and ownership. A token without a user only reads. Bearer tokens are not sent by
browsers on their own, so these JSON endpoints need no CSRF token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from handoff import actions, teams, verification
from handoff.actions import ConsoleError
from handoff.api import (
    ID_PARAMETER,
    MAX_LIMIT,
    OPENAPI,
    TEAM_RULE,
    TOKEN_KEY,
    UNAUTHORIZED,
    error_responses,
    incident_json,
    problem,
    ticket_json,
    unknown_parameters,
)
from handoff.console.incidents import survey_options
from handoff.console.supervisor_views import EXPORT_OPTIONS, export_options, stream_export
from handoff.console.toolkit import STATE, ConsoleState
from handoff.exports import ExportFormat, ExportRequest
from handoff.i18n import LANGUAGES, console_catalog
from handoff.incidents import report_incident_fix
from handoff.reports.figures import RATINGS
from handoff.sla import load_policy
from handoff.ticket_search import (
    COUNT_CAP,
    DEFAULT_PAGE,
    MAX_PERIOD_DAYS,
    MAX_QUERY,
    MAX_TEXT_DAYS,
    MIN_QUERY,
    NONE,
    Flag,
    SearchError,
    SlaFilter,
    parse_search,
    search_tickets,
)
from handoff.ticket_search import PARAMETERS as SEARCH_PARAMETERS
from handoff.webinput import MAX_ID, InputError, fits, json_id, parse_id, read_json_object
from models import Category, ChannelKind, Incident, IncidentStatus, Priority, Ticket, TicketStatus, User, UserRole

Action = Callable[[ConsoleState, Ticket, User, dict[str, Any]], Awaitable[dict[str, Any] | None]]


async def _actor(request: web.Request) -> User | web.Response:
    token = request[TOKEN_KEY]
    user = await User.get_or_none(id=token.user_id) if token.user_id else None
    if user is None or not user.active:
        return problem(403, "forbidden", "this token does not belong to an active console user; it can only read")
    return user


async def _body(request: web.Request) -> dict[str, Any] | web.Response:
    try:
        return await read_json_object(request, empty=True)
    except InputError as refused:
        return problem(refused.status, "too_large" if refused.status == 413 else "bad_request", refused.reason)


Handler = Callable[[web.Request], Awaitable[web.Response]]


def _endpoint(state: ConsoleState, action: Action, *, status: int = 200) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        actor = await _actor(request)
        if isinstance(actor, web.Response):
            return actor
        body = await _body(request)
        if isinstance(body, web.Response):
            return body
        ticket_id = parse_id(request.match_info["id"])
        ticket = await Ticket.get_or_none(id=ticket_id) if ticket_id is not None else None
        if ticket is None or not await teams.can_see(actor, ticket):  # another team's: as if missing
            return problem(404, "not_found", "no such ticket")
        try:
            extra = await action(state, ticket, actor, body)
        except ConsoleError as refused:
            return problem(refused.status, refused.code.removeprefix("error_"), console_catalog("en")(refused.code))
        if extra is not None and "error" in extra:
            return web.json_response(extra, status=409)
        state.broker.publish("ticket.updated", {"ticket_id": ticket.id})
        await ticket.refresh_from_db()
        return web.json_response({**(await ticket_json(ticket, now=state.clock())), **(extra or {})}, status=status)

    return handler


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name, "")
    if not isinstance(value, str):
        raise ConsoleError("error_empty", 400)
    return value


async def _take(state: ConsoleState, ticket: Ticket, actor: User, _body: dict[str, Any]) -> dict[str, Any] | None:
    result = await actions.take_ticket(ticket_id=ticket.id, agent=actor, now=state.clock())
    if result.taken:
        return None
    owner = result.owner
    return {"error": "already_taken", "detail": "another agent took this ticket first",
            "owner": {"id": owner.id, "name": owner.name, "email": owner.email} if owner else None}


async def _assign(state: ConsoleState, ticket: Ticket, actor: User, body: dict[str, Any]) -> None:
    email = body.get("email")
    if "user_id" in body:
        user_id = json_id(body["user_id"])  # a number no id column holds names nobody
        assignee = await User.get_or_none(id=user_id) if user_id is not None else None
    else:
        assignee = await User.get_or_none(email=email.lower()) if fits(email, User, "email") else None
    if assignee is None:
        raise ConsoleError("error_unknown_user", 400)
    await actions.assign_ticket(ticket=ticket, assignee=assignee, actor=actor, now=state.clock())


async def _reply(state: ConsoleState, ticket: Ticket, actor: User, body: dict[str, Any]) -> dict[str, Any]:
    to = json_id(body["to"]) if body.get("to") is not None else None
    if body.get("to") is not None and to is None:  # names no address: refused before anything is sent
        raise ConsoleError("error_reply_target", 400)
    message = await actions.reply(registry=state.registry, ticket=ticket, agent=actor, text=_text(body, "text"),
                                   now=state.clock(), to=to)
    return {"message_id": message.id}


async def _note(_state: ConsoleState, ticket: Ticket, actor: User, body: dict[str, Any]) -> dict[str, Any]:
    event = await actions.add_note(ticket=ticket, agent=actor, text=_text(body, "text"))
    return {"note_id": event.id}


async def _categorize(state: ConsoleState, ticket: Ticket, actor: User, body: dict[str, Any]) -> None:
    slug = body.get("category", "")
    category = await Category.get_or_none(slug=slug) if fits(slug, Category, "slug") else None
    if category is None:
        raise ConsoleError("error_unknown_category", 400)
    await actions.categorize(ticket=ticket, category=category, agent=actor, now=state.clock())


async def _priority(state: ConsoleState, ticket: Ticket, actor: User, body: dict[str, Any]) -> None:
    raw = body.get("priority")
    if not isinstance(raw, str) or raw not in {p.value for p in Priority}:  # absent, not a string, or not ours
        raise ConsoleError("error_sla_priority", 400)
    priority = Priority(raw)
    await actions.set_priority(ticket=ticket, agent=actor, priority=priority, now=state.clock())


async def _escalate(state: ConsoleState, ticket: Ticket, actor: User, body: dict[str, Any]) -> None:
    raw_incident = body.get("incident_id")
    incident_id = json_id(raw_incident)
    title = body.get("incident_title", "")
    if (raw_incident is not None and incident_id is None) or not isinstance(title, str):
        raise ConsoleError("error_unknown_incident", 400)
    if incident_id is not None and title.strip():  # one or the other: linking and opening at once is ambiguous
        raise ConsoleError("error_unknown_incident", 400)
    await actions.escalate(
        ticket=ticket, agent=actor, now=state.clock(), summary=_text(body, "summary"),
        webhook_url=state.config.escalation_webhook_url, webhook_secret=state.config.escalation_webhook_secret,
        ticket_url=f"{state.public_url}/console/t/{ticket.id}" if state.public_url else "",
        email_to=state.config.escalation_email_to, mailer=state.mailer,
        incident_id=incident_id, incident_title=title,
    )


async def _close(state: ConsoleState, ticket: Ticket, actor: User, _body: dict[str, Any]) -> None:
    await actions.close_ticket(registry=state.registry, ticket=ticket, agent=actor, now=state.clock(),
                                translate=state.translate, **survey_options(state))


def _address(body: dict[str, Any]) -> int | None:
    """The address of an identity decision; absent or null: the ticket's own. One that names no row: 400."""
    raw = body.get("identity_id")
    found = json_id(raw) if raw is not None else None
    if raw is not None and found is None:
        raise ConsoleError("error_not_this_contact", 400)
    return found


async def _prove(state: ConsoleState, ticket: Ticket, actor: User, body: dict[str, Any]) -> None:
    id_number = body.get("id_number")
    if id_number is not None and not isinstance(id_number, str):
        raise ConsoleError("error_unknown_number", 400)
    await verification.agent_prove(ticket=ticket, agent=actor, identity_id=_address(body), id_number=id_number,
                                   reason=body.get("reason", ""), now=state.clock())


async def _revoke(_state: ConsoleState, ticket: Ticket, actor: User, body: dict[str, Any]) -> None:
    await verification.agent_revoke(ticket=ticket, agent=actor, identity_id=_address(body),
                                    reason=body.get("reason", ""))


_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
_DECISION = {"identity_id": {**_ID, "description": "an id from the ticket's `addresses`; default: the ticket's own"},
             "reason": {"type": "string", "description": "why (required, at most 500 characters; audited)"}}
# name, action, success status, summary, the body's properties (None: no body), its required ones.
ACTIONS: tuple[tuple[str, Action, int, str, dict[str, Any] | None, tuple[str, ...]], ...] = (
    ("take", _take, 200, "Claim an unassigned ticket (atomic: 409 with the owner when someone was first)", None, ()),
    ("assign", _assign, 200, "Transfer the ticket (owner or supervisor), to a user given by id or e-mail",
     {"user_id": _ID, "email": {"type": "string"}}, ()),
    ("reply", _reply, 201, "Send a reply to the user: to the ticket's own channel or a proven channel of the "
     "person (`to`: an address id from the ticket's `addresses`; without it, the one the person wrote on last); "
     "an address merely claimed, or another person's, is refused (400 `reply_target`), nothing sent",
     {"text": {"type": "string"}, "to": _ID}, ("text",)),
    ("note", _note, 201, "Add a private note, never sent to the user", {"text": {"type": "string"}}, ("text",)),
    ("categorize", _categorize, 200,
     "Confirm the category (the classifier's guess, given again) or change it (which confirms the new one); "
     "closing requires a confirmed category", {"category": {"type": "string"}}, ("category",)),
    ("priority", _priority, 200,
     "Set the ticket's priority (owner or supervisor; audited); its SLA targets follow the policy's rule for the "
     "new priority and its due times are recomputed (`due_at`, `first_response_due_at`, `sla`)",
     {"priority": {"type": "string", "enum": [p.value for p in Priority]}}, ("priority",)),
    ("escalate", _escalate, 200,
     "Escalate to the developer team (ESCALATION_WEBHOOK_URL, ESCALATION_EMAIL_TO); optionally link the ticket to "
     "an open incident (incident_id) or open a new one (incident_title), not both",
     {"summary": {"type": "string"}, "incident_id": _ID, "incident_title": {"type": "string"}}, ()),
    ("identity/prove", _prove, 200,
     "SOP step 3: an agent decides that an address of the ticket (its own by default, or one of its person's) "
     "is the directory person `id_number`'s (default: the number the address claims). The address is joined "
     "to that person and proven (method agent); a ticket event and the audit log keep the reason",
     {**_DECISION, "id_number": {"type": "string"}}, ("reason",)),
    ("identity/revoke", _revoke, 200,
     "Take back the proof of an address of the ticket: nothing personal goes there until it is proven again; "
     "a ticket event and the audit log keep the reason", _DECISION, ("reason",)),
    ("close", _close, 200, "Resolve the ticket, give the conversation back to the bot, send the survey; refused "
     "(409, error category_unconfirmed) while no agent has confirmed the ticket's category", None, ()),
)
# Per action, what its 409 means (the default: WRITE_ERRORS[409]).
CONFLICTS = {
    "close": "conflict: the ticket is already closed, or its category is unconfirmed (error "
             "`category_unconfirmed`: the classifier's guess counts only once an agent confirms it with "
             "`categorize`, or changes it)",
}
WRITE_ERRORS = {
    400: "invalid input: a body that is not a JSON object, a field of the wrong type, an unknown user, category "
         "or incident, an empty text; for identity decisions an empty reason, a number not in the directory, an "
         "address that is not the ticket's or its person's; for a reply a `to` that is neither",
    401: UNAUTHORIZED,
    403: "the token has no user, or the user may not act on this ticket",
    404: "no such ticket, or (with teams configured) a ticket of a team the user is not in",
    409: "conflict (already taken, already closed)",
    413: "the body is over the size limit (1 MiB)",
}


def add_ticket_actions(api: web.Application, console: web.Application) -> web.Application:
    """Register the actions on the /api/v1 app, using the console's state (channels, broker, clock)."""
    state = console[STATE]
    paths = api[OPENAPI]["paths"]
    for name, action, status, summary, properties, required in ACTIONS:
        api.router.add_post(f"/tickets/{{id}}/{name}", _endpoint(state, action, status=status))
        operation: dict[str, Any] = {
            "summary": summary,
            "parameters": [ID_PARAMETER],
            "responses": {str(status): {"description": "the ticket after the action", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Ticket"}}}},
                **error_responses({**WRITE_ERRORS, 409: CONFLICTS.get(name, WRITE_ERRORS[409])})},
        }
        if properties:
            operation["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": {"type": "object", "properties": properties, "required": list(required)}}}}
        paths[f"/tickets/{{id}}/{name}"] = {"post": operation}
    add_ticket_list(api, state)
    add_incident_endpoints(api, state)
    add_directory_endpoint(api)
    add_export_endpoint(api, state)
    return api


def _choice(values: list[str]) -> dict[str, Any]:
    return {"type": "string", "enum": values}


def add_ticket_list(api: web.Application, state: ConsoleState) -> None:
    """GET /tickets: the supervisor ticket page's search (``handoff.ticket_search``, the same parameters
    read by the same parser, with pages up to MAX_LIMIT), narrowed to what the token may see (teams)."""

    async def list_tickets(request: web.Request) -> web.Response:
        if (unknown := unknown_parameters(request, set(SEARCH_PARAMETERS))) is not None:
            return unknown
        # The page's form sends its empty fields and reads them as "any"; a program that sends one has
        # made a mistake, and an answer that ignored it would look filtered.
        if empty := sorted({name for name, value in request.query.items() if not value}):
            return problem(400, "bad_request", f"empty query parameter(s): {', '.join(empty)[:200]}")
        now = state.clock()
        try:
            search = parse_search(request.query, now=now, tz=state.tz, max_limit=MAX_LIMIT)
        except SearchError as refused:
            return problem(400, "bad_request", console_catalog("en")(refused.key, **refused.values))
        seen = await teams.token_visibility(request[TOKEN_KEY])
        page = await search_tickets(search, now=now, lang="en", visible=seen.sql if seen is not None else None)
        loaded = {t.id: t for t in await Ticket.filter(id__in=[row.id for row in page.rows])}
        policy = await load_policy()  # once for the page: it only gives the hours the clocks count
        items = [await ticket_json(loaded[row.id], now=now, policy=policy) for row in page.rows if row.id in loaded]
        return web.json_response({"items": items, "total": page.total, "total_capped": page.capped,
                                  "limit": search.limit, "next_before": page.next_before})

    api.router.add_get("/tickets", list_tickets)
    # Plain strings where the parser reads more than a schema can say (dates, free text), so that nothing
    # the document calls invalid is accepted.
    ref = {"type": "string", "pattern": f"^({NONE}|[0-9]{{1,18}})$"}
    described = {
        "since": ({"type": "string"}, "a local date (YYYY-MM-DD, the page's), or a moment (ISO 8601 date-time; "
                  "without an offset, UTC): tickets opened from it on. Default: 29 days before today"),
        "until": ({"type": "string"}, "the local day after the last (YYYY-MM-DD; default: tomorrow); "
                  f"a period is at most {MAX_PERIOD_DAYS} days"),
        "status": (_choice([s.value for s in TicketStatus]), None),
        "category": (ref, f"a category id, or `{NONE}`: tickets without one"),
        "confirmed": (_choice(["yes", "no"]), "whether an agent confirmed the category"),
        "agent": (ref, f"the assignee's user id, or `{NONE}`: unassigned"),
        "team": (ref, f"a team id, or `{NONE}`"),
        "channel": (_choice([c.value for c in ChannelKind]), None),
        "sla": (_choice([f.value for f in SlaFilter]), "met or missed (closed tickets); on_track, at_risk or "
                "breached (open tickets)"),
        "rating": ({"type": "integer", "minimum": min(RATINGS), "maximum": max(RATINGS)}, None),
        "q": ({"type": "string"}, "a ticket number (CC-2611-000042), a NIM/NIP or ticket "
              f"id, or at least {MIN_QUERY} characters of a name or of what the person wrote (text: over at most "
              f"{MAX_TEXT_DAYS} days); at most {MAX_QUERY} characters"),
        "exception": (_choice([f.value for f in Flag]), "one of the page's exceptions"),
        "before": ({"type": "integer", "minimum": 1, "maximum": MAX_ID},
                   "the cursor: `next_before` of the previous page"),
        "limit": ({"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}, f"page size (default {DEFAULT_PAGE})"),
    }
    page = {
        "type": "object",
        "required": ["items", "total", "total_capped", "limit", "next_before"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Ticket"}},
            "total": {"type": "integer", "description": f"matching tickets, counted up to {COUNT_CAP}; for a text "
                      "search, the tickets on this page"},
            "total_capped": {"type": "boolean", "description": "there are more than `total`"},
            "limit": {"type": "integer"},
            "next_before": {"type": ["integer", "null"], "description": "`before` for the next page; null on the last"},
        },
    }
    api[OPENAPI]["paths"]["/tickets"] = {"get": {
        "summary": "List tickets, newest opened first: the supervisor ticket page's filters and search",
        "description": f"{TEAM_RULE} Times are local to the helpdesk's time zone (`TZ`).",
        "parameters": [{"name": name, "in": "query", "schema": schema, **({"description": text} if text else {})}
                       for name, (schema, text) in described.items()],
        "responses": {
            "200": {"description": "a page of tickets", "content": {"application/json": {"schema": page}}},
            **error_responses({400: "a filter that cannot be used, an empty or unknown parameter; the detail "
                                    "names it", 401: UNAUTHORIZED}),
        },
    }}


def add_directory_endpoint(api: web.Application) -> None:
    """GET /directory?q=: the agent's directory look-up (handoff.verification.search_directory), for a token
    of an active console user only: the directory is personal data, not an integration's to browse."""

    async def directory(request: web.Request) -> web.Response:
        actor = await _actor(request)
        if isinstance(actor, web.Response):
            return actor
        if (unknown := unknown_parameters(request, {"q"})) is not None:
            return unknown
        try:
            hits = await verification.search_directory(request.query.get("q", ""))
        except ConsoleError as refused:
            return problem(refused.status, refused.code.removeprefix("error_"), console_catalog("en")(refused.code))
        return web.json_response({"items": [
            {"id_number": e.id_number, "name": e.name, "email": e.email, "role": e.role.value,
             "faculty": e.faculty, "program": e.program, "status": e.status} for e in hits.entries],
            "more": hits.more})

    api.router.add_get("/directory", directory)
    entry = {"type": "object", "required": ["id_number", "name", "email", "role", "faculty", "program", "status"],
             "properties": {name: {"type": "string"} for name in
                            ("id_number", "name", "email", "role", "faculty", "program", "status")}}
    api[OPENAPI]["paths"]["/directory"] = {"get": {
        "summary": "Look a person up in the campus directory (SOP step 3), with the directory's status "
                   "(active, inactive, graduated, ...): by number prefix, e-mail or name; at most 10",
        "parameters": [{"name": "q", "in": "query", "required": True,
                        "schema": {"type": "string", "minLength": 3, "maxLength": 100}}],
        "responses": {
            "200": {"description": "the matches; `more` when there were more than shown", "content": {
                "application/json": {"schema": {"type": "object", "required": ["items", "more"], "properties": {
                    "items": {"type": "array", "items": entry}, "more": {"type": "boolean"}}}}}},
            **error_responses({400: "a query shorter than 3 or longer than 100 characters, or an unknown parameter",
                               401: UNAUTHORIZED,
                               403: "the token does not belong to an active console user"}),
        },
    }}


async def _incident_json(incident: Incident) -> dict[str, Any]:
    ids = await Ticket.filter(incident_id=incident.id).order_by("id").values_list("id", flat=True)
    return incident_json(incident, tickets=[int(i) for i in ids])  # type: ignore[call-overload]


def add_incident_endpoints(api: web.Application, state: ConsoleState) -> None:
    """GET /incidents and POST /incidents/{id}/fix: the fix recorded on every linked ticket, and with
    ``notify_users`` sent once to every user whose linked ticket is still open."""

    async def list_incidents(request: web.Request) -> web.Response:
        if (unknown := unknown_parameters(request, {"status"})) is not None:
            return unknown
        status = request.query.get("status")
        if status is not None and status not in {s.value for s in IncidentStatus}:
            return problem(400, "bad_request", "status must be open or fixed")
        query = Incident.filter(status=IncidentStatus(status)) if status is not None else Incident.all()
        incidents = await query.order_by("-id").limit(200)
        return web.json_response({"items": [await _incident_json(i) for i in incidents]})

    async def fix(request: web.Request) -> web.Response:
        actor = await _actor(request)
        if isinstance(actor, web.Response):
            return actor
        body = await _body(request)
        if isinstance(body, web.Response):
            return body
        incident_id = parse_id(request.match_info["id"])
        incident = await Incident.get_or_none(id=incident_id) if incident_id is not None else None
        if incident is None:
            return problem(404, "not_found", "no such incident")
        notify = body.get("notify_users", False)
        if not isinstance(notify, bool):
            return problem(400, "bad_request", "notify_users must be true or false")
        try:
            result = await report_incident_fix(
                incident=incident, actor=actor, text=_text(body, "text"), notify_users=notify,
                registry=state.registry, translate=state.translate, now=state.clock(),
            )
        except ConsoleError as refused:
            return problem(refused.status, refused.code.removeprefix("error_"), console_catalog("en")(refused.code))
        for ticket_id in await Ticket.filter(incident_id=incident.id).values_list("id", flat=True):
            state.broker.publish("ticket.updated", {"ticket_id": ticket_id})
        return web.json_response({**(await _incident_json(result.incident)), "notified": result.notified})

    api.router.add_get("/incidents", list_incidents)
    api.router.add_post("/incidents/{id}/fix", fix)
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Incident"}}}
    paths = api[OPENAPI]["paths"]
    paths["/incidents"] = {"get": {
        "summary": "Incidents (newest first), with their linked ticket ids",
        "parameters": [{"name": "status", "in": "query", "schema": {"type": "string", "enum": ["open", "fixed"]}}],
        "responses": {"200": {"description": "incidents", "content": {"application/json": {"schema": {
            "type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": {
                "$ref": "#/components/schemas/Incident"}}}}}}},
            **error_responses({400: "a status other than open or fixed, or an unknown parameter", 401: UNAUTHORIZED})},
    }}
    paths["/incidents/{id}/fix"] = {"post": {
        "summary": "Report the developer team's fix: recorded on every linked ticket (escalated ones reopen for "
                   "their agents); with notify_users, sent once to each user whose linked ticket is open",
        "parameters": [ID_PARAMETER],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["text"],
            "properties": {"text": {"type": "string"}, "notify_users": {"type": "boolean", "default": False}}}}}},
        "responses": {
            "200": {"description": "the incident after the fix, plus how many users were notified", "content": ref},
            **error_responses({
                400: "invalid input: a body that is not a JSON object, an empty text, notify_users not a boolean",
                401: UNAUTHORIZED,
                403: "the token has no user, or the user is neither a supervisor nor an owner of a linked ticket",
                404: "no such incident",
                409: "the fix was already reported",
                413: WRITE_ERRORS[413],
            }),
        },
    }}


# The export takes the supervisor page's filters (handoff.ticket_search) but not its page.
EXPORT_PARAMETERS = (SEARCH_PARAMETERS - {"before", "limit"}) | EXPORT_OPTIONS | {"lang"}


def add_export_endpoint(api: web.Application, state: ConsoleState) -> None:
    """GET /exports/tickets: the tickets opened in [since, until) as CSV or XLSX, streamed, for supervisors'
    tokens only (the export carries every contact's personal data, across teams)."""

    async def export_tickets(request: web.Request) -> web.StreamResponse:
        token = request[TOKEN_KEY]
        user = await User.get_or_none(id=token.user_id) if token.user_id else None
        if (user.role if user is not None else token.role) != UserRole.SUPERVISOR:
            return problem(403, "forbidden", "exports are for supervisors' tokens")
        if (unknown := unknown_parameters(request, set(EXPORT_PARAMETERS))) is not None:
            return unknown
        lang = request.query.get("lang", "id")
        if lang not in LANGUAGES:
            return problem(400, "bad_request", f"lang must be one of: {', '.join(LANGUAGES)}")
        now = state.clock()
        try:
            fmt, mask = export_options(request.query)
            search = parse_search({k: v for k, v in request.query.items() if k not in EXPORT_OPTIONS | {"lang"}},
                                  now=now, tz=state.tz, known=SEARCH_PARAMETERS - {"before", "limit"})
        except SearchError as refused:
            return problem(400, "bad_request", console_catalog("en")(refused.key, **refused.values))
        export = ExportRequest(period=search.period, now=now, mask=mask, lang=lang, search=search)
        return await stream_export(request, export, fmt)

    api.router.add_get("/exports/tickets", export_tickets)
    text = {"type": "string"}
    api[OPENAPI]["paths"]["/exports/tickets"] = {"get": {
        "summary": "Export the tickets opened in [since, until) (local dates, until exclusive), one row per ticket; "
                   "supervisors only. The supervisor page's filters apply too.",
        "parameters": [
            {"name": "since", "in": "query", "schema": {"type": "string", "format": "date"},
             "description": "first local day (default: 29 days ago)"},
            {"name": "until", "in": "query", "schema": {"type": "string", "format": "date"},
             "description": "the day after the last (default: tomorrow)"},
            {"name": "format", "in": "query", "schema": {"type": "string", "enum": [f.value for f in ExportFormat]}},
            {"name": "mask", "in": "query", "schema": {"type": "string", "enum": ["0", "1", "true", "false"]},
             "description": "mask names, NIM/NIP, e-mail and phone"},
            {"name": "lang", "in": "query", "schema": {"type": "string", "enum": list(LANGUAGES)}},
            *({"name": name, "in": "query", "schema": text}
              for name in sorted(SEARCH_PARAMETERS - {"since", "until", "before", "limit"})),
        ],
        "responses": {
            "200": {"description": "the file, as an attachment (Content-Disposition names it)", "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                    "schema": {"type": "string", "format": "binary"}}}},
            **error_responses({400: "a parameter that cannot be used; the detail names it", 401: UNAUTHORIZED,
                               403: "the token is not a supervisor's"}),
        },
    }}
