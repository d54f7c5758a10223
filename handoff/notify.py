"""Telling people about a ticket outside the console: the SLA breach notices to supervisors.

A breach notice (handoff.sla) queues one mail per active supervisor in the helpdesk's outbox (the
``EscalationMail`` rows of handoff.escalation_mail, whose sending, claiming and retries with backoff it
reuses), and one Telegram message per supervisor with a working linked chat (handoff.staff_telegram),
inside the transaction that claims the notice: the mails and messages exist exactly when the notice does.
Each mail has a plain-text and an HTML part, in Indonesian then English (a supervisor has no language
setting); the Telegram message is the plain text. Both name the ticket by its number and console link
only: no personal data. A supervisor without a usable address gets no mail (a WARNING naming the user id
only), and still gets the Telegram message when linked.

The digests and the monthly report (handoff.digest) take the same path (``queue_supervisor_mail`` and
``queue_supervisor_telegram``): messages about no one ticket, the address rule here, the outbox's sending
and retries.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

from handoff import staff_telegram
from handoff.i18n import LANGUAGES, console_catalog
from handoff.sla import Notice
from models import DeliveryStatus, EscalationMail, Ticket, User, UserRole

log = logging.getLogger(__name__)

KIND = "sla_breach"
TZ = ZoneInfo("Asia/Jakarta")


def _texts(ticket: Ticket, notice: Notice, url: str) -> tuple[str, str, str]:
    """(subject, plain text, HTML) in every language, Indonesian first."""
    subjects, plain, rich = [], [], []
    for lang in LANGUAGES:
        t = console_catalog(lang)
        due = notice.due_at.astimezone(TZ).strftime("%Y-%m-%d %H:%M WIB") if notice.due_at else "-"
        values = {"ticket": ticket.number or str(ticket.id), "target": t(f"sla_target_{notice.target.value}"),
                  "threshold": notice.threshold, "due": due, "url": url or "-"}
        subjects.append(t("sla_breach_mail_subject", **values))
        body = t("sla_breach_mail_body", **values)
        plain.append(body)
        rich.append("<p>" + "<br>".join(html.escape(line) for line in body.splitlines()) + "</p>")
    return subjects[0][:200], "\n\n".join(plain), "<html><body>" + "<hr>".join(rich) + "</body></html>"


def usable_address(user: User) -> str | None:
    """A supervisor's address as the outbox can send to it, or None (empty, no "@", or with spaces)."""
    address = (user.email or "").strip()
    return None if "@" not in address or any(c.isspace() for c in address) else address


async def queue_supervisor_mail(*, supervisor: User, kind: str, subject: str, body: str, html: str,
                                report_id: int | None = None) -> EscalationMail | None:
    """One mail about no ticket (a digest, the monthly report) to one supervisor, or None with a WARNING
    naming the user id only when they have no usable address."""
    address = usable_address(supervisor)
    if address is None:
        log.warning("%s mail skipped: supervisor %s has no usable e-mail address", kind, supervisor.id)
        return None
    return await EscalationMail.create(ticket_id=None, recipients=address, subject=subject[:200], body=body,
                                       html=html, kind=kind, report_id=report_id, status=DeliveryStatus.QUEUED)


async def queue_supervisor_telegram(*, supervisor: User, kind: str, text: str,
                                    ticket_id: int | None = None) -> EscalationMail | None:
    """The same notice as plain text to the supervisor's linked Telegram chat, or None without a working link."""
    return await staff_telegram.queue(user=supervisor, kind=kind, text=text, ticket_id=ticket_id)


def breach_mails(*, public_url: str = "") -> Callable[[Ticket, Notice], Awaitable[int]]:
    """The sweep's ``on_notice``: queue the breach mails and Telegram messages (warnings go to the console
    only). Returns how many were queued."""

    async def queue(ticket: Ticket, notice: Notice) -> int:
        if not notice.breach:
            return 0
        url = f"{public_url}/console/t/{ticket.id}" if public_url else ""
        subject, body, rich = _texts(ticket, notice, url)
        queued = 0
        for supervisor in await User.filter(role=UserRole.SUPERVISOR, active=True).order_by("id"):
            if await queue_supervisor_telegram(supervisor=supervisor, kind=KIND, text=body, ticket_id=ticket.id):
                queued += 1
            address = usable_address(supervisor)
            if address is None:
                log.warning("SLA breach mail skipped: supervisor %s has no usable e-mail address", supervisor.id)
                continue
            await EscalationMail.create(ticket_id=ticket.id, recipients=address, subject=subject, body=body,
                                        html=rich, kind=KIND, status=DeliveryStatus.QUEUED)
            queued += 1
        return queued

    return queue
