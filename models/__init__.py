"""Tortoise ORM models, enums and database configuration of carecenter.

Imports flow one way: ``bot -> handoff -> models``; this package imports Tortoise only.
"""

from models.db import Database, open_database, tortoise_config
from models.entities import (
    AnswerTemplate,
    ApiToken,
    AuditLog,
    Category,
    ChannelIdentity,
    Contact,
    Conversation,
    DirectoryEntry,
    Message,
    SchedulerLease,
    Ticket,
    TicketEvent,
    User,
)
from models.enums import (
    ActorKind,
    ChannelKind,
    ContactRole,
    ConversationStatus,
    DeliveryStatus,
    Direction,
    FlowStep,
    HandoffReason,
    Priority,
    ResolvedBy,
    SenderKind,
    TicketStatus,
    UserRole,
)

__all__ = [
    "ActorKind",
    "AnswerTemplate",
    "ApiToken",
    "AuditLog",
    "Category",
    "ChannelIdentity",
    "ChannelKind",
    "Contact",
    "ContactRole",
    "Conversation",
    "ConversationStatus",
    "Database",
    "DeliveryStatus",
    "Direction",
    "DirectoryEntry",
    "FlowStep",
    "HandoffReason",
    "Message",
    "Priority",
    "ResolvedBy",
    "SchedulerLease",
    "SenderKind",
    "Ticket",
    "TicketEvent",
    "TicketStatus",
    "User",
    "UserRole",
    "open_database",
    "tortoise_config",
]
