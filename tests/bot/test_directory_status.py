"""A directory entry that is not active (graduated, inactive, unknown) is never proven: a claim at most
(DIRECTORY_INACTIVE=claimed, the default) or refused with a clear answer (refuse)."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, Settings
from bot.directory import DirectoryRecord, InactivePolicy, import_records
from bot.i18n import catalog
from models import ChannelIdentity, ChannelKind, Contact, ContactRole, HandoffReason, ProofLevel, Ticket
from tests.conftest import FlowHarness

GRADUATE = DirectoryRecord("13518001", "Sari Lulus (Fiktif)", "sari.lulus@students.itb.ac.id", ContactRole.STUDENT,
                           "STEI", "Teknik Informatika", "graduated")


def test_the_setting_defaults_to_claimed_and_names_itself_when_wrong() -> None:
    assert Settings.from_env({}, env_file=None).directory_inactive == InactivePolicy.CLAIMED
    assert Settings.from_env({"DIRECTORY_INACTIVE": " Refuse "}, env_file=None).directory_inactive == (
        InactivePolicy.REFUSE)
    with pytest.raises(ConfigError, match="DIRECTORY_INACTIVE"):
        Settings.from_env({"DIRECTORY_INACTIVE": "allow"}, env_file=None)


async def test_claimed_an_inactive_number_is_a_claim_like_any_other(flow: FlowHarness) -> None:
    await import_records([GRADUATE])
    await flow.send("halo")
    await flow.send("13518001")
    assert flow.replies() == [catalog("id").t("identity_noted"), catalog("id").t("ask_question")]
    identity = await ChannelIdentity.get()
    assert (identity.proof, identity.claimed_number) == (ProofLevel.CLAIMED, "13518001")


async def test_claimed_mail_from_an_inactive_persons_address_proves_nothing(flow: FlowHarness) -> None:
    await import_records([GRADUATE])
    replies = await flow.on(ChannelKind.EMAIL, GRADUATE.email, "lupa password", email=GRADUATE.email)
    assert replies[0].startswith("Halo!")  # a stranger: greeted, the notice, asked who they are
    assert not any("Sari" in r for r in replies)
    identity = await ChannelIdentity.get(channel=ChannelKind.EMAIL)
    assert (identity.proof, identity.claimed_number) == (ProofLevel.CLAIMED, "13518001")
    assert not await Contact.exists(id_number="13518001")


async def test_refuse_says_why_keeps_the_question_and_a_person_can_still_be_reached(flow: FlowHarness) -> None:
    await import_records([GRADUATE])
    flow.deps.inactive = InactivePolicy.REFUSE
    await flow.send("halo")
    await flow.send("13518001 nilai saya hilang")
    (reply,) = flow.replies()
    assert reply.startswith(catalog("id").t("identity_refused"))
    assert "Sari" not in reply
    identity = await ChannelIdentity.get()
    assert (identity.proof, identity.claimed_number) == (ProofLevel.NONE, None)
    # The refused tries count towards the hand-off, which carries the question to an agent.
    await flow.send("13518001")
    await flow.send("13518001")
    ticket = await Ticket.get()
    assert (ticket.reason, ticket.unverified) == (HandoffReason.UNVERIFIED, True)
    assert ticket.subject == "nilai saya hilang"
