"""Settings from environment variables (and a ``.env`` file); all optional. Built once, passed to create_app."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

from bot.directory import InactivePolicy
from handoff import reply_window
from handoff.attachments import DEFAULT_MAX_BYTES, DEFAULT_TYPES, AttachmentPolicy, AttachmentStore
from handoff.client_address import ProxyHeader, TrustedProxies, parse_networks
from handoff.escalation_mail import parse_recipients
from handoff.sla import DEFAULT_TARGET


class ConfigError(ValueError):
    """A setting the operator must fix; the message names the variable."""


def _parse_time(name: str, value: str) -> time:
    try:
        hours, minutes = value.split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise ConfigError(f"{name}={value!r}: expected HH:MM, e.g. 08:00") from None


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = Path("carecenter-data")
    database_url: str = ""
    public_url: str = ""
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Jakarta"))
    secret_key: str = ""
    campus_domains: tuple[str, ...] = ("itb.ac.id",)
    sla: timedelta = DEFAULT_TARGET
    opens: time = time(8, 0)
    closes: time = time(16, 0)
    directory_url: str = ""
    directory_token: str = ""
    # DIRECTORY_INACTIVE: claimed (default) or refuse, for an entry whose status is not active (bot.directory).
    directory_inactive: InactivePolicy = InactivePolicy.CLAIMED
    # WEBCHAT_IDENTITY_SECRET: shared with the LMS that signs its users' identities for the web chat (bot.lms).
    webchat_identity_secret: str = ""
    # WEBCHAT_ALLOWED_ORIGINS: the sites (the LMS) whose pages may frame /chat; empty: this site only.
    webchat_allowed_origins: tuple[str, ...] = ()
    log_level: str = "INFO"
    max_body_bytes: int = 1024 * 1024
    telegram_bot_token: str = ""
    telegram_webhook_secret: str = ""
    telegram_api_base_url: str = ""
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_whatsapp_from: str = ""
    twilio_api_base_url: str = ""
    # Approved WhatsApp templates (Content SIDs, HX...) by purpose, from TWILIO_TEMPLATE_<PURPOSE>.
    twilio_templates: Mapping[str, str] = field(default_factory=dict)
    smtp: Mapping[str, str] = field(default_factory=dict)
    imap: Mapping[str, str] = field(default_factory=dict)
    # How long before a waiting WhatsApp user's 24-hour window closes the agent is warned; 0 turns it off.
    whatsapp_window_warning: timedelta = timedelta(minutes=120)
    max_attachment_bytes: int = DEFAULT_MAX_BYTES
    attachment_types: tuple[str, ...] = DEFAULT_TYPES
    # Where escalations to the developer team are e-mailed (through the SMTP_* server), comma-separated.
    escalation_email_to: tuple[str, ...] = ()
    # Replace the shipped Edunex training / held-out files when retraining from the console.
    nlp_train_data: Path | None = None
    nlp_test_data: Path | None = None
    # Reverse proxies whose forwarding header is believed for the client's address (TRUSTED_PROXIES,
    # TRUSTED_PROXY_HEADER); none by default, so a client cannot choose its own address.
    trusted_proxies: TrustedProxies = field(default_factory=TrustedProxies)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite://{(self.data_dir / 'carecenter.sqlite3').resolve()}"

    @property
    def model_dir(self) -> Path:
        return self.data_dir / "models"

    def attachment_store(self) -> AttachmentStore:
        policy = AttachmentPolicy(max_bytes=self.max_attachment_bytes, allowed_types=frozenset(self.attachment_types))
        return AttachmentStore(self.data_dir / "attachments", policy)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, env_file: Path | None = Path(".env")) -> Settings:
        values: dict[str, str] = {}
        if env_file is not None and env_file.is_file():
            values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        values.update(os.environ if environ is None else environ)  # the real environment wins over .env

        def get(name: str, default: str = "") -> str:
            return values.get(name, default).strip()

        tz_name = get("TZ", "Asia/Jakarta") or "Asia/Jakarta"
        try:
            tz = ZoneInfo(tz_name.removeprefix(":"))
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"TZ={tz_name!r}: not a known time zone (e.g. Asia/Jakarta)") from None
        sla_hours = get("SLA_HOURS", f"{DEFAULT_TARGET.total_seconds() / 3600:g}")
        try:
            sla = timedelta(hours=float(sla_hours))
        except ValueError:
            raise ConfigError(f"SLA_HOURS={sla_hours!r}: expected a number of hours") from None
        if sla <= timedelta(0):
            raise ConfigError("SLA_HOURS must be positive")
        warning_minutes = get("WHATSAPP_WINDOW_WARNING_MINUTES", "120") or "120"
        try:
            window_warning = timedelta(minutes=int(warning_minutes))
        except ValueError:
            raise ConfigError(
                f"WHATSAPP_WINDOW_WARNING_MINUTES={warning_minutes!r}: expected whole minutes, e.g. 120"
            ) from None
        if not timedelta(0) <= window_warning < reply_window.WHATSAPP.length:
            raise ConfigError("WHATSAPP_WINDOW_WARNING_MINUTES must be between 0 and 1439")
        max_attachment = get("MAX_ATTACHMENT_BYTES", str(DEFAULT_MAX_BYTES)) or str(DEFAULT_MAX_BYTES)
        try:
            max_attachment_bytes = int(max_attachment)
        except ValueError:
            raise ConfigError(f"MAX_ATTACHMENT_BYTES={max_attachment!r}: expected a number of bytes") from None
        if max_attachment_bytes <= 0:
            raise ConfigError("MAX_ATTACHMENT_BYTES must be positive")
        types = tuple(t.strip().lower() for t in get("ATTACHMENT_TYPES").split(",") if t.strip()) or DEFAULT_TYPES
        for kind in types:
            if "/" not in kind or " " in kind:
                raise ConfigError(f"ATTACHMENT_TYPES: {kind!r} is not a MIME type (e.g. image/png)")
        try:
            escalation_email_to = parse_recipients(get("ESCALATION_EMAIL_TO"))
        except ValueError as problem:
            raise ConfigError(str(problem)) from None
        try:
            proxies = parse_networks(get("TRUSTED_PROXIES"))
        except ValueError as problem:
            raise ConfigError(f"TRUSTED_PROXIES: {problem}") from None
        header = (get("TRUSTED_PROXY_HEADER", ProxyHeader.X_FORWARDED_FOR) or ProxyHeader.X_FORWARDED_FOR).lower()
        if header not in ProxyHeader._value2member_map_:
            raise ConfigError(f"TRUSTED_PROXY_HEADER={header!r}: expected x-forwarded-for or forwarded")
        inactive = (get("DIRECTORY_INACTIVE", InactivePolicy.CLAIMED) or InactivePolicy.CLAIMED).strip().lower()
        if inactive not in InactivePolicy._value2member_map_:
            raise ConfigError(f"DIRECTORY_INACTIVE={inactive!r}: expected claimed or refuse")
        domains = tuple(d.strip().lower() for d in get("CAMPUS_EMAIL_DOMAINS", "itb.ac.id").split(",") if d.strip())
        return cls(
            data_dir=Path(get("DATA_DIR", "carecenter-data") or "carecenter-data"),
            database_url=get("DATABASE_URL"),
            public_url=get("PUBLIC_URL").rstrip("/"),
            tz=tz,
            secret_key=get("SECRET_KEY"),
            campus_domains=domains or ("itb.ac.id",),
            sla=sla,
            opens=_parse_time("OPENING_TIME", get("OPENING_TIME", "08:00")),
            closes=_parse_time("CLOSING_TIME", get("CLOSING_TIME", "16:00")),
            directory_url=get("DIRECTORY_URL"),
            directory_token=get("DIRECTORY_TOKEN"),
            directory_inactive=InactivePolicy(inactive),
            webchat_identity_secret=get("WEBCHAT_IDENTITY_SECRET"),
            webchat_allowed_origins=parse_origins(get("WEBCHAT_ALLOWED_ORIGINS")),
            log_level=(get("LOG_LEVEL", "INFO") or "INFO").upper(),
            telegram_bot_token=get("TELEGRAM_BOT_TOKEN"),
            telegram_webhook_secret=get("TELEGRAM_WEBHOOK_SECRET"),
            telegram_api_base_url=get("TELEGRAM_API_BASE_URL"),
            twilio_account_sid=get("TWILIO_ACCOUNT_SID"),
            twilio_auth_token=get("TWILIO_AUTH_TOKEN"),
            twilio_whatsapp_from=get("TWILIO_WHATSAPP_FROM"),
            twilio_api_base_url=get("TWILIO_API_BASE_URL"),
            twilio_templates={
                k.removeprefix("TWILIO_TEMPLATE_").lower(): v.strip()
                for k, v in values.items()
                if k.startswith("TWILIO_TEMPLATE_") and v.strip()
            },
            smtp={k.removeprefix("SMTP_").lower(): v for k, v in values.items() if k.startswith("SMTP_")},
            imap={k.removeprefix("IMAP_").lower(): v for k, v in values.items() if k.startswith("IMAP_")},
            whatsapp_window_warning=window_warning,
            max_attachment_bytes=max_attachment_bytes,
            attachment_types=types,
            escalation_email_to=escalation_email_to,
            nlp_train_data=Path(get("NLP_TRAIN_DATA")) if get("NLP_TRAIN_DATA") else None,
            nlp_test_data=Path(get("NLP_TEST_DATA")) if get("NLP_TEST_DATA") else None,
            trusted_proxies=TrustedProxies(networks=proxies, header=ProxyHeader(header)),
        )


_ORIGIN = re.compile(r"(https?)://([a-z0-9.-]+|\[[0-9a-f:.]+\])(:\d{1,5})?")


def parse_origins(raw: str) -> tuple[str, ...]:
    """``https://lms.example, http://127.0.0.1:8080``: each a scheme, host and optional port, nothing more.
    They go into a CSP header as written, so anything else (a path, a wildcard, a quote, a space) is refused
    rather than widened or passed on."""
    origins: list[str] = []
    for item in raw.split(","):
        origin = item.strip().lower().rstrip("/")
        if not origin:
            continue
        if _ORIGIN.fullmatch(origin) is None:
            raise ConfigError(f"WEBCHAT_ALLOWED_ORIGINS: {item.strip()!r} is not an origin (e.g. https://lms.example.ac.id)")
        if origin not in origins:
            origins.append(origin)
    return tuple(origins)
