"""The XSS corpus (xss.txt) rendered in Debian's chromium on every surface that shows what people write:
in the console as contact names, message texts, ticket subjects, file names, category names and
descriptions, answer templates (their previews and the canned answers), survey comments; in the web chat as
bot and agent messages, their buttons and file names. One page load per surface, all payloads on it.

Nothing may run: every payload calls ``xss(n)`` (defined in each frame before any page script, reporting
to the console) or ``alert``/``confirm``/``prompt`` (dialogs), and both are watched across the browser
context, popups included. What needs a click to run cannot be seen that way, so the page is also read:
no element may carry an ``on…`` attribute, a ``javascript:``/``data:`` URL, or be of a kind only a payload
would bring (iframe, object, svg, img...). A control inserts the same payloads unescaped, to prove the
watchers see them run.
"""

from __future__ import annotations

import asyncio
import html
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from models import (
    AnswerTemplate,
    Attachment,
    Category,
    ChannelIdentity,
    ChannelKind,
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    HandoffReason,
    Message,
    SenderKind,
    Ticket,
    TicketStatus,
)
from tests.corpora import corpus
from tests.handoff.console.conftest import PASSWORD, Served, serve_console

pytestmark = pytest.mark.browser

PAYLOADS = corpus("xss.txt")
HALF = len(PAYLOADS) // 2
MARK = "XSS-HIT"
# Runs in every frame before its own scripts: the function the payloads call.
HOOK = f"window.xss = (n) => console.log('{MARK} ' + n);"
# Elements and attributes only a payload parsed as HTML would bring into these pages.
AUDIT = """() => {
  const found = [];
  const urlAttributes = ["href", "src", "action", "formaction", "data", "background", "xlink:href", "srcdoc"];
  for (const el of document.querySelectorAll("*")) {
    for (const attribute of el.attributes) {
      const name = attribute.name.toLowerCase();
      const value = attribute.value.replace(/[\\s\\u0000-\\u001f]/g, "").toLowerCase();
      if (name.startsWith("on")) found.push(`${el.tagName} ${name}`);
      const scheme = /^(javascript|data|vbscript):/.test(value);
      if (urlAttributes.includes(name) && scheme) found.push(`${el.tagName} ${name}`);
      if (name === "srcdoc") found.push(`${el.tagName} srcdoc`);
    }
  }
  const foreign = "iframe,frame,frameset,object,embed,base,meta[http-equiv],math,svg,template,video,audio,marquee," +
    "keygen,isindex,image,picture,xss,x,plaintext,xmp,noscript,body style,img";
  // The dashboard's own bar charts and the web chat's attach icon are inline SVG; a payload's svg is never
  // inside one of them, since payloads go into messages (and an event handler or a script URL on any
  // element is reported above whatever its parent).
  const ours = "span.bar > svg[aria-hidden='true'][viewBox='0 0 100 1'], label.chat__attach > svg[aria-hidden='true']";
  for (const el of document.querySelectorAll(foreign)) if (!el.matches(ours)) found.push(el.tagName);
  const scripts = [...document.scripts].map((s) => s.getAttribute("src") || `#${s.id}`);
  return {found, scripts};
}"""


@dataclass
class Watch:
    """Everything a running payload would show, in any frame of any page of the context: its report on the
    console, or a dialog."""

    hits: list[str] = field(default_factory=list)

    async def context(self, browser: Any) -> Any:
        context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="id-ID")
        await context.add_init_script(HOOK)
        context.on("console", self._console)
        context.on("dialog", self._dialog)
        return context

    def _console(self, message: Any) -> None:
        if message.text.startswith(MARK):
            self.hits.append(message.text)

    def _dialog(self, dialog: Any) -> None:
        self.hits.append(f"{dialog.type} {dialog.message}")
        asyncio.ensure_future(dialog.dismiss())  # noqa: RUF006 - a dismissed dialog needs no one to wait for it


async def visit(page: Any, url: str, *, wait_for: str = "body") -> dict[str, Any]:
    await page.goto(url)
    await page.wait_for_selector(wait_for, state="attached")
    # Failed images, autofocus, animations and toggles fire their handlers just after load.
    await page.wait_for_load_state("load")
    await page.wait_for_timeout(500)
    audit: dict[str, Any] = await page.evaluate(AUDIT)
    return audit


# -- the console --------------------------------------------------------------------------------------


async def seed_console() -> Ticket:
    """Categories, templates, contacts, tickets, messages and files made of the payloads; returns the ticket
    whose contact wrote half of them and got files named with the other half."""
    now = datetime.now(UTC)
    async with in_transaction():
        categories = []
        for index, payload in enumerate(PAYLOADS):
            category = await Category.create(slug=f"xss-{index + 1}", name_id=payload, name_en=payload,
                                             description=payload, sort_order=100 + index)
            await AnswerTemplate.create(category=category, language="id", body=payload)
            await AnswerTemplate.create(category=category, language="en", body=PAYLOADS[(index + HALF) % len(PAYLOADS)])
            categories.append(category)
        tickets = []
        for index in range(HALF):
            contact = await Contact.create(name=PAYLOADS[index], faculty=PAYLOADS[HALF + index])
            identity = await ChannelIdentity.create(contact=contact, channel=ChannelKind.TELEGRAM,
                                                    external_id=f"xss-{index}", display_name=PAYLOADS[index])
            conversation = await Conversation.create(contact=contact, identity=identity, channel=ChannelKind.TELEGRAM,
                                                     status=ConversationStatus.PENDING)
            tickets.append(await Ticket.create(
                number=f"CC-XSS-{index:06d}", conversation=conversation, contact=contact, channel=ChannelKind.TELEGRAM,
                category=categories[index], predicted_category=categories[index].slug, status=TicketStatus.OPEN,
                reason=HandoffReason.USER_REQUEST, subject=PAYLOADS[HALF + index][:200], opened_at=now,
                due_at=now + timedelta(hours=24), flagged=True, survey_rating=1, survey_comment=PAYLOADS[index]))
        victim = tickets[0]
        senders = (SenderKind.USER, SenderKind.BOT, SenderKind.AGENT)
        for index in range(HALF):
            sender = senders[index % 3]
            message = await Message.create(
                conversation_id=victim.conversation_id, ticket=victim, channel=ChannelKind.TELEGRAM,  # type: ignore[attr-defined]
                direction=Direction.INBOUND if sender == SenderKind.USER else Direction.OUTBOUND,
                sender_kind=sender, text=PAYLOADS[index])
            # The raw name, not the sanitised one the store would keep: the page must escape it by itself.
            await Attachment.create(message=message, position=0, filename=PAYLOADS[HALF + index],
                                    content_type="application/pdf", size=100, sha256="a" * 64, storage_key="a" * 64,
                                    refused_reason=None if index % 2 else "too_big")
    return victim


async def test_no_payload_runs_in_the_console(tmp_path: Path, browser: Any) -> None:
    async with serve_console(tmp_path) as served:
        ticket = await seed_console()
        watch = Watch()
        context = await watch.context(browser)
        page = await context.new_page()
        await sign_in(page, served, "sari@cc.test")
        surfaces = {
            "queue": (f"{served.url}/console/queue?view=all", "#queue-rows tr.row"),
            "ticket": (f"{served.url}/console/t/{ticket.id}", "#canned"),
            "templates": (f"{served.url}/console/admin/templates", "textarea.template-body"),
            "categories": (f"{served.url}/console/admin/categories", "main"),
            "dashboard": (f"{served.url}/console/admin/dashboard", "#dashboard"),
            "templates, in English": (f"{served.url}/console/admin/templates?lang=en", "textarea.template-body"),
        }
        audits = {name: await visit(page, url, wait_for=selector) for name, (url, selector) in surfaces.items()}
        # The payloads were on the pages, as text: the surfaces really showed them.
        ticket_page = await page_text(page, surfaces["ticket"][0])
        await context.close()
    assert watch.hits == []
    assert {name: audit["found"] for name, audit in audits.items()} == {name: [] for name in surfaces}
    assert {name: audit["scripts"] for name, audit in audits.items()} == {
        name: ["/console/static/console.js"] for name in surfaces}
    assert all(payload in ticket_page for payload in PAYLOADS[:HALF])


async def sign_in(page: Any, served: Served, email: str) -> None:
    from playwright.async_api import expect

    await page.goto(f"{served.url}/console/login")
    await page.fill('input[name="email"]', email)
    await page.fill('input[name="password"]', PASSWORD)
    await page.click('button[type="submit"]')
    await expect(page).to_have_url(f"{served.url}/console/queue")


async def page_text(page: Any, url: str) -> str:
    await page.goto(url)
    return html.unescape(await page.content())


# -- the web chat -------------------------------------------------------------------------------------


async def test_no_payload_runs_in_the_web_chat(tmp_path: Path, browser: Any) -> None:
    from playwright.async_api import expect

    async with serve_console(tmp_path) as served:
        watch = Watch()
        context = await watch.context(browser)
        page = await context.new_page()
        await page.goto(f"{served.url}/chat")
        box = page.get_by_role("textbox")
        await box.fill("halo")
        await box.press("Enter")
        await expect(page.locator("li.msg--bot").first).to_be_visible()
        conversation = await Conversation.get(channel=ChannelKind.WEBCHAT)
        async with in_transaction():
            for index in range(HALF):
                sender = SenderKind.BOT if index % 2 else SenderKind.AGENT
                message = await Message.create(
                    conversation=conversation, channel=ChannelKind.WEBCHAT, direction=Direction.OUTBOUND,
                    sender_kind=sender, text=PAYLOADS[index], delivery_status="sent",
                    buttons=[{"label": PAYLOADS[HALF + index], "value": "1"}] if index % 5 == 0 else None)
                await Attachment.create(message=message, position=0, filename=PAYLOADS[HALF + index],
                                        content_type="application/pdf", size=100, sha256="b" * 64,
                                        storage_key="b" * 64)
        audit = await visit(page, f"{served.url}/chat", wait_for=f"li.msg >> nth={HALF}")
        texts = await page.locator("li.msg .msg__text").all_inner_texts()
        names = await page.locator("li.msg .msg__files a").all_inner_texts()
        await context.close()
    assert watch.hits == []
    assert audit["found"] == []
    assert audit["scripts"] == ["#strings", "/static/chat.js"]
    # Every payload was on the page, shown as the text it is.
    assert set(PAYLOADS[:HALF]) <= {text.strip() for text in texts}
    assert set(PAYLOADS[HALF:2 * HALF]) <= {name.strip() for name in names}


# -- the control: the same payloads, unescaped --------------------------------------------------------


async def test_the_watchers_see_the_payloads_run_when_they_are_not_escaped(browser: Any) -> None:
    watch = Watch()
    context = await watch.context(browser)
    page = await context.new_page()
    # Each payload in its own frame, so one that swallows the rest of a document (<plaintext>, <textarea>)
    # does not hide the others.
    frames = "".join(f'<iframe srcdoc="{html.escape(payload, quote=True)}"></iframe>' for payload in PAYLOADS)
    await page.set_content(f"<!doctype html><body>{frames}</body>", wait_until="load")
    await page.wait_for_timeout(1500)
    ran = {int(hit.split()[-1]) for hit in watch.hits if hit.split()[-1].isdigit()}
    # And the page audit, on the payloads written into one page as they are.
    await page.set_content("<!doctype html><body>" + "<p>".join(PAYLOADS) + "</body>", wait_until="load")
    audit = await page.evaluate(AUDIT)
    await context.close()
    # Most run on their own once parsed as HTML; the rest need a click, a hover or a context.
    assert len(ran) >= len(PAYLOADS) * 0.6, f"only {len(ran)} of {len(PAYLOADS)} payloads ran"
    assert len(audit["found"]) >= 50
