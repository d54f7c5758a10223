"""The console's live WebSocket: broker events out (only tickets the user may see), presence in."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiohttp import WSMsgType, web

from handoff import teams
from handoff.console.sessions import same
from handoff.console.toolkit import SESSION, USER, console_state
from handoff.live import LiveEvent
from handoff.webinput import InputError, json_id, own_origin, parse_json, same_origin


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
    state = console_state(request)
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



def add_routes(console: web.Application) -> None:
    r = console.router
    r.add_get("/ws", websocket, name="ws")
