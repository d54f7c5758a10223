"""An in-memory channel that collects what is sent: for tests, benchmarks and trying the flow in a REPL."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace

from bot.channels.registry import CHANNELS
from handoff.delivery import Capabilities, OutboundMessage, SendResult
from models import ChannelKind


@dataclass(slots=True)
class MemoryChannel:
    """Stands in for the channel of its ``kind``: it declares that channel's capabilities, with buttons as
    ``supports_buttons`` says (a test may take them away)."""

    kind: ChannelKind = ChannelKind.WEBCHAT
    supports_buttons: bool = True
    sent: list[OutboundMessage] = field(default_factory=list)
    _new: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def capabilities(self) -> Capabilities:
        declared = next((cls.capabilities for cls in CHANNELS if cls.kind == self.kind), Capabilities())
        return replace(declared, buttons=self.supports_buttons)

    async def send(self, message: OutboundMessage) -> SendResult:
        self.sent.append(message)
        self._new.set()
        return SendResult(provider_message_id=f"mem-{message.message_id}")

    def texts(self, recipient: str | None = None) -> list[str]:
        return [m.text for m in self.sent if recipient is None or m.recipient == recipient]

    def clear(self) -> None:
        self.sent.clear()
