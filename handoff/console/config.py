"""Console settings. Read from the environment (and ``.env``) by the app factory, never at import time."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from dotenv import dotenv_values

DEFAULT_SESSION_TTL = timedelta(hours=12)
DEFAULT_ANSWER_WITHIN = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class ConsoleConfig:
    # Where an escalated ticket's summary is POSTed (the Edunex developer team's tracker or chat).
    escalation_webhook_url: str = ""
    # When set, the webhook body is signed: X-Carecenter-Signature: sha256=<HMAC of the body>.
    escalation_webhook_secret: str = ""
    # The developer team's mailbox(es) for escalations (ESCALATION_EMAIL_TO; read by bot.config.Settings and
    # handed in by the app, like the two below).
    escalation_email_to: tuple[str, ...] = ()
    # Signs the survey links (SECRET_KEY); empty: a secret made once and kept in the database.
    secret_key: str = ""
    # An approved WhatsApp "survey" template exists (TWILIO_TEMPLATE_SURVEY): send the survey after the window.
    survey_template: bool = False
    session_ttl: timedelta = DEFAULT_SESSION_TTL
    # Give handed-off tickets to available agents automatically (least open tickets, within capacity).
    auto_assign: bool = True
    # An automatically assigned ticket with no reply after this long goes to the next agent; None: never.
    answer_within: timedelta | None = DEFAULT_ANSWER_WITHIN

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, env_file: Path | None = Path(".env")
    ) -> ConsoleConfig:
        values: dict[str, str] = {}
        if env_file is not None and env_file.is_file():
            values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        values.update(os.environ if environ is None else environ)
        hours = values.get("CONSOLE_SESSION_HOURS", "").strip()
        try:
            ttl = timedelta(hours=float(hours)) if hours else DEFAULT_SESSION_TTL
        except ValueError:
            raise ValueError(f"CONSOLE_SESSION_HOURS={hours!r}: expected a number of hours") from None
        minutes = values.get("ASSIGN_ANSWER_MINUTES", "").strip()
        try:
            answer_within = timedelta(minutes=float(minutes)) if minutes else DEFAULT_ANSWER_WITHIN
        except ValueError:
            raise ValueError(f"ASSIGN_ANSWER_MINUTES={minutes!r}: expected a number of minutes (0: never)") from None
        return cls(
            auto_assign=values.get("AUTO_ASSIGN", "1").strip().lower() not in ("0", "false", "no", "off"),
            answer_within=answer_within if answer_within > timedelta(0) else None,
            escalation_webhook_url=values.get("ESCALATION_WEBHOOK_URL", "").strip(),
            escalation_webhook_secret=values.get("ESCALATION_WEBHOOK_SECRET", "").strip(),
            session_ttl=ttl,
        )
