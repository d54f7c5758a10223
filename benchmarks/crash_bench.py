"""The crash test: real processes killed with SIGKILL under load; every acknowledged message must be stored
once, answered once and in order, and nobody left without an answer.

    python benchmarks/crash_bench.py                       # full: 1,500 users, 14 kills, SQLite
    python benchmarks/crash_bench.py --db postgres         # the same on PostgreSQL (TEST_DATABASE_URL's server)
    python benchmarks/crash_bench.py --users 40 --kills 3  # what tests/bot/test_crash.py runs in CI

What runs: ``carecenter serve --no-worker --no-scheduler`` (the webhooks) and ``carecenter worker`` (the
turns), as the Procfile runs them, on a fresh database, with the real twilio client pointed at a loopback
fake of Twilio's Messages API served from this process. Each user sends, as WhatsApp through Twilio would,
a greeting, a valid NIM from the directory, and a question, one after the other without waiting for
answers; a delivery that gets no 200 (the web process is dead, or answers an error) is delivered again
with the same MessageSid until it is acknowledged, as a provider retries. Meanwhile the web and the worker
processes are killed with SIGKILL at random moments and restarted.

What is checked, once every user is acknowledged and the processes have settled:
- every acknowledged delivery is one message row (stored once), and every message's turn ran (none parked);
- each user's replies are, in order, the one greeting message (welcome, privacy notice, request for an
  identity), the note that the identity is taken (a claim: no name before proof) and the request for a
  question (the order the messages were sent; a message run
  out of order, or skipped, changes these), followed by an answer to the question;
- no reply row reached the fake twice (each carries its row id in its status callback URL) and none
  that was written is missing. A row a killed process had claimed for sending (``unknown``) is asked
  about on the fake's Messages list by the outbox (handoff.outbox.reconcile, a minute after its claim):
  marked sent if the fake has it, sent again if not. Reported: ``reconciled_lookups`` (list requests the
  fake answered), ``left_unknown`` (rows still ``unknown`` at the end) and ``lost_in_flight`` (those of
  them the fake never received: replies lost for good); both must be 0.

Prints a JSON summary; exits 1 when any check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import csv
import json
import os
import random
import signal
import socket
import sqlite3
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator

# The code under test: this checkout, or another one (CRASH_BENCH_CODE=/path) to run the same scenario
# against an older build.
ROOT = Path(os.environ.get("CRASH_BENCH_CODE") or Path(__file__).resolve().parents[1])
ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "f" * 32
SENDER = "whatsapp:+14155238886"
QUESTION = "saya lupa password edunex, tidak bisa login sama sekali"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def nim_of(n: int) -> str:
    # Programme code, entry year 22, sequence 001-999: valid NIMs (bot.identity.validate_nim).
    return f"{135 + n // 999}22{n % 999 + 1:03d}"


@dataclass
class User:
    n: int
    address: str
    nim: str
    first_name: str
    acked: list[str] = field(default_factory=list)  # MessageSids acknowledged, in the order sent


@dataclass
class Fake:
    """Twilio's Messages API, enough for the product's sends; records what each address received."""

    received: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    rows: Counter[str] = field(default_factory=Counter)  # our message row id (the callback's m=) -> sends
    created: list[dict[str, Any]] = field(default_factory=list)  # what the Messages list answers, oldest first
    lookups: int = 0  # Messages list requests (the outbox asking about a row left unknown)

    async def create(self, request: web.Request) -> web.Response:
        expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return web.json_response({"code": 20003, "message": "Authenticate", "status": 401}, status=401)
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        self.received[form["To"]].append(form.get("Body", ""))
        callback = form.get("StatusCallback")
        if callback:
            row = parse_qs(urlsplit(callback).query).get("m", ["?"])[0]
            self.rows[row] += 1
        sid = f"SM{uuid.uuid4().hex}"
        record = {"sid": sid, "account_sid": ACCOUNT_SID, "status": "queued", "to": form["To"], "from": form["From"],
                  "body": form.get("Body", ""), "direction": "outbound-api", "api_version": "2010-04-01",
                  "num_media": "0", "num_segments": "1", "error_code": None, "error_message": None,
                  "date_created": format_datetime(datetime.now(UTC)), "date_sent": None}
        self.created.append(record)
        return web.json_response(record, status=201)

    async def list(self, request: web.Request) -> web.Response:
        """Twilio's Messages list by To and From, newest first, paged (as tests/fakes/twilio.py, smaller)."""
        self.lookups += 1
        query = dict(request.query)
        found = [m for m in reversed(self.created)
                 if m["to"] == query.get("To", m["to"]) and m["from"] == query.get("From", m["from"])]
        size, page = int(query.get("PageSize", "50")), int(query.get("Page", "0"))
        more = (page + 1) * size < len(found)
        following = {**query, "Page": page + 1, "PageToken": f"PA{page + 1}"}
        return web.json_response({
            "messages": found[page * size:(page + 1) * size], "page": page, "page_size": size,
            "start": page * size, "end": (page + 1) * size - 1, "uri": request.path_qs,
            "next_page_uri": f"{request.path}?{urlencode(following)}" if more else None,
        })


class Processes:
    """The web and worker processes, started, killed and restarted by name."""

    def __init__(self, env: dict[str, str], port: int, workdir: Path) -> None:
        self.env = env
        self.port = port
        self.workdir = workdir
        self.procs: dict[str, asyncio.subprocess.Process] = {}
        self.logs: dict[str, Any] = {}

    def command(self, name: str) -> list[str]:
        if name == "web":
            return [sys.executable, "-m", "bot", "serve", "--port", str(self.port), "--no-worker", "--no-scheduler"]
        return [sys.executable, "-m", "bot", "worker"]

    async def start(self, name: str) -> None:
        log = self.logs.get(name) or (self.workdir / f"{name}.log").open("ab")
        self.logs[name] = log
        self.procs[name] = await asyncio.create_subprocess_exec(
            *self.command(name), env=self.env, cwd=self.workdir, stdout=log, stderr=log,
        )

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)

    async def stop(self) -> None:
        for proc in self.procs.values():
            if proc.returncode is None:
                proc.send_signal(signal.SIGINT)
        for proc in self.procs.values():
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        for log in self.logs.values():
            log.close()


async def wait_healthy(session: aiohttp.ClientSession, url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(aiohttp.ClientError, OSError):
            async with session.get(url) as response:
                if response.status == 200:
                    return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


def run_cli(env: dict[str, str], workdir: Path, *args: str) -> None:
    import subprocess

    subprocess.run([sys.executable, "-m", "bot", *args], env=env, cwd=workdir, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def fresh_database(kind: str, workdir: Path) -> tuple[str, Any]:
    """A database URL, and how to drop it afterwards."""
    if kind == "sqlite":
        return f"sqlite://{workdir / 'crash.sqlite3'}", None
    import asyncpg

    base = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    admin_url = base.replace("postgres://", "postgresql://")
    name = f"cc_crash_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()

    async def drop() -> None:
        conn = await asyncpg.connect(admin_url)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()

    return f"{base.rsplit('/', 1)[0]}/{name}", drop


async def query(db_url: str, sql: str) -> list[tuple[Any, ...]]:
    if db_url.startswith("sqlite://"):
        with contextlib.closing(sqlite3.connect(db_url.removeprefix("sqlite://"))) as conn:
            return list(conn.execute(sql).fetchall())
    import asyncpg

    conn = await asyncpg.connect(db_url.replace("postgres://", "postgresql://"))
    try:
        return [tuple(row) for row in await conn.fetch(sql)]
    finally:
        await conn.close()


def expected_prefix(user: User) -> list[str]:
    from bot.conversation.replies import greeting_text
    from bot.i18n import catalog

    cat = catalog("id")
    # The first contact is one message (bot.conversation.replies.greeting_text): welcome, privacy notice, request.
    return [greeting_text([cat.t("greeting"), cat.t("privacy_notice"), cat.t("ask_identity")]),
            cat.t("identity_noted"),  # a typed NIM is a claim: no name before proof (issue 13)
            cat.t("ask_question")]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="crash-bench-"))
    db_url, drop = await fresh_database(args.db, workdir)
    users = [User(n, f"whatsapp:+62813{n:07d}", nim_of(n), f"Nama{n}") for n in range(args.users)]

    fake = Fake()
    api = web.Application()
    api.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", fake.create)
    api.router.add_get("/2010-04-01/Accounts/{sid}/Messages.json", fake.list)
    runner = web.AppRunner(api, access_log=None)
    await runner.setup()
    fake_port = free_port()
    await web.TCPSite(runner, "127.0.0.1", fake_port).start()

    port = free_port()
    public = f"http://127.0.0.1:{port}"
    env = {
        **os.environ, "PYTHONPATH": str(ROOT), "DATA_DIR": str(workdir / "data"), "DATABASE_URL": db_url,
        "PUBLIC_URL": public, "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_WHATSAPP_FROM": SENDER, "TWILIO_API_BASE_URL": f"http://127.0.0.1:{fake_port}",
        "LOG_LEVEL": "WARNING",
    }
    directory = workdir / "directory.csv"
    with directory.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id_number", "name", "email", "role", "faculty", "program", "status"])
        for user in users:
            writer.writerow([user.nim, f"{user.first_name} Uji", f"u{user.n}@students.itb.ac.id", "student",
                             "STEI", "Teknik Informatika", "active"])
    run_cli(env, workdir, "migrate")
    run_cli(env, workdir, "directory", "import", str(directory))

    procs = Processes(env, port, workdir)
    validator = RequestValidator(AUTH_TOKEN)
    url = f"{public}/webhooks/twilio/whatsapp"
    counter = iter(range(1, 10**9))
    retries = 0
    acks: list[float] = []  # seconds from a delivery's POST to its 200 (the webhooks' answer under load)
    started = time.monotonic()
    summary: dict[str, Any] = {"users": args.users, "kills": args.kills, "db": args.db, "seed": args.seed}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
            await procs.start("web")
            await procs.start("worker")
            await wait_healthy(session, f"{public}/healthz")

            async def deliver(user: User, body: str) -> None:
                nonlocal retries
                number = next(counter)
                form = {"SmsMessageSid": f"SM{number:032x}", "MessageSid": f"SM{number:032x}",
                        "AccountSid": ACCOUNT_SID, "From": user.address, "To": SENDER, "Body": body,
                        "NumMedia": "0", "NumSegments": "1", "ProfileName": user.first_name,
                        "WaId": user.address.removeprefix("whatsapp:+"), "SmsStatus": "received",
                        "ApiVersion": "2010-04-01"}
                signature = validator.compute_signature(url, form)
                while True:  # until acknowledged, as the provider retries
                    try:
                        began = time.monotonic()
                        async with session.post(url, data=form, headers={"X-Twilio-Signature": signature}) as r:
                            if r.status == 200:
                                acks.append(time.monotonic() - began)
                                user.acked.append(form["MessageSid"])
                                return
                    except (aiohttp.ClientError, OSError, TimeoutError):
                        pass
                    retries += 1
                    await asyncio.sleep(0.3 + rng.random() * 0.7)

            async def converse(user: User, slots: asyncio.Semaphore) -> None:
                async with slots:
                    for body in ("halo", user.nim, QUESTION):
                        await deliver(user, body)
                        await asyncio.sleep(rng.random() * args.gap)

            slots = asyncio.Semaphore(args.concurrency)
            load = asyncio.gather(*(converse(user, slots) for user in users))

            # Random moments under load: each kill when a random share of the deliveries is acknowledged,
            # so every kill lands while messages are coming in and turns are running, whatever the speed.
            total = 3 * len(users)
            marks = sorted(rng.sample(range(total // 10, max(total * 9 // 10, total // 10 + args.kills)), args.kills))

            async def killer() -> list[dict[str, Any]]:
                done = []
                for k, mark in enumerate(marks):
                    while sum(len(u.acked) for u in users) < mark and not load.done():  # noqa: ASYNC110 - a count, polled
                        await asyncio.sleep(0.05)
                    if load.done():
                        break
                    name = "worker" if k % 2 == 0 else "web"  # worker first: it holds people's turns
                    procs.kill(name)
                    await procs.procs[name].wait()
                    done.append({"at": round(time.monotonic() - started, 1), "process": name})
                    await asyncio.sleep(rng.uniform(0.2, 1.5))
                    await procs.start(name)
                return done

            kills = await asyncio.gather(load, killer())
            summary["killed"] = kills[1]
            summary["load_seconds"] = round(time.monotonic() - started, 1)
            summary["redeliveries"] = retries
            ordered = sorted(acks)
            summary["ack_ms"] = {name: round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)
                                 for name, q in (("p50", 0.5), ("p99", 0.99), ("max", 1.0))}
            summary["messages_per_second"] = round(len(ordered) / summary["load_seconds"], 1)
            await wait_healthy(session, f"{public}/healthz")

            # Settle: until every user has at least the replies of the first two messages plus one, and
            # nothing is left unprocessed or queued, or the time runs out.
            deadline = time.monotonic() + args.settle
            while time.monotonic() < deadline:
                pending = await query(db_url, "SELECT count(*) FROM messages WHERE direction = 'in' AND "
                                              "processed_at IS NULL")
                # An unknown row is asked about a minute after its claim; its conversation's later replies
                # wait for it (queued), so both must drain before the end.
                queued = await query(db_url, "SELECT count(*) FROM messages WHERE direction = 'out' AND "
                                             "delivery_status IN ('queued', 'unknown')")
                unstored = await query(db_url, "SELECT count(*) FROM inbox WHERE stored_at IS NULL")
                answered = all(len(fake.received[u.address]) > len(expected_prefix(u)) for u in users)
                if answered and pending[0][0] == 0 and queued[0][0] == 0 and unstored[0][0] == 0:
                    break
                await asyncio.sleep(0.5)
            await asyncio.sleep(1.0)  # a late duplicate would arrive now
            summary["settle_seconds"] = round(time.monotonic() - started - summary["load_seconds"], 1)
    finally:
        await procs.stop()
        await runner.cleanup()

    acked = {sid for user in users for sid in user.acked}
    try:
        rows = await query(db_url, "SELECT provider_message_id, processed_at IS NOT NULL, parked_at IS NOT NULL "
                                   "FROM messages WHERE direction = 'in'")
    except Exception:  # a build before parking existed (the same run against an older main)
        rows = await query(db_url, "SELECT provider_message_id, processed_at IS NOT NULL, 1 = 0 "
                                   "FROM messages WHERE direction = 'in'")
    stored = Counter(str(row[0]) for row in rows)
    out_rows = await query(db_url, "SELECT m.id, m.delivery_status, i.external_id FROM messages m "
                                   "JOIN conversations c ON c.id = m.conversation_id "
                                   "JOIN channel_identities i ON i.id = c.identity_id WHERE m.direction = 'out'")
    statuses = Counter(str(row[1]) for row in out_rows)
    never_sent = [(row_id, status, address) for row_id, status, address in out_rows if fake.rows[str(row_id)] == 0]
    # A row claimed for sending (``unknown``) by a process killed before its request reached the provider,
    # and still so at the end: the outbox's reconcile did not send it again. Counted apart, and a failure.
    wrong = []
    for user in users:
        got = fake.received[user.address]
        prefix = expected_prefix(user)
        # The prefix, then at least the answer to the question.
        if got[:len(prefix)] != prefix or len(got) <= len(prefix):
            wrong.append(user.n)
    summary.update({
        "acknowledged": len(acked),
        "acknowledged_not_stored": len(acked - set(stored)),
        "stored_twice": sum(1 for count in stored.values() if count > 1),
        "unprocessed": sum(1 for row in rows if not row[1]),
        "parked": sum(1 for row in rows if row[2]),
        "replies_sent": sum(fake.rows.values()),
        "replies_sent_twice": sum(1 for count in fake.rows.values() if count > 1),
        "reply_rows_never_sent": sum(1 for row in never_sent if row[1] != "unknown"),
        "lost_in_flight": sum(1 for row in never_sent if row[1] == "unknown"),
        "left_unknown": statuses.get("unknown", 0),
        "reconciled_lookups": fake.lookups,
        "reply_statuses": dict(statuses),
        "users_wrong_or_unanswered": len(wrong),
        "examples_wrong": wrong[:5],
    })
    summary["ok"] = (summary["acknowledged"] == 3 * args.users and summary["acknowledged_not_stored"] == 0
                     and summary["stored_twice"] == 0 and summary["unprocessed"] == 0 and summary["parked"] == 0
                     and summary["replies_sent_twice"] == 0 and summary["reply_rows_never_sent"] == 0
                     and summary["lost_in_flight"] == 0 and summary["left_unknown"] == 0
                     and summary["users_wrong_or_unanswered"] == 0)
    summary["workdir"] = str(workdir)
    if drop is not None:
        await drop()
    return summary


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=1500)
    parser.add_argument("--kills", type=int, default=14)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--concurrency", type=int, default=100, help="users talking at once")
    parser.add_argument("--gap", type=float, default=0.3, help="most seconds between one user's messages")
    parser.add_argument("--settle", type=float, default=180.0, help="most seconds to wait for the answers")
    parser.add_argument("--seed", type=int, default=10)
    return parser.parse_args(argv)


def main() -> None:
    summary = asyncio.run(run(parse()))
    print(json.dumps(summary, indent=2))
    sys.exit(0 if summary["ok"] else 1)


if __name__ == "__main__":
    main()
