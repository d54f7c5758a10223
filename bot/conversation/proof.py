"""Who is writing: looking a number up in the directory within the guessing limits, the claim an identity
makes (consent, ``proof=claimed``), and proof, by the address on record or by a one-time code mailed to
the campus address (issue 13). Nothing personal is said before an address is proven.
"""

from __future__ import annotations

import asyncio
import html
import logging

from bot.conversation.deps import FlowDeps
from bot.conversation.turn import Turn
from bot.directory import DirectoryRecord, InactivePolicy, is_active
from bot.i18n import catalog
from bot.identity import Identity, IdentityKind, ParseResult, is_campus_email, mask, normalise_phone, parse_identity
from handoff import identity_limits, proof_codes
from handoff.contacts import Person, is_proven, prove
from handoff.delivery import Button
from models import ChannelIdentity, ChannelKind, Contact, FlowStep, ProofLevel, ProofMethod

log = logging.getLogger(__name__)


async def prove_by_address(turn: Turn) -> None:
    """Arriving from the address the directory lists for a person proves the address theirs
    (``ProofMethod.ADDRESS``): a mail from the campus mailbox the directory gave them. Then the turn goes on
    as that person's (their open ticket, their name). A person met here for the first time still hears
    the greeting and the privacy notice once, before anything is answered."""
    address = address_on_record(turn.identity, turn.conversation.step, turn.deps.campus_domains)
    if address is None:
        return
    record = await look_up(turn, address)
    if record is None:
        return
    listed = record.phone if address.kind is IdentityKind.PHONE else record.email.lower()
    if not listed or listed != address.value:
        return
    if not is_active(record):
        # An entry that is not active is never proven (DIRECTORY_INACTIVE): a claim at most, as if typed.
        # Not consent: the person has not seen the privacy notice yet, and hears it as anyone does.
        if turn.deps.inactive == InactivePolicy.CLAIMED:
            turn.identity.claimed_number = record.id_number
            turn.identity.proof = ProofLevel.CLAIMED
            await turn.identity.save(update_fields=["claimed_number", "proof"])
        return
    known = await Contact.exists(id_number=record.id_number, consent_at__not_isnull=True)
    await prove_address(turn, record, ProofMethod.ADDRESS, speaking=False)
    # A conversation's first message (``address_on_record``): nothing to ask them, they are known, and
    # the conversation speaks the person's language.
    conversation = turn.conversation
    conversation.language = turn.contact.language
    conversation.step = FlowStep.AWAITING_QUESTION
    await conversation.save(update_fields=["language", "step", "updated_at"])
    if not known:
        await turn.say("greeting")
        await turn.say("privacy_notice")


def address_on_record(identity: ChannelIdentity, step: FlowStep, campus_domains: tuple[str, ...]) -> Identity | None:
    """The sender's own address, when arriving from it can prove them, not yet proven: an e-mail from a
    campus address (the mail channel's address is the sender's; only campus addresses, so the directory is
    not asked about every outside sender), or a WhatsApp number (Twilio's From, which WhatsApp vouches for;
    a Telegram contact card proves nothing, anyone can share any card). Asked at a conversation's first
    message only, not at every message of everyone not proven: the directory may be an HTTP service,
    slow or down, and every later message would wait on it again."""
    if is_proven(identity) or step != FlowStep.NEW:
        return None
    if identity.channel == ChannelKind.EMAIL:
        address = identity.external_id.lower()
        return Identity(IdentityKind.EMAIL, address) if is_campus_email(address, campus_domains) else None
    if identity.channel == ChannelKind.WHATSAPP:
        phone = normalise_phone(identity.external_id.removeprefix("whatsapp:"))
        return Identity(IdentityKind.PHONE, phone) if phone else None
    return None


async def parse_identity_in(turn: Turn, text: str) -> ParseResult:
    # In a thread: linear, but a stored message full of e-mail-like runs is milliseconds of CPU
    # (benchmarks/message_cost_bench.py), time the event loop owes every other user and /healthz.
    return await asyncio.to_thread(
        parse_identity, text, today=turn.now.date(), campus_domains=turn.deps.campus_domains
    )


async def limited_lookup(turn: Turn, identity: Identity) -> DirectoryRecord | None:
    """A number typed by the person, looked up within the guessing limits (handoff.identity_limits). Over a
    limit nothing is looked up, as if the directory did not know it: the answer is the same neutral one."""
    keys = await attempt_keys(turn.deps, turn.identity, identity)
    if not await identity_limits.allowed(keys, now=turn.now):
        return None
    await identity_limits.record(keys, now=turn.now)
    return await look_up(turn, identity)


async def attempt_keys(deps: FlowDeps, address: ChannelIdentity, identity: Identity) -> identity_limits.AttemptKeys:
    return await identity_limits.attempt_keys(secret_key=deps.secret_key, channel=address.channel,
                                              address=address.external_id, number=identity.value)


async def look_up(turn: Turn, identity: Identity) -> DirectoryRecord | None:
    try:
        return await turn.deps.directory.lookup(identity)
    except Exception:  # a directory outage must not lose the conversation: a person verifies instead
        log.exception("directory lookup failed for %s", mask(identity.value))
        return None


async def claim(turn: Turn, identity: Identity, record: DirectoryRecord | None) -> None:
    """An identity sent after the privacy notice: the consent (UU PDP), and, when the directory knows the
    number, a claim on this address (``proof=claimed``). Nothing joins the person's contact: only proof
    does (``prove_address``). A number the directory does not know leaves no claim, but the same consent, so the
    next conversation goes the same way either way."""
    contact = turn.contact
    contact.consent_at = contact.consent_at or turn.now  # keep the first one
    contact.language = turn.conversation.language
    await contact.save(update_fields=["consent_at", "language", "updated_at"])
    if record is not None and not turn.proven:
        turn.identity.claimed_number = record.id_number
        turn.identity.proof = ProofLevel.CLAIMED
        await turn.identity.save(update_fields=["claimed_number", "proof"])
    log.info("identity %s sent a %s (%s)", turn.identity.id, identity.kind.value,
             "claimed" if record is not None else "not in the directory")


async def prove_address(turn: Turn, record: DirectoryRecord, method: ProofMethod, *, speaking: bool = True) -> None:
    """This address is proven to be ``record``'s: join it to the person (handoff.contacts.prove, the one
    way), and the turn goes on as that person. ``speaking``: the person chose this conversation's language
    (they answered in it); a mail that proves itself on arrival has not, and keeps the person's."""
    person = Person(id_number=record.id_number, name=record.name, email=record.email, role=record.role,
                    faculty=record.faculty, program=record.program)
    turn.contact = await prove(identity=turn.identity, person=person, method=method, now=turn.now,
                               language=turn.conversation.language if speaking else None)
    turn.conversation.contact_id = turn.contact.id
    log.info("identity %s proven by %s", turn.identity.id, method.value)


def may_ask_for_code(turn: Turn) -> bool:
    """Proof by code is on offer: SMTP is configured, and this address sent an identity and is not proven."""
    return (turn.deps.code_mail and turn.settled and not turn.proven
            and turn.conversation.step in (FlowStep.AWAITING_QUESTION, FlowStep.AWAITING_FEEDBACK,
                                           FlowStep.AWAITING_CODE))


async def offer_code(turn: Turn) -> None:
    """After the neutral "noted": the offer of a code, in the same words whether the number exists or not."""
    if may_ask_for_code(turn):
        code = turn.cat.t("button_send_code")
        await turn.say("code_offer", buttons=(Button(code, code.lower()),))


def number_identity(number: str, deps: FlowDeps) -> Identity | None:
    """The directory identity of a claimed number (a NIM or a NIP), to look its record up again."""
    return parse_identity(number, today=deps.clock().date(), campus_domains=deps.campus_domains).identity


async def send_code(turn: Turn) -> None:
    """A new one-time code for the claimed number (handoff.proof_codes), mailed to the campus address the
    directory has for it; for a number it does not know, or an entry that is not active, one nobody gets.
    Either way the person hears the same words and waits for a code."""
    number = turn.identity.claimed_number or ""
    wanted = number_identity(number, turn.deps) if number else None
    record = await look_up(turn, wanted) if wanted is not None else None
    email = record.email if record is not None and is_active(record) and record.email else ""
    cat = catalog(turn.conversation.language)
    minutes = int(proof_codes.VALIDITY.total_seconds() // 60)

    def compose(code: str) -> tuple[str, str, str]:
        return _code_mail(code, cat.lang, minutes)

    issued = await proof_codes.issue(identity=turn.identity, number=number if email else "", email=email,
                                     secret_key=turn.deps.secret_key, now=turn.now, compose=compose)
    if issued is proof_codes.Issued.PAUSED:
        await turn.say("code_paused", minutes=int(proof_codes.PAUSE.total_seconds() // 60))
        return
    if issued is proof_codes.Issued.TOO_MANY:
        await turn.say("code_too_many")
        return
    turn.conversation.step = FlowStep.AWAITING_CODE
    await turn.conversation.save(update_fields=["step", "updated_at"])
    await turn.say("code_sent", minutes=minutes)


def _code_mail(code: str, language: str, minutes: int) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of the code's mail: the person's language first, then the other."""
    order = [language, *(lang for lang in ("id", "en") if lang != language)]
    plain, rich = [], []
    for lang in order:
        body = catalog(lang).t("code_mail_body", code=code, minutes=minutes)
        plain.append(body)
        rich.append("<p>" + "<br>".join(html.escape(line) for line in body.splitlines()) + "</p>")
    return (catalog(order[0]).t("code_mail_subject"), "\n\n".join(plain),
            "<html><body>" + "<hr>".join(rich) + "</body></html>")
