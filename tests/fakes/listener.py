"""A loopback listener that records every request it gets: where a refused fetch must never arrive.

It answers every path with a small PNG (the type a media item declares), so a fetch that wrongly reaches
it would also be stored: the tests see both the hit and the kept bytes.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

BAIT = b"\x89PNG\r\n\x1a\n internal data that must never be fetched"


@dataclass(frozen=True, slots=True)
class Hit:
    host: str
    path: str
    authorization: str


@dataclass
class Listener:
    port: int = 0
    hits: list[Hit] = field(default_factory=list)
    # Also listening on [::1] (same port) when the machine has IPv6 loopback.
    ipv6: bool = False

    async def handle(self, request: web.Request) -> web.Response:
        self.hits.append(Hit(request.host, request.path_qs, request.headers.get("Authorization", "")))
        return web.Response(body=BAIT, content_type="image/png")


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    found = Listener()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", found.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    found.port = runner.addresses[0][1]
    if _ipv6_loopback():
        try:
            await web.TCPSite(runner, "::1", found.port).start()
            found.ipv6 = True
        except OSError:  # the port is taken on ::1 by something else: IPv4 only then
            found.ipv6 = False
    try:
        yield found
    finally:
        await runner.cleanup()
