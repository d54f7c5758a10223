"""Escalation by e-mail: the ticket summary to the developer team's addresses (ESCALATION_EMAIL_TO), durably.

Each escalation is an ``EscalationMail`` row first, then one try at once; what the SMTP server did not take
stays ``queued`` and the worker here retries it with the outbox's backoff (30 s, 1.5 min, 3.5 min, ...) until
``MAX_ATTEMPTS``. A row is claimed (``queued`` -> ``unknown``) before the server sees it, so two workers never
send it twice and a crash mid-send leaves it ``unknown`` rather than resending blindly. Every outcome is a
ticket event, which is how the ticket shows whether the developers were told.

The same rows, sending and retries carry the helpdesk's other mails (``EscalationMail.kind``): the SLA
breach notices to supervisors that handoff.notify queues, the digests and monthly report (handoff.digest),
and the one-time identity codes of handoff.proof_codes. Digests, reports and codes are about no one ticket
(``ticket_id`` None: no ticket event, the row's status is the record); a report mail may carry a stored
report as an attachment (``report_id``, read when sending). Each kind with a ticket names its ticket event
(``EVENT_OF``). A kind in ``SECRET_KINDS`` carries a secret in its body: once the mail is sent or given up,
the body is replaced, so the code lives in the mailbox only.

Telegram notices to staff (``channel`` telegram, handoff.staff_telegram) are rows of the same outbox, with
the same claim, backoff and ``MAX_ATTEMPTS``: the chat id is the recipient and the body the plain text.
One outbox rather than a sibling table because what makes a notice exactly once (queued in the transaction
that claims it) and what makes its sending safe (claimed ``queued`` -> ``unknown`` first, an unconfirmed
send left ``unknown``, never resent) is this module's rule, and a second table would need a second copy
of it. A row for a chat no longer linked, or whose link broke, is given up unsent; Telegram refusing the
chat for good (403, the bot blocked) gives the row up and marks the link broken.

The SMTP client itself is the app's (``bot.channels.mail.SmtpMailer``), and the Telegram one the channel
registry's (``handoff.delivery.Channel``): handoff never imports a channel.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Protocol

from handoff import proof_codes, staff_telegram
from handoff.delivery import Channel, DeliveryError, OutboundMessage
from handoff.reports.archive import CONTENT_TYPES
from handoff.tickets import add_event
from models import (
    ActorKind,
    Category,
    ChannelKind,
    Conversation,
    DeliveryStatus,
    EscalationMail,
    GeneratedReport,
    Ticket,
)

log = logging.getLogger(__name__)

BASE_DELAY = timedelta(seconds=30)
MAX_ATTEMPTS = 8
# A row never tried belongs to the escalation still sending it, unless that process died: wait a little.
UNTRIED_GRACE = timedelta(minutes=1)
INTERVAL = 15.0
# The ticket event each kind of mail records its outcome as.
EVENT_OF = {"escalation": "escalation_email", "sla_breach": "sla_breach_email"}
# Kinds whose body holds a secret (handoff.proof_codes): not kept once the mail went or was given up.
SECRET_KINDS = frozenset({proof_codes.KIND})
# Kinds nobody tries at once when queuing (the turn that queues a code cannot wait on SMTP inside its
# transaction): the worker sends them at its next sweep, without the grace left for an escalation's own try.
NO_GRACE_KINDS = frozenset({proof_codes.KIND})
SCRUBBED = "(sent; the content is not kept)"
# Kinds worth nothing after a while: a code mail later than the code's validity is given up, not sent.
STALE_AFTER = {proof_codes.KIND: proof_codes.VALIDITY}


class MailError(Exception):
    """The server did not take the mail; ``permanent`` means trying again will not help."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class Mailer(Protocol):
    """Sends one prepared mail (From is filled in by the mailer); raises MailError when it was not taken."""

    async def send(self, mail: EmailMessage) -> None: ...


def parse_recipients(value: str) -> tuple[str, ...]:
    """ESCALATION_EMAIL_TO: comma-separated addresses; a value without "@" is a configuration mistake."""
    addresses = tuple(a.strip() for a in value.split(",") if a.strip())
    bad = [a for a in addresses if "@" not in a or any(c.isspace() for c in a)]
    if bad:
        raise ValueError(f"ESCALATION_EMAIL_TO: {len(bad)} value(s) are not e-mail addresses")
    return addresses


async def summary_text(*, ticket: Ticket, summary: str, ticket_url: str) -> str:
    """What the developers need: the problem and where to find it, not the person (no name, NIM or phone)."""
    category = await Category.get_or_none(id=ticket.category_id) if ticket.category_id else None
    conversation = await Conversation.get(id=ticket.conversation_id)
    top = (conversation.last_prediction or {}).get("top") or []
    guesses = ", ".join(f"{label} {float(p) * 100:.0f}%" for label, p in top[:3]) or "-"
    lines = [
        f"Ticket: {ticket.number}",
        f"Category: {category.slug if category else (ticket.predicted_category or '-')}",
        f"Channel: {ticket.channel.value}",
        f"Question: {ticket.subject or '-'}",
        f"Classifier top-3: {guesses}",
        f"Agent's summary: {summary or '-'}",
        f"Ticket in the console: {ticket_url or '-'}",
    ]
    return "\n".join(lines)


async def queue_escalation_mail(
    *, ticket: Ticket, summary: str, recipients: Sequence[str], ticket_url: str
) -> EscalationMail:
    body = await summary_text(ticket=ticket, summary=summary, ticket_url=ticket_url)
    return await EscalationMail.create(
        ticket=ticket, recipients=",".join(recipients), subject=f"[Care Center] Escalated: {ticket.number}"[:200],
        body=body, status=DeliveryStatus.QUEUED,
    )


def event_of(row: EscalationMail) -> str:
    """The ticket event a row records its outcome as (a Telegram notice's beside its mail's)."""
    if row.channel == ChannelKind.TELEGRAM:
        return f"{row.kind}_telegram"
    return EVENT_OF.get(row.kind, "escalation_email")


async def _record(row: EscalationMail, data: dict[str, object]) -> None:
    if row.ticket_id is not None:
        ticket = await Ticket.get_or_none(id=row.ticket_id)
        if ticket is not None:
            await add_event(ticket=ticket, kind=event_of(row), actor_kind=ActorKind.SYSTEM, data=data)


async def send_staff_telegram(*, row: EscalationMail, telegram: Channel | None, now: datetime) -> bool:
    """One try of a Telegram notice to a staff chat. True when Telegram took it."""
    if telegram is None:
        # Telegram is not configured in this process: the row waits for one that has it.
        await EscalationMail.filter(id=row.id).update(last_error="telegram not configured")
        return False
    if not await staff_telegram.working_chat(row.recipients):
        # Unlinked, linked elsewhere, or broken since it was queued: the notice is not theirs to get any more.
        if await EscalationMail.filter(id=row.id, status=DeliveryStatus.QUEUED).update(
                status=DeliveryStatus.FAILED, last_error="the chat is no longer linked, or its link is broken"):
            log.info("%s telegram notice %s given up: its chat is no longer a working link", row.kind, row.id)
        return False
    claimed = await EscalationMail.filter(id=row.id, status=DeliveryStatus.QUEUED).update(
        status=DeliveryStatus.UNKNOWN, attempts=row.attempts + 1
    )
    if not claimed:
        return False
    row.attempts += 1
    # No Message row (message_id 0) and no purpose of its own: Telegram has no reply window to choose a form by.
    message = OutboundMessage(message_id=0, channel=ChannelKind.TELEGRAM, recipient=row.recipients, text=row.body)
    try:
        result = await telegram.send(message)
    except DeliveryError as exc:
        gave_up = exc.permanent or row.attempts >= MAX_ATTEMPTS
        await EscalationMail.filter(id=row.id).update(
            status=DeliveryStatus.FAILED if gave_up else DeliveryStatus.QUEUED, last_error=exc.reason[:500])
        if exc.unreachable:
            await staff_telegram.mark_broken(chat_id=row.recipients, reason=exc.reason, now=now)
        await _record(row, {"delivered": False, "attempt": row.attempts, "final": gave_up, "error": exc.reason[:200]})
        log.warning("%s telegram notice %s not sent (try %d): %s", row.kind, row.id, row.attempts, exc.reason)
        return False
    if result.status != DeliveryStatus.SENT:
        # Telegram may have it (a timeout) or has part of it: recorded as it is, never sent again blindly.
        await EscalationMail.filter(id=row.id).update(status=result.status, last_error=(result.error or "")[:500])
        log.warning("%s telegram notice %s: %s", row.kind, row.id, result.status.value)
        return False
    await EscalationMail.filter(id=row.id).update(status=DeliveryStatus.SENT, sent_at=now, last_error=None)
    await _record(row, {"delivered": True, "attempt": row.attempts})
    log.info("%s telegram notice %s sent", row.kind, row.id)
    return True


async def send_escalation_mail(*, row: EscalationMail, mailer: Mailer | None, now: datetime) -> bool:
    """One try. True when the server took the mail."""
    if mailer is None:
        # SMTP is not configured in this process: the row waits for a process that has it.
        await EscalationMail.filter(id=row.id).update(last_error="smtp not configured")
        log.warning("escalation mail %s waits: SMTP is not configured", row.id)
        return False
    claimed = await EscalationMail.filter(id=row.id, status=DeliveryStatus.QUEUED).update(
        status=DeliveryStatus.UNKNOWN, attempts=row.attempts + 1
    )
    if not claimed:
        return False
    row.attempts += 1
    mail = EmailMessage()
    mail["To"] = row.recipients
    mail["Subject"] = row.subject
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: an out-of-office reply must not come back
    mail.set_content(row.body)
    if row.html:
        mail.add_alternative(row.html, subtype="html")
    if row.report_id is not None:
        await _attach(mail, row.report_id)
    ticket = await Ticket.get(id=row.ticket_id) if row.ticket_id is not None else None
    event = EVENT_OF.get(row.kind, "escalation_email")
    about = f"ticket {ticket.number}" if ticket is not None else "no ticket"
    secret = row.kind in SECRET_KINDS
    try:
        await mailer.send(mail)
    except MailError as exc:
        gave_up = exc.permanent or row.attempts >= MAX_ATTEMPTS
        status = DeliveryStatus.FAILED if gave_up else DeliveryStatus.QUEUED
        scrub = {"body": SCRUBBED, "html": None} if secret and gave_up else {}
        await EscalationMail.filter(id=row.id).update(status=status, last_error=exc.reason[:500], **scrub)
        if ticket is not None:
            await add_event(ticket=ticket, kind=event, actor_kind=ActorKind.SYSTEM,
                            data={"delivered": False, "attempt": row.attempts, "final": gave_up,
                                  "error": exc.reason[:200]})
        log.warning("%s mail %s for %s not sent (try %d): %s", row.kind, row.id, about, row.attempts, exc.reason)
        return False
    scrub = {"body": SCRUBBED, "html": None} if secret else {}
    await EscalationMail.filter(id=row.id).update(status=DeliveryStatus.SENT, sent_at=now, last_error=None, **scrub)
    if ticket is not None:
        await add_event(ticket=ticket, kind=event, actor_kind=ActorKind.SYSTEM,
                        data={"delivered": True, "attempt": row.attempts})
    log.info("%s mail %s for %s sent", row.kind, row.id, about)
    return True


async def _attach(mail: EmailMessage, report_id: int) -> None:
    """A stored report (tens of KB) as an attachment; one deleted since the mail was queued is left out."""
    report = await GeneratedReport.get_or_none(id=report_id)
    if report is None:
        return
    content_type = {fmt.value: kind for fmt, kind in CONTENT_TYPES.items()}.get(report.format,
                                                                               "application/octet-stream")
    maintype, subtype = content_type.split("/", 1)
    filename = f"laporan-care-center-{report.month.isoformat()[:7]}-{report.lang}.{report.format}"
    mail.add_attachment(bytes(report.content), maintype=maintype, subtype=subtype, filename=filename)



def due_at(row: EscalationMail) -> datetime:
    created: datetime = row.created_at
    if row.attempts == 0:
        # A Telegram notice has no try of its own when queued (it is queued inside a sweep's transaction).
        no_grace = row.kind in NO_GRACE_KINDS or row.channel == ChannelKind.TELEGRAM
        return created if no_grace else created + UNTRIED_GRACE
    backoff: timedelta = BASE_DELAY * (2 ** int(row.attempts) - 1)
    return created + backoff


async def drain(*, mailer: Mailer | None, now: datetime, limit: int = 50, telegram: Channel | None = None) -> int:
    """One sweep: send or retry the queued rows that are due, mails and Telegram notices. Returns how many
    were tried."""
    tried = 0
    # Only the rows this process can send: the others wait, untouched, for a process that can.
    senders = [kind for kind, sender in ((ChannelKind.EMAIL, mailer), (ChannelKind.TELEGRAM, telegram))
               if sender is not None]
    if not senders:
        return 0
    queued = EscalationMail.filter(status=DeliveryStatus.QUEUED, channel__in=senders)
    for row in await queued.order_by("id").limit(limit):
        stale = STALE_AFTER.get(row.kind)
        if stale is not None and row.created_at + stale <= now:
            scrub = {"body": SCRUBBED, "html": None} if row.kind in SECRET_KINDS else {}
            await EscalationMail.filter(id=row.id, status=DeliveryStatus.QUEUED).update(
                status=DeliveryStatus.FAILED, last_error="expired before it could be sent", **scrub)
            log.warning("%s mail %s given up: it expired before the server took it", row.kind, row.id)
            continue
        if due_at(row) > now:
            continue
        if row.channel == ChannelKind.TELEGRAM:
            await send_staff_telegram(row=row, telegram=telegram, now=now)
        else:
            await send_escalation_mail(row=row, mailer=mailer, now=now)
        tried += 1
    return tried
