"""Which channels run, decided by configuration alone: a channel whose settings are present is on.

``CHANNELS`` lists the channel classes (``bot.channels.base.ChannelBase``); each builds itself from the
settings (``from_settings``, None when unconfigured; the web chat is always on) and mounts its own routes,
webhooks and pollers (``setup``), handing what it receives to the one ``Handler``. Adding a channel is its
file in bot/channels and one line here.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from bot.channels.base import ChannelBase, Handler
from bot.channels.mail import EmailChannel
from bot.channels.telegram import TelegramChannel
from bot.channels.webchat import WebChatChannel
from bot.channels.whatsapp import WhatsAppChannel
from bot.config import Settings
from handoff.attachments import AttachmentStore
from handoff.delivery import ChannelRegistry
from handoff.outbox import running_worker

log = logging.getLogger(__name__)

CHANNELS: tuple[type[ChannelBase], ...] = (WebChatChannel, TelegramChannel, WhatsAppChannel, EmailChannel)


def build_channels(settings: Settings, store: AttachmentStore | None = None) -> list[ChannelBase]:
    store = store or settings.attachment_store()
    return [channel for cls in CHANNELS if (channel := cls.from_settings(settings, store)) is not None]


def setup_channels(
    app: web.Application, settings: Settings, *, registry: ChannelRegistry, handle: Handler,
    store: AttachmentStore | None = None, worker: bool = True,
) -> list[ChannelBase]:
    """Build the configured channels, register them for delivery, mount their routes and webhooks, and
    run the outbox worker that retries what they could not take at once."""
    channels = build_channels(settings, store)
    started: list[ChannelBase] = []
    for channel in channels:
        if registry.get(channel.kind) is not None:
            # A channel passed to create_app explicitly (a test's fake) wins over configuration.
            log.info("channel %s given explicitly; configured one not started", channel.kind.value)
            continue
        registry.add(channel)
        channel.setup(app, handle, polls=worker)
        started.append(channel)
        log.info("channel %s enabled", channel.kind.value)
    # A web process beside a ``carecenter worker`` leaves the retries to it; the web chat alone has none.
    if worker and any(channel.retried for channel in started):
        # Appended after the channels' own contexts, so the worker stops before their clients close.
        async def outbox(_app: web.Application) -> AsyncIterator[None]:
            async with running_worker(registry=registry):
                yield

        app.cleanup_ctx.append(outbox)
    return started
