"""Files a provider names (WhatsApp media, Telegram getFile), fetched under one policy.

A media URL arrives in a webhook and a file path in a Bot API answer: both are input, and the fetch runs
inside our network with the provider's credentials at hand. So, for every channel:

- only ``https`` on the provider's own hosts and default port; plain ``http`` only for a configured
  stand-in on loopback (``*_API_BASE_URL`` in tests and benchmarks); no user information in the URL, and
  hosts are compared as written, never resolved (``2130706433``, ``0177.0.0.1`` or ``[::1]`` are not the
  hosts they might resolve to);
- redirects are followed by hand, each target checked by the same rule against the hosts the provider
  redirects to; credentials go with the first request only, and only to the provider's API origin;
- at most ``max_bytes`` are read, counted while streaming;
- the outcome is the bytes or a ``Refusal`` code for the attachment row, never an exception, and what is
  logged names the rule, never the URL (it may carry a token).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import aiohttp
from yarl import URL

from handoff.attachments import Refusal, normalise_type

log = logging.getLogger(__name__)

HTTPS_PORT = 443
# Twilio answers a media URL with one redirect to its CDN; three leave room without allowing a loop.
MAX_REDIRECTS = 3
MAX_URL_CHARS = 2048
FETCH_TIMEOUT = 30.0
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Printable ASCII without space or backslash: what a provider's URL is made of; anything else is refused
# before a parser could read it one way and the HTTP client another.
_URL_CHARS = re.compile(r"[!-\[\]-~]+")


@dataclass(frozen=True, slots=True)
class Origin:
    """One scheme, host and port, and the path a URL there must start with."""

    scheme: str
    host: str
    port: int
    path_prefix: str = "/"

    def admits(self, url: URL) -> bool:
        return (url.scheme == self.scheme and (url.raw_host or "").lower() == self.host
                and url.port == self.port and url.path.startswith(self.path_prefix))


@dataclass(frozen=True, slots=True)
class HostSuffix:
    """Every host under a domain the provider owns, over https on the default port (a CDN's hosts)."""

    domain: str

    def admits(self, url: URL) -> bool:
        host = (url.raw_host or "").lower()
        return url.scheme == "https" and url.port == HTTPS_PORT and host.endswith("." + self.domain)


Rule = Origin | HostSuffix


def provider_origin(url: str, *, path_prefix: str = "/") -> Origin:
    """The origin of one of the provider's own https addresses."""
    parsed = URL(url)
    return Origin("https", (parsed.raw_host or "").lower(), parsed.port or HTTPS_PORT, path_prefix)


def stand_in_origin(base_url: str, *, path_prefix: str = "") -> Origin | None:
    """The origin of a configured ``*_API_BASE_URL``: https anywhere, plain http on loopback only (a test's
    or a benchmark's stand-in). None when it is neither, so nothing is fetched from it."""
    parsed = URL(base_url)
    host = (parsed.raw_host or "").lower()
    if parsed.scheme not in ("http", "https") or not host or parsed.port is None:
        return None
    if parsed.scheme == "http" and not _loopback(host):
        log.warning("an http API base URL is used for files only on loopback; files are not fetched from it")
        return None
    return Origin(parsed.scheme, host, parsed.port, path_prefix or "/")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """Where a provider's files may come from: ``start`` for the URL the provider gave, ``redirects`` for
    where its answers may lead (checked in addition to ``start``), ``credentials`` the one origin the
    credentials may be sent to (on the first request only)."""

    start: tuple[Rule, ...]
    redirects: tuple[Rule, ...] = ()
    credentials: Origin | None = None

    def admit(self, raw: str, *, redirect: bool = False) -> tuple[URL | None, str]:
        """The parsed URL when it may be fetched, else None and the rule it broke (for the log)."""
        if len(raw) > MAX_URL_CHARS or _URL_CHARS.fullmatch(raw) is None:
            return None, "characters"
        try:
            url = URL(raw)
        except ValueError:
            return None, "unparseable"
        return self.admit_url(url, redirect=redirect)

    def follow(self, current: URL, location: str) -> tuple[URL | None, str]:
        """Where a redirect from ``current`` to ``location`` (absolute or relative) leads, when it may."""
        if len(location) > MAX_URL_CHARS or _URL_CHARS.fullmatch(location) is None:
            return None, "characters"
        try:
            target = current.join(URL(location))
        except ValueError:
            return None, "unparseable"
        return self.admit_url(target, redirect=True)

    def admit_url(self, url: URL, *, redirect: bool = False) -> tuple[URL | None, str]:
        if not url.absolute or url.scheme not in ("http", "https"):
            return None, "scheme"
        if url.user is not None or url.password is not None or "@" in (url.raw_authority or ""):
            return None, "userinfo"
        rules = self.start + self.redirects if redirect else self.start
        if not any(rule.admits(url) for rule in rules):
            return None, "host"
        return url, ""


@dataclass(frozen=True, slots=True)
class Fetched:
    data: bytes | None = field(repr=False)
    size: int
    refused: str | None
    content_type: str = ""
    # The rule that refused it or the error's class, for the log; never the URL.
    why: str = ""


async def fetch_file(
    session: aiohttp.ClientSession,
    raw_url: str,
    *,
    policy: FetchPolicy,
    max_bytes: int,
    credentials: Mapping[str, str] | None = None,
    expected_type: str | None = None,
) -> Fetched:
    """The file at ``raw_url`` under ``policy``, or why it was not fetched (a ``Refusal`` code).

    With ``expected_type``, an answer of another type is refused before its body is read."""
    url, why = policy.admit(raw_url)
    if url is None:
        return Fetched(None, 0, Refusal.SOURCE_NOT_ALLOWED, why=why)
    headers = dict(credentials or {}) if policy.credentials is not None and policy.credentials.admits(url) else {}
    try:
        async with asyncio.timeout(FETCH_TIMEOUT):
            for _hop in range(MAX_REDIRECTS + 1):
                async with session.get(url, headers=headers, allow_redirects=False) as response:
                    if response.status in _REDIRECTS:
                        url, why = policy.follow(url, response.headers.get("Location", ""))
                        if url is None:
                            return Fetched(None, 0, Refusal.SOURCE_NOT_ALLOWED, why=f"redirect {why}")
                        headers = {}  # a redirect target never gets the credentials
                        continue
                    if response.status != 200:
                        return Fetched(None, 0, Refusal.DOWNLOAD_FAILED, why=f"status {response.status}")
                    kind = normalise_type(response.headers.get("Content-Type", ""))
                    if expected_type is not None and kind != expected_type:
                        return Fetched(None, 0, Refusal.TYPE_MISMATCH, kind, "type")
                    if (response.content_length or 0) > max_bytes:
                        return Fetched(None, response.content_length or 0, Refusal.TOO_BIG, kind, "length")
                    data = bytearray()
                    async for chunk in response.content.iter_chunked(64 * 1024):
                        data.extend(chunk)
                        if len(data) > max_bytes:
                            return Fetched(None, len(data), Refusal.TOO_BIG, kind, "streamed")
                    return Fetched(bytes(data), len(data), None, kind)
            return Fetched(None, 0, Refusal.DOWNLOAD_FAILED, why="too many redirects")
    except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
        return Fetched(None, 0, Refusal.DOWNLOAD_FAILED, why=exc.__class__.__name__)
