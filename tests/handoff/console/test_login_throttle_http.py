"""Console sign-in throttling over real HTTP, from real client addresses (127.0.0.1 and 127.0.0.2 are both
loopback on Linux), behind a trusted proxy, and across two processes sharing one database."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from aiohttp import web
from yarl import URL

from bot.app import create_app
from bot.config import Settings
from handoff.auth import create_user
from handoff.client_address import TrustedProxies, parse_networks
from handoff.login_throttle import PAIR
from models import UserRole
from tests.conftest import ScriptedClassifier
from tests.handoff.console.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[3]
OWNER = "ana@cc.test"
HERE, ELSEWHERE = "127.0.0.1", "127.0.0.2"


@dataclass
class Site:
    url: str
    # Real time when the site started, moved on only by the test: another process's real clock agrees.
    start: datetime = field(default_factory=lambda: datetime.now(UTC))
    offset: timedelta = timedelta(0)

    def now(self) -> datetime:
        return self.start + self.offset


@asynccontextmanager
async def site(tmp_path: Path, db_url: str, *, trusted: str = "") -> AsyncIterator[Site]:
    """The whole app on 127.0.0.1 with a clock the test moves, and one agent (the account's owner)."""
    running = Site("")
    settings = Settings(data_dir=tmp_path / "a", database_url=db_url,
                        trusted_proxies=TrustedProxies(networks=parse_networks(trusted)))
    app = create_app(settings, classifier=ScriptedClassifier(), scheduler=False, clock=running.now)
    runner = web.AppRunner(app)
    await runner.setup()
    tcp = web.TCPSite(runner, HERE, 0)
    await tcp.start()
    running.url = f"http://{HERE}:{runner.addresses[0][1]}"
    await create_user(email=OWNER, role=UserRole.AGENT, password=PASSWORD, name="Ana")
    try:
        yield running
    finally:
        await runner.cleanup()


async def sign_in(url: str, *, password: str, source: str = HERE, forwarded_for: str | None = None,
                  email: str = OWNER) -> aiohttp.ClientResponse:
    """One sign-in from a browser at ``source`` (its own connection, cookie jar and CSRF cookie)."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    connector = aiohttp.TCPConnector(local_addr=(source, 0), force_close=True)
    async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(f"{url}/console/login", headers=headers) as page:
            await page.read()
        csrf = http.cookie_jar.filter_cookies(URL(f"{url}/console/"))["cc_console_login"].value
        response = await http.post(f"{url}/console/login", headers=headers, allow_redirects=False,
                                   data={"csrf": csrf, "email": email, "password": password})
        await response.read()
        return response


async def guess_until_slowed(url: str, **where: str) -> aiohttp.ClientResponse:
    for _ in range(PAIR.free + 5):
        response = await sign_in(url, password="wrong-guess", **where)
        if response.status == 429:
            return response
        assert response.status == 401
    raise AssertionError("never slowed")


async def test_an_attacker_elsewhere_cannot_lock_the_owner_out(tmp_path: Path, db_url: str) -> None:
    async with site(tmp_path, db_url) as running:
        slowed = await guess_until_slowed(running.url, source=ELSEWHERE)
        assert int(slowed.headers["Retry-After"]) >= 1
        # Even the right password waits from the guesser's place: nothing is checked during the delay.
        assert (await sign_in(running.url, password=PASSWORD, source=ELSEWHERE)).status == 429
        owner = await sign_in(running.url, password=PASSWORD, source=HERE)
        assert (owner.status, owner.headers["Location"]) == (303, "/console/queue")


async def test_the_page_says_how_long_to_wait_and_the_wait_ends(tmp_path: Path, db_url: str) -> None:
    async with site(tmp_path, db_url) as running:
        slowed = await guess_until_slowed(running.url)
        seconds = int(slowed.headers["Retry-After"])
        assert seconds == int(PAIR.base.total_seconds())
        assert f"Coba lagi dalam {seconds} detik" in await slowed.text()
        running.offset += timedelta(seconds=seconds)
        owner = await sign_in(running.url, password=PASSWORD)
        assert (owner.status, owner.headers["Location"]) == (303, "/console/queue")


async def test_behind_a_trusted_proxy_x_forwarded_for_separates_two_clients(tmp_path: Path, db_url: str) -> None:
    async with site(tmp_path, db_url, trusted=HERE) as running:  # the "proxy" is 127.0.0.1
        await guess_until_slowed(running.url, forwarded_for="203.0.113.9")
        owner = await sign_in(running.url, password=PASSWORD, forwarded_for="10.1.2.3, 198.51.100.7")
        assert (owner.status, owner.headers["Location"]) == (303, "/console/queue")
        # A client that is not a trusted proxy cannot pick a fresh address for each guess.
        for n in range(PAIR.free):
            spoofed = await sign_in(running.url, password="wrong-guess", source=ELSEWHERE, forwarded_for=f"6.6.6.{n}")
            assert spoofed.status == 401
        spoofed = await sign_in(running.url, password="wrong-guess", source=ELSEWHERE, forwarded_for="6.6.6.99")
        assert spoofed.status == 429


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HERE, 0))
        port: int = probe.getsockname()[1]
        return port


async def test_the_throttle_holds_across_processes_sharing_the_database(tmp_path: Path, db_url: str) -> None:
    async with site(tmp_path, db_url) as first:
        # Guesses on the first process, each as soon as it is allowed (its clock moves ahead), until the
        # next one must wait minutes: long enough that the second process's real clock sees it too.
        for _ in range(PAIR.free + 8):
            response = await sign_in(first.url, password="wrong-guess", source=ELSEWHERE)
            if response.status == 429:
                first.offset += timedelta(seconds=int(response.headers["Retry-After"]))
                response = await sign_in(first.url, password="wrong-guess", source=ELSEWHERE)
            assert response.status == 401
        port = _free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT), "DATA_DIR": str(tmp_path / "b"), "DATABASE_URL": db_url}
        second = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "serve", "--host", HERE, "--port", str(port), "--no-scheduler",
            "--no-worker", env=env, cwd=tmp_path, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )
        url = f"http://{HERE}:{port}"
        try:
            async with aiohttp.ClientSession() as http:
                for _ in range(600):
                    try:
                        async with http.get(f"{url}/healthz") as health:
                            if health.status == 200:
                                break
                    except aiohttp.ClientConnectionError:
                        pass
                    assert second.returncode is None, "the second process stopped"
                    await asyncio.sleep(0.1)
            refused = await sign_in(url, password=PASSWORD, source=ELSEWHERE)
            assert refused.status == 429
            assert int(refused.headers["Retry-After"]) >= 1
            owner = await sign_in(url, password=PASSWORD, source=HERE)
            assert (owner.status, owner.headers["Location"]) == (303, "/console/queue")
        finally:
            second.terminate()
            _, errors = await second.communicate()
        assert b"Traceback" not in errors, errors.decode(errors="replace")
