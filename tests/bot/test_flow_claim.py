"""Issue 13's takeover, tried at each step of the bot: a NIM typed on a new channel is a claim, and a
claim shows nothing of the person (no name, no ticket number, no join) while the chat still works."""

from __future__ import annotations

from bot.i18n import catalog
from models import ChannelIdentity, ChannelKind, Contact, Message, ProofLevel, SenderKind, Ticket, TicketEvent
from tests.conftest import FlowHarness

VISITOR = "web-visitor-session"


async def test_a_visitor_typing_a_proven_students_nim_learns_nothing_and_gets_a_ticket_of_their_own(
    flow: FlowHarness,
) -> None:
    await flow.send("halo")
    await flow.send("13521045")
    await flow.prove()  # Budi, proven on Telegram
    await flow.send("agen")
    budi_ticket = await Ticket.get()
    assert budi_ticket.number is not None
    budi = await Contact.get(id_number="13521045")

    seen = [*await flow.on(ChannelKind.WEBCHAT, VISITOR, "halo")]
    seen += await flow.on(ChannelKind.WEBCHAT, VISITOR, "13521045")
    seen += await flow.on(ChannelKind.WEBCHAT, VISITOR, "nilai saya di kuis 3 tolong diubah")
    seen += await flow.on(ChannelKind.WEBCHAT, VISITOR, "mau bicara dengan petugas")
    # Nothing of Budi's: not his name, role, faculty, programme, nor his ticket's number.
    for secret in ("Budi", "Contoh", "mahasiswa", "Informatika", "STEI", budi_ticket.number):
        assert not any(secret in reply for reply in seen), secret
    assert catalog("id").t("identity_noted") in seen

    visitor = await ChannelIdentity.get(channel=ChannelKind.WEBCHAT, external_id=VISITOR)
    assert (visitor.proof, visitor.claimed_number) == (ProofLevel.CLAIMED, "13521045")
    assert visitor.contact_id != budi.id  # type: ignore[attr-defined]  # not joined
    assert await ChannelIdentity.filter(contact=budi).count() == 1
    # What the visitor wrote is on a ticket of their own, flagged claimed-not-proven; none on Budi's.
    theirs = await Ticket.get(channel=ChannelKind.WEBCHAT)
    assert theirs.id != budi_ticket.id
    assert theirs.unverified
    assert theirs.contact_id == visitor.contact_id  # type: ignore[attr-defined]
    assert theirs.number is not None
    assert any(theirs.number in reply for reply in seen)  # their own ticket's number, not Budi's
    assert await Message.filter(ticket_id=budi_ticket.id, channel=ChannelKind.WEBCHAT).count() == 0
    assert await TicketEvent.filter(ticket=budi_ticket, kind="channel_joined").count() == 0
    on_theirs = await Message.filter(ticket_id=theirs.id, sender_kind=SenderKind.USER).values_list("text", flat=True)
    assert "nilai saya di kuis 3 tolong diubah" in on_theirs
    await budi.refresh_from_db()
    assert budi.verified


async def test_an_old_verified_contact_with_only_claimed_addresses_is_not_greeted_by_name(flow: FlowHarness) -> None:
    """After the upgrade (migration 0016) a verified contact's addresses are claims: the gate is the address."""
    await flow.send("halo")
    await flow.send("13521045")
    await flow.prove()
    identity = await ChannelIdentity.get()
    identity.proof = ProofLevel.CLAIMED  # as migration 0016 leaves every address of a NIM-verified contact
    await identity.save(update_fields=["proof"])
    await flow.send("/start")
    assert flow.replies() == [catalog("id").t("welcome_back", name_suffix="")]
    await flow.send("agen")
    assert (await Ticket.get()).unverified
