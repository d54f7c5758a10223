"""Statuses and kinds stored in the database. Values are stable: they are persisted and exposed by the API."""

from enum import StrEnum


class ContactRole(StrEnum):
    STUDENT = "student"
    LECTURER = "lecturer"
    STAFF = "staff"
    OTHER = "other"


class ChannelKind(StrEnum):
    WEBCHAT = "webchat"
    TELEGRAM = "telegram"
    WHATSAPP = "whatsapp"
    EMAIL = "email"


class ProofLevel(StrEnum):
    """How sure we are that a channel address belongs to the person it names (issue 13).

    A number or e-mail that matches a directory entry is only a *claim*: NIMs are printed on student
    cards and class lists. Possession is *proof*: a code sent to the campus address on record, an
    address the directory already lists, a signed identity from the campus LMS, or an agent's decision.
    Nothing personal (name, role, tickets) is shown on a channel that is not proven.
    """

    NONE = "none"  # nothing claimed yet
    CLAIMED = "claimed"
    PROVEN = "proven"


class ProofMethod(StrEnum):
    CODE = "code"  # a one-time code sent to the campus e-mail address on record
    ADDRESS = "address"  # arrived from the address the directory lists (campus e-mail, WhatsApp number)
    LMS = "lms"  # a web chat opened inside the LMS with a signed identity
    AGENT = "agent"  # an agent decided in the console, with a reason in the audit log


class ConversationStatus(StrEnum):
    BOT = "bot"  # the bot is handling it
    PENDING = "pending"  # handed off, waiting for an agent to take it
    OPEN = "open"  # an agent owns it
    RESOLVED = "resolved"


class FlowStep(StrEnum):
    """Where the bot is in its script for one conversation."""

    NEW = "new"
    AWAITING_IDENTITY = "awaiting_identity"
    AWAITING_CODE = "awaiting_code"  # a one-time code was offered by e-mail; a 6-digit message is a try
    AWAITING_QUESTION = "awaiting_question"
    AWAITING_FEEDBACK = "awaiting_feedback"
    AWAITING_CLARIFICATION = "awaiting_clarification"  # the bot offered choices; a number picks one
    AWAITING_SURVEY = "awaiting_survey"  # an agent closed the ticket; a 1-5 rating may follow
    AWAITING_SURVEY_COMMENT = "awaiting_survey_comment"  # rated; one optional comment may follow
    WITH_AGENT = "with_agent"
    DONE = "done"


class Direction(StrEnum):
    INBOUND = "in"
    OUTBOUND = "out"


class SenderKind(StrEnum):
    USER = "user"
    BOT = "bot"
    AGENT = "agent"
    SYSTEM = "system"


class DeliveryStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    # The provider may or may not have accepted it (timeout mid-request): never resent blindly.
    UNKNOWN = "unknown"


class TicketStatus(StrEnum):
    OPEN = "open"
    PENDING = "pending"  # waiting on the user
    ESCALATED = "escalated"  # with the Edunex developer team
    RESOLVED = "resolved"


# Every status but resolved. Ask for unresolved tickets with ``status__in=UNRESOLVED``, not with
# ``.exclude(status=RESOLVED)``: the index on status serves the first, while ``status <> 'resolved'`` can
# use no index and reads every ticket ever closed (tests/models/test_query_plans.py).
UNRESOLVED = tuple(status for status in TicketStatus if status != TicketStatus.RESOLVED)


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class SlaCounting(StrEnum):
    """How a ticket's SLA clock runs: every hour of the day, or only the care center's operating hours."""

    CALENDAR = "calendar"
    OPERATING = "operating"


class SlaTarget(StrEnum):
    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"


class HandoffReason(StrEnum):
    USER_REQUEST = "user_request"
    LOW_CONFIDENCE = "low_confidence"
    NOT_HELPFUL = "not_helpful"
    UNVERIFIED = "unverified"


class ResolvedBy(StrEnum):
    BOT = "bot"
    AGENT = "agent"


class UserRole(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"


class ActorKind(StrEnum):
    SYSTEM = "system"
    BOT = "bot"
    USER = "user"
    AGENT = "agent"


class IncidentStatus(StrEnum):
    OPEN = "open"  # the developer team is on it
    FIXED = "fixed"  # the fix was reported back
