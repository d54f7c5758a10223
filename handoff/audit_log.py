"""The audit log's one writer: who did what in the console (or the system, ``actor`` None).

Its own module, below handoff.actions, so that services the outbox imports (handoff.staff_telegram) can
write audit rows without importing the actions that import the outbox.
"""

from __future__ import annotations

from typing import Any

from models import AuditLog, User


async def audit(*, actor: User | None, action: str, target: str = "", data: dict[str, Any] | None = None) -> None:
    await AuditLog.create(actor=actor, action=action, target=target[:120], data=data or {})
