"""What a conversation needs from the process: the channels, the classifier, the directory, the
settings in force, the clock and the per-person locks (``FlowDeps``), and what storing a message returns.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bot.directory import Directory, InactivePolicy
from bot.identity import DEFAULT_CAMPUS_DOMAINS
from bot.leases import Leases
from handoff.attachments import AttachmentStore
from handoff.delivery import ChannelRegistry
from handoff.hours import OperatingHours
from handoff.sla import DEFAULT_TARGET
from nlp import Prediction


@dataclass(slots=True)
class KeyedLocks:
    """One lock per user address, so two messages from one person are handled in order."""

    _locks: dict[tuple[str, str], asyncio.Lock] = field(default_factory=dict)

    def get(self, key: tuple[str, str]) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    def release_idle(self, key: tuple[str, str]) -> None:
        lock = self._locks.get(key)
        if lock is not None and not lock.locked():
            del self._locks[key]


class Predictor(Protocol):
    """What the flow needs of a classifier (nlp.Classifier; tests pass a scripted one). ``predict`` runs in a
    worker thread (a long message costs milliseconds of CPU), so it must be safe to call from several at
    once: nlp.Classifier only reads its model."""

    def predict(self, text: str, *, exclude: Collection[str] = ()) -> Prediction: ...


@dataclass(slots=True)
class FlowDeps:
    registry: ChannelRegistry
    classifier: Predictor
    directory: Directory
    hours: OperatingHours = field(default_factory=OperatingHours)
    campus_domains: tuple[str, ...] = DEFAULT_CAMPUS_DOMAINS
    # A directory entry that is not active: a claim at most, or refused (DIRECTORY_INACTIVE).
    inactive: InactivePolicy = InactivePolicy.CLAIMED
    # SECRET_KEY: keys the guessing limits' hashes (handoff.identity_limits); a stored one when unset.
    secret_key: str = ""
    # Whether a one-time code can be mailed (SMTP_* configured): only then is proof by code offered.
    code_mail: bool = False
    sla: timedelta = DEFAULT_TARGET
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    locks: KeyedLocks = field(default_factory=KeyedLocks)  # the store step, per user
    turn_locks: KeyedLocks = field(default_factory=KeyedLocks)  # the process step, per user, in this process
    # This process's person leases (bot.leases): what keeps one person's turns in one process at a time.
    leases: Leases = field(default_factory=Leases)
    # Called with (event name, data) after a state change the console shows live.
    notify: Callable[[str, dict[str, Any]], None] = lambda _name, _data: None
    # Where the whole text of a message over MAX_STORED_CHARS is kept (the app's one attachment store).
    attachments: AttachmentStore | None = None


@dataclass(frozen=True, slots=True)
class HandleResult:
    duplicate: bool
    message_id: int | None
    conversation_id: int | None
