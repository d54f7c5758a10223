"""People and their addresses: joining the contact of a newly proven address to the person's contact.

One place for the join, because the bot (a person proves an address) and the console (an agent links a
contact they found in the directory) both do it, and a join that forgets one table loses that table's
rows with the deleted contact (its foreign keys cascade).
"""

from __future__ import annotations

from tortoise.transactions import in_transaction

from models import ChannelIdentity, Contact, Conversation, Ticket


async def merge_contacts(*, source: Contact, into: Contact) -> Contact:
    """Move everything of ``source`` (addresses, conversations, tickets) to ``into`` and delete ``source``.

    Returns ``into``. Runs in one transaction (a savepoint inside the caller's), so a failure leaves both
    contacts as they were.
    """
    if source.id == into.id:
        return into
    async with in_transaction():
        await ChannelIdentity.filter(contact_id=source.id).update(contact_id=into.id)
        await Conversation.filter(contact_id=source.id).update(contact_id=into.id)
        # Deleting the newer contact would take its tickets with it (cascade): they are the person's.
        await Ticket.filter(contact_id=source.id).update(contact_id=into.id)
        if source.phone and not into.phone:
            into.phone = source.phone
            await into.save(update_fields=["phone", "updated_at"])
        await source.delete()
    return into
