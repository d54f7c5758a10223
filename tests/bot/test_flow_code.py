"""Proof by a one-time code (issue 13): the code goes by real SMTP (aiosmtpd) to the campus address on record
for the claimed number, and only the mailbox's holder can prove the address with it."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import FLOW, create_app
from bot.config import Settings
from bot.i18n import catalog
from handoff.contacts import revoke
from handoff.escalation_mail import SCRUBBED, drain
from handoff.proof_codes import MAX_TRIES, PAUSE, PER_ADDRESS, PER_NUMBER, SUPERSEDED, VALIDITY
from models import (
    ChannelIdentity,
    ChannelKind,
    Contact,
    Conversation,
    DeliveryStatus,
    EscalationMail,
    FlowStep,
    Message,
    ProofLevel,
    ProofMethod,
    SenderKind,
    Ticket,
)
from tests.conftest import FlowHarness, ScriptedClassifier
from tests.fakes.mail import SmtpSink, smtp_sink
from tests.handoff.test_escalation_mail import mailer

__all__ = ["smtp_sink"]

BUDI = "13521045"
BUDI_MAIL = "budi.contoh@students.itb.ac.id"
UNKNOWN = "13521099"  # a well-formed NIM the directory does not know
T = catalog("id").t
MINUTES = int(VALIDITY.total_seconds() // 60)
PAUSED = T("code_paused", minutes=int(PAUSE.total_seconds() // 60))


async def claim(flow: FlowHarness, number: str = BUDI, *, user: str = "42") -> list[str]:
    flow.deps.code_mail = True
    await flow.send("halo", user=user)
    await flow.send(number, user=user)
    return flow.replies()


async def mailed_codes(sink: SmtpSink, to: str = BUDI_MAIL) -> list[str]:
    """Send what the outbox holds through the real SMTP server; the codes the mailbox ``to`` received."""
    await drain(mailer=mailer(sink.port), now=datetime.now(UTC))
    return [re.findall(r"\b(\d{6})\b", text)[0] for text in sink.texts(to)]


async def test_the_right_code_proves_the_address_and_the_person_is_greeted_by_name(
    flow: FlowHarness, smtp_sink: SmtpSink
) -> None:
    replies = await claim(flow)
    assert replies[0] == T("identity_noted")
    assert replies[1] == T("code_offer")
    assert not any("Budi" in r or "budi" in r for r in replies)
    await flow.send("kirim kode")
    assert flow.replies() == [T("code_sent", minutes=MINUTES)]
    [code] = await mailed_codes(smtp_sink)
    mail = smtp_sink.received[0]
    assert mail.get_body(preferencelist=("html",)) is not None  # plain text and HTML
    assert "verification code" in str(mail.get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]
    # Sent: the outbox keeps no code.
    row = await EscalationMail.get(kind="proof_code")
    assert row.ticket_id is None
    assert row.body == SCRUBBED
    assert row.html is None
    await flow.send(code)
    assert flow.replies()[0] == T("code_proven", name_suffix=", Kak Budi")
    identity = await ChannelIdentity.get(channel=ChannelKind.TELEGRAM, external_id="42")
    assert (identity.proof, identity.proof_method) == (ProofLevel.PROVEN, ProofMethod.CODE)
    assert identity.contact_id == (await Contact.get(id_number=BUDI)).id  # type: ignore[attr-defined]
    # The code is in the mailbox only, not in the transcript.
    assert not await Message.filter(text__contains=code).exists()


async def test_five_wrong_codes_kill_the_code_and_pause_the_address(flow: FlowHarness, smtp_sink: SmtpSink) -> None:
    await claim(flow)
    await flow.send("kirim kode")
    [code] = await mailed_codes(smtp_sink)
    wrong = "000000" if code != "000000" else "111111"
    for left in range(MAX_TRIES - 1, 0, -1):
        await flow.send(wrong)
        assert flow.replies() == [T("code_wrong", left=left)]
    await flow.send(wrong)
    assert flow.replies() == [PAUSED]
    await flow.send(code)  # the right one, too late: dead, and the address waits
    assert flow.replies() == [PAUSED]
    await flow.send("kirim kode")
    assert flow.replies() == [PAUSED]
    assert (await ChannelIdentity.get()).proof == ProofLevel.CLAIMED
    flow.now += PAUSE + timedelta(seconds=1)
    await flow.send("kirim kode")
    assert flow.replies() == [T("code_sent", minutes=MINUTES)]
    [_, fresh] = await mailed_codes(smtp_sink)
    await flow.send(fresh)
    assert flow.replies()[0] == T("code_proven", name_suffix=", Kak Budi")


async def test_an_expired_code_is_refused_with_the_way_to_a_new_one(flow: FlowHarness, smtp_sink: SmtpSink) -> None:
    await claim(flow)
    await flow.send("kirim kode")
    [code] = await mailed_codes(smtp_sink)
    flow.now += VALIDITY + timedelta(seconds=1)
    await flow.send(code)
    assert flow.replies() == [T("code_dead")]
    assert (await ChannelIdentity.get()).proof == ProofLevel.CLAIMED


async def test_a_used_code_does_not_prove_again(flow: FlowHarness, smtp_sink: SmtpSink) -> None:
    await claim(flow)
    await flow.send("kirim kode")
    [code] = await mailed_codes(smtp_sink)
    await flow.send(code)
    identity = await ChannelIdentity.get()
    await revoke(identity=identity)  # an agent revokes the address; the old mail is still in the mailbox
    await Conversation.filter(identity=identity).update(step=FlowStep.AWAITING_CODE)
    await flow.send(code)
    assert flow.replies() == [T("code_dead")]
    assert (await ChannelIdentity.get()).proof == ProofLevel.CLAIMED


async def test_a_code_made_for_another_address_never_matches(flow: FlowHarness, smtp_sink: SmtpSink) -> None:
    await claim(flow, user="42")
    await flow.send("kirim kode", user="42")
    await claim(flow, user="43")
    await flow.send("kirim kode", user="43")
    first, second = await mailed_codes(smtp_sink)
    if first != second:  # one in a million they are the same digits; then each is its own address's
        await flow.send(first, user="43")
        assert flow.replies() == [T("code_wrong", left=MAX_TRIES - 1)]
    await flow.send(second, user="43")
    assert flow.replies()[0] == T("code_proven", name_suffix=", Kak Budi")
    first_identity = await ChannelIdentity.get(external_id="42")
    assert first_identity.proof == ProofLevel.CLAIMED


async def test_a_new_code_kills_the_old_one(flow: FlowHarness, smtp_sink: SmtpSink) -> None:
    await claim(flow)
    await flow.send("kirim kode")
    [old] = await mailed_codes(smtp_sink)  # the first code's mail went out
    await flow.send("kirim kode")
    old_again, new = await mailed_codes(smtp_sink)
    assert old_again == old
    if old != new:
        await flow.send(old)
        assert flow.replies() == [T("code_wrong", left=MAX_TRIES - 1)]
    await flow.send(new)
    assert flow.replies()[0] == T("code_proven", name_suffix=", Kak Budi")


async def test_a_waiting_mail_of_an_older_code_is_dropped_not_sent_after_the_new_one(
    flow: FlowHarness, smtp_sink: SmtpSink
) -> None:
    await claim(flow)
    await flow.send("kirim kode")
    await flow.send("kirim kode")  # the first mail still waits (the server was not reached yet)
    [code] = await mailed_codes(smtp_sink)
    first, second = await EscalationMail.filter(kind="proof_code").order_by("id")
    assert (first.status, first.body, first.html) == (DeliveryStatus.FAILED, SUPERSEDED, None)
    assert second.status == DeliveryStatus.SENT
    await flow.send(code)
    assert flow.replies()[0] == T("code_proven", name_suffix=", Kak Budi")


async def test_a_question_sent_while_waiting_is_answered_after_the_proof(
    flow: FlowHarness, smtp_sink: SmtpSink
) -> None:
    await claim(flow)
    await flow.send("kirim kode")
    await flow.send("saya lupa password edunex")
    assert flow.replies() == [T("code_reminder")]
    [code] = await mailed_codes(smtp_sink)
    await flow.send(code)
    replies = flow.replies()
    assert replies[0] == T("code_proven", name_suffix=", Kak Budi")
    assert replies[-1] == T("did_it_help")  # the kept question, answered from its template
    conversation = await Conversation.get()
    assert conversation.pending_question == "saya lupa password edunex"  # now the one the feedback is about


async def test_an_unknown_number_hears_the_same_words_and_nothing_is_mailed(
    flow: FlowHarness, smtp_sink: SmtpSink
) -> None:
    known = await claim(flow, BUDI, user="42")
    await flow.send("kirim kode", user="42")
    known += flow.replies()
    unknown = await claim(flow, UNKNOWN, user="43")
    await flow.send("kirim kode", user="43")
    unknown += flow.replies()
    assert unknown == known
    await mailed_codes(smtp_sink)
    assert [to for _sender, to in smtp_sink.envelopes] == [[BUDI_MAIL]]  # Budi's only
    await flow.send("123456", user="43")
    assert flow.replies() == [T("code_wrong", left=MAX_TRIES - 1)]


async def test_a_visitor_claiming_budis_nim_cannot_prove_it_without_his_mailbox(
    flow: FlowHarness, smtp_sink: SmtpSink
) -> None:
    flow.deps.code_mail = True
    await flow.send("halo")
    await flow.send(BUDI)
    await flow.prove()  # Budi, proven on Telegram, with a ticket open
    await flow.send("agen")
    budi_ticket = await Ticket.get()
    visitor = "web-visitor"
    seen = [*await flow.on(ChannelKind.WEBCHAT, visitor, "halo")]
    seen += await flow.on(ChannelKind.WEBCHAT, visitor, BUDI)
    seen += await flow.on(ChannelKind.WEBCHAT, visitor, "kirim kode")
    codes = await mailed_codes(smtp_sink)
    assert len(codes) == 1  # to Budi's mailbox, which the visitor does not hold
    guesses = [g for g in ("000000", "111111", "222222", "333333", "444444", "555555") if g != codes[0]]
    for guess in guesses[:MAX_TRIES]:
        seen += await flow.on(ChannelKind.WEBCHAT, visitor, guess)
    seen += await flow.on(ChannelKind.WEBCHAT, visitor, codes[0])  # even the right one, after the pause began
    assert seen[-1] == PAUSED
    for secret in ("Budi", "Contoh", "budi.contoh", budi_ticket.number or "-"):
        assert not any(secret in reply for reply in seen), secret
    identity = await ChannelIdentity.get(channel=ChannelKind.WEBCHAT, external_id=visitor)
    assert identity.proof == ProofLevel.CLAIMED
    assert await Message.filter(ticket_id=budi_ticket.id, channel=ChannelKind.WEBCHAT).count() == 0


async def test_a_proven_person_with_an_open_ticket_joins_it_after_the_code(
    flow: FlowHarness, smtp_sink: SmtpSink
) -> None:
    flow.deps.code_mail = True
    await flow.send("halo")
    await flow.send(BUDI)
    await flow.prove()
    await flow.send("agen")
    ticket = await Ticket.get()
    replies = [*await flow.on(ChannelKind.WEBCHAT, "budi-laptop", "halo")]
    replies += await flow.on(ChannelKind.WEBCHAT, "budi-laptop", BUDI)
    replies += await flow.on(ChannelKind.WEBCHAT, "budi-laptop", "kirim kode")
    replies += await flow.on(ChannelKind.WEBCHAT, "budi-laptop", "apakah tiket saya sudah dibaca?")
    [code] = await mailed_codes(smtp_sink)
    replies = await flow.on(ChannelKind.WEBCHAT, "budi-laptop", code)
    assert replies == [T("code_proven", name_suffix=", Kak Budi"), T("ticket_joined", ticket=ticket.number)]
    kept = await Message.filter(ticket_id=ticket.id, channel=ChannelKind.WEBCHAT, sender_kind=SenderKind.USER)
    assert "apakah tiket saya sudah dibaca?" in [m.text for m in kept]


async def test_without_smtp_no_code_is_offered(flow: FlowHarness) -> None:
    await flow.send("halo")
    await flow.send(BUDI)
    assert T("code_offer") not in flow.replies()
    await flow.send("kirim kode")
    assert T("code_sent", minutes=MINUTES) not in flow.replies()
    assert not await EscalationMail.exists()


async def test_no_code_number_or_address_is_logged_at_info(
    flow: FlowHarness, smtp_sink: SmtpSink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await claim(flow)
    await flow.send("kirim kode")
    [code] = await mailed_codes(smtp_sink)
    await flow.send("999999" if code != "999999" else "888888")
    await flow.send(code)
    assert flow.replies()[0] == T("code_proven", name_suffix=", Kak Budi")
    ours = [r.getMessage() for r in caplog.records
            if r.levelno >= logging.INFO and r.name.startswith(("bot", "handoff", "models"))]
    assert any("proof code" in line for line in ours)  # the steps are logged, by row id
    for secret in (code, BUDI, BUDI_MAIL, "budi"):
        assert not any(secret in line for line in ours), secret


async def test_a_number_gets_at_most_three_mails_an_hour_and_the_fourth_asker_hears_the_same(
    flow: FlowHarness, smtp_sink: SmtpSink
) -> None:
    heard = []
    for user in ("41", "42", "43", "44"):
        await claim(flow, user=user)
        await flow.send("kirim kode", user=user)
        heard.append(flow.replies())
    assert heard.count([T("code_sent", minutes=MINUTES)]) == 4
    assert len(await mailed_codes(smtp_sink)) == PER_NUMBER
    flow.now += timedelta(hours=1, seconds=1)
    await flow.send("kirim kode", user="44")
    assert flow.replies() == [T("code_sent", minutes=MINUTES)]
    assert len(await mailed_codes(smtp_sink)) == PER_NUMBER + 1


async def test_an_address_may_ask_three_codes_an_hour(flow: FlowHarness, smtp_sink: SmtpSink) -> None:
    await claim(flow)
    for _ in range(PER_ADDRESS):
        await flow.send("kirim kode")
        assert flow.replies() == [T("code_sent", minutes=MINUTES)]
    await flow.send("kirim kode")
    assert flow.replies() == [T("code_too_many")]
    # Three codes made and mailed; the mails that still waited when a newer code came were dropped, so the
    # mailbox receives the live code only.
    assert await EscalationMail.filter(kind="proof_code").count() == PER_ADDRESS
    assert len(await mailed_codes(smtp_sink)) == 1


async def test_a_redelivered_request_queues_one_mail(flow: FlowHarness, smtp_sink: SmtpSink) -> None:
    """The mail is queued in the turn's transaction: a message handled twice (a webhook's retry) mails once."""
    await claim(flow)
    await flow.send("kirim kode", provider_id="tg-retried")
    await flow.send("kirim kode", provider_id="tg-retried")
    assert await EscalationMail.filter(kind="proof_code").count() == 1
    assert len(await mailed_codes(smtp_sink)) == 1


@pytest.mark.parametrize("smtp", [{}, {"host": "127.0.0.1"}])
async def test_the_app_offers_codes_only_with_an_smtp_server(
    aiohttp_client: Any, db_url: str, tmp_path: Path, smtp: dict[str, str]
) -> None:
    app = create_app(Settings(data_dir=tmp_path, database_url=db_url, smtp=smtp), classifier=ScriptedClassifier(),
                     scheduler=False)
    await aiohttp_client(app)
    assert app[FLOW].code_mail is bool(smtp)


async def test_a_code_mail_the_server_did_not_take_in_time_is_given_up_not_sent_late(
    flow: FlowHarness, smtp_sink: SmtpSink
) -> None:
    await claim(flow)
    await flow.send("kirim kode")
    row = await EscalationMail.get(kind="proof_code")
    assert await drain(mailer=mailer(smtp_sink.port), now=row.created_at + VALIDITY) == 0
    row = await EscalationMail.get(id=row.id)
    assert (row.status, row.body) == (DeliveryStatus.FAILED, SCRUBBED)
    assert smtp_sink.received == []
