"""The JSON API at /api/v1 (bearer tokens from ``carecenter token create``), documented at /api/v1/openapi.json."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from tortoise.expressions import Q

from handoff.auth import TokenRefusal, TokenRefusedError, authenticate_token
from handoff.categorization import is_confirmed
from handoff.i18n import console_catalog
from handoff.reachability import ticket_reach
from handoff.sla import SlaPolicy, SlaState, evaluate, evaluate_targets, load_policy
from handoff.teams import scope_for_token
from handoff.webinput import MAX_ID, parse_id
from models import (
    ApiToken,
    ChannelIdentity,
    ChannelKind,
    Conversation,
    Incident,
    IncidentStatus,
    Message,
    ProofLevel,
    ProofMethod,
    SlaCounting,
    Team,
    Ticket,
    TicketStatus,
)

TOKEN_KEY = web.RequestKey("api_token", ApiToken)
# The OpenAPI document, on the app so that modules adding routes (the console's ticket actions) document them.
OPENAPI: web.AppKey[dict[str, Any]] = web.AppKey("openapi")
# The largest page of GET /tickets (the console's page shows at most handoff.ticket_search.MAX_PAGE).
MAX_LIMIT = 200
PUBLIC_PATHS = frozenset({"/api/v1/openapi.json"})
TEAM_RULE = (
    "With teams configured, a token sees what its console user sees: a supervisor every ticket; an agent the "
    "tickets of their teams, tickets without a team and tickets assigned to them. A token without a user "
    "and the agent role sees tickets without a team. Other tickets answer 404, as if they did not exist."
)


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error", "detail"],
    "properties": {
        "error": {"type": "string"},
        "detail": {"type": "string"},
        "reason": {"type": "string", "enum": ["missing", *(r.value for r in TokenRefusal)],
                   "description": "on 401 only: why the token was refused"},
    },
}
UNAUTHORIZED = "no token, or one that is unknown, revoked or expired, or whose user is deactivated"
# Path ids are row ids: an integer an id column can hold (anything else names no row: 404).
ID_PARAMETER: dict[str, Any] = {"name": "id", "in": "path", "required": True,
                                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}


def error_responses(descriptions: dict[int, str]) -> dict[str, Any]:
    """OpenAPI responses for the API's errors, every one in the same JSON shape."""
    return {str(status): {"description": text, "content": {"application/json": {"schema": {
        "$ref": "#/components/schemas/Error"}}}} for status, text in descriptions.items()}


def problem(status: int, error: str, detail: str, **extra: Any) -> web.Response:
    """The API's error shape, for its reads here and its ticket actions (handoff/console/api.py) alike."""
    headers = {"WWW-Authenticate": 'Bearer realm="carecenter"'} if status == 401 else None
    return web.json_response({"error": error, "detail": detail, **extra}, status=status, headers=headers)


def _refused(reason: TokenRefusal | None) -> web.Response:
    """401 in the API's shape, plus ``reason`` (missing / unknown / revoked / expired / user_inactive);
    RFC 6750's ``invalid_token`` for a token that was sent, so generic OAuth clients understand it too."""
    key = "missing" if reason is None else reason.value
    detail = console_catalog("en")(f"api_token_{key}")
    challenge = 'Bearer realm="carecenter"'
    if reason is not None:
        challenge += f', error="invalid_token", error_description="{detail}"'
    return web.json_response({"error": "unauthorized", "reason": key, "detail": detail}, status=401,
                             headers={"WWW-Authenticate": challenge})


@web.middleware
async def bearer_auth(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every request, every time: the token exists, is not revoked or expired, and its user is active."""
    if request.path in PUBLIC_PATHS:
        response: web.StreamResponse = await handler(request)
        return response
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        return _refused(None)
    try:
        caller = await authenticate_token(raw.strip(), now=datetime.now(UTC))
    except TokenRefusedError as refused:
        return _refused(refused.reason)
    request[TOKEN_KEY] = caller.token
    authorized: web.StreamResponse = await handler(request)
    return authorized


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def address_json(identity: ChannelIdentity) -> dict[str, Any]:
    """One address with how sure we are that it is the person's (issue 13): only ``proven`` is proof."""
    return {
        "id": identity.id,
        "channel": identity.channel.value,
        "proof": identity.proof.value,
        "proof_method": identity.proof_method.value if identity.proof_method else None,
        "proven_at": _iso(identity.proven_at),
        "claimed_number": identity.claimed_number,
    }


def _sla_json(ticket: Ticket, policy: SlaPolicy, now: datetime) -> dict[str, Any]:
    """The ticket's SLA, read-only: the resolution clock as before (state, remaining, target), and each
    target the ticket was given, how its clock counts, and whether it is paused (handoff.sla)."""
    status = evaluate(ticket, now)  # against the ticket's own target, not a global one
    report = evaluate_targets(ticket, policy, now)
    return {
        "state": status.state.value, "remaining_seconds": int(status.remaining.total_seconds()),
        "target_seconds": int(status.target.total_seconds()),
        "counting": report.counting.value, "paused": report.paused, "pauses_while_waiting": ticket.sla_pauses,
        "targets": {t.target.value: {"target_seconds": int(t.length.total_seconds()), "due_at": _iso(t.due_at),
                                     "state": t.state.value, "elapsed_seconds": int(t.elapsed.total_seconds())}
                    for t in report.targets},
    }


async def ticket_json(ticket: Ticket, *, now: datetime, policy: SlaPolicy | None = None) -> dict[str, Any]:
    await ticket.fetch_related("contact", "category", "assignee", "team")
    contact = ticket.contact
    assignee = ticket.assignee
    policy = policy or await load_policy()
    return {
        "id": ticket.id,
        "number": ticket.number,
        "status": ticket.status.value,
        "channel": ticket.channel.value,
        "conversation_id": ticket.conversation_id,
        "category": ticket.category.slug if ticket.category else None,
        "predicted_category": ticket.predicted_category,
        "predicted_confidence": ticket.predicted_confidence,
        # SOP step 7: the category counts once an agent confirmed it (handoff.categorization); null until then.
        "category_confirmation": {
            "confirmed_at": _iso(ticket.category_confirmed_at),
            "confirmed_by": ticket.category_confirmed_by_id,
            "agreed_with_prediction": ticket.category_agreed,
        } if is_confirmed(ticket) else None,
        "priority": ticket.priority.value,
        "reason": ticket.reason.value,
        "subject": ticket.subject,
        "assignee": {"id": assignee.id, "email": assignee.email, "name": assignee.name} if assignee else None,
        "team": {"id": ticket.team.id, "name": ticket.team.name} if ticket.team else None,
        "contact": {
            "id": contact.id,
            "id_number": contact.id_number,
            "name": contact.name,
            "role": contact.role.value,
            "verified": contact.verified,
        },
        "unverified": ticket.unverified,
        # Every address of the person, and the ticket's own one (whoever opened it), with its proof level.
        "addresses": [address_json(i) for i in await _addresses(ticket)],
        "opened_at": _iso(ticket.opened_at),
        "first_response_at": _iso(ticket.first_response_at),
        "resolved_at": _iso(ticket.resolved_at),
        "due_at": _iso(ticket.due_at),
        "first_response_due_at": _iso(ticket.first_response_due_at),
        "sla": _sla_json(ticket, policy, now),
        # Channels where what we send no longer arrives (blocked bot, number that cannot receive), and the
        # other channels a reply on this ticket may go to (its own address and the person's proven ones).
        **(await ticket_reach(ticket)).json(),
        "incident_id": ticket.incident_id,
        "survey": {"rating": ticket.survey_rating, "comment": ticket.survey_comment, "flagged": ticket.flagged},
    }


async def _addresses(ticket: Ticket) -> list[ChannelIdentity]:
    own = await Conversation.get(id=ticket.conversation_id)
    return await ChannelIdentity.filter(Q(contact_id=ticket.contact_id) | Q(id=own.identity_id)).order_by("id")


def incident_json(incident: Incident, *, tickets: list[int]) -> dict[str, Any]:
    return {
        "id": incident.id,
        "title": incident.title,
        "status": incident.status.value,
        "fix": incident.fix_text,
        "fixed_at": _iso(incident.fixed_at),
        "created_at": _iso(incident.created_at),
        "tickets": tickets,
    }


def path_id(request: web.Request, name: str = "id") -> int | None:
    """The id in the path, or None when it can name no row (the caller answers 404, as for a missing one)."""
    return parse_id(request.match_info[name])


def unknown_parameters(request: web.Request, known: set[str]) -> web.Response | None:
    """A 400 naming query parameters the operation does not have: a typo (``stauts=open``) would otherwise
    be ignored, and the answer would look like the filtered one."""
    unknown = sorted(set(request.query) - known)
    if not unknown:
        return None
    return problem(400, "bad_request", f"unknown query parameter(s): {', '.join(unknown)[:200]}")


async def get_ticket(request: web.Request) -> web.Response:
    # Another team's ticket is "not found", like a missing one.
    ticket_id = path_id(request)
    ticket = (await (await scope_for_token(Ticket.filter(id=ticket_id), request[TOKEN_KEY])).first()
              if ticket_id is not None else None)
    if ticket is None:
        return problem(404, "not_found", "no such ticket")
    return web.json_response(await ticket_json(ticket, now=datetime.now(UTC)))


async def conversation_messages(request: web.Request) -> web.Response:
    conversation_id = path_id(request)
    conversation = await Conversation.get_or_none(id=conversation_id) if conversation_id is not None else None
    if conversation is not None and await Team.exists():
        # With teams, a conversation is readable through a ticket of it the token may see.
        tickets = await scope_for_token(Ticket.filter(conversation_id=conversation.id), request[TOKEN_KEY])
        if not await tickets.exists():
            conversation = None
    if conversation is None:
        return problem(404, "not_found", "no such conversation")
    messages = await Message.filter(conversation=conversation).order_by("id")
    return web.json_response(
        {
            "conversation_id": conversation.id,
            "status": conversation.status.value,
            "channel": conversation.channel.value,
            "address": address_json(await ChannelIdentity.get(id=conversation.identity_id)),
            "items": [
                {
                    "id": m.id,
                    "direction": m.direction.value,
                    "sender": m.sender_kind.value,
                    "text": m.text,
                    "ticket_id": m.ticket_id,
                    "delivery_status": m.delivery_status.value if m.delivery_status else None,
                    "created_at": _iso(m.created_at),
                }
                for m in messages
            ],
        }
    )


def openapi_document(version: str) -> dict[str, Any]:
    person = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "id_number": {"type": ["string", "null"]},
            "name": {"type": "string"},
            "role": {"type": "string"},
            "verified": {"type": "boolean"},
        },
    }
    address = {
        "type": "object",
        "description": "a channel address and how sure we are that it is the person's: only `proven` (a code "
                       "to the campus e-mail, the address on record, the LMS's signature, an agent's decision) "
                       "lets anything personal go there; `claimed` means a directory number was typed there",
        "required": ["id", "channel", "proof", "proof_method", "proven_at", "claimed_number"],
        "properties": {
            "id": {"type": "integer"},
            "channel": {"type": "string", "enum": [c.value for c in ChannelKind]},
            "proof": {"type": "string", "enum": [p.value for p in ProofLevel]},
            "proof_method": {"type": ["string", "null"], "enum": [*(m.value for m in ProofMethod), None]},
            "proven_at": {"type": ["string", "null"], "format": "date-time"},
            "claimed_number": {"type": ["string", "null"]},
        },
    }
    ticket = {
        "type": "object",
        "required": [
            "id",
            "number",
            "status",
            "channel",
            "category",
            "priority",
            "assignee",
            "contact",
            "opened_at",
            "first_response_at",
            "resolved_at",
            "due_at",
        ],
        "properties": {
            "id": {"type": "integer"},
            "number": {"type": "string"},
            "status": {"type": "string", "enum": [s.value for s in TicketStatus]},
            "channel": {"type": "string", "enum": [c.value for c in ChannelKind]},
            "conversation_id": {"type": "integer"},
            "category": {"type": ["string", "null"]},
            "predicted_category": {"type": ["string", "null"]},
            "predicted_confidence": {"type": ["number", "null"]},
            "category_confirmation": {
                "type": ["object", "null"],
                "description": "who confirmed the category and when, and whether it is the classifier's guess "
                               "(null: no guess was made); null while the category is the classifier's guess "
                               "that no agent has confirmed (closing then answers 409)",
                "required": ["confirmed_at", "confirmed_by", "agreed_with_prediction"],
                "properties": {
                    "confirmed_at": {"type": "string", "format": "date-time"},
                    "confirmed_by": {"type": ["integer", "null"], "description": "the console user's id"},
                    "agreed_with_prediction": {"type": ["boolean", "null"]},
                },
            },
            "priority": {"type": "string"},
            "reason": {"type": "string"},
            "subject": {"type": "string"},
            "assignee": {"type": ["object", "null"]},
            "team": {
                "type": ["object", "null"],
                "description": "the team of the ticket's category; null when it has none",
                "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
            },
            "contact": person,
            "unverified": {"type": "boolean"},
            "addresses": {"type": "array", "items": {"$ref": "#/components/schemas/Address"},
                          "description": "the person's addresses and the ticket's own, each with its proof level"},
            "opened_at": {"type": "string", "format": "date-time"},
            "first_response_at": {"type": ["string", "null"], "format": "date-time"},
            "resolved_at": {"type": ["string", "null"], "format": "date-time"},
            "due_at": {"type": "string", "format": "date-time"},
            "first_response_due_at": {"type": ["string", "null"], "format": "date-time",
                                      "description": "null on tickets opened before first-response targets"},
            "sla": {"type": "object", "properties": {
                "state": {"type": "string", "enum": [s.value for s in SlaState]},
                "remaining_seconds": {"type": "integer"}, "target_seconds": {"type": "integer"},
                "counting": {"type": "string", "enum": [c.value for c in SlaCounting]},
                "paused": {"type": "boolean"}, "pauses_while_waiting": {"type": "boolean"},
                "targets": {"type": "object", "properties": {
                    "first_response": {"type": "object", "properties": {
                "target_seconds": {"type": "integer"}, "due_at": {"type": ["string", "null"], "format": "date-time",
                                                                  "description": "null while paused"},
                "state": {"type": "string", "enum": [s.value for s in SlaState]},
                "elapsed_seconds": {"type": "integer", "description": "counted time used, pauses excluded"}}},
                    "resolution": {"type": "object", "properties": {
                "target_seconds": {"type": "integer"}, "due_at": {"type": ["string", "null"], "format": "date-time",
                                                                  "description": "null while paused"},
                "state": {"type": "string", "enum": [s.value for s in SlaState]},
                "elapsed_seconds": {"type": "integer", "description": "counted time used, pauses excluded"}}}}},
            }},
            "unreachable_on": {"type": "array", "items": {"type": "string", "enum": [c.value for c in ChannelKind]}},
            "reachable_on": {"type": "array", "items": {"type": "string", "enum": [c.value for c in ChannelKind]}},
            "incident_id": {"type": ["integer", "null"]},
            "survey": {"type": "object", "properties": {
                "rating": {"type": ["integer", "null"], "minimum": 1, "maximum": 5},
                "comment": {"type": ["string", "null"]},
                "flagged": {"type": "boolean"},
            }},
        },
    }
    incident = {
        "type": "object",
        "required": ["id", "title", "status", "fix", "fixed_at", "created_at", "tickets"],
        "properties": {
            "id": {"type": "integer"},
            "title": {"type": "string"},
            "status": {"type": "string", "enum": [s.value for s in IncidentStatus]},
            "fix": {"type": ["string", "null"]},
            "fixed_at": {"type": ["string", "null"], "format": "date-time"},
            "created_at": {"type": "string", "format": "date-time"},
            "tickets": {"type": "array", "items": {"type": "integer"}, "description": "linked ticket ids"},
        },
    }
    messages = {
        "type": "object",
        "required": ["conversation_id", "status", "channel", "address", "items"],
        "properties": {
            "conversation_id": {"type": "integer"},
            "status": {"type": "string"},
            "channel": {"type": "string", "enum": [c.value for c in ChannelKind]},
            "address": {"$ref": "#/components/schemas/Address"},
            "items": {"type": "array", "items": {"type": "object", "required": ["id", "direction", "sender", "text"],
                                                 "properties": {
                "id": {"type": "integer"},
                "direction": {"type": "string", "enum": ["in", "out"]},
                "sender": {"type": "string"},
                "text": {"type": "string"},
                "ticket_id": {"type": ["integer", "null"]},
                "delivery_status": {"type": ["string", "null"]},
                "created_at": {"type": ["string", "null"], "format": "date-time"},
            }}},
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "carecenter API", "version": version,
                 "description": "Every error is a JSON object with `error` (a code) and `detail` (a sentence)."},
        "servers": [{"url": "/api/v1"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Ticket": ticket, "Error": ERROR_SCHEMA, "Incident": incident, "Address": address},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/tickets/{id}": {
                "get": {
                    "summary": "One ticket",
                    "description": TEAM_RULE,
                    "parameters": [ID_PARAMETER],
                    "responses": {
                        "200": {
                            "description": "the ticket",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Ticket"}}},
                        },
                        **error_responses({401: UNAUTHORIZED,
                                           404: "no such ticket, or a ticket the token may not see (teams)"}),
                    },
                }
            },
            "/conversations/{id}/messages": {
                "get": {
                    "summary": "Every message of a conversation, bot turns included, oldest first",
                    "parameters": [ID_PARAMETER],
                    "responses": {
                        "200": {"description": "the messages", "content": {"application/json": {"schema": messages}}},
                        **error_responses({
                            401: UNAUTHORIZED,
                            404: "no such conversation, or none of its tickets may be seen (teams)"}),
                    },
                }
            },
        },
    }


def create_api(version: str) -> web.Application:
    api = web.Application(middlewares=[bearer_auth])
    document = api[OPENAPI] = openapi_document(version)

    async def openapi(_request: web.Request) -> web.Response:
        return web.json_response(document)

    api.router.add_get("/openapi.json", openapi)
    api.router.add_get("/tickets/{id}", get_ticket)
    api.router.add_get("/conversations/{id}/messages", conversation_messages)
    return api
