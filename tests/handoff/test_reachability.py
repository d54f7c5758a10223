"""The channels agents are offered for a person (issue 13's leftover): a ticket's "other channels" are the
addresses a reply may go to, the ticket's own and its person's PROVEN ones, never an address that only
claimed the number (no reply can go there, so offering it would send the agent to a stranger's session).
Real database (SQLite, and PostgreSQL where one answers), the real flow, memory channels."""

from __future__ import annotations

from handoff.reachability import contact_reach, mark_unreachable, ticket_reach, ticket_reaches
from handoff.tickets import reply_targets
from models import ChannelIdentity, ChannelKind, ProofLevel, Ticket, TicketEvent
from tests.conftest import FlowHarness
from tests.handoff.test_reply_target import student_ticket, visitor_claims_budi


async def claimed_on_budis_contact(flow: FlowHarness, ticket: Ticket) -> ChannelIdentity:
    """A stranger's web chat that typed Budi's NIM, left on Budi's contact as migration 0016's back-fill
    leaves an address a NIM alone had joined: on the person, but only claimed."""
    visitor = await visitor_claims_budi(flow)
    await ChannelIdentity.filter(id=visitor.id).update(contact_id=ticket.contact_id)
    visitor = await ChannelIdentity.get(id=visitor.id)
    assert visitor.proof == ProofLevel.CLAIMED
    return visitor


async def with_conversation(ticket: Ticket) -> Ticket:
    return await Ticket.get(id=ticket.id).prefetch_related("conversation")


async def test_a_claimed_address_of_the_person_is_not_among_the_other_channels(flow: FlowHarness) -> None:
    ticket, telegram = await student_ticket(flow)
    await claimed_on_budis_contact(flow, ticket)

    reach = (await ticket_reaches([await with_conversation(ticket)]))[ticket.id]
    assert (reach.reachable, reach.unreachable) == ((ChannelKind.TELEGRAM,), ())
    # The same set as the addresses a reply may go to: one rule.
    assert [t.identity.id for t in await reply_targets(ticket)] == [telegram.id]
    # Without a ticket (the API's contact figure) only proven addresses count.
    assert (await contact_reach(ticket.contact_id)).reachable == (ChannelKind.TELEGRAM,)


async def test_the_tickets_own_address_is_offered_even_when_only_claimed(flow: FlowHarness) -> None:
    await flow.on(ChannelKind.WEBCHAT, "visitor-2", "halo")
    await flow.on(ChannelKind.WEBCHAT, "visitor-2", "13521045")
    await flow.on(ChannelKind.WEBCHAT, "visitor-2", "agen")
    ticket = await Ticket.get(conversation__identity__external_id="visitor-2")
    own = await ChannelIdentity.get(channel=ChannelKind.WEBCHAT, external_id="visitor-2")
    assert own.proof == ProofLevel.CLAIMED

    reach = (await ticket_reaches([await with_conversation(ticket)]))[ticket.id]
    assert (reach.reachable, reach.unreachable) == ((ChannelKind.WEBCHAT,), ())
    assert await ticket_reach(await Ticket.get(id=ticket.id)) == reach
    # Without the ticket, the unproven address is no channel of anyone's.
    assert (await contact_reach(ticket.contact_id)).reachable == ()


async def test_a_claimed_address_going_unreachable_tells_only_its_own_tickets(flow: FlowHarness) -> None:
    ticket, _ = await student_ticket(flow)
    visitor = await claimed_on_budis_contact(flow, ticket)

    # Budi's ticket never offered that address, so its failure is none of Budi's ticket's business.
    assert await mark_unreachable(identity_id=visitor.id, reason="blocked") == []
    assert not await TicketEvent.filter(ticket_id=ticket.id, kind="unreachable").exists()
    reach = (await ticket_reaches([await with_conversation(ticket)]))[ticket.id]
    assert (reach.reachable, reach.unreachable) == ((ChannelKind.TELEGRAM,), ())
