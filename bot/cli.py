"""The ``carecenter`` command (also ``python -m bot``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from bot.config import ConfigError, Settings

T = TypeVar("T")
log = logging.getLogger("bot.cli")


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None


QUIET_LOGGERS = ("httpx", "twilio", "aiohttp.access", "apscheduler.executors.default", "tortoise")


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Third-party clients log whole URLs and payloads at INFO (phone numbers, tokens): keep them quiet.
    # "twilio" covers every logger of the SDK: the async client we use logs as twilio.async_http_client.
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger(noisy).level))


def _with_db(settings: Settings, work: Callable[[], Awaitable[T]]) -> T:
    from models import open_database

    async def run() -> T:
        db = await open_database(settings.effective_database_url)
        try:
            return await work()
        finally:
            await db.close()

    return asyncio.run(run())


def _confirmed_ticket_examples(settings: Settings) -> Callable[[], list[tuple[str, str]]]:
    def load() -> list[tuple[str, str]]:
        from handoff.learning import confirmed_examples

        return _with_db(settings, confirmed_examples)

    return load


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="carecenter", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """carecenter: care-center chatbot and helpdesk."""
    settings = _settings()
    _configure_logging(settings.log_level)
    ctx.obj = {
        "settings": settings,
        "model_dir": settings.model_dir,
        "ticket_examples": _confirmed_ticket_examples(settings),
    }


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 in containers).")
@click.option("--port", type=int, default=lambda: int(os.environ.get("PORT", "8080")), show_default="8080 or $PORT")
@click.option("--demo", is_flag=True, help="Also load a small fictional directory and a demo agent.")
@click.option("--no-scheduler", is_flag=True, help="Run the scheduler in a separate 'carecenter clock' process.")
@click.option("--no-worker", is_flag=True,
              help="Run the turns, retries and pollers in a separate 'carecenter worker' process.")
@click.pass_obj
def serve(obj: dict[str, Any], *, host: str, port: int, demo: bool, no_scheduler: bool, no_worker: bool) -> None:
    """Run the web app: webhooks, web chat, API, and (unless told otherwise) the worker and the scheduler."""
    from aiohttp import web

    from bot.app import STARTUP, Role, create_app

    settings: Settings = obj["settings"]
    app = create_app(settings, scheduler=not no_scheduler, seed_demo=demo, role=Role.WEB if no_worker else Role.ALL)

    async def announce(app: web.Application) -> None:
        info = app[STARTUP]
        if info.supervisor_password:
            click.echo(
                f"\nCreated supervisor {info.supervisor_email} with one-time password: {info.supervisor_password}\n"
                "Write it down now: it is not shown again.\n"
            )
        if demo:
            from bot.demo import DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD

            click.echo(f"Demo agent: {DEMO_AGENT_EMAIL} / {DEMO_AGENT_PASSWORD}; demo NIM: 13521045")
        click.echo(f"Web chat: http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/chat")  # noqa: S104

    app.on_startup.append(announce)
    web.run_app(app, host=host, port=port, print=None, access_log=None)


@cli.command()
@click.pass_obj
def migrate(obj: dict[str, Any]) -> None:
    """Apply database migrations (safe to run again)."""
    from models.db import run_migrations

    settings: Settings = obj["settings"]
    asyncio.run(run_migrations(settings.effective_database_url))
    click.echo("database is up to date")


@cli.command()
@click.pass_obj
def worker(obj: dict[str, Any]) -> None:
    """Run the turns behind the webhooks, the outbox's retries and the pollers (use with 'serve --no-worker').

    Its own process, so a burst of turns never slows the web process's answers to the providers."""
    from aiohttp import web

    from bot.app import Role, create_app

    settings: Settings = obj["settings"]

    async def run() -> None:
        # The same app as serve's, started without a listening socket: every resource opens and closes
        # through the same cleanup contexts, and only the worker's parts have anything to do.
        runner = web.AppRunner(create_app(settings, scheduler=False, role=Role.WORKER), handle_signals=True)
        await runner.setup()
        click.echo("worker running; Ctrl-C to stop")
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()  # running turns finish; the rest resume at the next start

    with contextlib.suppress(KeyboardInterrupt, web.GracefulExit):
        asyncio.run(run())


@cli.command()
@click.pass_obj
def clock(obj: dict[str, Any]) -> None:
    """Run only the scheduler (use with 'serve --no-scheduler'); a lease keeps it to one process."""
    from handoff.console.relay import RelayPublisher
    from handoff.scheduler import build_scheduler, holder_id, release_lease
    from models import open_database

    settings: Settings = obj["settings"]

    async def run() -> None:
        db = await open_database(settings.effective_database_url)
        holder = holder_id()
        # No console here: its live alerts (the WhatsApp window warning) reach the web's consoles
        # through the database.
        relay = RelayPublisher()
        scheduler = build_scheduler(tz=settings.tz, holder=holder, window_warning=settings.whatsapp_window_warning,
                                    notify=relay.publish)
        async with relay.running():
            scheduler.start()
            click.echo("scheduler running; Ctrl-C to stop")
            try:
                await asyncio.Event().wait()
            finally:
                scheduler.shutdown(wait=False)
                await release_lease(holder=holder)
        await db.close()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


@cli.group()
def user() -> None:
    """Console users (agents and supervisors)."""


@user.command("add")
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(["agent", "supervisor"]), required=True)
@click.option("--name", default="")
@click.pass_obj
def user_add(obj: dict[str, Any], email: str, role: str, name: str) -> None:
    """Add a user. The password is read from stdin when piped, otherwise generated and printed once."""
    from handoff.auth import UserExistsError, create_user, generate_password
    from models import UserRole

    generated = sys.stdin.isatty() or sys.stdin.closed
    password = generate_password() if generated else sys.stdin.readline().rstrip("\r\n")
    try:
        created = _with_db(
            obj["settings"],
            lambda: create_user(
                email=email, role=UserRole(role), password=password, name=name, must_change_password=generated
            ),
        )
    except (ValueError, UserExistsError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created {created.role.value} {created.email}")
    if generated:
        click.echo(f"one-time password: {password}")


@cli.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(["agent", "supervisor"]), default="agent", show_default=True)
@click.option("--user", "user_email", default=None,
              help="Console user the token acts as (needed for ticket actions); the user's role applies.")
@click.pass_obj
def token_create(obj: dict[str, Any], name: str, role: str, user_email: str | None) -> None:
    """Create an API token; it is printed once, as the last line."""
    from handoff.auth import create_api_token
    from models import User, UserRole

    async def create() -> tuple[Any, str]:
        user = await User.get_or_none(email=user_email.strip().lower()) if user_email else None
        if user_email and user is None:
            raise click.ClickException(f"no console user {user_email}")
        return await create_api_token(name=name, role=UserRole(role), user=user)

    _, raw = _with_db(obj["settings"], create)
    click.echo(f"token for {name} ({role}); keep it secret, it is not shown again:")
    click.echo(raw)


@cli.group()
def directory() -> None:
    """The campus directory the bot verifies identities against."""


@directory.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.pass_obj
def directory_import(obj: dict[str, Any], file: Path) -> None:
    """Import a CSV with columns id_number,name,email,role,faculty,program,status (all or nothing)."""
    from bot.directory import DirectoryImportError, import_records, read_directory_csv

    try:
        records = read_directory_csv(file)
    except DirectoryImportError as exc:
        raise click.ClickException(f"{exc}; nothing imported") from None
    created, updated = _with_db(obj["settings"], lambda: import_records(records))
    click.echo(f"imported {len(records)} entries: {created} new, {updated} updated")


def _mount_nlp() -> None:
    from nlp.cli import nlp_group

    cli.add_command(nlp_group)


_mount_nlp()


def main() -> None:
    cli(prog_name="carecenter")
