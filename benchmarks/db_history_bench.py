"""The hot queries on a database with a year of history: how long each takes, and the API's conversation read.

    python benchmarks/db_history_bench.py --engine sqlite [--conversations 100000] [--repeat 30]
    python benchmarks/db_history_bench.py --engine postgres [--database-url postgres://postgres@127.0.0.1:5432/test]

1. A fresh database, migrated, with a year of history written straight through SQL
   (tests/models/history.py: 100,000 conversations by default, 10 messages each: a million messages,
   with tickets, events, attachments, audit entries and receipts; PostgreSQL then gets VACUUM ANALYZE, as
   autovacuum would give it; SQLite is left without statistics, as the product leaves it).
2. The product's hot paths run against it for real (tests/models/hot_paths.py: WhatsApp webhooks to the
   turn and a hand-off, the console's queue, ticket page, actions and dashboard, the web chat, the API, the
   outbox, every scheduler job), and every statement they send is recorded with its parameters.
3. Each distinct statement is run again ``--repeat`` times on a connection of its own, straight on the
   driver (no ORM), writes inside a transaction that is rolled back: median and p99 per statement.
4. ``GET /api/v1/conversations/{id}/messages`` through HTTP, ``carecenter serve`` running on each database
   in a process of its own, requests taken in turns: the oldest and the newest conversation of the year,
   and the only conversation of an otherwise empty database (the same 10 messages).

Target (issue 10): no hot query over 1 ms at a million messages; the API read of an old conversation as
fast as on an empty database. The machine is shared: compare runs made back to back.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import asyncpg
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.db import run_migrations
from tests.fakes.twilio import FakeTwilio
from tests.models.history import seed_history, summary
from tests.models.hot_paths import Statement, drive_hot_paths, product, recording, settings_for

ROOT = Path(__file__).resolve().parents[1]
TARGET_MS = 1.0
WRITE = re.compile(r"^\s*(UPDATE|DELETE|INSERT)\b", re.IGNORECASE)
TIMED = re.compile(r"^\s*(SELECT|UPDATE|DELETE|WITH)\b", re.IGNORECASE)


@asynccontextmanager
async def twilio_stand_in() -> AsyncIterator[FakeTwilio]:
    fake = FakeTwilio(public_url="http://care.example.ac.id")
    api = web.Application()
    api.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", fake.create_message)
    runner = web.AppRunner(api)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    fake.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield fake
    finally:
        await runner.cleanup()


@asynccontextmanager
async def fresh_database(engine: str, admin_url: str, workdir: Path, name: str) -> AsyncIterator[str]:
    if engine == "sqlite":
        yield f"sqlite://{workdir / f'{name}.sqlite3'}"
        return
    database = f"cc_bench_{name}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_url.replace("postgres://", "postgresql://", 1))
    await admin.execute(f'CREATE DATABASE "{database}"')
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{database}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def time_statements(
    db_url: str, statements: list[Statement], repeat: int
) -> list[tuple[Statement, float, float]]:
    """(statement, median ms, p99 ms) for each, on the driver: the query's own cost, no ORM around it."""
    results = []
    if db_url.startswith("sqlite://"):
        connection = sqlite3.connect(db_url.removeprefix("sqlite://"), isolation_level=None)
        try:
            for statement in statements:
                runs = []
                for _ in range(repeat + 1):  # the first run warms the cache and is not counted
                    write = WRITE.match(statement.sql) is not None
                    if write:
                        connection.execute("BEGIN")
                    started = time.perf_counter()
                    connection.execute(statement.sql, statement.values).fetchall()
                    runs.append((time.perf_counter() - started) * 1000)
                    if write:
                        connection.execute("ROLLBACK")
                results.append((statement, statistics.median(runs[1:]), percentile(runs[1:], 0.99)))
        finally:
            connection.close()
        return results
    connection = await asyncpg.connect(db_url.replace("postgres://", "postgresql://", 1))
    try:
        for statement in statements:
            runs = []
            for _ in range(repeat + 1):
                transaction = connection.transaction()
                await transaction.start()
                started = time.perf_counter()
                await connection.fetch(statement.sql, *statement.values)
                runs.append((time.perf_counter() - started) * 1000)
                await transaction.rollback()
            results.append((statement, statistics.median(runs[1:]), percentile(runs[1:], 0.99)))
    finally:
        await connection.close()
    return results


def label(sql: str) -> str:
    """A statement, short: what it reads or writes and by what."""
    text = re.sub(r'"(\w+)"\."(\w+)"', r"\2", sql)
    text = re.sub(r"^SELECT .*? FROM", "SELECT … FROM", text)
    text = re.sub(r'"(\w+)"', r"\1", text)
    text = re.sub(r" (\w+)__\w+ ", " ", text)
    return text if len(text) <= 150 else text[:147] + "…"


@asynccontextmanager
async def served(db_url: str, data_dir: Path) -> AsyncIterator[tuple[str, str]]:
    """``carecenter serve`` on the database, in a process of its own: (its address, an API token)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": db_url, "DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING"}
    command = (sys.executable, "-m", "bot")
    created = await asyncio.create_subprocess_exec(
        *command, "token", "create", "--name", "bench", "--role", "supervisor", env=env, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE)
    token = (await created.communicate())[0].decode().strip().splitlines()[-1]
    server = await asyncio.create_subprocess_exec(
        *command, "serve", "--host", "127.0.0.1", "--port", str(port), "--no-scheduler", env=env, cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                with suppress(aiohttp.ClientError):
                    async with http.get(f"{url}/healthz") as response:
                        if response.status == 200:
                            break
                await asyncio.sleep(0.1)
        yield url, token
    finally:
        server.terminate()
        await server.wait()


async def api_reads(reads: dict[str, tuple[str, str, int]], repeat: int) -> dict[str, tuple[float, float]]:
    """Median and p99 ms of each conversation read, taken in turns so that the machine's load weighs the
    same on each: (server, token, conversation id) by name."""
    runs: dict[str, list[float]] = {name: [] for name in reads}
    async with aiohttp.ClientSession() as http:
        for round_ in range(repeat + 1):  # the first round warms up and is not counted
            for name, (url, token, conversation) in reads.items():
                started = time.perf_counter()
                async with http.get(f"{url}/api/v1/conversations/{conversation}/messages",
                                    headers={"Authorization": f"Bearer {token}"}) as response:
                    await response.read()
                if round_:
                    runs[name].append((time.perf_counter() - started) * 1000)
                assert response.status == 200, response.status
    return {name: (statistics.median(values), percentile(values, 0.99)) for name, values in runs.items()}


async def run(args: argparse.Namespace) -> None:
    now = datetime.now(UTC)
    size = args.messages_per_conversation
    with tempfile.TemporaryDirectory(prefix="cc-history-") as tmp:
        workdir = Path(tmp)
        print(f"engine {args.engine}, {args.conversations:,} conversations x {size} messages, repeat {args.repeat}, "
              f"{now:%Y-%m-%d %H:%M} UTC")
        async with AsyncExitStack() as stack:
            # An empty database beside it: one conversation of the same size and nothing else.
            empty_url = await stack.enter_async_context(
                fresh_database(args.engine, args.database_url, workdir, "empty"))
            await run_migrations(empty_url)
            only = await seed_history(empty_url, conversations=1, now=now, open_tickets=0,
                                      messages_per_conversation=size)

            db_url = await stack.enter_async_context(
                fresh_database(args.engine, args.database_url, workdir, "history"))
            await run_migrations(db_url)
            async with twilio_stand_in() as fake, product(settings_for(fake, db_url, workdir / "history")) as client:
                started = time.perf_counter()
                seeded = await seed_history(db_url, conversations=args.conversations, now=now,
                                            messages_per_conversation=size)
                print(f"seeded in {time.perf_counter() - started:.0f} s: {summary(seeded.counts)}")
                if args.engine == "postgres":
                    pg = await asyncpg.connect(db_url.replace("postgres://", "postgresql://", 1))
                    await pg.execute("VACUUM ANALYZE")  # what autovacuum does after a bulk of inserts
                    await pg.close()
                with recording() as recorder:
                    started = time.perf_counter()
                    await drive_hot_paths(client, fake, recorder)
                    print(f"hot paths driven in {time.perf_counter() - started:.1f} s")
            statements = [s for s in recorder.seen.values() if TIMED.match(s.sql) and " WHERE 1=0" not in s.sql]
            timed = await time_statements(db_url, statements, args.repeat)

            empty = await stack.enter_async_context(served(empty_url, workdir / "empty"))
            history = await stack.enter_async_context(served(db_url, workdir / "history"))
            reads = await api_reads({
                "empty database": (*empty, only.newest_conversation),
                "oldest of the year": (*history, seeded.oldest_conversation),
                "newest": (*history, seeded.newest_conversation),
            }, args.repeat * 10)

    timed.sort(key=lambda r: -r[1])
    over = [r for r in timed if r[1] > TARGET_MS]
    print(f"\n{len(timed)} distinct statements on the hot paths; median over {TARGET_MS:g} ms: {len(over)}; "
          f"slowest median {timed[0][1]:.3f} ms; medians summed {sum(r[1] for r in timed):.1f} ms\n")
    print("| median ms | p99 ms | path | statement |")
    print("|---:|---:|---|---|")
    for statement, median, p99 in timed[: args.show]:
        print(f"| {median:.3f} | {p99:.3f} | {statement.path} | `{label(statement.sql)}` |")
    print(f"\nGET /api/v1/conversations/{{id}}/messages ({size} messages), `carecenter serve` on each database, "
          f"requests in turns, median / p99 ms:")
    for name, (median, p99) in reads.items():
        print(f"  {name:20} {median:7.2f} / {p99:7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/test",
                        help="PostgreSQL server (a database is created on it and dropped after)")
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--messages-per-conversation", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--show", type=int, default=25, help="how many of the slowest statements to list")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
