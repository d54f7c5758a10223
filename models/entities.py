"""The data model. Every state change of a ticket also writes a ``TicketEvent`` (see handoff.tickets).

Each foreign key ``x`` is followed by its ``x_id: int`` (``int | None`` when nullable): Tortoise sets that
attribute from the relation, and the bare annotation tells the type checker it is there.
"""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from models.enums import (
    ActorKind,
    ChannelKind,
    ContactRole,
    ConversationStatus,
    DeliveryStatus,
    Direction,
    FlowStep,
    HandoffReason,
    IncidentStatus,
    Priority,
    ProofLevel,
    ProofMethod,
    ResolvedBy,
    SenderKind,
    SlaCounting,
    SlaTarget,
    TicketStatus,
    UserRole,
)


class Contact(Model):
    """A person who writes to the care center, whatever the channel."""

    id = fields.IntField(primary_key=True)
    role = fields.CharEnumField(ContactRole, max_length=16, default=ContactRole.OTHER)
    # Verified NIM / NIP / staff number; unique so one person is one contact across channels.
    id_number = fields.CharField(max_length=32, null=True, unique=True)
    name = fields.CharField(max_length=200, default="")
    email = fields.CharField(max_length=254, null=True, db_index=True)
    phone = fields.CharField(max_length=32, null=True, db_index=True)
    faculty = fields.CharField(max_length=200, default="")
    program = fields.CharField(max_length=200, default="")
    verified = fields.BooleanField(default=False)
    verified_at = fields.DatetimeField(null=True)
    # UU PDP: the moment the person sent an identity after the privacy notice.
    consent_at = fields.DatetimeField(null=True)
    language = fields.CharField(max_length=5, default="id")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    identities: fields.ReverseRelation[ChannelIdentity]

    class Meta:
        table = "contacts"


class ChannelIdentity(Model):
    """One address of a contact on one channel (a Telegram chat, a WhatsApp number, a web chat session)."""

    id = fields.IntField(primary_key=True)
    contact: fields.ForeignKeyRelation[Contact] = fields.ForeignKeyField(
        "models.Contact", related_name="identities", on_delete=fields.CASCADE
    )
    contact_id: int
    channel = fields.CharEnumField(ChannelKind, max_length=16)
    # The address on the channel. An e-mail address may be 254 characters (RFC 5321's 256-octet path less
    # its brackets): at 191 a longer, valid sender failed to store on PostgreSQL on every try.
    external_id = fields.CharField(max_length=255)
    display_name = fields.CharField(max_length=200, default="")
    # WhatsApp allows free-form replies only within 24 h of this.
    last_inbound_at = fields.DatetimeField(null=True)
    unreachable = fields.BooleanField(default=False)
    # Issue 13: the directory number this address claims (not yet proven: the contact stays its own), how
    # sure we are that the address is that person's, and how and when it was proven.
    claimed_number = fields.CharField(max_length=32, null=True)
    # db_default as well: the column is added to tables with rows, which SQLite refuses without one.
    proof = fields.CharEnumField(ProofLevel, max_length=8, default=ProofLevel.NONE, db_default=ProofLevel.NONE.value)
    proof_method = fields.CharEnumField(ProofMethod, max_length=8, null=True)
    proven_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "channel_identities"
        unique_together = (("channel", "external_id"),)
        # A contact's addresses: where a reply goes, reachability, joining two contacts into one.
        indexes = (("contact_id",),)


class ProofCode(Model):
    """A one-time code sent to the campus e-mail address on record, to prove one channel address.

    Only a hash is kept; the code is valid for a short time and for a few tries (bot.proof).
    """

    id = fields.IntField(primary_key=True)
    identity: fields.ForeignKeyRelation[ChannelIdentity] = fields.ForeignKeyField(
        "models.ChannelIdentity", related_name="proof_codes", on_delete=fields.CASCADE
    )
    identity_id: int
    number = fields.CharField(max_length=32)  # the directory number the code proves
    code_hash = fields.CharField(max_length=128)
    expires_at = fields.DatetimeField()
    tries = fields.IntField(default=0)
    used_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "proof_codes"
        indexes = (("identity_id", "created_at"),)


class IdentityAttempt(Model):
    """One identity claim or proof try, for the limits that make guessing the directory expensive.

    Keyed hashes, never the number or the address themselves: this table must not become a list of
    whose NIM was tried from where. Rows older than the longest window are pruned.
    """

    id = fields.IntField(primary_key=True)
    address_key = fields.CharField(max_length=64)  # keyed hash of channel + address
    number_key = fields.CharField(max_length=64, null=True)  # keyed hash of the claimed number
    outcome = fields.CharField(max_length=16)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "identity_attempts"
        indexes = (("address_key", "created_at"), ("number_key", "created_at"))


class Conversation(Model):
    id = fields.IntField(primary_key=True)
    contact: fields.ForeignKeyRelation[Contact] = fields.ForeignKeyField(
        "models.Contact", related_name="conversations", on_delete=fields.CASCADE
    )
    contact_id: int
    identity: fields.ForeignKeyRelation[ChannelIdentity] = fields.ForeignKeyField(
        "models.ChannelIdentity", related_name="conversations", on_delete=fields.CASCADE
    )
    identity_id: int
    channel = fields.CharEnumField(ChannelKind, max_length=16)
    status = fields.CharEnumField(ConversationStatus, max_length=16, default=ConversationStatus.BOT)
    step = fields.CharEnumField(FlowStep, max_length=24, default=FlowStep.NEW)
    language = fields.CharField(max_length=5, default="id")
    identity_attempts = fields.IntField(default=0)
    # A question asked before the identity was given; answered once the identity is verified.
    pending_question = fields.TextField(null=True)
    last_prediction: dict[str, Any] | None = fields.JSONField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    last_message_at = fields.DatetimeField(null=True)

    class Meta:
        table = "conversations"
        indexes = (
            ("identity_id", "id"),  # an address's newest open conversation (every inbound message)
            ("contact_id",),  # a person's conversations: the ticket page's history, joining contacts
            ("created_at", "status"),  # the dashboard's today, and its last 30 days counted from the index alone
        )


class Message(Model):
    id = fields.IntField(primary_key=True)
    conversation: fields.ForeignKeyRelation[Conversation] = fields.ForeignKeyField(
        "models.Conversation", related_name="messages", on_delete=fields.CASCADE
    )
    conversation_id: int
    ticket: fields.ForeignKeyNullableRelation[Ticket] = fields.ForeignKeyField(
        "models.Ticket", related_name="messages", null=True, on_delete=fields.SET_NULL
    )
    ticket_id: int | None
    channel = fields.CharEnumField(ChannelKind, max_length=16)
    direction = fields.CharEnumField(Direction, max_length=4)
    sender_kind = fields.CharEnumField(SenderKind, max_length=8)
    agent: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="messages", null=True, on_delete=fields.SET_NULL
    )
    agent_id: int | None
    text = fields.TextField(default="")
    buttons: list[dict[str, str]] | None = fields.JSONField(null=True)
    # Unique per channel: the dedupe key for re-delivered webhooks.
    provider_message_id = fields.CharField(max_length=191, null=True)
    delivery_status = fields.CharEnumField(DeliveryStatus, max_length=16, null=True)
    delivery_error = fields.CharField(max_length=500, null=True)
    attempts = fields.IntField(default=0)
    # The raw provider payload, kept for audit only; nothing reads it past the channel adapter.
    provider_payload: dict[str, Any] | None = fields.JSONField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    sent_at = fields.DatetimeField(null=True)
    # Inbound: webhooks answer once the message is stored; its turn runs afterwards (bot.inbound).
    # ``claimed_at`` is set atomically by whoever runs the turn (a stale claim is a crashed run), and
    # ``processed_at`` when it is done, so a restart finds the stored-but-unanswered ones.
    # Outbound: ``claimed_at`` is when the last send was claimed (queued -> unknown, handoff.delivery), what
    # the outbox's reconcile of an ``unknown`` row counts its grace from (handoff.outbox).
    claimed_at = fields.DatetimeField(null=True)
    processed_at = fields.DatetimeField(null=True)
    # Inbound only: a message whose turn failed MAX_TURN_ATTEMPTS times is parked (bot.turns): marked
    # processed so its person's later messages go on, with the time and the last error kept here for the
    # operator (``carecenter inbox list``), who may retry or discard it.
    parked_at = fields.DatetimeField(null=True)
    turn_error = fields.CharField(max_length=500, null=True)

    class Meta:
        table = "messages"
        unique_together = (("channel", "provider_message_id"),)
        indexes = (
            # Inbound messages whose turn has not run, oldest first (the worker's look every 0.2 s). With id
            # in the index PostgreSQL reads them in order; without it, its statistics (half the messages
            # inbound, half never processed: the outbound ones) made it walk every message by id instead.
            ("direction", "processed_at", "id"),
            ("conversation_id", "id"),  # a conversation's messages in order: API, queue, ticket page
            ("ticket_id", "id"),  # a ticket's messages (WhatsApp window), and SET NULL when a ticket goes
            ("delivery_status", "id"),  # the outbox: the few queued among every message ever sent
            ("parked_at", "id"),  # the parked few (the operator's list, /healthz's count)
        )


class InboxEntry(Model):
    """A webhook's receipt: what a provider delivered, kept before it is answered (bot.inbound).

    Writing this one row is all a webhook waits for, so the provider gets its 200 in a millisecond or
    two whatever the turn costs; the worker then stores it as a ``Message`` (finding or creating the
    contact, identity and conversation) and runs the turn. The unique key turns a re-delivery into a
    no-op at the door; rows are kept a week after they are stored (pruned by the scheduler), long after
    any provider stops re-delivering, and the message table's own unique key catches anything later.
    """

    id = fields.BigIntField(primary_key=True)
    channel = fields.CharEnumField(ChannelKind, max_length=16)
    provider_message_id = fields.CharField(max_length=191)
    address = fields.CharField(max_length=255)  # the sender on the channel: turns run in order per sender
    # The InboundMessage as JSON text (bot.inbound.encode): plain text, so no driver's JSON codec is involved.
    payload = fields.TextField()
    received_at = fields.DatetimeField()
    stored_at = fields.DatetimeField(null=True)  # when it became a message (or was found a duplicate)
    message_id = fields.IntField(null=True)  # that message, for the audit trail; not a key (no cascade)
    attempts = fields.IntField(default=0)
    error = fields.CharField(max_length=500, null=True)  # why storing it failed, for the operator

    class Meta:
        table = "inbox"
        unique_together = (("channel", "provider_message_id"),)
        indexes = (("stored_at", "id"),)


class RelayedEvent(Model):
    """A console live event on its way from a process without console clients (worker, clock) to the web
    processes that have them (handoff.relay). Best-effort and short-lived: rows are pruned after
    a few minutes; the ticket events are the durable record, and the console re-reads from them.
    """

    # The order followers deliver in, and how they find what is new: BigInt so it never wraps; never
    # reused (PostgreSQL sequence, SQLite AUTOINCREMENT), even after every row has been pruned.
    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=64)
    # JSON text written with json.dumps by the relay: plain text, so no driver's JSON codec is involved.
    data = fields.TextField()
    # Not indexed: only the prune reads it, once a minute, over a table that holds a few minutes of events.
    created_at = fields.DatetimeField()

    class Meta:
        table = "live_events"


class Attachment(Model):
    """A file that came or went with a message. The bytes live under DATA_DIR, named by their SHA-256
    (handoff.attachments); a part refused by the limits is a row too, so the agent sees what was dropped."""

    id = fields.IntField(primary_key=True)
    message: fields.ForeignKeyRelation[Message] = fields.ForeignKeyField(
        "models.Message", related_name="attachments", on_delete=fields.CASCADE
    )
    message_id: int
    # Order within the message; unique with it, so storing a message's files again (a re-read mail)
    # cannot double them.
    position = fields.SmallIntField()
    filename = fields.CharField(max_length=255)
    content_type = fields.CharField(max_length=127)
    size = fields.BigIntField(default=0)
    sha256 = fields.CharField(max_length=64, null=True)
    storage_key = fields.CharField(max_length=64, null=True)
    # Why the bytes were not kept (a code of handoff.attachments.Refusal); null for a kept file.
    refused_reason = fields.CharField(max_length=32, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "attachments"
        unique_together = (("message", "position"),)


class Category(Model):
    id = fields.IntField(primary_key=True)
    slug = fields.CharField(max_length=64, unique=True)
    name_id = fields.CharField(max_length=120)
    name_en = fields.CharField(max_length=120)
    description = fields.TextField(default="")
    active = fields.BooleanField(default=True)
    sort_order = fields.IntField(default=0)
    # The team whose agents handle this category's tickets; none: every agent.
    team: fields.ForeignKeyNullableRelation[Team] = fields.ForeignKeyField(
        "models.Team", related_name="categories", null=True, on_delete=fields.SET_NULL
    )
    team_id: int | None

    class Meta:
        table = "categories"
        ordering = ("sort_order", "slug")


class AnswerTemplate(Model):
    id = fields.IntField(primary_key=True)
    category: fields.ForeignKeyRelation[Category] = fields.ForeignKeyField(
        "models.Category", related_name="templates", on_delete=fields.CASCADE
    )
    category_id: int
    language = fields.CharField(max_length=5)
    body = fields.TextField()
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "answer_templates"
        unique_together = (("category", "language"),)


class User(Model):
    """A person using the console: an agent or a supervisor."""

    id = fields.IntField(primary_key=True)
    email = fields.CharField(max_length=254, unique=True)
    name = fields.CharField(max_length=200, default="")
    role = fields.CharEnumField(UserRole, max_length=16)
    password_hash = fields.CharField(max_length=255)
    active = fields.BooleanField(default=True)
    # Bumped on password change so every existing session is signed out.
    session_version = fields.IntField(default=1)
    must_change_password = fields.BooleanField(default=False)
    capacity = fields.IntField(default=10)
    available = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    # Which scheduled mails a supervisor receives (handoff.digest); all three until they say otherwise,
    # because the SOP makes the summaries part of the supervisor's job.
    digest_daily = fields.BooleanField(default=True, db_default=True)
    digest_weekly = fields.BooleanField(default=True, db_default=True)
    digest_monthly = fields.BooleanField(default=True, db_default=True)

    teams: fields.ManyToManyRelation[Team]

    class Meta:
        table = "users"


class Ticket(Model):
    id = fields.IntField(primary_key=True)
    number = fields.CharField(max_length=32, unique=True, null=True)
    conversation: fields.ForeignKeyRelation[Conversation] = fields.ForeignKeyField(
        "models.Conversation", related_name="tickets", on_delete=fields.CASCADE
    )
    conversation_id: int
    contact: fields.ForeignKeyRelation[Contact] = fields.ForeignKeyField(
        "models.Contact", related_name="tickets", on_delete=fields.CASCADE
    )
    contact_id: int
    channel = fields.CharEnumField(ChannelKind, max_length=16)
    category: fields.ForeignKeyNullableRelation[Category] = fields.ForeignKeyField(
        "models.Category", related_name="tickets", null=True, on_delete=fields.SET_NULL
    )
    category_id: int | None
    # The classifier's guess at hand-off time, kept to measure where agents correct it.
    predicted_category = fields.CharField(max_length=64, null=True)
    predicted_confidence = fields.FloatField(null=True)
    # SOP step 7: ``category`` starts as the classifier's guess (it routes the ticket to a team) and
    # counts as the ticket's category only once an agent confirms it or changes it (handoff.categorization
    # holds the rule). Who did, when, and whether they kept the guess (None: there was no guess).
    category_confirmed_at = fields.DatetimeField(null=True)
    category_confirmed_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="confirmed_tickets", null=True, on_delete=fields.SET_NULL
    )
    category_confirmed_by_id: int | None
    category_agreed = fields.BooleanField(null=True)
    status = fields.CharEnumField(TicketStatus, max_length=16, default=TicketStatus.OPEN)
    priority = fields.CharEnumField(Priority, max_length=8, default=Priority.NORMAL)
    reason = fields.CharEnumField(HandoffReason, max_length=16)
    unverified = fields.BooleanField(default=False)
    subject = fields.CharField(max_length=200, default="")
    assignee: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="tickets", null=True, on_delete=fields.SET_NULL
    )
    assignee_id: int | None
    opened_at = fields.DatetimeField()
    first_response_at = fields.DatetimeField(null=True)
    resolved_at = fields.DatetimeField(null=True)
    resolved_by = fields.CharEnumField(ResolvedBy, max_length=8, null=True)
    due_at = fields.DatetimeField(db_index=True)
    # Set once by the SLA sweep, so a breach is recorded exactly once.
    breached_at = fields.DatetimeField(null=True)
    # The SLA as a fact of the ticket (handoff.sla): the targets it was given (seconds of counted time;
    # None on tickets from before per-target SLAs: resolution is then due_at - opened_at, no first-response
    # target), how its clock counts, whether waiting on the user pauses it, since when it is paused and for
    # how much counted time it was paused before. ``sla_next_check_at`` is when the sweep must look at it
    # next (its next warning or breach); None: nothing left to announce, or paused.
    first_response_due_at = fields.DatetimeField(null=True)
    sla_first_response_s = fields.IntField(null=True)
    sla_resolution_s = fields.IntField(null=True)
    # db_default too: the migration adds these NOT NULL columns to tables that already have rows.
    sla_counting = fields.CharEnumField(SlaCounting, max_length=16, default=SlaCounting.CALENDAR,
                                        db_default=SlaCounting.CALENDAR.value)
    sla_pauses = fields.BooleanField(default=False, db_default=False)
    sla_paused_at = fields.DatetimeField(null=True)
    sla_paused_s = fields.IntField(default=0, db_default=0)
    sla_next_check_at = fields.DatetimeField(null=True)
    escalated_at = fields.DatetimeField(null=True)
    # One satisfaction survey per ticket: set by a conditional update when it is sent, and the rating
    # is only recorded while it is still empty, so a repeated "5" does not count twice.
    survey_sent_at = fields.DatetimeField(null=True)
    survey_rating = fields.SmallIntField(null=True)
    survey_answered_at = fields.DatetimeField(null=True)
    # A rating of 1-2 puts the ticket in front of the supervisor.
    flagged = fields.BooleanField(default=False)
    # The user's optional words after the rating (chat or the survey page); kept only while empty, once.
    survey_comment = fields.TextField(null=True)
    # The developer team's incident this escalated ticket belongs to (one fix reported for all of them).
    incident: fields.ForeignKeyNullableRelation[Incident] = fields.ForeignKeyField(
        "models.Incident", related_name="tickets", null=True, on_delete=fields.SET_NULL
    )
    incident_id: int | None
    # Set by a conditional update when the incident's fix is sent to this ticket's user: once per ticket.
    fix_notified_at = fields.DatetimeField(null=True)
    # Follows the category's team (at hand-off and on every categorize); none: visible to every agent.
    team: fields.ForeignKeyNullableRelation[Team] = fields.ForeignKeyField(
        "models.Team", related_name="tickets", null=True, on_delete=fields.SET_NULL
    )
    team_id: int | None

    class Meta:
        table = "tickets"
        # Queries ask for unresolved tickets as ``status IN (...)`` (models.enums.UNRESOLVED), which these
        # serve; ``status <> 'resolved'`` could use no index and would read every ticket ever closed.
        indexes = (
            ("status", "due_at"),  # unresolved tickets by due time: the queue, SLA sweep, assignment, dashboard
            ("status", "id"),  # the API by status, newest first (a page of resolved ones without sorting them all)
            ("status", "channel"),  # WhatsApp tickets waiting on an agent (the window warnings' sweep)
            ("assignee_id", "status"),  # an agent's open tickets (queue "mine", assignment load)
            ("contact_id",),  # a person's tickets: ticket page, open ticket of a contact, survey
            ("conversation_id",),  # a conversation's ticket (every message while it is open)
            ("category_id", "status"),  # tickets closed without a category (dashboard), team changes
            ("incident_id",),  # an incident's tickets
            ("channel", "id"),  # the API by channel
            ("sla_next_check_at",),  # the SLA sweep: tickets with a warning or breach due (null for the rest)
            # The API's since=, and the dashboard's today and last 30 days; the dashboard's counts read
            # these indexes alone (every column they need is in them).
            ("opened_at", "conversation_id"),
            ("resolved_at", "predicted_category", "category_id"),  # where agents corrected the bot's category
            ("survey_answered_at", "survey_rating"),  # satisfaction
            ("flagged", "id"),  # the dashboard's low ratings
            # Closed tickets whose category no agent confirmed (the dashboard's count of them reads this index
            # alone: every column handoff.categorization.confirmed_sql asks about is in it).
            ("status", "category_confirmed_at", "category_id"),
            # The supervisor's ticket list by status in a period (handoff.ticket_search), and the period's
            # backlog whose SLA state it evaluates: without it SQLite walked every closed ticket by status.
            ("status", "opened_at"),
            # The dashboard's agreement with the bot's guess over the last 30 days' closings, read from this
            # index alone; SQLite otherwise chose (status, category_confirmed_at, ...) and read every closed
            # ticket ever (850 ms at 100,000 tickets, 1 ms with it).
            ("status", "resolved_at", "predicted_category", "category_id", "category_confirmed_at"),
            # Closed tickets confirmed and then left without a category (half of "closed without a confirmed
            # category", handoff.categorization.closed_unconfirmed): a seek to the few, not a walk of the rest.
            ("status", "category_id", "category_confirmed_at"),
            # The dashboard's backlog counted per status and assignee (handoff.console.dashboard) from the
            # index alone, without reading each unresolved ticket's row.
            ("status", "assignee_id", "opened_at", "due_at"),
            # Whether a conversation was handed off in a period (the reports' conversation outcomes, asked
            # per conversation), answered from the index.
            ("conversation_id", "opened_at"),
            # The supervisor's ticket list filtered by one of these in a period, counted and paged from the
            # index alone: without them SQLite (no statistics) chose (channel, id) and the like and read
            # every such ticket ever (56 ms for channel=email at 100,000 tickets; 0.2 ms with it).
            ("channel", "opened_at"),
            ("assignee_id", "opened_at"),
            ("category_id", "opened_at"),
            ("team_id", "opened_at"),
            # Not (survey_rating, opened_at): SQLite then walked all of it for the dashboard's ratings
            # GROUP BY instead of reading the last 30 days from (survey_answered_at, survey_rating).
        )


class Incident(Model):
    """A problem the developer team works on. Escalated tickets link to it and share its fix."""

    id = fields.IntField(primary_key=True)
    title = fields.CharField(max_length=200)
    status = fields.CharEnumField(IncidentStatus, max_length=8, default=IncidentStatus.OPEN)
    fix_text = fields.TextField(null=True)
    fixed_at = fields.DatetimeField(null=True)
    fixed_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="incidents_fixed", null=True, on_delete=fields.SET_NULL
    )
    fixed_by_id: int | None
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="incidents_opened", null=True, on_delete=fields.SET_NULL
    )
    created_by_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)

    tickets: fields.ReverseRelation[Ticket]

    class Meta:
        table = "incidents"
        ordering = ("-id",)


class IncidentFollower(Model):
    """A conversation told "we know, the developers are on it" instead of opening a ticket (bot.flow): the
    incident's fix notice goes to it once (handoff.incidents; ``notified_at`` is claimed by a conditional
    update before the message is written), as to the users of the incident's linked tickets."""

    id = fields.IntField(primary_key=True)
    incident: fields.ForeignKeyRelation[Incident] = fields.ForeignKeyField(
        "models.Incident", related_name="followers", on_delete=fields.CASCADE
    )
    incident_id: int
    conversation: fields.ForeignKeyRelation[Conversation] = fields.ForeignKeyField(
        "models.Conversation", related_name="incidents_followed", on_delete=fields.CASCADE
    )
    conversation_id: int
    created_at = fields.DatetimeField()
    notified_at = fields.DatetimeField(null=True)

    class Meta:
        table = "incident_followers"
        # One link per conversation and incident: a student who writes three times is told the fix once.
        unique_together = (("incident", "conversation"),)


class SlaNotice(Model):
    """One SLA warning or breach notice of one ticket: the unique key (ticket, target, threshold) is the
    claim that makes each notice exactly once, however many sweeps or schedulers run (handoff.sla)."""

    id = fields.IntField(primary_key=True)
    ticket: fields.ForeignKeyRelation[Ticket] = fields.ForeignKeyField(
        "models.Ticket", related_name="sla_notices", on_delete=fields.CASCADE
    )
    ticket_id: int
    target = fields.CharEnumField(SlaTarget, max_length=16)
    threshold = fields.SmallIntField()  # percent of the target: 50, 75, 90 warn; 100 is the breach
    created_at = fields.DatetimeField()
    # The sweep batch that inserted the row: its own rows are the ones it announces (handoff.sla).
    claim = fields.CharField(max_length=32, default="")

    class Meta:
        table = "sla_notices"
        unique_together = (("ticket_id", "target", "threshold"),)
        indexes = (("claim",),)  # a sweep reads back the rows it claimed


class EscalationMail(Model):
    """A mail the helpdesk sends about a ticket, stored first so a failed send is retried
    (handoff.escalation_mail) and the ticket shows whether it went: the escalation summary to the developer
    team, and (``kind``) the SLA breach notices to supervisors (handoff.notify). The table keeps its first
    name: one retried outbox for the helpdesk's own mails, not one per purpose."""

    id = fields.IntField(primary_key=True)
    # None for a mail about no one ticket: the digests and the monthly report (handoff.digest), and the
    # one-time identity codes (handoff.proof_codes).
    ticket: fields.ForeignKeyNullableRelation[Ticket] = fields.ForeignKeyField(
        "models.Ticket", related_name="escalation_mails", on_delete=fields.CASCADE, null=True
    )
    ticket_id: int | None
    # A stored monthly report sent as an attachment: referenced, not copied, so the row stays small.
    report: fields.ForeignKeyNullableRelation[GeneratedReport] = fields.ForeignKeyField(
        "models.GeneratedReport", related_name="mails", on_delete=fields.SET_NULL, null=True
    )
    report_id: int | None
    # A one-time identity code's mail: the address the code would prove, so a newer code for that address
    # drops the older one's mail while it still waits (handoff.proof_codes.issue).
    identity: fields.ForeignKeyNullableRelation[ChannelIdentity] = fields.ForeignKeyField(
        "models.ChannelIdentity", related_name="code_mails", on_delete=fields.SET_NULL, null=True
    )
    identity_id: int | None
    recipients = fields.TextField()  # comma-separated, as configured at the time of escalation
    subject = fields.CharField(max_length=200)
    body = fields.TextField()
    html = fields.TextField(null=True)  # an HTML alternative to ``body``, when the mail has one
    kind = fields.CharField(max_length=32, default="escalation", db_default="escalation")
    # How it goes (handoff.escalation_mail): ``email`` to ``recipients``, or ``telegram`` to the linked staff
    # chat whose id is ``recipients`` (handoff.staff_telegram); one outbox, so one claim and retry rule.
    channel = fields.CharEnumField(ChannelKind, max_length=16, default=ChannelKind.EMAIL, db_default="email")
    status = fields.CharEnumField(DeliveryStatus, max_length=16, default=DeliveryStatus.QUEUED)
    attempts = fields.IntField(default=0)
    last_error = fields.CharField(max_length=500, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "escalation_mails"
        indexes = (
            ("ticket_id",),  # a ticket's mails (ticket page)
            ("status", "id"),  # the retry sweep: queued ones among all ever sent
        )


class StaffLinkCode(Model):
    """A one-time code that links a console user's Telegram chat (handoff.staff_telegram): only its keyed
    hash is kept, found by that hash when the code is sent to the bot, valid for minutes and used once."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="telegram_link_codes", on_delete=fields.CASCADE
    )
    user_id: int
    code_hash = fields.CharField(max_length=64, unique=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "staff_link_codes"
        indexes = (("user_id", "created_at"),)


class StaffTelegramLink(Model):
    """A console user's own Telegram chat, where their notices go (handoff.staff_telegram): one chat per user
    and one user per chat. ``broken_at`` is set when Telegram refused a send for good (the bot was blocked)."""

    id = fields.IntField(primary_key=True)
    user: fields.OneToOneRelation[User] = fields.OneToOneField(
        "models.User", related_name="telegram_link", on_delete=fields.CASCADE
    )
    user_id: int
    chat_id = fields.CharField(max_length=32, unique=True)
    linked_at = fields.DatetimeField()
    broken_at = fields.DatetimeField(null=True)
    broken_reason = fields.CharField(max_length=200, null=True)

    class Meta:
        table = "staff_telegram_links"


class StoredSecret(Model):
    """A random secret made once per installation (e.g. for survey links when SECRET_KEY is not set)."""

    name = fields.CharField(max_length=64, primary_key=True)
    value = fields.CharField(max_length=128)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "stored_secrets"


class TicketEvent(Model):
    id = fields.IntField(primary_key=True)
    ticket: fields.ForeignKeyRelation[Ticket] = fields.ForeignKeyField(
        "models.Ticket", related_name="events", on_delete=fields.CASCADE
    )
    ticket_id: int
    kind = fields.CharField(max_length=40)
    actor_kind = fields.CharEnumField(ActorKind, max_length=8)
    actor: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="ticket_events", null=True, on_delete=fields.SET_NULL
    )
    actor_id: int | None
    data: dict[str, Any] = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "ticket_events"
        ordering = ("id",)
        indexes = (("ticket_id", "id"),)  # a ticket's events in order: timeline, assignment, window warnings


class ConsoleSession(Model):
    """A signed-in console browser. Server-side so that signing out (or a password change) ends it at once."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="console_sessions", on_delete=fields.CASCADE
    )
    user_id: int
    # SHA-256 of the cookie value: a leaked database does not leak usable sessions.
    token_hash = fields.CharField(max_length=64, unique=True)
    csrf_token = fields.CharField(max_length=64)
    # The user's session_version when signing in; a password change bumps the user's and ends this one.
    session_version = fields.IntField()
    created_at = fields.DatetimeField(auto_now_add=True)
    last_seen_at = fields.DatetimeField()
    expires_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "console_sessions"


class ApiToken(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=120)
    role = fields.CharEnumField(UserRole, max_length=16)
    # SHA-256 of the token: a leaked database does not leak usable tokens.
    token_hash = fields.CharField(max_length=64, unique=True)
    # Set for tokens that act on tickets (take, reply, close...): the actions are that person's, with
    # that person's role and ownership. Tokens without a user only read.
    user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="api_tokens", null=True, on_delete=fields.CASCADE
    )
    user_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    # None: the token does not expire (it can still be revoked, and fails while its user is inactive).
    expires_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_tokens"


class DirectoryEntry(Model):
    """The campus directory ("situs NIC") as imported by ``carecenter directory import``."""

    id = fields.IntField(primary_key=True)
    id_number = fields.CharField(max_length=32, unique=True)
    name = fields.CharField(max_length=200)
    email = fields.CharField(max_length=254, default="", db_index=True)
    role = fields.CharEnumField(ContactRole, max_length=16)
    faculty = fields.CharField(max_length=200, default="")
    program = fields.CharField(max_length=200, default="")
    status = fields.CharField(max_length=32, default="active")
    # E.164 (+628...), optional: a WhatsApp message from this number proves the address (issue 13).
    phone = fields.CharField(max_length=16, null=True, db_index=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "directory_entries"


class AuditLog(Model):
    id = fields.IntField(primary_key=True)
    actor: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="audit_entries", null=True, on_delete=fields.SET_NULL
    )
    actor_id: int | None
    action = fields.CharField(max_length=60)
    target = fields.CharField(max_length=120, default="")
    data: dict[str, Any] = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "audit_log"
        ordering = ("-id",)


class SchedulerLease(Model):
    """Who runs the scheduler: exactly one process holds an unexpired lease at a time."""

    name = fields.CharField(max_length=64, primary_key=True)
    holder = fields.CharField(max_length=120)
    expires_at = fields.DatetimeField()

    class Meta:
        table = "scheduler_leases"


class GeneratedReport(Model):
    """A monthly report generated on the 1st for the month before (handoff.reports.archive), kept for the
    console's download. The file is in the database, not under DATA_DIR: on a PaaS the ``clock`` process that
    writes it and the ``web`` process that serves it have separate, short-lived file systems, and a row is
    also backed up, and written or not at all, with everything else. A report is tens of kilobytes, two a
    month (XLSX and PDF). One per month, format and language: the unique key makes a second run a no-op."""

    id = fields.IntField(primary_key=True)
    month = fields.DateField()  # the first day of the month reported on
    format = fields.CharField(max_length=8)
    lang = fields.CharField(max_length=5)
    content = fields.BinaryField()
    size = fields.IntField()
    generated_at = fields.DatetimeField()

    class Meta:
        table = "generated_reports"
        unique_together = (("month", "format", "lang"),)


class FigureSnapshot(Model):
    """A period's figures as the database stood at ``computed_at`` (handoff.reports.snapshots): the
    dashboard shows a recent one instead of reading two periods of tickets and conversations on every view,
    and the scheduler refreshes the ones viewed lately. ``reading`` is ``handoff.reports.figures.Reading``
    in the layout ``version`` names. One per period and time zone."""

    id = fields.IntField(primary_key=True)
    period_start = fields.DateField()
    period_end = fields.DateField()  # exclusive
    tz = fields.CharField(max_length=64)
    version = fields.SmallIntField()
    reading: dict[str, Any] = fields.JSONField()
    computed_at = fields.DatetimeField()
    viewed_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "figure_snapshots"
        unique_together = (("period_start", "period_end", "tz"),)


class DigestDelivery(Model):
    """One scheduled mail (daily digest, weekly summary, monthly report) to one supervisor for one period:
    the unique key (kind, period_start, user) is the claim that makes it exactly once, however many
    schedulers run (handoff.digest). Written in the transaction that queues the mail."""

    id = fields.IntField(primary_key=True)
    kind = fields.CharField(max_length=16)
    period_start = fields.DateField()
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="digest_deliveries", on_delete=fields.CASCADE
    )
    user_id: int
    created_at = fields.DatetimeField()

    class Meta:
        table = "digest_deliveries"
        unique_together = (("kind", "period_start", "user_id"),)


class TurnLease(Model):
    """Who runs one person's turns (bot.turns): one process at a time holds an unexpired lease per person.

    ``person`` is the channel and the person's address on it (``telegram:4242``), the same key the inbox
    receipts carry, so a receipt not yet stored as a message is covered too. Rows live while held: the
    holder deletes its row when the person has nothing left to run, and a dead holder's row is taken
    over once ``expires_at`` has passed.
    """

    person = fields.CharField(max_length=300, primary_key=True)
    holder = fields.CharField(max_length=120)
    expires_at = fields.DatetimeField()

    class Meta:
        table = "turn_leases"
        indexes = (("holder",),)


class Team(Model):
    """A group of agents: categories map to a team, and agents see only the tickets of their teams."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=120, unique=True)
    members: fields.ManyToManyRelation[User] = fields.ManyToManyField(
        "models.User", related_name="teams", through="team_members"
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "teams"
        ordering = ("name",)


class Setting(Model):
    """Settings supervisors edit in the console (hours, SLA...), read at use so a change needs no restart."""

    key = fields.CharField(max_length=64, primary_key=True)
    value: dict[str, Any] = fields.JSONField(default=dict)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "settings"


class LoginThrottle(Model):
    """Failed console sign-ins, kept in the database so every process and a restart see the same count.

    One row per (account, client address) pair, and one per address alone (``account`` empty) for the
    looser per-address ceiling. Both are keyed HMACs, never the typed e-mail (people type passwords
    there) or the address themselves. See handoff.console.sessions.LoginLimiter.
    """

    id = fields.IntField(primary_key=True)
    account = fields.CharField(max_length=64)
    address = fields.CharField(max_length=64)
    failures = fields.IntField(default=0)
    last_failed_at = fields.DatetimeField(null=True)
    # The pair's last successful sign-in: an address the owner signs in from is not slowed by the
    # other accounts tried from it.
    succeeded_at = fields.DatetimeField(null=True)

    class Meta:
        table = "login_throttle"
        unique_together = (("account", "address"),)
