"""Ticket actions over /api/v1 (take, assign, reply, note, categorize, escalate, close) for integrations.

The same services as the console, so the same rules: a token acts as the console user it belongs to,
with that user's role and ownership. A token without a user only reads. Bearer tokens are not sent by
browsers on their own, so these JSON endpoints need no CSRF token.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from handoff.api import OPENAPI, TOKEN_KEY, ticket_json
from handoff.console import services, teams
from handoff.console.app import STATE, ConsoleState
from handoff.console.i18n import console_catalog
from handoff.console.services import ConsoleError
from models import Category, Ticket, User

Action = Callable[[ConsoleState, Ticket, User, dict[str, Any]], Awaitable[dict[str, Any] | None]]


def _problem(status: int, error: str, detail: str, **extra: Any) -> web.Response:
    return web.json_response({"error": error, "detail": detail, **extra}, status=status)


async def _actor(request: web.Request) -> User | web.Response:
    token = request[TOKEN_KEY]
    user = await User.get_or_none(id=token.user_id) if token.user_id else None  # type: ignore[attr-defined]
    if user is None or not user.active:
        return _problem(403, "forbidden", "this token does not belong to an active console user; it can only read")
    return user


async def _body(request: web.Request) -> dict[str, Any] | web.Response:
    if not request.can_read_body:
        return {}
    try:
        body = json.loads(await request.read())
    except (UnicodeDecodeError, json.JSONDecodeError):
        return _problem(400, "bad_request", "the body must be a JSON object")
    return body if isinstance(body, dict) else _problem(400, "bad_request", "the body must be a JSON object")


Handler = Callable[[web.Request], Awaitable[web.Response]]


def _endpoint(state: ConsoleState, action: Action, *, status: int = 200) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        actor = await _actor(request)
        if isinstance(actor, web.Response):
            return actor
        body = await _body(request)
        if isinstance(body, web.Response):
            return body
        try:
            ticket = await Ticket.get_or_none(id=int(request.match_info["id"]))
        except ValueError:
            ticket = None
        if ticket is None or not await teams.can_see(actor, ticket):  # another team's: as if missing
            return _problem(404, "not_found", "no such ticket")
        try:
            extra = await action(state, ticket, actor, body)
        except ConsoleError as problem:
            return _problem(problem.status, problem.code.removeprefix("error_"), console_catalog("en")(problem.code))
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
    result = await services.take_ticket(ticket_id=ticket.id, agent=actor, now=state.clock())
    if result.taken:
        return None
    owner = result.owner
    return {"error": "already_taken", "detail": "another agent took this ticket first",
            "owner": {"id": owner.id, "name": owner.name, "email": owner.email} if owner else None}


async def _assign(state: ConsoleState, ticket: Ticket, actor: User, body: dict[str, Any]) -> None:
    target = body.get("user_id")
    email = body.get("email")
    assignee = (await User.get_or_none(id=target) if isinstance(target, int)
                else await User.get_or_none(email=str(email).lower()) if isinstance(email, str) else None)
    if assignee is None:
        raise ConsoleError("error_unknown_user", 400)
    await services.assign_ticket(ticket=ticket, assignee=assignee, actor=actor, now=state.clock())


async def _reply(state: ConsoleState, ticket: Ticket, actor: User, body: dict[str, Any]) -> dict[str, Any]:
    message = await services.reply(registry=state.registry, ticket=ticket, agent=actor, text=_text(body, "text"),
                                   now=state.clock())
    return {"message_id": message.id}


async def _note(_state: ConsoleState, ticket: Ticket, actor: User, body: dict[str, Any]) -> dict[str, Any]:
    event = await services.add_note(ticket=ticket, agent=actor, text=_text(body, "text"))
    return {"note_id": event.id}


async def _categorize(_state: ConsoleState, ticket: Ticket, actor: User, body: dict[str, Any]) -> None:
    category = await Category.get_or_none(slug=str(body.get("category", "")))
    if category is None:
        raise ConsoleError("error_unknown_category", 400)
    await services.categorize(ticket=ticket, category=category, agent=actor)


async def _escalate(state: ConsoleState, ticket: Ticket, actor: User, body: dict[str, Any]) -> None:
    await services.escalate(
        ticket=ticket, agent=actor, now=state.clock(), summary=_text(body, "summary"),
        webhook_url=state.config.escalation_webhook_url, webhook_secret=state.config.escalation_webhook_secret,
        ticket_url=f"{state.public_url}/console/t/{ticket.id}" if state.public_url else "",
    )


async def _close(state: ConsoleState, ticket: Ticket, actor: User, _body: dict[str, Any]) -> None:
    await services.close_ticket(registry=state.registry, ticket=ticket, agent=actor, now=state.clock(),
                                translate=state.translate)


ACTIONS: tuple[tuple[str, Action, int, str, dict[str, Any] | None], ...] = (
    ("take", _take, 200, "Claim an unassigned ticket (atomic: 409 with the owner when someone was first)", None),
    ("assign", _assign, 200, "Transfer the ticket (owner or supervisor)",
     {"user_id": {"type": "integer"}, "email": {"type": "string"}}),
    ("reply", _reply, 201, "Send a reply to the user through their channel", {"text": {"type": "string"}}),
    ("note", _note, 201, "Add a private note, never sent to the user", {"text": {"type": "string"}}),
    ("categorize", _categorize, 200, "Set the category (required before closing)", {"category": {"type": "string"}}),
    ("escalate", _escalate, 200, "Escalate to the developer team (calls ESCALATION_WEBHOOK_URL)",
     {"summary": {"type": "string"}}),
    ("close", _close, 200, "Resolve the ticket, give the conversation back to the bot, send the survey", None),
)


def add_ticket_actions(api: web.Application, console: web.Application) -> web.Application:
    """Register the actions on the /api/v1 app, using the console's state (channels, broker, clock)."""
    state = console[STATE]
    paths = api[OPENAPI]["paths"]
    errors = {
        "400": {"description": "invalid input"},
        "401": {"description": "missing or invalid token"},
        "403": {"description": "the token has no user, or the user may not act on this ticket"},
        "404": {"description": "no such ticket, or (with teams configured) a ticket of a team the user is not in"},
        "409": {"description": "conflict (already taken, already closed, category missing)"},
    }
    for name, action, status, summary, properties in ACTIONS:
        api.router.add_post(f"/tickets/{{id}}/{name}", _endpoint(state, action, status=status))
        operation: dict[str, Any] = {
            "summary": summary,
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "responses": {str(status): {"description": "the ticket after the action", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Ticket"}}}}, **errors},
        }
        if properties:
            operation["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": {"type": "object", "properties": properties}}}}
        paths[f"/tickets/{{id}}/{name}"] = {"post": operation}
    return api
