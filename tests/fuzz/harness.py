"""What the fuzz suite runs against and how: the whole app on a loopback port with every channel on (the
real PTB and twilio clients against the loopback stand-ins), seeded with users, tokens, tickets and a
survey link; a trap for every log line at ERROR or with a traceback; and a runner that sends generated
requests (HTTP, raw bytes, WebSocket frames) a few at a time and records each answer's status."""

from __future__ import annotations

import asyncio
import io
import logging
import re
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from bot.app import FLOW, INBOUND, REGISTRY, create_app
from bot.channels.base import InboundMessage
from bot.config import Settings
from bot.conversation.inline import handle_inbound
from bot.demo import DEMO_DIRECTORY
from bot.directory import DatabaseDirectory, import_records
from bot.i18n import catalog
from handoff import actions
from handoff.auth import create_api_token, create_user
from handoff.survey import link_secret, make_link_token, survey_url
from models import Category, ChannelKind, Ticket, UserRole
from tests.conftest import ScriptedClassifier
from tests.fakes.telegram import FakeTelegram
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, SENDER, FakeTwilio

PASSWORD = "fuzz password 1234"
TELEGRAM_TOKEN = "123456:FUZZ-token_abcdefghijklmnopqrstuv"
TELEGRAM_SECRET = "fuzz-webhook-secret"
CONCURRENCY = int(__import__("os").environ.get("FUZZ_CONCURRENCY", "8"))
REQUEST_TIMEOUT = 60.0


class LogTrap(logging.Handler):
    """Every record at ERROR or above, or carrying a traceback, from any logger: none may appear."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR or record.exc_info:
            self.records.append(record)

    def lines(self) -> list[str]:
        return [f"{r.levelname} {r.name}: {r.getMessage()}" + (f" ({r.exc_info[1]!r})" if r.exc_info else "")
                for r in self.records]


@dataclass
class Seeds:
    """What the generated requests may name: real ids, a valid session, token and survey link."""

    url: str
    public_url: str
    chat_cookies: list[str]
    console_cookie: str
    console_csrf: str
    login_csrf: str
    api_token: str
    reader_token: str
    ticket_ids: list[int]
    conversation_ids: list[int]
    survey_paths: list[str]


@dataclass
class Outcome:
    statuses: Counter[int] = field(default_factory=Counter)
    cases: int = 0
    server_errors: list[str] = field(default_factory=list)

    def record(self, status: int, label: str) -> None:
        self.cases += 1
        self.statuses[status] += 1
        if status >= 500:
            self.server_errors.append(f"{status} {label}")


@dataclass
class Site:
    app: web.Application
    seeds: Seeds
    trap: LogTrap
    twilio: FakeTwilio
    telegram: FakeTelegram


def fuzz_settings(tmp_path: Path, db_url: str, twilio: FakeTwilio, telegram: FakeTelegram) -> Settings:
    return Settings(
        data_dir=tmp_path, database_url=db_url, public_url=twilio.public_url, secret_key="fuzz-secret-" + "k" * 24,
        twilio_account_sid=ACCOUNT_SID, twilio_auth_token=AUTH_TOKEN,
        twilio_whatsapp_from=SENDER.removeprefix("whatsapp:"), twilio_api_base_url=twilio.base_url,
        telegram_bot_token=TELEGRAM_TOKEN, telegram_webhook_secret=TELEGRAM_SECRET,
        telegram_api_base_url=telegram.base_url,
    )


async def _seed(app: web.Application, url: str, public_url: str) -> Seeds:
    await import_records(DEMO_DIRECTORY)
    agent = await create_user(email="ana@cc.test", role=UserRole.AGENT, password=PASSWORD, name="Ana")
    supervisor = await create_user(email="sari@cc.test", role=UserRole.SUPERVISOR, password=PASSWORD, name="Sari")
    for n, nim in enumerate(("13521045", "16522101", "10623077"), start=1):
        for m, text in enumerate(("halo", nim, "agen"), start=1):
            await handle_inbound(InboundMessage(
                channel=ChannelKind.WEBCHAT, external_id=f"seed-{n}", provider_message_id=f"seed-{n}-{m}",
                text=text, received_at=datetime.now(UTC)), app[FLOW])
    tickets = await Ticket.all().order_by("id")
    closed = tickets[0]
    await actions.take_ticket(ticket_id=closed.id, agent=agent, now=datetime.now(UTC))
    closed = await Ticket.get(id=closed.id)
    await actions.categorize(ticket=closed, category=await Category.get(slug="akun-login"), agent=agent)
    await actions.close_ticket(registry=app[REGISTRY], ticket=closed, agent=agent, now=datetime.now(UTC),
                                translate=lambda lang, key, /, **v: catalog(lang).t(key, **v),
                                link_secret_key="fuzz-secret-" + "k" * 24)
    token = make_link_token(ticket_id=closed.id, secret=await link_secret("fuzz-secret-" + "k" * 24),
                            clock=lambda: datetime.now(UTC))
    _, api_token = await create_api_token(name="fuzz", role=UserRole.SUPERVISOR, user=supervisor)
    _, reader = await create_api_token(name="fuzz-reader", role=UserRole.SUPERVISOR)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        chat_cookies = []
        for _ in range(CONCURRENCY):
            async with http.get(f"{url}/chat") as page:
                chat_cookies.append(page.cookies["cc_chat"].value)
        async with http.get(f"{url}/console/login") as page:
            login_csrf = page.cookies["cc_console_login"].value
        async with http.post(f"{url}/console/login", allow_redirects=False, headers={
            "Cookie": f"cc_console_login={login_csrf}"}, data={"csrf": login_csrf, "email": "sari@cc.test",
                                                             "password": PASSWORD}) as signed_in:
            console_cookie = signed_in.cookies["cc_console"].value
        async with http.get(f"{url}/console/queue", headers={"Cookie": f"cc_console={console_cookie}"}) as queue:
            found = re.search(r'<meta name="csrf" content="([^"]*)">', await queue.text())
            assert found is not None
    return Seeds(url=url, public_url=public_url, chat_cookies=chat_cookies, console_cookie=console_cookie,
                 console_csrf=found.group(1), login_csrf=login_csrf, api_token=api_token, reader_token=reader,
                 ticket_ids=[t.id for t in tickets], conversation_ids=[t.conversation_id for t in tickets],  # type: ignore[attr-defined]
                 survey_paths=[survey_url("", token)])


@asynccontextmanager
async def fuzz_site(tmp_path: Path, db_url: str, twilio: FakeTwilio, telegram: FakeTelegram) -> AsyncIterator[Site]:
    trap = LogTrap()
    root = logging.getLogger()
    root.addHandler(trap)
    app = create_app(fuzz_settings(tmp_path, db_url, twilio, telegram), classifier=ScriptedClassifier(),
                     directory=DatabaseDirectory(), scheduler=False)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        seeds = await _seed(app, url, twilio.public_url)
        trap.records.clear()  # only what the generated requests cause counts
        yield Site(app=app, seeds=seeds, trap=trap, twilio=twilio, telegram=telegram)
        await app[INBOUND].idle()  # the turns of every stored message ran, and failed in no worker
        for channel in app[REGISTRY]:
            settle = getattr(channel, "settle", None)
            if settle is not None:
                await settle()
    finally:
        await runner.cleanup()
        root.removeHandler(trap)


# --- what a case is, and how it is sent ---------------------------------------------------------------


@dataclass
class Http:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    # Cases of one lane are sent one after the other (one browser's session), lanes side by side.
    lane: str | None = None

    def label(self) -> str:
        content_type = self.headers.get("Content-Type", "")[:60]
        return f"{self.method} {self.path[:120]} {content_type} body={len(self.body or b'')}"


@dataclass
class Raw:
    """Bytes written straight to the socket: what aiohttp's client will not send (lying lengths, bad chunks)."""

    data: bytes

    def label(self) -> str:
        return f"raw {self.data[:100]!r}"


@dataclass
class Socket:
    path: str
    headers: dict[str, str]
    frames: list[str | bytes]
    replies_expected: bool
    lane: str | None = None

    def label(self) -> str:
        return f"ws {self.path} origin={self.headers.get('Origin', '-')} frames={[f[:40] for f in self.frames]}"


Case = Http | Raw | Socket


async def _send_http(http: aiohttp.ClientSession, base: str, case: Http) -> int:
    # Large bodies as a stream: aiohttp's client warns (an error here) on big bytes sent in one piece.
    body = io.BytesIO(case.body) if case.body is not None and len(case.body) > 64 * 1024 else case.body
    try:
        async with http.request(case.method, URL(base + case.path, encoded=True), headers=case.headers, data=body,
                                allow_redirects=False, skip_auto_headers=("Content-Type",)) as response:
            await response.read()
            return response.status
    except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError):
        # The server answered (413) and closed before the client had written all of an oversized or
        # lying body: no status reaches the client. An error of ours would be in the log trap.
        return 0
    except aiohttp.ClientResponseError as unparsed:
        # aiohttp's own 400 for a request line it cannot parse carries a body even for HEAD, which the
        # client then refuses to read: the status is still the server's.
        return unparsed.status


async def _send_raw(base: str, case: Raw) -> int:
    target = URL(base)
    reader, writer = await asyncio.open_connection(target.host, target.port)
    try:
        writer.write(case.data)
        await writer.drain()
        writer.write_eof()  # a body shorter than its Content-Length ends here, as when a client goes away
        line = await asyncio.wait_for(reader.readline(), REQUEST_TIMEOUT)
    finally:
        writer.close()
    parts = line.split()
    # No status line: the server closed the connection on bytes it could not parse, which is fine.
    return int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else 0


async def _send_socket(http: aiohttp.ClientSession, base: str, case: Socket) -> int:
    try:
        ws = await http.ws_connect(base + case.path, headers=case.headers, timeout=aiohttp.ClientWSTimeout(ws_close=10))
    except aiohttp.WSServerHandshakeError as refused:
        return refused.status
    async with ws:
        for frame in case.frames:
            if isinstance(frame, bytes):
                await ws.send_bytes(frame)
            else:
                await ws.send_str(frame)
        if case.replies_expected:
            # Every text frame gets an answer (an ack after the bot's replies, or an error frame).
            answers = 0
            text_frames = sum(isinstance(f, str) for f in case.frames)
            while answers < text_frames:
                message = await ws.receive(timeout=REQUEST_TIMEOUT)
                if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                    # 1009: a frame over the limit. 1011 would be an error of ours.
                    return 500 if ws.close_code == 1011 else 101
                if message.type == aiohttp.WSMsgType.TEXT and message.json().get("type") in ("ack", "error"):
                    answers += 1
    return 500 if ws.close_code == 1011 else 101


async def run_cases(site: Site, cases: list[Case]) -> Outcome:
    outcome = Outcome()
    base = site.seeds.url
    limit = asyncio.Semaphore(CONCURRENCY)
    # No cookie jar: each case carries exactly the cookies it was generated with.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar(),
                                     timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)) as http:

        async def one(case: Case) -> None:
            if isinstance(case, Http):
                status = await _send_http(http, base, case)
            elif isinstance(case, Raw):
                status = await _send_raw(base, case)
            else:
                status = await _send_socket(http, base, case)
            outcome.record(status, case.label())

        async def alone(case: Case) -> None:
            async with limit:
                await one(case)

        async def in_turn(lane: list[Case]) -> None:
            for case in lane:
                async with limit:
                    await one(case)

        lanes: dict[str, list[Case]] = {}
        for case in cases:
            if getattr(case, "lane", None) is not None:
                lanes.setdefault(case.lane, []).append(case)  # type: ignore[union-attr]
        await asyncio.gather(*(alone(c) for c in cases if getattr(c, "lane", None) is None),
                             *(in_turn(lane) for lane in lanes.values()))
    return outcome


def summary(outcome: Outcome) -> dict[str, Any]:
    return {"cases": outcome.cases, "statuses": dict(sorted(outcome.statuses.items()))}
