"""E-mail: parsing and loop guards, SMTP replies threaded, and the journey through a real IMAP server."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.app import INBOUND, REGISTRY, create_app
from bot.channels.mail import EmailChannel, ImapConfig, SmtpConfig, html_to_text, parse_mail, strip_quoted
from bot.config import ConfigError, Settings
from bot.demo import DEMO_DIRECTORY
from bot.directory import import_records
from bot.i18n import catalog
from handoff.delivery import DeliveryError, OutboundMessage
from models import ChannelKind, Direction, HandoffReason, Message, SenderKind, Ticket
from tests.complexity import assert_linear, repeat_to
from tests.conftest import FlowHarness, ScriptedClassifier
from tests.conftest import greeting as first_message
from tests.fakes.mail import IMAP_PASSWORD, IMAP_USER, Dovecot, SmtpSink, mail_bytes

ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]
USER = "budi@std.stei.itb.ac.id"
CARE = "care@helpdesk.test"


def test_plain_text_is_read_and_the_quoted_thread_dropped() -> None:
    raw = mail_bytes(sender=f"Budi <{USER}>", to=CARE, subject="Re: tiket", message_id="<a1@x>",
                     body="Masih belum bisa.\n\nOn Mon, 23 Nov 2026 Care wrote:\n> Sudah dicoba?\n")
    mail = parse_mail(raw, own_address=CARE)
    assert mail is not None
    assert (mail.sender, mail.name, mail.message_id, mail.text, mail.skip) == (
        USER, "Budi", "<a1@x>", "Masih belum bisa.", None
    )


def test_html_only_mail_becomes_plain_text() -> None:
    assert html_to_text("<html><head><style>p{}</style></head><body><p>Halo&nbsp;min</p>"
                        "<p>Nilai <b>belum</b> keluar</p><script>x()</script></body></html>") == (
        "Halo min\n\nNilai belum keluar"
    )


def test_quoted_lines_and_indonesian_reply_headers_are_removed() -> None:
    assert strip_quoted("ok\n> lama\nPada 23 Nov 2026, Care menulis:\nlama") == "ok"


@pytest.mark.parametrize(
    ("sender", "headers", "reason"),
    [
        (USER, {"Auto_Submitted": "auto-replied"}, "auto-submitted (auto-replied)"),
        (USER, {"Precedence": "bulk"}, "bulk mail"),
        (USER, {"X_Autoreply": "yes"}, "auto-reply"),
        ("MAILER-DAEMON@mx.itb.ac.id", {}, "robot sender"),
        (CARE, {}, "our own mail"),
    ],
)
def test_robots_are_never_answered(sender: str, headers: dict[str, str], reason: str) -> None:
    raw = mail_bytes(sender=sender, to=CARE, subject="Out of office", message_id="<o@x>", body="away",
                     **headers)
    mail = parse_mail(raw, own_address=CARE)
    assert mail is not None
    assert mail.skip == reason


def long_address(length: int) -> str:
    domain = "@mail.students.itb.ac.id"
    return "b" * (length - len(domain)) + domain


def test_a_sender_longer_than_an_address_can_be_is_not_answered() -> None:
    raw = mail_bytes(sender=long_address(255), to=CARE, subject="Nilai", message_id="<l@x>", body="nilai saya")
    mail = parse_mail(raw, own_address=CARE)
    assert mail is not None
    assert mail.skip == "sender address longer than an address can be"
    longest = parse_mail(mail_bytes(sender=long_address(254), to=CARE, subject="Nilai", message_id="<k@x>",
                                    body="nilai saya"), own_address=CARE)
    assert longest is not None
    assert longest.skip is None


async def test_a_long_valid_sender_is_stored_and_answered_on_every_database(flow: FlowHarness) -> None:
    """An identity's address held 191 characters: a valid 254-character sender failed on PostgreSQL."""
    replies = await flow.on(ChannelKind.EMAIL, long_address(254), "halo")
    assert replies  # greeted, like any first message
    stored = await Message.get(direction=Direction.INBOUND)
    assert stored.processed_at is not None


def test_malformed_and_oversized_mail_do_not_crash() -> None:
    assert parse_mail(b"\x00\xff garbage without headers") is None
    assert parse_mail(b"From: x\r\n\r\nbody") is None  # no address
    assert parse_mail(b"A" * (11 * 1024 * 1024)) is None
    bomb = ["From: a@b.c", "Message-ID: <bomb@x>", 'Content-Type: multipart/mixed; boundary="b"', ""]
    bomb += [f"--b\r\nContent-Type: text/plain\r\n\r\npart {i}" for i in range(150)] + ["--b--", ""]
    mail = parse_mail("\r\n".join(bomb).encode())
    assert mail is not None
    assert mail.skip == "too many MIME parts"


def settings_for(db_url: str, tmp_path: Path, sink: SmtpSink, imap_port: int) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=db_url,
        smtp={"host": "127.0.0.1", "port": str(sink.port), "from": f"Care Center <{CARE}>", "security": "none"},
        imap={"host": "127.0.0.1", "port": str(imap_port), "username": IMAP_USER, "password": IMAP_PASSWORD,
              "ssl": "false", "poll_seconds": "3600"},
    )


async def test_journey_over_imap_and_smtp_with_threaded_replies(
    aiohttp_client: ClientFactory, db_url: str, tmp_path: Path, smtp_sink: SmtpSink, dovecot: Dovecot
) -> None:
    client = await aiohttp_client(create_app(settings_for(db_url, tmp_path, smtp_sink, dovecot.port),
                                             classifier=ScriptedClassifier(), scheduler=False))
    await import_records(DEMO_DIRECTORY)
    app = client.app
    assert app is not None
    channel = app[REGISTRY].get(ChannelKind.EMAIL)
    assert isinstance(channel, EmailChannel)

    async def write(body: str, number: int, *, subject: str = "Re: Edunex", reply_to: str | None = None,
                    **headers: Any) -> list[str]:
        before = len(smtp_sink.texts(USER))
        raw = mail_bytes(sender=f"Budi <{USER}>", to=CARE, subject=subject, body=body,
                         message_id=f"<m{number}@std.itb.ac.id>", in_reply_to=reply_to, **headers)
        await asyncio.to_thread(dovecot.append, raw)
        await channel.poll_once()
        await app[INBOUND].idle()  # polling stores the mail; its turn runs after
        return smtp_sink.texts(USER)[before:]

    greeting = await write("Selamat pagi", 1, subject="Halo")
    assert len(greeting) == 1  # one mail: welcome, privacy notice, request
    assert greeting[0].replace("\r\n", "\n").startswith(first_message("id"))  # mail lines end in CRLF
    first_reply = smtp_sink.received[0]
    assert first_reply["In-Reply-To"] == "<m1@std.itb.ac.id>"
    assert first_reply["Subject"] == "Re: Halo"
    assert first_reply["Auto-Submitted"] == "auto-replied"

    verified = await write("13521045", 2, reply_to=str(first_reply["Message-ID"]))
    assert verified[0] == catalog("id").t("identity_noted")  # not the campus address on record: a claim
    answer = await write("saya lupa password", 3, reply_to="<m2@std.itb.ac.id>")
    assert answer[-1] == "Apakah jawaban ini membantu? Balas 1 = Ya, 2 = Tidak"
    last = smtp_sink.received[-1]
    assert last["In-Reply-To"] == "<m3@std.itb.ac.id>"
    assert "<m3@std.itb.ac.id>" in str(last["References"])

    offer = await write("2\n\nOn Tue, Care Center wrote:\n> Apakah jawaban ini membantu?", 4,
                        reply_to="<m3@std.itb.ac.id>")
    # Not helpful: the one suggestion left, asked as yes or no in words (e-mail has no buttons).
    assert offer[0].splitlines()[-2:] == [
        "Maaf jawaban tadi belum membantu. Apakah maksud Anda tentang *Akun & login*?",
        "Balas *ya*, atau *bukan* untuk bicara dengan petugas."]
    handoff = await write("bukan", 5, reply_to="<m4@std.itb.ac.id>")
    ticket = await Ticket.get()
    assert ticket.reason == HandoffReason.NOT_HELPFUL
    assert ticket.number is not None
    assert ticket.number in handoff[0]

    # An out-of-office answer to our reply is filed nowhere and answered by nobody.
    assert await write("I am away", 6, Auto_Submitted="auto-replied") == []
    # Polling again reads nothing twice.
    assert await channel.poll_once() == 0
    assert await asyncio.to_thread(dovecot.unseen) == 0
    assert await Message.filter(direction=Direction.INBOUND, channel=ChannelKind.EMAIL).count() == 5


def channel_for(port: int) -> EmailChannel:
    smtp = SmtpConfig.from_settings({"host": "127.0.0.1", "port": str(port), "from": f"Care <{CARE}>",
                                     "security": "none"})
    imap = ImapConfig.from_settings({"host": "127.0.0.1", "username": IMAP_USER})
    return EmailChannel(smtp=smtp, imap=imap)


async def test_an_agent_reply_is_not_marked_automatic(smtp_sink: SmtpSink) -> None:
    result = await channel_for(smtp_sink.port).send(
        OutboundMessage(message_id=7, channel=ChannelKind.EMAIL, recipient=USER, text="Sudah kami perbaiki.",
                        sender_kind=SenderKind.AGENT)
    )
    (mail,) = smtp_sink.received
    assert mail["Subject"] == "Re: Care Center Edunex ITB"
    assert mail["Auto-Submitted"] is None
    assert result.provider_message_id == mail["Message-ID"]
    assert smtp_sink.envelopes == [(CARE, [USER])]


async def test_smtp_down_leaves_the_message_for_a_retry() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DeliveryError) as caught:
        await channel_for(port).send(
            OutboundMessage(message_id=8, channel=ChannelKind.EMAIL, recipient=USER, text="x")
        )
    assert not caught.value.permanent


def test_bad_mail_settings_name_the_variable() -> None:
    with pytest.raises(ConfigError, match="IMAP_PORT"):
        ImapConfig.from_settings({"port": "imap"})
    with pytest.raises(ConfigError, match="SMTP_SECURITY"):
        SmtpConfig.from_settings({"security": "tls1.3"})


async def test_a_refused_address_is_unreachable_and_not_logged(
    smtp_sink: SmtpSink, caplog: pytest.LogCaptureFixture
) -> None:
    smtp_sink.refuse.add(USER)
    with pytest.raises(DeliveryError) as caught:
        await channel_for(smtp_sink.port).send(
            OutboundMessage(message_id=9, channel=ChannelKind.EMAIL, recipient=USER, text="x")
        )
    assert (caught.value.permanent, caught.value.unreachable) == (True, True)
    assert USER not in caught.value.reason
    assert USER not in caplog.text


@pytest.mark.parametrize("unit", ["<a", "</", "<?", "<!--", "<p>x</p>", "&#", "<a x='"])
def test_html_to_text_cost_grows_linearly(unit: str) -> None:
    """Issue 10 audit: the standard library's HTMLParser took 68 s for 100,000 "<a" (quadratic)."""
    assert_linear(html_to_text, repeat_to(unit), 2000, what=f"html_to_text of {unit!r}")


def test_a_long_body_is_not_cut_by_the_parser() -> None:
    """The store step cuts at MAX_STORED_CHARS and keeps the whole text; the parser used to drop all past
    10,000 characters."""
    body = "kuis error " * 3000
    mail = EmailMessage()
    mail["From"] = USER
    mail["Message-ID"] = "<long@std.itb.ac.id>"
    mail.set_content(body)
    parsed = parse_mail(bytes(mail))
    assert parsed is not None
    assert parsed.text == body.strip()
