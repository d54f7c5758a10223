"""The application factory: every resource is opened and closed once, in cleanup_ctx; state lives on the app."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from importlib import metadata
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from bot import lms
from bot.channels.base import InboundMessage, KeepFiles
from bot.channels.registry import setup_channels
from bot.channels.webchat import WEBCHAT_HOOKS, WebChatHooks
from bot.config import Settings
from bot.conversation.deps import FlowDeps, Predictor
from bot.conversation.replies import hours_text
from bot.directory import DatabaseDirectory, Directory, HttpDirectory
from bot.i18n import catalog, detect_language
from bot.inbound import DEFAULT_CONCURRENCY, SERVE_POLL, WORKER_CONCURRENCY, WORKER_POLL, InboundWorker
from handoff import scheduler as jobs_scheduler
from handoff.api import create_api
from handoff.client_address import real_client
from handoff.console import CONSOLE_BROKER, Broker, ConsoleConfig, create_console
from handoff.console.api import add_ticket_actions
from handoff.delivery import Channel, ChannelRegistry
from handoff.escalation_mail import Mailer
from handoff.hours import OperatingHours
from handoff.learning import RetrainSettings
from handoff.operations import defaults_from, load_operations
from handoff.relay import RelayFollower, RelayPublisher
from handoff.seed import ensure_supervisor, seed_defaults
from handoff.survey_web import setup_survey_web
from models import Database, open_database
from nlp import load_classifier

log = logging.getLogger(__name__)


def version() -> str:
    try:
        return metadata.version("carecenter")
    except metadata.PackageNotFoundError:
        return "0.0.0+source"


class Role(StrEnum):
    """What one process of the product does. ``serve`` is ALL unless told otherwise; a busy site runs
    ``serve --no-worker`` (WEB) beside ``carecenter worker`` (WORKER), as the Procfile does."""

    ALL = "all"  # web, webhooks, and the turns, pollers and retries behind them
    WEB = "web"  # web chat, console, API, and webhooks that only keep receipts
    WORKER = "worker"  # receipts to messages to turns, the outbox's retries, the IMAP / Telegram pollers


@dataclass(frozen=True, slots=True)
class StartupInfo:
    """What serve prints once: the one-time supervisor password of a fresh database."""

    supervisor_email: str | None = None
    supervisor_password: str | None = None


SETTINGS = web.AppKey("settings", Settings)
DATABASE = web.AppKey("database", Database)
REGISTRY = web.AppKey("registry", ChannelRegistry)
FLOW = web.AppKey("flow", FlowDeps)
INBOUND = web.AppKey("inbound", InboundWorker)
LIVE = web.AppKey("live", Broker)  # the console's broker: what this process's consoles hear
STARTUP = web.AppKey("startup", StartupInfo)


@web.middleware
async def error_boundary(request: web.Request, handler: Any) -> web.StreamResponse:
    """The one place an unexpected error becomes a response: logged with an id the operator can search."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except web.HTTPException:
        raise
    except asyncio.CancelledError:
        raise
    except Exception:
        error_id = uuid.uuid4().hex[:12]
        # The route's pattern, not the path: a path can carry a secret (a survey link's token, a media URL's
        # signature) and the log must not.
        resource = request.match_info.route.resource
        log.exception("unhandled error %s on %s %s", error_id, request.method,
                      resource.canonical if resource is not None else "(no route)")
        return web.json_response(
            {"error": "internal_error", "detail": f"something went wrong on our side; reference {error_id}"},
            status=500,
        )


# Every page's scripts and styles are files of this site (the web chat's strings are a JSON data block,
# which is not run); no inline script or style, nothing from elsewhere, no framing, forms post only here.
# 'self' covers the pages' own WebSockets (ws:/wss: of the same host).
def content_security_policy(frame_ancestors: str = "'none'") -> str:
    return "; ".join((
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        f"frame-ancestors {frame_ancestors}",
    ))


CONTENT_SECURITY_POLICY = content_security_policy()


def chat_frame_headers(allowed_origins: tuple[str, ...]) -> dict[str, str]:
    """The web chat page's framing rule: this site only by default; with WEBCHAT_ALLOWED_ORIGINS, those
    sites too (the LMS embedding the widget). X-Frame-Options cannot name other sites, so it is sent only
    for the default, for browsers without CSP; a CSP's frame-ancestors overrides it where both are read."""
    ancestors = " ".join(("'self'", *allowed_origins))
    headers = {"Content-Security-Policy": content_security_policy(ancestors)}
    if not allowed_origins:
        headers["X-Frame-Options"] = "SAMEORIGIN"
    return headers
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


@web.middleware
async def security_headers(request: web.Request, handler: Any) -> web.StreamResponse:
    """On every response, error pages and redirects included; a view may set a stricter value of its own."""
    try:
        response: web.StreamResponse = await handler(request)
    except web.HTTPException as exc:
        for name, value in SECURITY_HEADERS.items():
            exc.headers.setdefault(name, value)
        raise
    own_policy = "Content-Security-Policy" in response.headers
    for name, value in SECURITY_HEADERS.items():
        if name == "X-Frame-Options" and own_policy:
            continue  # a view with its own policy states its own frame-ancestors (the web chat's widget)
        response.headers.setdefault(name, value)
    return response


class ClientErrorLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """The log aiohttp's server writes to (``handler_args``). It logs every request it cannot parse (a
    broken request line, header, chunk or body encoding, also when it discards the unread rest of a body
    after the answer) at ERROR with a traceback, and answers 400: noise any client can make, and a flood
    a hostile one can. Those are logged here at INFO, one line naming the problem; anything else it
    reports stays an ERROR with its traceback."""

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kwargs: Any) -> None:
        problem = exc_info if isinstance(exc_info, BaseException) else sys.exc_info()[1]
        client_made = isinstance(problem, web.RequestPayloadError) or (
            isinstance(problem, HttpProcessingError) and 400 <= (problem.code or 0) < 500)
        if client_made:
            self.logger.info("malformed HTTP request refused (%s)", type(problem).__name__)
            return
        self.logger.exception(msg, *args, exc_info=exc_info, **kwargs)


def console_config(settings: Settings) -> ConsoleConfig:
    """The console's own variables, plus those it shares with the rest of the app (read once, by Settings)."""
    return replace(
        ConsoleConfig.from_env(), escalation_email_to=settings.escalation_email_to, secret_key=settings.secret_key,
        survey_template=bool(settings.twilio_templates.get("survey")),
    )


def escalation_mailer(settings: Settings) -> Mailer | None:
    if not settings.smtp.get("host"):
        return None
    from bot.channels.mail import SmtpConfig, SmtpMailer

    return SmtpMailer(SmtpConfig.from_settings(settings.smtp))


def create_app(  # noqa: PLR0915 - the one factory wires every part, on purpose
    settings: Settings,
    *,
    channels: list[Channel] | None = None,
    classifier: Predictor | None = None,
    directory: Directory | None = None,
    clock: Callable[[], datetime] | None = None,
    scheduler: bool = True,
    seed_demo: bool = False,
    role: Role = Role.ALL,
) -> web.Application:
    """Build the whole product. Tests pass fakes (extra channels, a fixed clock, a directory)."""
    runs_turns = role != Role.WEB
    # The client's address first, so every later middleware and handler sees the same one.
    middlewares = [real_client(settings.trusted_proxies)] if settings.trusted_proxies.networks else []
    app = web.Application(client_max_size=settings.max_body_bytes,
                          middlewares=[*middlewares, error_boundary, security_headers],
                          handler_args={"logger": ClientErrorLog(logging.getLogger("aiohttp.server"), {})})
    app[SETTINGS] = settings
    registry = ChannelRegistry()
    for channel in channels or []:
        registry.add(channel)
    app[REGISTRY] = registry
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("bot", "templates"),
        autoescape=jinja2.select_autoescape(default=True),
    )
    app.router.add_static("/static", Path(__file__).parent / "static", name="static")
    # One attachment store (files under DATA_DIR) for every channel, the web chat and the console.
    attachments = settings.attachment_store()
    hours = OperatingHours(tz=settings.tz, opens=settings.opens, closes=settings.closes)

    def swap_classifier(new: Predictor) -> None:
        # The flow reads deps.classifier on every message, so the next message uses the activated model.
        app[FLOW].classifier = new

    # The agent console; the flow's notify (below) feeds its live queue through the console's broker.
    console = create_console(
        registry=registry, translate=lambda lang, key, /, **values: catalog(lang).t(key, **values),
        config=console_config(settings), clock=clock, tz=settings.tz, sla=settings.sla, public_url=settings.public_url,
        attachments=attachments, escalation_mailer=escalation_mailer(settings),
        hours=hours, swap_classifier=swap_classifier,
        retrain=RetrainSettings(model_dir=settings.model_dir, train_data=settings.nlp_train_data,
                                test_data=settings.nlp_test_data),
    )

    # Live console events: a worker process has no console, so its turns publish through the database
    # (handoff.relay) and each web process's follower hands them to its console's broker.
    relay = RelayPublisher() if role == Role.WORKER else None
    app[LIVE] = console[CONSOLE_BROKER]
    notify = relay.publish if relay is not None else console[CONSOLE_BROKER].publish

    async def resources(app: web.Application) -> AsyncIterator[None]:
        app[DATABASE] = await open_database(settings.effective_database_url)
        info = StartupInfo()
        if await seed_defaults():
            created = await ensure_supervisor()
            if created is not None:
                info = StartupInfo(created[0].email, created[1])
        if seed_demo:
            from bot.demo import load_demo

            await load_demo()
        app[STARTUP] = info
        loaded: Predictor = (
            classifier if classifier is not None else await asyncio.to_thread(load_classifier, settings.model_dir)
        )
        # The language detector loads its model on first use (half a second): here, in a thread, not in
        # the first turn, where it held the event loop and the turn's transaction (on SQLite, the write
        # lock every webhook receipt waits for) after each start.
        await asyncio.to_thread(detect_language, "warming up the language detector")
        app[FLOW] = FlowDeps(
            registry=registry,
            classifier=loaded,
            directory=directory
            or (
                HttpDirectory(settings.directory_url, token=settings.directory_token or None)
                if settings.directory_url
                else DatabaseDirectory()
            ),
            hours=hours,
            campus_domains=settings.campus_domains,
            inactive=settings.directory_inactive,
            secret_key=settings.secret_key,
            # Proof by a one-time code needs somewhere to mail it: not offered on the embedded default.
            code_mail=bool(settings.smtp.get("host")),
            sla=settings.sla,
            notify=notify,
            attachments=attachments,
        )
        if clock is not None:
            app[FLOW].clock = clock
        yield
        await app[DATABASE].close()

    async def run_scheduler(app: web.Application) -> AsyncIterator[None]:
        async with jobs_scheduler.running(tz=settings.tz, window_warning=settings.whatsapp_window_warning,
                                          notify=notify, hours=hours, sla=settings.sla,
                                          public_url=settings.public_url):
            yield

    async def live_events(_app: web.Application) -> AsyncIterator[None]:
        if relay is not None:
            async with relay.running():
                yield
        else:  # what a worker or clock process publishes reaches this process's consoles
            async with RelayFollower(console[CONSOLE_BROKER].publish).running():
                yield

    app.cleanup_ctx.append(resources)
    app.cleanup_ctx.append(live_events)
    if scheduler:
        app.cleanup_ctx.append(run_scheduler)
    if role == Role.WORKER and classifier is None:
        app.cleanup_ctx.append(functools.partial(follow_active_model, model_dir=settings.model_dir))

    # The one door of every channel (bot.channels.base.Handler); the worker exists once the app has started.
    async def accept(message: InboundMessage, /, *, at_once: bool = False, in_line: bool = False,
                     keep: KeepFiles | None = None) -> object:
        return await app[INBOUND].accept(message, at_once=at_once, in_line=in_line, keep=keep)

    # What the web chat asks of the app (bot.channels.webchat.WebChatHooks): the LMS's signed identity
    # against the flow, the header's hours (the bot's own sentence from the supervisor's settings in
    # force), and the page's framing rule, which lives here beside the other security headers.
    async def signed_chat(token: str | None, query: Mapping[str, str]) -> str | None:
        return await lms.open_signed(token=token, query=query, secret=settings.webchat_identity_secret,
                                     deps=app[FLOW])

    async def chat_hours(lang: str) -> str:
        deps = app[FLOW]
        ops = await load_operations(defaults=defaults_from(hours=deps.hours, sla=deps.sla))
        return hours_text(catalog(lang), ops)

    app[WEBCHAT_HOOKS] = WebChatHooks(signed=signed_chat, hours=chat_hours,
                                      frame_headers=chat_frame_headers(settings.webchat_allowed_origins))
    setup_channels(app, settings, registry=registry, handle=accept, store=attachments, worker=runs_turns)
    setup_survey_web(app, translate=lambda lang, key, /, **v: catalog(lang).t(key, **v), secret_key=settings.secret_key,
                     clock=clock, notify=console[CONSOLE_BROKER].publish)

    async def inbound_worker(app: web.Application) -> AsyncIterator[None]:
        app[INBOUND] = InboundWorker(
            app[FLOW], receipts=app[DATABASE].receipts, runs_turns=runs_turns,
            concurrency=WORKER_CONCURRENCY if role == Role.WORKER else DEFAULT_CONCURRENCY,
        )
        if not runs_turns:
            yield
            return
        # A worker process hears of new receipts only from the inbox: the webhooks run elsewhere.
        async with app[INBOUND].running(poll=WORKER_POLL if role == Role.WORKER else SERVE_POLL):
            yield

    # After the channels' contexts: it starts once their clients are up (resumed turns send replies) and
    # stops, letting running turns finish, before they close.
    app.cleanup_ctx.append(inbound_worker)

    async def healthz(_request: web.Request) -> web.Response:
        from bot.parking import count_parked

        # The database answers, and how many messages wait for the operator (carecenter inbox list): a
        # monitor alerts on a count that grows.
        parked = await count_parked()
        return web.json_response({"status": "ok", "version": version(), "time": datetime.now(UTC).isoformat(),
                                  "parked": parked})

    async def index(_request: web.Request) -> web.Response:
        raise web.HTTPFound("/chat")

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/", index)
    if role != Role.WORKER:  # its background loops (assignment, escalation mail) are the web's to run
        app.add_subapp("/api/v1", add_ticket_actions(create_api(version()), console))
        app.add_subapp("/console", console)
    return app


# How often a worker process checks which classifier is active: a supervisor activates or restores one in
# the console, in a web process, and the worker's turns should use it without a restart.
MODEL_CHECK_INTERVAL = 10.0  # seconds


async def follow_active_model(
    app: web.Application, *, model_dir: Path, interval: float = MODEL_CHECK_INTERVAL
) -> AsyncIterator[None]:
    from nlp.store import ModelStore

    store = ModelStore(model_dir)
    # Read before this context yields: the model loaded at start-up is this one, and a change made while
    # the process starts is a change.
    current = await asyncio.to_thread(store.active_path)

    async def follow() -> None:
        nonlocal current
        while True:
            await asyncio.sleep(interval)
            try:
                active = await asyncio.to_thread(store.active_path)
                if active != current:
                    app[FLOW].classifier = await asyncio.to_thread(load_classifier, model_dir)
                    current = active
                    log.info("classifier changed in the model store; now using %s",
                             active.name if active else "the shipped model")
            except asyncio.CancelledError:
                raise
            except Exception:  # an unreadable store must not stop the checks; the loaded model still answers
                log.exception("checking the active classifier failed")

    task = asyncio.create_task(follow(), name="follow-active-model")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
