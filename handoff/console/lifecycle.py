"""Background tasks that live as long as the console serves."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from aiohttp import web


def run_while_serving(
    app: web.Application, key: web.AppKey[asyncio.Task[None]], start: Callable[[], asyncio.Task[None]]
) -> None:
    """Start the task ``start`` makes when the app starts and cancel it on shutdown.

    Shutdown rather than cleanup: the database closes in the parent app's cleanup, and the task must not be
    halfway through a query then.
    """

    async def on_startup(app: web.Application) -> None:
        app[key] = start()

    async def on_shutdown(app: web.Application) -> None:
        task = app.get(key)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
