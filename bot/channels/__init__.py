"""Channels: one file each, all behind one seam, ``bot.channels.base.ChannelBase``; the web chat is one of them.

Adding one: write ``bot/channels/<name>.py`` with a ``ChannelBase`` subclass: its ``kind`` (a
``models.ChannelKind`` value, which needs its migration), its ``capabilities``, ``from_settings`` (None when
unconfigured), ``setup(app, handle, *, polls)`` and ``async send(OutboundMessage) -> SendResult``. Turn what
the provider posts into an ``InboundMessage`` and hand it to ``handle`` (``bot.channels.base.Handler``, the
one door: it returns once the delivery is kept, and the turn runs in ``bot.inbound``; the web chat asks for
the turn in-line); then add the class to ``bot.channels.registry.CHANNELS``. See docs/architecture.md.
"""

from bot.channels.base import InboundMessage

__all__ = ["InboundMessage"]
