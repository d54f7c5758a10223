"""Mail stand-ins: an aiosmtpd sink in the test's own loop, and Debian's dovecot as a throwaway IMAP server."""

from __future__ import annotations

import asyncio
import imaplib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

DOVECOT = Path("/usr/sbin/dovecot")
IMAP_USER = "care"
IMAP_PASSWORD = "secret"  # the throwaway server's static password


@dataclass
class SmtpSink:
    port: int = 0
    received: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # addresses answered with 550

    async def handle_RCPT(self, _server: SMTP, _session: Session, envelope: Envelope, address: str,
                          _options: list[str]) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        parsed = message_from_bytes(content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append(parsed)
        self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"

    def texts(self, to: str) -> list[str]:
        out = []
        for mail in self.received:
            if mail["To"] == to:
                body = mail.get_body(preferencelist=("plain",))
                assert body is not None
                out.append(str(body.get_content()).strip())
        return out


@pytest.fixture
async def smtp_sink() -> AsyncIterator[SmtpSink]:
    sink = SmtpSink()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(sink, hostname="helpdesk.test"), "127.0.0.1", 0)
    sink.port = server.sockets[0].getsockname()[1]
    try:
        yield sink
    finally:
        server.close()
        await server.wait_closed()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Dovecot:
    port: int

    def append(self, raw: bytes) -> None:
        """Deliver a mail into the inbox (blocking; call through asyncio.to_thread)."""
        client = imaplib.IMAP4("127.0.0.1", self.port)
        try:
            client.login(IMAP_USER, IMAP_PASSWORD)
            client.append("INBOX", None, None, raw)  # type: ignore[arg-type]
        finally:
            client.logout()

    def unseen(self) -> int:
        client = imaplib.IMAP4("127.0.0.1", self.port)
        try:
            client.login(IMAP_USER, IMAP_PASSWORD)
            client.select("INBOX")
            _typ, data = client.uid("search", "UNSEEN")
            return len(data[0].split()) if data and data[0] else 0
        finally:
            client.logout()


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    if not DOVECOT.exists() or os.geteuid() != 0:
        pytest.skip("needs Debian's dovecot-imapd and root")
    # Under /tmp with open parent permissions: dovecot's imap process runs as nobody.
    root = Path(tempfile.mkdtemp(prefix="cc-dovecot-", dir="/tmp"))
    root.chmod(0o755)
    mail = root / "mail"
    mail.mkdir()
    shutil.chown(mail, "nobody", "nogroup")
    port = _free_port()
    config = root / "dovecot.conf"
    config.write_text(
        f"""base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 100
mail_location = maildir:{mail}/%u
passdb {{
  driver = static
  args = password={IMAP_PASSWORD}
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={mail}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service auth {{
  unix_listener auth-userdb {{
    mode = 0600
  }}
}}
""",
        encoding="utf-8",
    )
    process = subprocess.Popen([str(DOVECOT), "-F", "-c", str(config)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    log = (root / "dovecot.log").read_text(errors="replace") if (root / "dovecot.log").exists() else ""
                    pytest.fail(f"dovecot did not start: {log[-2000:]}")
                time.sleep(0.05)
        yield Dovecot(port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)


def mail_bytes(*, sender: str, to: str, subject: str, body: str, message_id: str,
               in_reply_to: str | None = None, html: str | None = None, **headers: Any) -> bytes:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = subject
    mail["Message-ID"] = message_id
    if in_reply_to:
        mail["In-Reply-To"] = in_reply_to
        mail["References"] = in_reply_to
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content(body)
    if html is not None:
        mail.add_alternative(html, subtype="html")
    return bytes(mail)
