"""A channel's reply window: how long after a user's last message we may still write freely.

WhatsApp takes free-form messages only within 24 h of the user's last message; after that only an
approved template goes out. Other channels have no window. This module is the one place that says so
and the one place that computes "can we still reply freely, and until when": the channel (told when the
user last wrote, it asks ``OutboundMessage.can_send_freely`` with its own clock), the window warnings, the
console and the close action ask here instead of repeating the 24 h.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from models import ChannelKind


@dataclass(frozen=True, slots=True)
class ReplyWindow:
    length: timedelta
    # A reply queued a few minutes before the window closes could reach the provider after it: delivery
    # switches to the template this much early.
    margin: timedelta = timedelta(0)


WHATSAPP = ReplyWindow(length=timedelta(hours=24), margin=timedelta(minutes=5))

# The channels that declare a window (today WhatsApp alone); the rest may write freely at any time.
WINDOWS: dict[ChannelKind, ReplyWindow] = {ChannelKind.WHATSAPP: WHATSAPP}


def window_of(channel: ChannelKind) -> ReplyWindow | None:
    return WINDOWS.get(channel)


def closes_at(channel: ChannelKind, last_inbound_at: datetime | None) -> datetime | None:
    """When free replies stop; None when the channel has no window or the user never wrote."""
    window = window_of(channel)
    if window is None or last_inbound_at is None:
        return None
    return last_inbound_at + window.length


def is_open(channel: ChannelKind, last_inbound_at: datetime | None, now: datetime) -> bool:
    """May a free-form message still be written (the console's and the close action's question)?"""
    window = window_of(channel)
    if window is None:
        return True
    return last_inbound_at is not None and now - last_inbound_at < window.length


def can_send_freely(channel: ChannelKind, last_inbound_at: datetime | None, now: datetime) -> bool:
    """May a free-form message be handed to the provider now (the window less its margin)?"""
    window = window_of(channel)
    if window is None:
        return True
    return last_inbound_at is not None and now - last_inbound_at < window.length - window.margin
