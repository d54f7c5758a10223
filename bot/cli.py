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
    from handoff.hours import OperatingHours
    from handoff.relay import RelayPublisher
    from handoff.scheduler import running
    from models import open_database

    settings: Settings = obj["settings"]

    async def run() -> None:
        db = await open_database(settings.effective_database_url)
        # No console here: its live alerts (the WhatsApp window warning) reach the web's consoles
        # through the database.
        relay = RelayPublisher()
        hours = OperatingHours(tz=settings.tz, opens=settings.opens, closes=settings.closes)
        async with relay.running(), running(tz=settings.tz, window_warning=settings.whatsapp_window_warning,
                                            notify=relay.publish, hours=hours, sla=settings.sla,
                                            public_url=settings.public_url):
            click.echo("scheduler running; Ctrl-C to stop")
            await asyncio.Event().wait()
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
              help="Console user the token acts as (needed for ticket actions); the user's current role applies.")
@click.option("--expires-in", "expires", default="", metavar="90d|12h|4w|DATE",
              help="When it stops working: a duration, or a date (works through that day, TZ). Default: never.")
@click.pass_obj
def token_create(obj: dict[str, Any], name: str, role: str, user_email: str | None, expires: str) -> None:
    """Create an API token; it is printed once, as the last line."""
    from datetime import UTC, datetime

    from handoff.auth import ExpiryError, create_api_token, parse_expiry
    from models import User, UserRole

    settings: Settings = obj["settings"]
    try:
        expires_at = parse_expiry(expires, now=datetime.now(UTC), tz=settings.tz)
    except ExpiryError as problem:
        raise click.BadParameter(str(problem), param_hint="--expires-in") from None

    async def create() -> tuple[Any, str]:
        user = await User.get_or_none(email=user_email.strip().lower()) if user_email else None
        if user_email and user is None:
            raise click.ClickException(f"no console user {user_email}")
        return await create_api_token(name=name, role=UserRole(role), user=user, expires_at=expires_at)

    created, raw = _with_db(settings, create)
    until = _local(expires_at, settings) if expires_at else "never"
    click.echo(f"token {created.id} for {name} ({created.role.value}), expires {until}; "
               "keep it secret, it is not shown again:")
    click.echo(raw)


def _local(moment: Any, settings: Settings) -> str:
    return str(moment.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M %Z")) if moment else "-"


@token.command("list")
@click.pass_obj
def token_list(obj: dict[str, Any]) -> None:
    """Every token: id, name, owner, role in force, created, last used, expires, revoked (never the secret)."""
    from datetime import UTC, datetime

    from handoff.auth import token_role
    from models import ApiToken

    settings: Settings = obj["settings"]

    async def rows() -> list[list[str]]:
        now = datetime.now(UTC)
        listed = []
        for t in await ApiToken.all().order_by("id").prefetch_related("user"):
            owner = t.user.email if t.user else "-"
            state = ("revoked" if t.revoked_at else "expired" if t.expires_at and t.expires_at <= now
                     else "inactive user" if t.user and not t.user.active else "active")
            listed.append([str(t.id), t.name, owner, token_role(t).value, _local(t.created_at, settings),
                           _local(t.last_used_at, settings), _local(t.expires_at, settings),
                           _local(t.revoked_at, settings), state])
        return listed

    table = [["ID", "NAME", "OWNER", "ROLE", "CREATED", "LAST USED", "EXPIRES", "REVOKED", "STATE"],
             *_with_db(settings, rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


@token.command("revoke")
@click.argument("token_id", type=int)
@click.pass_obj
def token_revoke(obj: dict[str, Any], token_id: int) -> None:
    """Revoke a token by its id (from 'token list'); it fails on its next request."""
    from datetime import UTC, datetime

    from handoff.auth import revoke_api_token
    from models import ApiToken

    async def revoke() -> tuple[Any, bool]:
        found = await ApiToken.get_or_none(id=token_id)
        if found is None:
            raise click.ClickException(f"no token {token_id}")
        return found, await revoke_api_token(found, now=datetime.now(UTC))

    found, revoked = _with_db(obj["settings"], revoke)
    click.echo(f"revoked token {found.id} ({found.name})" if revoked else f"token {found.id} was already revoked")


@cli.group()
def inbox() -> None:
    """Messages set aside because they could not be stored or answered (parked)."""


@inbox.command("list")
@click.pass_obj
def inbox_list(obj: dict[str, Any]) -> None:
    """Every parked receipt and message: reference, kind, channel, tries, age, last error (never its text)."""
    from datetime import UTC, datetime

    from bot.parking import parked_items

    items = _with_db(obj["settings"], parked_items)
    if not items:
        click.echo("nothing parked")
        return
    now = datetime.now(UTC)
    table = [["REF", "KIND", "CHANNEL", "TRIES", "AGE", "ERROR"]]
    for item in items:
        table.append([item.ref, item.kind, item.channel, str(item.tries), _age(now - item.since),
                      item.error.replace("\n", " ")[:120]])
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _age(delta: Any) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


@inbox.command("retry")
@click.argument("ref")
@click.pass_obj
def inbox_retry(obj: dict[str, Any], ref: str) -> None:
    """Put a parked item (REF from 'inbox list') back in line; a running worker takes it at its next sweep."""
    from bot.parking import UnknownItemError, retry_parked

    try:
        _with_db(obj["settings"], lambda: retry_parked(ref))
    except UnknownItemError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{ref} will be tried again")


@inbox.command("discard")
@click.argument("ref")
@click.pass_obj
def inbox_discard(obj: dict[str, Any], ref: str) -> None:
    """Settle a parked item without running it; its error stays on record."""
    from bot.parking import UnknownItemError, discard_parked

    try:
        _with_db(obj["settings"], lambda: discard_parked(ref))
    except UnknownItemError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{ref} discarded")


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


def _period_problem(problem: Exception, param: str) -> click.BadParameter:
    from handoff.reports.period import PeriodError
    from handoff.reports.text import report_text

    assert isinstance(problem, PeriodError)
    # The CLI speaks English, like its other messages; the console shows the same errors in its language.
    return click.BadParameter(report_text("en")(problem.key, **problem.values), param_hint=param)


def _cannot_write(path: Path, problem: OSError) -> click.ClickException:
    return click.ClickException(f"cannot write {path}: {problem.strerror or problem}; nothing was written")


@cli.group()
def report() -> None:
    """Reports for supervisors."""


@report.command("monthly")
@click.option("--month", required=True, metavar="YYYY-MM", help="The month, in the configured time zone (TZ).")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="The file to write; its extension chooses the format: .xlsx or .pdf.")
@click.option("--lang", type=click.Choice(["id", "en"]), default="id", show_default=True)
@click.pass_obj
def report_monthly(obj: dict[str, Any], month: str, out: Path, lang: str) -> None:
    """The monthly report ("Laporan Care Center") with the month before for comparison."""
    from datetime import UTC, datetime

    from handoff.reports.monthly import ReportFormat, format_of, write_monthly_report
    from handoff.reports.period import PeriodError, parse_month

    settings: Settings = obj["settings"]
    now = datetime.now(UTC)
    try:
        period = parse_month(month, tz=settings.tz, now=now)
    except PeriodError as problem:
        raise _period_problem(problem, "--month") from None
    fmt = format_of(out)
    if fmt is None:
        raise click.BadParameter(f"{out.name!r}: the file name must end in "
                                 + " or ".join(f".{f.value}" for f in ReportFormat), param_hint="--out")
    try:
        _with_db(settings, lambda: write_monthly_report(period=period, now=now, lang=lang, path=out, fmt=fmt))
    except OSError as problem:
        raise _cannot_write(out, problem) from None
    click.echo(f"wrote {out}", err=True)


@cli.group()
def export() -> None:
    """Data downloads for reporting (the SOP's step 10)."""


@export.command("tickets")
@click.option("--since", required=True, metavar="YYYY-MM-DD", help="First local day (inclusive).")
@click.option("--until", required=True, metavar="YYYY-MM-DD", help="Last local day, exclusive.")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), required=True)
@click.option("--out", "out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="The file to write; standard output when not given.")
@click.option("--mask", is_flag=True, help="Mask personal data: name initials, NIM/NIP, e-mail and phone.")
@click.option("--lang", type=click.Choice(["id", "en"]), default="id", show_default=True,
              help="Language of the header and the status words.")
@click.pass_obj
def export_tickets(obj: dict[str, Any], *, since: str, until: str, fmt: str, out: Path | None, mask: bool,
                   lang: str) -> None:
    """One row per ticket opened in [--since, --until), as CSV or XLSX."""
    import shutil
    import tempfile
    from datetime import UTC, datetime

    from handoff.exports import ExportFormat, ExportRequest, write_csv, write_xlsx
    from handoff.reports.output import atomic_output
    from handoff.reports.period import PeriodError, parse_range

    settings: Settings = obj["settings"]
    try:
        period = parse_range(since, until, tz=settings.tz)
    except PeriodError as problem:
        raise _period_problem(problem, "--since/--until") from None
    kind = ExportFormat(fmt)
    if out is None and kind == ExportFormat.XLSX and sys.stdout.isatty():
        raise click.UsageError("XLSX is binary: give --out FILE, or pipe standard output to a file or program")
    request = ExportRequest(period=period, now=datetime.now(UTC), mask=mask, lang=lang)

    async def to(stream: Any) -> None:
        if kind == ExportFormat.CSV:
            await write_csv(request, stream)
        else:
            await write_xlsx(request, stream)

    if out is not None:
        try:
            with atomic_output(out) as stream:
                _with_db(settings, lambda: to(stream))
        except OSError as problem:
            raise _cannot_write(out, problem) from None
        click.echo(f"wrote {out}", err=True)
        return
    target = sys.stdout.buffer
    if kind == ExportFormat.CSV:
        _with_db(settings, lambda: to(target))  # chunk by chunk, as the rows come
    else:
        # A zip archive is finished by its central directory: spool it, then copy it out in blocks.
        with tempfile.TemporaryFile() as spool:
            _with_db(settings, lambda: to(spool))
            spool.seek(0)
            shutil.copyfileobj(spool, target)
    target.flush()


def _mount_nlp() -> None:
    from nlp.cli import nlp_group

    cli.add_command(nlp_group)


_mount_nlp()


def main() -> None:
    cli(prog_name="carecenter")
