"""The console sub-application's factory: builds the state, starts the workers and lets each area
register its routes. The views live in one module per area; what they share is handoff.console.toolkit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web

from handoff.actions import Translate
from handoff.assignment import Assigner
from handoff.attachments import AttachmentStore
from handoff.console import (
    admin_views,
    classifier_views,
    live_views,
    queue_views,
    settings_views,
    signin_views,
    supervisor_views,
    teams_views,
    ticket_views,
    tokens_views,
)
from handoff.console.assignment import run_assignment
from handoff.console.config import ConsoleConfig
from handoff.console.incidents import add_incident_routes, run_escalation_mail
from handoff.console.toolkit import BROKER, STATE, ConsoleState, current_operations, guard
from handoff.delivery import ChannelRegistry
from handoff.escalation_mail import Mailer
from handoff.hours import OperatingHours
from handoff.learning import RetrainSettings
from handoff.live import Broker
from handoff.login_throttle import LoginLimiter
from handoff.sla import DEFAULT_TARGET

HERE = Path(__file__).parent


def create_console(
    *,
    registry: ChannelRegistry,
    translate: Translate,
    config: ConsoleConfig | None = None,
    broker: Broker | None = None,
    clock: Callable[[], datetime] | None = None,
    tz: ZoneInfo | None = None,
    sla: timedelta = DEFAULT_TARGET,
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
    run_escalation_mail(console, mailer=escalation_mailer, clock=console[STATE].clock, registry=registry)
    if config.auto_assign:
        state = console[STATE]

        async def hours_in_force() -> OperatingHours:
            return (await current_operations(state)).hours

        run_assignment(console, assigner=Assigner(answer_within=config.answer_within, hours=hours_in_force),
                       broker=console[BROKER], clock=state.clock)
    r = console.router
    r.add_static("/static", HERE / "static", name="static")
    for area in (signin_views, queue_views, ticket_views, admin_views, live_views):
        area.add_routes(console)
    add_incident_routes(r)
    for area in (settings_views, classifier_views, teams_views, tokens_views, supervisor_views):
        area.add_routes(console)
    return console
