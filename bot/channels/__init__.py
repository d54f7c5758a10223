"""Channels: one file each, all behind ``handoff.delivery.Channel``.

Adding one: write ``bot/channels/<name>.py`` with a class that has ``kind``, ``supports_buttons``,
``async send(OutboundMessage) -> SendResult`` and ``setup(app, handle, *, polls)``; turn what the provider
posts into an ``InboundMessage`` and hand it to ``handle`` (``bot.channels.base.Handler``: it returns once
the delivery is kept, and the turn runs in ``bot.inbound``); then add one line to
``bot.channels.registry.build_channels``.
"""

from bot.channels.base import InboundMessage

__all__ = ["InboundMessage"]
