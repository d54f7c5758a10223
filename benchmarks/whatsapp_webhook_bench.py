"""Signed Twilio WhatsApp webhooks from a loopback load generator to the app on SQLite.

Measures the acknowledgement latency (time until our 200 + empty TwiML) at a fixed arrival rate, and
checks the delivery contract: every acknowledged message stored exactly once (a share of the posts is
sent twice, as Twilio may), and answered exactly once (each new user's "halo" gets the one greeting
message, sent once to the stand-in Twilio API). The turns run after the acknowledgement, so it
also reports the lag from a message's acknowledgement to its first and last reply reaching Twilio.

    python benchmarks/whatsapp_webhook_bench.py --rate 200 --messages 2000 --duplicates 0.1 [--worker]

The app runs in a process of its own (as in production, where Twilio is elsewhere): ``carecenter serve``
as it runs by default, turns included; with ``--worker``, as the Procfile runs it, ``serve --no-worker``
plus a ``carecenter worker`` process that runs the turns. The load generator and the stand-in of
Twilio's API (tests/fakes/twilio.py) share this process. Runs from the repository root.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, SENDER, FakeTwilio

GREETING_REPLIES = 1  # bot.conversation.replies.greeting_text: welcome, privacy notice and the ask in one message
PUBLIC_URL = "https://care.example.ac.id"
DRAIN_TIMEOUT = 120.0  # seconds without a new reply after which the run stops waiting
SETTLE = 2.0  # seconds to wait after the last expected reply, to catch any sent twice


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else float("nan")


def serve(database: str, data_dir: str, api_base: str, conn: Connection, role: str = "all") -> None:
    """The app, as ``carecenter serve`` (or ``worker``) runs it, without the scheduler, in its own process."""
    from bot.app import Role, create_app
    from bot.config import Settings
    from tests.conftest import ScriptedClassifier

    async def main() -> None:
        settings = Settings(
            data_dir=Path(data_dir), database_url=database, public_url=PUBLIC_URL,
            twilio_account_sid=ACCOUNT_SID, twilio_auth_token=AUTH_TOKEN, twilio_whatsapp_from=SENDER,
            twilio_api_base_url=api_base,
        )
        app = create_app(settings, classifier=ScriptedClassifier(), scheduler=False, role=Role(role))
        runner = web.AppRunner(app)
        await runner.setup()
        if role == Role.WORKER:
            conn.send(None)  # no socket: it hears of the webhooks only through the inbox
        else:
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            conn.send(runner.addresses[0][1])
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # until told to stop
        await runner.cleanup()  # lets the turns still queued finish
        conn.send("stopped")

    asyncio.run(main())


def report(label: str, values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (f"{label} p50 {percentile(ms, 0.5):.1f} ms, p99 {percentile(ms, 0.99):.1f} ms, "
            f"max {max(ms, default=float('nan')):.1f} ms")


async def run(rate: float, messages: int, duplicates: float, *, worker: bool = False) -> int:
    fake = FakeTwilio(public_url=PUBLIC_URL)
    reply_times: dict[str, list[float]] = {}
    create = fake.create_message

    async def record(request: web.Request) -> web.Response:
        response = await create(request)
        if response.status == 201:
            reply_times.setdefault(fake.messages[-1]["To"], []).append(time.perf_counter())
        return response

    api = web.Application()
    api.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", record)
    api_runner = web.AppRunner(api)
    await api_runner.setup()
    await web.TCPSite(api_runner, "127.0.0.1", 0).start()
    fake.base_url = f"http://127.0.0.1:{api_runner.addresses[0][1]}"

    data = Path(tempfile.mkdtemp(prefix="cc-bench-"))
    database = data / "bench.sqlite3"
    spawn = multiprocessing.get_context("spawn")
    loop = asyncio.get_running_loop()
    processes: list[tuple[multiprocessing.process.BaseProcess, Connection]] = []
    for role in ("web", "worker") if worker else ("all",):
        ours, theirs = spawn.Pipe()
        process = spawn.Process(
            target=serve, args=(f"sqlite://{database}", str(data), fake.base_url, theirs, role), daemon=True
        )
        process.start()
        processes.append((process, ours))
        if role != "worker":
            port = await loop.run_in_executor(None, ours.recv)
        else:
            await loop.run_in_executor(None, ours.recv)
    base = f"http://127.0.0.1:{port}"
    path = "/webhooks/twilio/whatsapp"
    signed_url = f"{PUBLIC_URL}{path}"

    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    acked_at: dict[str, float] = {}  # user → first acknowledgement
    rng = random.Random(4)
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

    async def post(form: dict[str, str]) -> None:
        started = time.perf_counter()
        headers = {"X-Twilio-Signature": fake.sign(signed_url, form)}
        async with session.post(f"{base}{path}", data=form, headers=headers) as response:
            await response.read()
            done = time.perf_counter()
            statuses[response.status] += 1
        latencies.append(done - started)
        if response.status == 200:
            acked_at.setdefault(form["From"], done)

    users = [f"whatsapp:+628{index:010d}" for index in range(messages)]  # one message per new user
    tasks: list[asyncio.Task[None]] = []
    start = time.perf_counter()
    for index, user in enumerate(users):
        fake.last_inbound[user] = time.time()
        form = fake.inbound_form(user, "halo")
        copies = 2 if rng.random() < duplicates else 1
        tasks.extend(asyncio.create_task(post(form)) for _ in range(copies))
        await asyncio.sleep(max(0.0, start + (index + 1) / rate - time.perf_counter()))
    await asyncio.gather(*tasks)
    posted = time.perf_counter() - start

    expected = len(acked_at) * GREETING_REPLIES
    last_count, last_change = -1, time.perf_counter()
    while len(fake.messages) < expected and time.perf_counter() - last_change < DRAIN_TIMEOUT:
        if len(fake.messages) != last_count:
            last_count, last_change = len(fake.messages), time.perf_counter()
        await asyncio.sleep(0.1)
    drained = time.perf_counter() - start
    await asyncio.sleep(SETTLE)
    for process, ours in processes:
        ours.send("stop")
        await loop.run_in_executor(None, ours.recv)
        process.join(30)
    await session.close()
    await api_runner.cleanup()

    with sqlite3.connect(database) as db:
        stored, processed = db.execute(
            "SELECT count(*), count(processed_at) FROM messages WHERE direction = 'in'"
        ).fetchone()
        distinct = db.execute(
            "SELECT count(DISTINCT provider_message_id) FROM messages WHERE direction = 'in'"
        ).fetchone()[0]
    sends = Counter(m["To"] for m in fake.messages)
    answered_once = sum(1 for user in users if sends[user] == GREETING_REPLIES)
    first_lag = [reply_times[u][0] - acked_at[u] for u in acked_at if u in reply_times]
    last_lag = [reply_times[u][-1] - acked_at[u] for u in acked_at if u in reply_times]
    extra_posts = len(latencies) - messages
    print(f"topology: {'serve --no-worker + worker' if worker else 'serve (turns in the same process)'}")
    print(f"posts {len(latencies)} ({extra_posts} duplicates) at {rate:g}/s in {posted:.1f} s; "
          f"status {dict(statuses)}")
    print(report("ack latency", latencies))
    once = stored == distinct == len(acked_at) == messages
    print(f"stored once: {once} ({stored} rows, {distinct} distinct, for {len(acked_at)} acknowledged messages; "
          f"{extra_posts} duplicate posts stored nowhere); processed {processed}")
    print(f"answered once: {answered_once == messages} ({answered_once} of {messages} users got exactly "
          f"{GREETING_REPLIES} replies; {len(fake.messages)} sends for {expected} expected)")
    print(report("ack → first reply", first_lag))
    print(report("ack → last reply", last_lag))
    print(f"all replies sent {drained:.1f} s after the first post ({len(fake.messages) / drained:.0f} sends/s)")
    return 0 if once and answered_once == messages and processed == messages else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--rate", type=float, default=200.0, help="webhooks per second")
    parser.add_argument("--messages", type=int, default=2000, help="distinct inbound messages")
    parser.add_argument("--duplicates", type=float, default=0.1, help="share of messages posted twice")
    parser.add_argument("--worker", action="store_true",
                        help="run the turns in a 'carecenter worker' process beside 'serve --no-worker'")
    args: Any = parser.parse_args()
    sys.exit(asyncio.run(run(args.rate, args.messages, args.duplicates, worker=args.worker)))


if __name__ == "__main__":
    main()
