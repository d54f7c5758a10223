"""Files in the console over HTTP: replying with files, refusals that keep the text, and serving files."""

from __future__ import annotations

import io

import aiohttp

from bot.config import Settings
from models import Attachment, Direction, Message, Team, Ticket, User
from tests.handoff.console.conftest import Console, Served

PDF = b"%PDF-1.4 panduan" + b"." * 200
CSV = b"nim,nilai\n13521045,A\n"


def form(console: Console, text: str, files: list[tuple[str, str, bytes]], *, csrf: str | None = None
         ) -> aiohttp.FormData:
    data = aiohttp.FormData(quote_fields=False)  # names as browsers send them, not percent-encoded
    data.add_field("csrf", console.csrf if csrf is None else csrf)
    data.add_field("text", text)
    for name, content_type, body in files:
        # A stream, as aiohttp warns about big raw bytes in a body
        data.add_field("files", io.BytesIO(body), filename=name, content_type=content_type)
    return data


async def reply(console: Console, ticket: Ticket, data: aiohttp.FormData) -> tuple[int, str, dict[str, str]]:
    async with console.http.post(f"{console.url}/console/t/{ticket.id}/reply", data=data,
                                 allow_redirects=False) as response:
        return response.status, await response.text(), dict(response.headers)


async def taken_ticket(served: Served, console: Console) -> Ticket:
    ticket = await served.hand_off()
    await console.login("ana@cc.test")
    assert (await console.post(f"/console/t/{ticket.id}/take", {})).status == 303
    return ticket


async def test_a_reply_with_files_reaches_the_channel_and_is_listed_and_served(
    served: Served, console: Console
) -> None:
    ticket = await taken_ticket(served, console)
    served.channel.clear()
    status, _, headers = await reply(console, ticket, form(console, "Panduannya terlampir.", [
        ("Panduan KRS.pdf", "application/pdf", PDF), ("nilai.csv", "text/csv", CSV)]))
    assert (status, headers["Location"]) == (303, f"/console/t/{ticket.id}?notice=notice_sent")
    (sent,) = served.channel.sent
    assert sent.text == "Panduannya terlampir."
    assert [(a.filename, a.content_type, a.size) for a in sent.attachments] == [
        ("Panduan KRS.pdf", "application/pdf", len(PDF)), ("nilai.csv", "text/csv", len(CSV))]

    page = await console.get(f"/console/t/{ticket.id}")
    html = await page.text()
    pdf_row, csv_row = await Attachment.filter(message_id=sent.message_id).order_by("position")
    assert f'href="/console/attachments/{pdf_row.id}"' in html
    assert "Panduan KRS.pdf</a> · application/pdf · 216 B" in html

    pdf = await console.get(f"/console/attachments/{pdf_row.id}")
    assert pdf.status == 200
    assert await pdf.read() == PDF
    assert pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.headers["Content-Disposition"] == (
        "attachment; filename=\"Panduan KRS.pdf\"; filename*=UTF-8''Panduan%20KRS.pdf")
    assert pdf.headers["X-Content-Type-Options"] == "nosniff"
    assert pdf.headers["Cache-Control"] == "no-store"
    csv = await console.get(f"/console/attachments/{csv_row.id}")
    assert csv.headers["Content-Type"] == "application/octet-stream"  # not on the short safe list


async def test_refused_files_show_why_keep_the_text_and_send_nothing(served: Served, console: Console) -> None:
    ticket = await taken_ticket(served, console)
    served.channel.clear()
    messages = await Message.all().count()
    too_big = b"0" * (Settings().max_attachment_bytes + 1)
    status, html, _ = await reply(console, ticket, form(console, "Tolong <cek> ini", [
        ("ok.pdf", "application/pdf", PDF), ("scan.pdf", "application/pdf", too_big)]))
    assert status == 413
    assert "Ada berkas yang terlalu besar (maksimal 10.0 MB)" in html
    assert ">Tolong &lt;cek&gt; ini</textarea>" in html
    status, html, _ = await reply(console, ticket, form(console, "pakai ini", [
        ("tool.exe", "application/x-msdownload", b"MZ")]))
    assert status == 400
    assert "Jenis salah satu berkas tidak diizinkan" in html
    assert ">pakai ini</textarea>" in html
    assert served.channel.sent == []
    assert await Message.all().count() == messages
    assert await Attachment.all().count() == 0


async def test_a_multipart_reply_without_csrf_is_refused(served: Served, console: Console) -> None:
    ticket = await taken_ticket(served, console)
    served.channel.clear()
    status, _, _ = await reply(console, ticket, form(console, "x", [("a.pdf", "application/pdf", PDF)],
                                                     csrf="forged"))
    assert status == 403
    assert served.channel.sent == []


async def test_files_alone_are_a_reply(served: Served, console: Console) -> None:
    ticket = await taken_ticket(served, console)
    served.channel.clear()
    status, _, _ = await reply(console, ticket, form(console, "", [("a.pdf", "application/pdf", PDF)]))
    assert status == 303
    (sent,) = served.channel.sent
    assert (sent.text, len(sent.attachments)) == ("", 1)


async def test_files_are_served_only_where_a_ticket_page_would_show_them(served: Served, console: Console) -> None:
    ticket = await taken_ticket(served, console)
    await reply(console, ticket, form(console, "x", [("a.pdf", "application/pdf", PDF)]))
    (row,) = await Attachment.all()
    # A user who never reached a person: their files are no console user's to fetch by guessing ids.
    await served.say("halo", user="888")
    bot_only = await Message.filter(conversation__identity__external_id="888", direction=Direction.INBOUND).first()
    assert bot_only is not None
    store = Settings(data_dir=served.tmp).attachment_store()  # the app's own store: same directory
    hidden = await store.keep(message=bot_only, position=0, filename="x.pdf", content_type="application/pdf",
                              data=PDF)
    assert not await Ticket.filter(conversation__identity__external_id="888").exists()
    assert (await console.get(f"/console/attachments/{hidden.id}")).status == 404
    assert (await console.get(f"/console/attachments/{row.id + 1000}")).status == 404
    assert (await console.get("/console/attachments/abc")).status == 404
    # Another agent may open the ticket page, so may fetch its files (the ticket page's rule).
    other = Console(served.url)
    try:
        await other.login("bayu@cc.test")
        assert (await other.get(f"/console/attachments/{row.id}")).status == 200
    finally:
        await other.close()
    # Signed out: the sign-in page, not the file.
    anonymous = Console(served.url)
    try:
        response = await anonymous.get(f"/console/attachments/{row.id}")
        assert (response.status, response.headers["Location"]) == (303, "/console/login")
    finally:
        await anonymous.close()


async def test_a_file_follows_the_team_rule_of_its_contacts_tickets(served: Served, console: Console) -> None:
    ticket = await taken_ticket(served, console)
    status, _, _ = await reply(console, ticket, form(console, "", [("Panduan.pdf", "application/pdf", PDF)]))
    assert status == 303
    (row,) = await Attachment.all()
    # Bayu, an agent of another team, may not open Ana's team's ticket, so neither may he fetch its files.
    grades, accounts = await Team.create(name="Nilai"), await Team.create(name="Akun")
    await grades.members.add(await User.get(email="bayu@cc.test"))
    await accounts.members.add(await User.get(email="ana@cc.test"))
    await Ticket.filter(id=ticket.id).update(team_id=accounts.id)
    bayu = Console(served.url)
    try:
        await bayu.login("bayu@cc.test")
        assert (await bayu.get(f"/console/attachments/{row.id}")).status == 404
        await Ticket.filter(id=ticket.id).update(team_id=grades.id)  # now his team's
        assert (await bayu.get(f"/console/attachments/{row.id}")).status == 200
    finally:
        await bayu.close()
