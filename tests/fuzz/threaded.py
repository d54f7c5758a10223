"""The whole app on a loopback port, run in a thread of its own: for clients that block (Schemathesis calls
the API through ``requests``), so the app keeps serving while the test waits."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from bot.app import create_app
from bot.config import Settings
from tests.conftest import ScriptedClassifier

T = TypeVar("T")
CALL_TIMEOUT = 120.0  # seconds for one set-up step in the app's loop


@dataclass
class ThreadedSite:
    url: str
    app: web.Application
    loop: asyncio.AbstractEventLoop

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine in the app's loop (the database lives there) and wait for its result."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(CALL_TIMEOUT)


@contextmanager
def serve_in_thread(settings: Settings, *, setup: Callable[[web.Application], Awaitable[T]]) -> Iterator[
        tuple[ThreadedSite, T]]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="app-under-test", daemon=True)
    thread.start()
    app = create_app(settings, classifier=ScriptedClassifier(), scheduler=False)
    runner = web.AppRunner(app)

    async def start() -> str:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    site = ThreadedSite(url="", app=app, loop=loop)
    try:
        site.url = site.run(start())
        yield site, site.run(setup(app))  # type: ignore[arg-type]
    finally:
        site.run(runner.cleanup())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()
