"""The satisfaction survey after an agent closes a ticket: one per ticket, 1-5, and 1-2 flags the ticket.

The rating comes from the chat (a button or a number) or from the signed survey page (``/survey/{token}``,
handoff.survey_web). After a rating in the chat the bot asks for an optional comment. Which message is the
comment (``comment_kind``): the user's *next* message, if it comes within ``COMMENT_WINDOW`` of the rating
and is not

- a command (``/start``, ``/agen`` ...) -- handled as a command,
- a bare number 1-5 (a second rating) -- handled as an ordinary message, the first rating stands,
- a decline (``lewati``, ``skip``, ``tidak``, ``-`` ...) -- the bot says "fine" and stops asking,
- a request for a person, or a new question (a ``?`` anywhere, or it opens with a question word such as
  ``bagaimana``, ``kenapa``, ``bisa``, ``how``, ``why``) -- handled as a new message, not swallowed.

Everything else is stored as the comment, once per ticket.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from itsdangerous import BadData, BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from itsdangerous.encoding import base64_decode, base64_encode
from tortoise.exceptions import IntegrityError

from handoff.tickets import add_event
from models import ActorKind, Conversation, StoredSecret, Ticket

log = logging.getLogger(__name__)

RATINGS = frozenset({"1", "2", "3", "4", "5"})
FLAG_AT_OR_BELOW = 2
COMMENT_WINDOW = timedelta(minutes=30)
MAX_COMMENT_CHARS = 2000
LINK_MAX_AGE = timedelta(days=7)
_SALT = "carecenter.survey-link"
_SECRET_NAME = "survey_links"  # noqa: S105 - the row name, not the secret

_DECLINES = frozenset({
    "lewati", "skip", "tidak", "tidak ada", "tdk", "gak", "ga", "nggak", "enggak", "no", "nope", "none",
    "no comment", "tidak ada komentar", "gak ada", "ga ada", "nggak ada", "cukup", "-", "n", "nothing",
})
_QUESTION_OPENERS = re.compile(
    r"^(apa|apakah|bagaimana|gimana|gmn|kenapa|knp|mengapa|kapan|dimana|di mana|siapa|berapa|bisakah|bisa|"
    r"boleh|tolong|mohon|how|why|what|when|where|who|which|can|could|is|are|do|does|will)\b"
)
_WORD_EDGES = "!.,⭐ "


class CommentKind(StrEnum):
    COMMENT = "comment"
    DECLINE = "decline"
    COMMAND = "command"
    RATING = "rating"  # a second number: not a comment, and not a second rating either
    NEW_QUESTION = "new_question"


def parse_rating(text: str) -> int | None:
    answer = text.strip().strip("!.⭐ ")
    return int(answer) if answer in RATINGS else None


def comment_kind(text: str) -> CommentKind:
    """What the message after a chat rating is (the module docstring has the rule)."""
    cleaned = " ".join(text.strip().split())
    lowered = cleaned.lower().strip(_WORD_EDGES)
    if cleaned.startswith("/"):
        return CommentKind.COMMAND
    if parse_rating(cleaned) is not None:
        return CommentKind.RATING
    if not lowered or lowered in _DECLINES:
        return CommentKind.DECLINE
    if "?" in cleaned or _QUESTION_OPENERS.match(lowered):
        return CommentKind.NEW_QUESTION
    return CommentKind.COMMENT


def clean_comment(text: str) -> str:
    return text.replace("\r\n", "\n").strip()[:MAX_COMMENT_CHARS]


async def rate_ticket(
    *, ticket: Ticket, rating: int, now: datetime, comment: str = "", via: str = "chat"
) -> Ticket | None:
    """Record a 1-5 rating (and a comment) on a surveyed ticket; None when it was already rated."""
    if rating not in range(1, 6):
        raise ValueError("rating must be 1-5")
    flagged = rating <= FLAG_AT_OR_BELOW
    values: dict[str, Any] = {"survey_rating": rating, "survey_answered_at": now, "flagged": flagged}
    comment = clean_comment(comment)
    if comment:
        values["survey_comment"] = comment
    # Conditional, so a re-delivered or doubled answer cannot overwrite the first one.
    updated = await Ticket.filter(id=ticket.id, survey_sent_at__not_isnull=True, survey_rating=None).update(**values)
    if not updated:
        return None
    await ticket.refresh_from_db()
    await add_event(ticket=ticket, kind="survey_answered", actor_kind=ActorKind.USER,
                    data={"rating": rating, "flagged": flagged, "via": via, "comment": bool(comment)})
    log.info("survey answered on ticket %s (rating %d, via %s)", ticket.number, rating, via)
    return ticket


async def record_survey(*, conversation: Conversation, rating: int, now: datetime) -> Ticket | None:
    """Store the rating on the conversation's surveyed ticket; None when no survey is waiting for one."""
    ticket = (
        # By contact: the survey goes out where the person wrote last, not always on the ticket's channel.
        await Ticket.filter(contact_id=conversation.contact_id,
                            survey_sent_at__not_isnull=True, survey_rating=None)
        .order_by("-id")
        .first()
    )
    if ticket is None:
        return None
    return await rate_ticket(ticket=ticket, rating=rating, now=now)


async def ticket_awaiting_comment(*, conversation: Conversation, now: datetime) -> Ticket | None:
    """The ticket rated in this conversation within the comment window and still without a comment."""
    return (
        await Ticket.filter(conversation=conversation, survey_rating__not_isnull=True, survey_comment=None,
                            survey_answered_at__gte=now - COMMENT_WINDOW)
        .order_by("-id")
        .first()
    )


async def record_comment(*, ticket: Ticket, text: str) -> Ticket | None:
    """Store the optional comment once; None when the ticket already has one (or the text is empty)."""
    comment = clean_comment(text)
    if not comment:
        return None
    if not await Ticket.filter(id=ticket.id, survey_comment=None).update(survey_comment=comment):
        return None
    await ticket.refresh_from_db()
    await add_event(ticket=ticket, kind="survey_comment", actor_kind=ActorKind.USER, data={"text": comment})
    log.info("survey comment stored on ticket %s", ticket.number)
    return ticket


# --- signed links ----------------------------------------------------------------------------------


class SurveyLinkError(Exception):
    """A survey link that cannot be used: ``reason`` is ``expired`` or ``invalid``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def link_secret(configured: str) -> str:
    """SECRET_KEY when set; otherwise a random secret made once and kept in the database, so links
    survive a restart and differ between installations."""
    if configured:
        return configured
    stored = await StoredSecret.get_or_none(name=_SECRET_NAME)
    if stored is None:
        try:
            stored = await StoredSecret.create(name=_SECRET_NAME, value=secrets.token_urlsafe(48))
        except IntegrityError:  # another worker made it first: use theirs
            stored = await StoredSecret.get(name=_SECRET_NAME)
    return stored.value


def _serializer(secret: str, clock: Callable[[], datetime]) -> URLSafeTimedSerializer:
    class ClockSigner(TimestampSigner):
        # The app's clock, not time.time(): tests and the expiry check agree on "now".
        def get_timestamp(self) -> int:
            return int(clock().timestamp())

    return URLSafeTimedSerializer(secret, salt=_SALT, signer=ClockSigner)


def make_link_token(*, ticket_id: int, secret: str, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> str:
    return _serializer(secret, clock).dumps({"t": ticket_id})


def read_link_token(
    token: str, *, secret: str, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    max_age: timedelta = LINK_MAX_AGE,
) -> int:
    """The ticket id a link was made for; SurveyLinkError when it is forged, damaged or too old."""
    if not _canonical(token):
        # Base64 lets several strings decode to the same bytes (padding, the unused bits of the last
        # character); only the one we wrote is a link of ours.
        raise SurveyLinkError("invalid")
    try:
        data = _serializer(secret, clock).loads(token, max_age=int(max_age.total_seconds()))
    except SignatureExpired:
        raise SurveyLinkError("expired") from None
    except BadSignature:
        raise SurveyLinkError("invalid") from None
    ticket_id = data.get("t") if isinstance(data, dict) else None
    if not isinstance(ticket_id, int):
        raise SurveyLinkError("invalid")
    return ticket_id


def _canonical(token: str) -> bool:
    parts = token.split(".")
    try:
        return len(parts) == 3 and all(base64_encode(base64_decode(part)).decode() == part for part in parts)
    except BadData:
        return False


def survey_url(base_url: str, token: str, rating: int | None = None) -> str:
    """``base_url`` is PUBLIC_URL, or empty for a link relative to the site (the web chat)."""
    return f"{base_url.rstrip('/')}/survey/{token}" + (f"?r={rating}" if rating else "")
