"""Signed Twilio WhatsApp webhooks from a loopback load generator to the app on SQLite.

Measures the acknowledgement latency (time until our 200 + empty TwiML) at a fixed arrival rate, and
checks the delivery contract: every acknowledged message stored exactly once (a share of the posts is
sent twice, as Twilio may), and answered exactly once (each new user's "halo" gets the three greeting
messages, each sent once to the stand-in Twilio API).

    python benchmarks/whatsapp_webhook_bench.py --rate 200 --messages 2000 --duplicates 0.1

Runs from the repository root; uses the test suite's stand-in of Twilio (tests/fakes/twilio.py).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.app import create_app
from bot.config import Settings
from models import Direction, Message
from tests.conftest import ScriptedClassifier
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, SENDER, FakeTwilio

GREETING_REPLIES = 3


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


async def run(rate: float, messages: int, duplicates: float) -> int:
    fake = FakeTwilio(public_url="https://care.example.ac.id")
    api = web.Application()
    api.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", fake.create_message)
    runner = web.AppRunner(api)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    fake.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    data = Path(tempfile.mkdtemp(prefix="cc-bench-"))
    settings = Settings(
        data_dir=data, database_url=f"sqlite://{data / 'bench.sqlite3'}", public_url=fake.public_url,
        twilio_account_sid=ACCOUNT_SID, twilio_auth_token=AUTH_TOKEN, twilio_whatsapp_from=SENDER,
        twilio_api_base_url=fake.base_url,
    )
    client = TestClient(TestServer(create_app(settings, classifier=ScriptedClassifier(), scheduler=False)))
    await client.start_server()
    url = f"{fake.public_url}/webhooks/twilio/whatsapp"
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    acknowledged: set[str] = set()
    rng = random.Random(4)

    async def post(form: dict[str, str]) -> None:
        started = time.perf_counter()
        response = await fake.post_signed(client, url, form)
        await response.read()
        latencies.append(time.perf_counter() - started)
        statuses[response.status] += 1
        if response.status == 200:
            acknowledged.add(form["MessageSid"])

    tasks: list[asyncio.Task[None]] = []
    start = time.perf_counter()
    for index in range(messages):
        user = f"whatsapp:+628{index:010d}"  # one message per new user: its answer is known exactly
        fake.last_inbound[user] = time.time()
        form = fake.inbound_form(user, "halo")
        copies = 2 if rng.random() < duplicates else 1
        tasks.extend(asyncio.create_task(post(form)) for _ in range(copies))
        await asyncio.sleep(max(0.0, start + (index + 1) / rate - time.perf_counter()))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start

    stored = await Message.filter(direction=Direction.INBOUND).count()
    sends = Counter(m["To"] for m in fake.messages)
    answered_once = all(sends[f"whatsapp:+628{i:010d}"] == GREETING_REPLIES for i in range(messages))
    print(f"posts {len(latencies)} ({len(latencies) - messages} duplicates) at {rate:g}/s in {elapsed:.1f} s; "
          f"status {dict(statuses)}")
    p50, p99 = percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000
    print(f"ack latency p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(latencies) * 1000:.1f} ms")
    once = stored == len(acknowledged) == messages
    print(f"stored once: {once} ({stored} rows for {len(acknowledged)} acknowledged); "
          f"answered once: {answered_once} ({len(fake.messages)} sends)")
    await client.close()
    await runner.cleanup()
    return 0 if once and answered_once else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rate", type=float, default=200.0, help="webhooks per second")
    parser.add_argument("--messages", type=int, default=2000, help="distinct inbound messages")
    parser.add_argument("--duplicates", type=float, default=0.1, help="share of messages posted twice")
    args = parser.parse_args()
    sys.exit(asyncio.run(run(args.rate, args.messages, args.duplicates)))


if __name__ == "__main__":
    main()
