"""Issue 13 in the console, over HTTP on the real app (SQLite, and PostgreSQL where one answers): where a reply
goes (the ticket's own channel or a proven one, the agent's choice checked by the server), each address's proof
level on the ticket page and the queue, and the agent's verification (SOP step 3) with its refusals."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.config import Settings
from bot.directory import DirectoryRecord, import_records
from handoff import actions
from handoff.contacts import prove
from models import (
    AuditLog,
    ChannelIdentity,
    ChannelKind,
    ContactRole,
    Message,
    ProofLevel,
    ProofMethod,
    SenderKind,
    Ticket,
    TicketEvent,
)
from tests.handoff.console.conftest import Console, Served, serve_console
from tests.handoff.people import BUDI

NOW = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)


@pytest.fixture
async def site(db_url: str, tmp_path: Path) -> AsyncIterator[Served]:
    async with serve_console(tmp_path, Settings(data_dir=tmp_path, database_url=db_url)) as served:
        yield served


@pytest.fixture
async def ana(site: Served) -> AsyncIterator[Console]:
    client = Console(site.url)
    await client.login("ana@cc.test")
    await client.get("/console/queue?lang=en")  # the pages in English from here on (a cookie)
    try:
        yield client
    finally:
        await client.close()


async def address(external_id: str) -> ChannelIdentity:
    return await ChannelIdentity.get(channel=ChannelKind.TELEGRAM, external_id=external_id)


async def takeover(site: Served) -> Ticket:
    """Budi's ticket on his proven Telegram chat; then a stranger's chat types his NIM and writes last."""
    ticket = await site.hand_off(user="777", name="Budi")
    await prove(identity=await address("777"), person=BUDI, method=ProofMethod.CODE, now=NOW)
    await site.say("halo", user="888", name="Orang Lain")
    await site.say("13521045", user="888", name="Orang Lain")
    await site.say("berapa nilai saya?", user="888", name="Orang Lain")
    await actions.take_ticket(ticket_id=ticket.id, agent=site.agent, now=NOW)
    return await Ticket.get(id=ticket.id)


def options(page: str) -> list[str]:
    select = re.search(r'<select name="to" id="reply-to">(.*?)</select>', page, re.S)
    assert select is not None
    return re.findall(r'<option value="(\d+)"', select.group(1))


async def test_the_reply_goes_to_the_proven_chat_and_a_forged_choice_sends_nothing(
    site: Served, ana: Console
) -> None:
    ticket = await takeover(site)
    budi, stranger = await address("777"), await address("888")
    page = await ana.http.get(f"{site.url}/console/t/{ticket.id}")
    text = await page.text()
    assert options(text) == [str(budi.id)]  # the claimed chat is not offered
    assert 'id="reply-to-hint"' in text

    agent_messages = await Message.filter(sender_kind=SenderKind.AGENT).count()
    forged = await ana.post(f"/console/t/{ticket.id}/reply", {"text": "Nilai Anda A.", "to": str(stranger.id)})
    assert forged.status == 400
    assert "nor a proven channel of this person" in await forged.text()
    assert "Nilai Anda A." in await forged.text()  # the agent's words are kept
    nonsense = await ana.post(f"/console/t/{ticket.id}/reply", {"text": "Nilai Anda A.", "to": "x"})
    assert nonsense.status == 400
    assert await Message.filter(sender_kind=SenderKind.AGENT).count() == agent_messages

    sent = await ana.post(f"/console/t/{ticket.id}/reply", {"text": "Nilai Anda A.", "to": str(budi.id)})
    assert sent.status == 303
    assert [m.recipient for m in site.channel.sent if m.text == "Nilai Anda A."] == ["777"]


async def test_the_ticket_page_and_the_queue_show_each_addresses_level(site: Served, ana: Console) -> None:
    ticket = await site.hand_off(user="777", name="Budi")
    await prove(identity=await address("777"), person=BUDI, method=ProofMethod.CODE, now=NOW)
    claimed = await site.hand_off(user="999", name="Tamu", verify=False)
    await Ticket.filter(id=claimed.id).update(unverified=True)  # as the bot files a claim it could not prove
    await ChannelIdentity.filter(external_id="999").update(proof=ProofLevel.CLAIMED, claimed_number="16522101")
    page = await (await ana.http.get(f"{site.url}/console/t/{ticket.id}")).text()
    budi = await address("777")
    item = re.search(rf'<li class="address level-proven" data-address-id="{budi.id}".*?</li>', page, re.S)
    assert item is not None
    assert "proven" in item.group(0)
    assert "code to the campus e-mail" in item.group(0)
    other = await (await ana.http.get(f"{site.url}/console/t/{claimed.id}")).text()
    assert 'data-level="claimed"' in other
    assert "claims number 16522101" in other
    queue = await (await ana.http.get(f"{site.url}/console/queue?view=all")).text()
    rows = re.findall(r'<tr class="row" data-ticket-id="(\d+)">(.*?)</tr>', queue, re.S)
    badges = {int(i): "claimed-unproven" in row for i, row in rows}
    assert badges == {ticket.id: False, claimed.id: True}
    indonesian = await (await ana.http.get(f"{site.url}/console/t/{claimed.id}?lang=id")).text()
    assert "diklaim, belum terbukti" in indonesian


async def test_an_agent_links_an_unverified_contact_found_in_the_directory(site: Served, ana: Console) -> None:
    await import_records([DirectoryRecord("13599999", "Lulu Lulusan (Fiktif)", "lulu@students.itb.ac.id",
                                          ContactRole.STUDENT, "STEI", "Teknik Informatika", "graduated")])
    ticket = await site.hand_off(user="999", name="Tamu", verify=False)
    await actions.take_ticket(ticket_id=ticket.id, agent=site.agent, now=NOW)
    own = await address("999")

    short = await (await ana.http.get(f"{site.url}/console/t/{ticket.id}?q=lu")).text()
    assert "at least 3 characters" in short
    found = await (await ana.http.get(f"{site.url}/console/t/{ticket.id}?q=Lulu")).text()
    hits = re.findall(r'<li class="directory-hit" data-number="(\d+)">(.*?)</li>', found, re.S)
    assert [number for number, _ in hits] == ["13599999"]
    assert "Directory status: graduated" in hits[0][1]
    by_number = await (await ana.http.get(f"{site.url}/console/t/{ticket.id}?q=135")).text()
    assert set(re.findall(r'class="directory-hit" data-number="(\d+)"', by_number)) == {"13521045", "13599999"}

    await site.say("halo", user="555", name="Orang Lain")
    someone_else = await address("555")
    path = f"/console/t/{ticket.id}/identity/prove"
    refusals = {
        "error_reason_required": {"id_number": "13599999", "reason": "   "},
        "error_unknown_number": {"id_number": "99999999", "reason": "telepon ke mahasiswa"},
        "error_not_this_contact": {"id_number": "13599999", "reason": "x", "identity_id": str(someone_else.id)},
        "error_unknown_number ": {"id_number": "x" * 100, "reason": "x"},
    }
    for code, form in refusals.items():
        refused = await ana.post(path, form)
        assert (refused.status, refused.headers["Location"]) == (303, f"/console/t/{ticket.id}?notice={code.strip()}")
    assert (await ana.post(path, {"identity_id": "abc", "reason": "x"})).headers["Location"].endswith(
        "notice=error_not_this_contact")
    assert (await address("999")).proof == ProofLevel.NONE
    no_csrf = await ana.post(path, {"id_number": "13599999", "reason": "x"}, csrf="wrong")
    assert no_csrf.status == 403
    bayu = Console(site.url)
    await bayu.login("bayu@cc.test")
    try:
        assert (await bayu.post(path, {"id_number": "13599999", "reason": "x"})).status == 403
    finally:
        await bayu.close()
    assert not await AuditLog.filter(action="identity.prove").exists()

    linked = await ana.post(path, {"id_number": "13599999", "identity_id": str(own.id),
                                   "reason": "Called the student on the number in SIX"})
    assert linked.headers["Location"] == f"/console/t/{ticket.id}?notice=notice_identity_proven"
    own = await address("999")
    assert (own.proof, own.proof_method, own.claimed_number) == (ProofLevel.PROVEN, ProofMethod.AGENT, "13599999")
    ticket = await Ticket.get(id=ticket.id).prefetch_related("contact")
    assert (ticket.contact.id_number, ticket.contact.verified, ticket.unverified) == ("13599999", True, False)
    audit = await AuditLog.get(action="identity.prove")
    assert (audit.actor_id, audit.data["reason"], audit.data["directory_status"]) == (
        site.agent.id, "Called the student on the number in SIX", "graduated")
    assert await TicketEvent.filter(ticket_id=ticket.id, kind="identity_proven").count() == 1
    page = await (await ana.http.get(f"{site.url}/console/t/{ticket.id}")).text()
    assert "Called the student on the number in SIX" in page  # the reason on the timeline

    revoked = await ana.post(f"/console/t/{ticket.id}/identity/revoke", {"identity_id": str(own.id), "reason": ""})
    assert revoked.headers["Location"].endswith("notice=error_reason_required")
    revoked = await ana.post(f"/console/t/{ticket.id}/identity/revoke",
                             {"identity_id": str(own.id), "reason": "wrong person"})
    assert revoked.headers["Location"].endswith("notice=notice_identity_revoked")
    assert (await address("999")).proof == ProofLevel.CLAIMED
    assert (await Ticket.get(id=ticket.id)).unverified
    assert (await AuditLog.get(action="identity.revoke")).data["reason"] == "wrong person"
    again = await ana.post(f"/console/t/{ticket.id}/identity/revoke", {"identity_id": str(own.id), "reason": "x"})
    assert again.headers["Location"].endswith("notice=error_not_proven")
