"""Channels: one file each, all behind ``handoff.delivery.Channel``.

Adding one: write ``bot/channels/<name>.py`` with a class that has ``kind``, ``supports_buttons`` and
``async send(OutboundMessage) -> SendResult``, turn what the provider posts into an ``InboundMessage`` and
hand it to ``bot.flow.handle_inbound``; then add one line to ``bot.app.build_channels``.
"""

from bot.channels.base import InboundMessage

__all__ = ["InboundMessage"]
