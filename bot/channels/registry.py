"""Which provider channels run, decided by configuration alone: a channel whose credentials are set is on.

Adding a channel is one file in bot/channels and one branch in ``build_channels``. Each provider channel
has ``setup(app, handle)``, which adds its webhook routes and opens/closes its client in ``cleanup_ctx``.
The web chat is not built here: it is always on and wired by the app factory.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Protocol

from aiohttp import web

from bot.channels.base import Handler
from bot.config import Settings
from handoff.attachments import AttachmentStore
from handoff.delivery import Channel, ChannelRegistry
from handoff.outbox import running_worker

log = logging.getLogger(__name__)



class ProviderChannel(Channel, Protocol):
    def setup(self, app: web.Application, handle: Handler, *, polls: bool = True) -> None:
        """Mount the webhooks and lifecycle. ``polls``: this process also fetches input itself (the
        IMAP poller, Telegram polling without a PUBLIC_URL): the worker's job when a worker runs."""
        ...


def build_channels(settings: Settings, store: AttachmentStore | None = None) -> list[ProviderChannel]:
    store = store or settings.attachment_store()
    channels: list[ProviderChannel] = []
    if settings.telegram_bot_token:
        from bot.channels.telegram import TelegramChannel

        channels.append(
            TelegramChannel(
                token=settings.telegram_bot_token,
                webhook_secret=settings.telegram_webhook_secret,
                api_base_url=settings.telegram_api_base_url,
                public_url=settings.public_url,
                store=store,
            )
        )
    if settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_whatsapp_from:
        from bot.channels.whatsapp import WhatsAppChannel

        channels.append(
            WhatsAppChannel(
                account_sid=settings.twilio_account_sid,
                auth_token=settings.twilio_auth_token,
                from_number=settings.twilio_whatsapp_from,
                api_base_url=settings.twilio_api_base_url,
                public_url=settings.public_url,
                templates=settings.twilio_templates,
                store=store,
            )
        )
    smtp, imap = settings.smtp, settings.imap
    if smtp.get("host") and (smtp.get("from") or smtp.get("username")) and imap.get("host") and imap.get("username"):
        from bot.channels.mail import EmailChannel, ImapConfig, SmtpConfig

        channels.append(
            EmailChannel(smtp=SmtpConfig.from_settings(smtp), imap=ImapConfig.from_settings(imap), store=store)
        )
    return channels


def setup_channels(
    app: web.Application, settings: Settings, *, registry: ChannelRegistry, handle: Handler,
    store: AttachmentStore | None = None, worker: bool = True,
) -> list[ProviderChannel]:
    """Build the configured channels, register them for delivery, mount their webhooks, and run the
    outbox worker that retries what they could not take at once."""
    channels = build_channels(settings, store)
    started: list[ProviderChannel] = []
    for channel in channels:
        if registry.get(channel.kind) is not None:
            # A channel passed to create_app explicitly (a test's fake) wins over configuration.
            log.info("channel %s given explicitly; configured one not started", channel.kind.value)
            continue
        registry.add(channel)
        channel.setup(app, handle, polls=worker)
        started.append(channel)
        log.info("channel %s enabled", channel.kind.value)
    if started and worker:  # a web process beside a ``carecenter worker`` leaves the retries to it
        # Appended after the channels' own contexts, so the worker stops before their clients close.
        async def outbox(_app: web.Application) -> AsyncIterator[None]:
            async with running_worker(registry=registry):
                yield

        app.cleanup_ctx.append(outbox)
    return started
