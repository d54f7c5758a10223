"""Console views for incidents (the list, and reporting a fix for every linked ticket), plus the small pieces
of the ticket view about escalation: the incident picker, whether the developers were notified, and the
options the close action needs for the survey. Routes are added by ``add_incident_routes``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from handoff.actions import ConsoleError
from handoff.console.lifecycle import run_while_serving
from handoff.console.toolkit import USER, ConsoleState, console_state, form_fields, render, request_catalog
from handoff.delivery import ChannelRegistry
from handoff.escalation_mail import INTERVAL as MAIL_INTERVAL
from handoff.escalation_mail import Mailer, drain
from handoff.incidents import open_incidents, report_incident_fix
from handoff.webinput import parse_id
from models import ChannelKind, EscalationMail, Incident, Ticket, TicketEvent

log = logging.getLogger(__name__)

MAIL_TASK = web.AppKey("escalation_mail_task", asyncio.Task[None])


def survey_options(state: ConsoleState) -> dict[str, Any]:
    return {"public_url": state.public_url, "link_secret_key": state.config.secret_key,
            "survey_template": state.config.survey_template}


def incident_choice(form: dict[str, str]) -> dict[str, Any]:
    """The escalate form's incident picker: none, an open incident's id, or "new" with a title."""
    choice = form.get("incident", "").strip()
    if not choice:
        return {}
    if choice == "new":
        title = form.get("incident_title", "").strip()
        if not title:
            raise ConsoleError("error_incident_title_required", 400)
        return {"incident_title": title}
    incident_id = parse_id(choice)
    if incident_id is None:
        raise ConsoleError("error_unknown_incident", 400)
    return {"incident_id": incident_id}


async def escalation_context(ticket: Ticket) -> dict[str, Any]:
    """What the ticket view shows about the developer team: the incident, the open ones to link to, and
    whether the webhook and the e-mail reached them."""
    incident = await Incident.get_or_none(id=ticket.incident_id) if ticket.incident_id else None
    # The developers' mails only: the outbox also holds the ticket's breach notices to supervisors.
    mails = await EscalationMail.filter(ticket_id=ticket.id, kind="escalation").order_by("-id")
    webhook = await TicketEvent.filter(ticket_id=ticket.id, kind="escalation_webhook").order_by("-id").first()
    return {
        "incident": incident,
        "open_incidents": await open_incidents(),
        "escalation_mails": mails,
        "escalation_webhook": webhook.data.get("delivered") if webhook else None,
    }


# --- pages -----------------------------------------------------------------------------------------


async def incidents_page(request: web.Request) -> web.Response:
    incidents = await Incident.all().order_by("-id").limit(200)
    counts: dict[int, int] = {}
    # The listed incidents' tickets, through the index on incident_id ("any incident" would read them all).
    listed = [incident.id for incident in incidents]
    for incident_id in await Ticket.filter(incident_id__in=listed).values_list("incident_id", flat=True):
        counts[int(incident_id)] = counts.get(int(incident_id), 0) + 1  # type: ignore[call-overload]
    return render(request, "incidents.html", {"page": "incidents", "incidents": incidents, "counts": counts})


async def incident_fix(request: web.Request) -> web.Response:
    state = console_state(request)
    incident_id = parse_id(request.match_info["id"])
    incident = await Incident.get_or_none(id=incident_id) if incident_id is not None else None
    if incident is None:
        raise web.HTTPNotFound(text="no such incident")
    form = await form_fields(request)
    try:
        result = await report_incident_fix(
            incident=incident, actor=request[USER], text=form.get("text", ""), notify_users=form.get("notify") == "1",
            registry=state.registry, translate=state.translate, now=state.clock(),
        )
    except ConsoleError as problem:
        if problem.status == 403:
            raise web.HTTPForbidden(text=request_catalog(request)(problem.code)) from None
        raise web.HTTPSeeOther(f"/console/incidents?notice={problem.code}") from None
    for ticket_id in await Ticket.filter(incident_id=incident.id).values_list("id", flat=True):
        state.broker.publish("ticket.updated", {"ticket_id": ticket_id})
    log.info("incident %s fix reported from the console (%d notified)", incident.id, result.notified)
    raise web.HTTPSeeOther("/console/incidents?notice=notice_incident_fixed")


def add_incident_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/incidents", incidents_page, name="incidents")
    router.add_post("/incidents/{id}/fix", incident_fix, name="incident_fix")


# --- the e-mail retry worker -------------------------------------------------------------------------


def run_escalation_mail(app: web.Application, *, mailer: Mailer | None, clock: Callable[[], datetime],
                        registry: ChannelRegistry | None = None) -> None:
    """Send and retry the staff outbox's rows while the app runs: the mails the SMTP server did not take, and
    the Telegram notices to linked staff chats (the registry's Telegram channel, read at each sweep since the
    configured channels are registered after the console is built)."""
    if mailer is None and registry is None:
        return

    async def loop() -> None:
        while True:
            try:
                telegram = registry.get(ChannelKind.TELEGRAM) if registry is not None else None
                if mailer is not None or telegram is not None:
                    await drain(mailer=mailer, now=clock(), telegram=telegram)
            except asyncio.CancelledError:
                raise
            except Exception:  # one bad sweep must not stop the next ones
                log.exception("escalation mail sweep failed")
            await asyncio.sleep(MAIL_INTERVAL)

    run_while_serving(app, MAIL_TASK, lambda: asyncio.create_task(loop(), name="escalation-mail"))

