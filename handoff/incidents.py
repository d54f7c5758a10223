"""Incidents: one problem with the developer team, many escalated tickets linked to it, one fix for all.

Escalation opens or links an incident (handoff.actions.escalate). Reporting the fix here records
it on every linked ticket (escalated ones go back to their agents as open) and, when asked, tells every
user whose linked ticket is still open, through the outbox, once per ticket (``Ticket.fix_notified_at``
is claimed by a conditional update before the message is written).

While an incident is open, the bot answers a student whose question matches it with the incident notice
instead of a ticket, and links the conversation to it (``IncidentFollower``, ``follow_incident``): the fix
notice reaches those conversations too. Which question matches which incident is decided here, once
(``IncidentTerms.matches``), against a small term set per open incident cached by ``IncidentIndex``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.functions import Count, Max

from handoff.actions import ConsoleError, ForbiddenError, Translate, audit, is_supervisor, written_text
from handoff.delivery import ChannelRegistry, send_text
from handoff.tickets import add_event, reply_conversation
from models import (
    ActorKind,
    Conversation,
    Incident,
    IncidentFollower,
    IncidentStatus,
    SenderKind,
    Ticket,
    TicketStatus,
    User,
)
from nlp.normalize import normalize

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FixResult:
    incident: Incident
    tickets: int  # linked tickets the fix was recorded on
    notified: int  # users told about it now (through linked tickets and followed conversations)
    followers: int = 0  # of those, conversations told through their IncidentFollower link


async def open_incidents() -> list[Incident]:
    return await Incident.filter(status=IncidentStatus.OPEN).order_by("-id")


async def report_incident_fix(
    *,
    incident: Incident,
    actor: User,
    text: str,
    notify_users: bool,
    registry: ChannelRegistry,
    translate: Translate,
    now: datetime,
) -> FixResult:
    """A supervisor, or an agent owning one of the linked tickets, reports the developers' fix."""
    tickets = await Ticket.filter(incident_id=incident.id).order_by("id")
    if not is_supervisor(actor) and not any(t.assignee_id == actor.id for t in tickets):
        raise ForbiddenError
    text = written_text(text)
    # Conditional: of two people reporting at once, one records the fix and the other is told it is done.
    updated = await Incident.filter(id=incident.id, status=IncidentStatus.OPEN).update(
        status=IncidentStatus.FIXED, fix_text=text, fixed_at=now, fixed_by_id=actor.id
    )
    if not updated:
        raise ConsoleError("error_incident_fixed")
    await incident.refresh_from_db()
    await audit(actor=actor, action="incident.fix", target=str(incident.id),
                data={"tickets": len(tickets), "notify_users": notify_users})
    notified = 0
    told: set[int] = set()  # conversations the fix reached through a ticket: a follower link is not told twice
    for ticket in tickets:
        if ticket.status == TicketStatus.ESCALATED:
            await Ticket.filter(id=ticket.id, status=TicketStatus.ESCALATED).update(status=TicketStatus.OPEN)
        await add_event(ticket=ticket, kind="fix_reported", actor_kind=ActorKind.AGENT, actor=actor,
                        data={"text": text, "incident": incident.id})
        if notify_users and ticket.status != TicketStatus.RESOLVED and await _notify(
            ticket=ticket, actor=actor, text=text, registry=registry, translate=translate, now=now, told=told
        ):
            notified += 1
    followers = 0
    if notify_users:
        followers = await _notify_followers(incident=incident, text=text, registry=registry, translate=translate,
                                            now=now, told=told)
    log.info("incident %s fixed: %d ticket(s), %d user(s) notified, %d of them followers", incident.id,
             len(tickets), notified + followers, followers)
    return FixResult(incident=incident, tickets=len(tickets), notified=notified + followers, followers=followers)


async def _notify(
    *, ticket: Ticket, actor: User, text: str, registry: ChannelRegistry, translate: Translate, now: datetime,
    told: set[int],
) -> bool:
    if not await Ticket.filter(id=ticket.id, fix_notified_at=None).update(fix_notified_at=now):
        return False  # told already (a second report, or a retry of this one)
    # Where an agent's reply would go (handoff.tickets.reply_conversation): never a merely claimed address.
    conversation = await reply_conversation(ticket)
    told.add(conversation.id)
    message = await send_text(
        registry=registry, conversation=conversation, ticket=ticket, sender_kind=SenderKind.AGENT, agent=actor,
        text=translate(conversation.language, "incident_fixed", ticket=ticket.number or "", fix=text),
    )
    await add_event(ticket=ticket, kind="fix_notified", actor_kind=ActorKind.AGENT, actor=actor,
                    data={"message_id": message.id})
    return True


async def _notify_followers(
    *, incident: Incident, text: str, registry: ChannelRegistry, translate: Translate, now: datetime,
    told: set[int],
) -> int:
    """Tell each conversation the bot linked to ``incident`` instead of opening a ticket, once, on the
    conversation the student wrote on (the address the notice was given on, so no merely claimed other one)."""
    followers = await IncidentFollower.filter(incident_id=incident.id, notified_at=None).order_by("id")
    notified = 0
    for follower in followers:
        if not await IncidentFollower.filter(id=follower.id, notified_at=None).update(notified_at=now):
            continue  # told already by a concurrent report
        if follower.conversation_id in told:
            continue  # the fix reached this conversation through its ticket just now
        conversation = await Conversation.get(id=follower.conversation_id)
        await send_text(registry=registry, conversation=conversation, sender_kind=SenderKind.BOT,
                        text=translate(conversation.language, "incident_fixed_followed", fix=text))
        told.add(conversation.id)
        notified += 1
    return notified


async def follow_incident(*, incident_id: int, conversation: Conversation, now: datetime) -> bool:
    """Link ``conversation`` to the open incident ``incident_id`` so that its fix notice reaches it.
    Returns False when it was linked already (a student writing again about the same outage)."""
    if await IncidentFollower.exists(incident_id=incident_id, conversation_id=conversation.id):
        return False
    try:
        await IncidentFollower.create(incident_id=incident_id, conversation_id=conversation.id, created_at=now)
    except IntegrityError:  # the same conversation's other message got there first
        return False
    return True


# --- which question matches an open incident ---------------------------------------------------------------

# Words that say nothing about which problem a message is about: function words of both languages, and the
# words every Edunex message shares ("edunex", "tidak bisa", "tolong", "kak"). Compared after
# nlp.normalize, so slang ("gabisa", "ga") arrives as its standard form.
_COMMON_WORDS = """
    edunex lms itb kak kakak min admin bang mas mbak pak bu bapak ibu halo hai hi hello pagi siang sore malam
    tolong mohon bantu bantuan help please pls maaf sorry permisi terima kasih makasih thanks thank
    saya aku gue gua sy kami kita anda kamu dia mereka ini itu tersebut sini sana situ yang dan atau dengan
    untuk dari pada ke di dalam oleh karena jadi tapi tetapi juga lagi sudah udah belum masih sedang akan mau
    ingin bisa dapat tidak bukan tak jangan kok sih dong deh ya yah kah apa apakah kenapa mengapa bagaimana
    gimana kapan dimana mana berapa siapa ada adalah sama banget sekali terus aja saja hanya cuma semua
    tanya nanya bertanya ask question masalah kendala problem issue
    kalau kalo agar supaya setelah sebelum waktu saat sejak baru lama mulai coba
    the and for with from that this what why how when where who which can cannot can't could not don't
    doesn't didn't isn't won't does did are was were have has had been being will would should there
    here into onto about your you our they them its it's just still again any some all
"""
_COMMON = frozenset(_COMMON_WORDS.split())
_MIN_WORD = 3  # shorter words are mostly particles and abbreviations
MIN_SHARED = 2  # distinctive words a question must share with an incident ("reset password gagal")
SUBJECTS_READ = 50  # the newest linked tickets' subjects read per incident: bounded however large it grows
INDEX_MAX_AGE = 60.0  # seconds: a rebuild also picks up what the signature does not show (a re-categorised ticket)


def terms_of(text: str) -> frozenset[str]:
    """The distinctive words of ``text``, normalised as the classifier reads it."""
    return frozenset(
        word for word in normalize(text).split()
        if len(word) >= _MIN_WORD and word.isalpha() and word not in _COMMON
    )


@dataclass(frozen=True, slots=True)
class IncidentTerms:
    """What an open incident is about: its title's words, the words its linked tickets have in common,
    and their categories."""

    incident_id: int
    title: frozenset[str]
    terms: frozenset[str]  # the title's words and the words recurring in linked tickets' subjects
    categories: frozenset[str]

    def matches(self, words: frozenset[str], category: str | None) -> bool:
        """The one matching rule: the question's confident category is one of the incident's, or it shares
        MIN_SHARED distinctive words with the incident, or every distinctive word of a short title
        ("Edunex down" → "down")."""
        if category is not None and category in self.categories:
            return True
        shared = words & self.terms
        return len(shared) >= MIN_SHARED or (bool(self.title) and self.title <= words)


def incident_terms(incident_id: int, title: str, subjects: list[str], categories: set[str]) -> IncidentTerms:
    """Build an incident's term set: the title's words, and of the linked tickets' subjects the words found in
    at least two of them (what the reports have in common, not one student's details), or all of one
    subject's words when only one ticket is linked."""
    title_terms = terms_of(title)
    counts: dict[str, int] = {}
    for subject in subjects:
        for word in terms_of(subject):
            counts[word] = counts.get(word, 0) + 1
    needed = 1 if len(subjects) == 1 else 2
    recurring = {word for word, n in counts.items() if n >= needed}
    return IncidentTerms(incident_id=incident_id, title=title_terms, terms=title_terms | recurring,
                         categories=frozenset(categories))


class IncidentIndex:
    """The term sets of the open incidents, rebuilt only when what they are built from changes.

    Per question: one query for the open incidents (none, the usual case, ends it) and one grouped count of
    their linked tickets; the subjects are read again only when that signature changed or INDEX_MAX_AGE
    passed, and then at most SUBJECTS_READ per incident. No scan of tickets per message.
    """

    def __init__(self) -> None:
        self._signature: tuple[object, ...] | None = None
        self._built_at = 0.0
        self._terms: list[IncidentTerms] = []

    async def open_terms(self) -> list[IncidentTerms]:
        incidents = await Incident.filter(status=IncidentStatus.OPEN).order_by("-id").values_list(
            "id", "title", "created_at")
        if not incidents:
            self._signature, self._terms = None, []
            return []
        ids = [row[0] for row in incidents]
        links = await (Ticket.filter(incident_id__in=ids).annotate(n=Count("id"), last=Max("id"))
                       .group_by("incident_id").values_list("incident_id", "n", "last"))
        signature = (tuple(incidents), tuple(sorted(links)))
        if signature != self._signature or time.monotonic() - self._built_at > INDEX_MAX_AGE:
            self._terms = [await _build(incident_id, title) for incident_id, title, _ in incidents]
            self._signature, self._built_at = signature, time.monotonic()
        return self._terms

    async def match(self, question: str, category: str | None) -> int | None:
        """The newest open incident ``question`` matches (its confident ``category`` or its words), or None."""
        terms = await self.open_terms()
        if not terms:
            return None
        words = terms_of(question)
        for incident in terms:
            if incident.matches(words, category):
                return incident.incident_id
        return None


async def _build(incident_id: int, title: str) -> IncidentTerms:
    rows = await (Ticket.filter(incident_id=incident_id).order_by("-id").limit(SUBJECTS_READ)
                  .values_list("subject", "category__slug", "predicted_category"))
    subjects = [str(subject) for subject, _, _ in rows if subject]
    # The agent's category where there is one, else the classifier's guess the ticket opened with.
    categories = {str(confirmed or predicted) for _, confirmed, predicted in rows if confirmed or predicted}
    return incident_terms(incident_id, title, subjects, categories)


# One per process: the bot's turns share it (their answers must agree with the incidents page).
incident_index = IncidentIndex()
