"""The turn object: one inbound message being handled, the state it reads (the conversation, the address,
the contact, the time) and the replies it sends, plus asking the classifier off the event loop.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from bot.channels.base import MAX_CLASSIFIED_CHARS
from bot.conversation.deps import FlowDeps
from bot.conversation.ingest import introduced
from bot.i18n import Catalog, catalog
from bot.names import given_name
from handoff.contacts import is_proven
from handoff.delivery import Button, send_text
from models import ChannelIdentity, Contact, Conversation, SenderKind, Ticket
from nlp import Prediction


class Turn:
    """One inbound message being handled: the state it reads and the replies it sends."""

    def __init__(
        self, deps: FlowDeps, conversation: Conversation, identity: ChannelIdentity, contact: Contact, now: datetime
    ) -> None:
        self.deps = deps
        self.conversation = conversation
        self.identity = identity
        self.contact = contact
        self.now = now

    @property
    def proven(self) -> bool:
        """May this address be shown the person's name, role and tickets (handoff.contacts.is_proven)."""
        return is_proven(self.identity)

    @property
    def settled(self) -> bool:
        """Whether the bot asks this address who they are (see ``ingest.introduced``)."""
        return introduced(self.contact)

    @property
    def cat(self) -> Catalog:
        return catalog(self.conversation.language)

    async def say(self, key: str, *, buttons: tuple[Button, ...] = (), **values: object) -> None:
        await self.say_text(self.cat.t(key, **values), buttons=buttons)

    async def say_text(self, text: str, *, buttons: tuple[Button, ...] = (), ticket: Ticket | None = None) -> None:
        await send_text(
            registry=self.deps.registry,
            conversation=self.conversation,
            text=text,
            sender_kind=SenderKind.BOT,
            buttons=buttons,
            ticket=ticket,
        )

    def first_name(self) -> str:
        """The given name without titles or degrees (bot.names), only on a proven address: an old verified
        contact may have merely claimed addresses (issue 13)."""
        return given_name(self.contact.name) if self.contact.name and self.proven else ""

    def name_suffix(self) -> str:
        """", Kak Budi" / ", Bapak/Ibu Siti" (the catalogue's salutation for the role), or "" without a name
        (none known, or not one this address may be shown)."""
        name = self.first_name()
        if not name:
            return ""
        role = self.contact.role.value if self.contact.role else "other"
        return f", {self.cat.t(f'salutation_{role}', name=name)}"


async def predict(turn: Turn, text: str, *, exclude: tuple[str, ...] = ()) -> Prediction:
    # In a thread: up to MAX_CLASSIFIED_CHARS of text costs the classifier milliseconds (tens for text that
    # Unicode normalisation lengthens), time the event loop owes every other user and /healthz.
    wanted = text[:MAX_CLASSIFIED_CHARS]
    if exclude:
        return await asyncio.to_thread(lambda: turn.deps.classifier.predict(wanted, exclude=exclude))
    return await asyncio.to_thread(turn.deps.classifier.predict, wanted)
