"""Retraining reads agents' decisions only: tickets whose category an agent confirmed, never the
classifier's own untouched guesses (handoff.learning, on SQLite and PostgreSQL)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from handoff.learning import confirmed_examples, corrections
from models import Ticket
from tests.handoff.reports_data import Builder, wib

H = timedelta(hours=1)


async def _ticket(b: Builder, subject: str, **kwargs: object) -> Ticket:
    ticket = await b.ticket(at=wib(2026, 11, 2, 9), **kwargs)  # type: ignore[arg-type]
    ticket.subject = subject
    await ticket.save(update_fields=["subject"])
    return ticket


async def test_only_confirmed_categories_of_closed_tickets_are_examples(db: str) -> None:
    b = await Builder().setup()
    await _ticket(b, "nilai UTS belum keluar", category="nilai", predicted="nilai", resolved=H, confirmed=True)
    # Closed with the bot's guess that nobody confirmed (before confirmation, or by the system).
    await _ticket(b, "lupa password edunex", category="reset-password", predicted="reset-password", resolved=H)
    # Confirmed, but still open: not yet an example.
    await _ticket(b, "login gagal terus", category="akun-login", predicted="reset-password", confirmed=True)
    await _ticket(b, "tidak bisa masuk sso", category="akun-login", predicted="nilai", resolved=H, confirmed=True)

    assert await confirmed_examples() == [("nilai UTS belum keluar", "nilai"), ("tidak bisa masuk sso", "akun-login")]

    counts, recent = await corrections()
    assert counts == Counter({("nilai", "akun-login"): 1, ("reset-password", "akun-login"): 1})
    assert [(c.subject, c.predicted, c.confirmed) for c in recent] == [
        ("tidak bisa masuk sso", "nilai", "akun-login"), ("login gagal terus", "reset-password", "akun-login")]
