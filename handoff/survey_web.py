"""The public survey page: ``GET/POST /survey/{token}``, no sign-in; the signed token is the permission.

The token (handoff.survey: itsdangerous, salted, signed with SECRET_KEY or a stored secret) names one
ticket and lasts seven days. Opening the page stores nothing (mail scanners open links); the rating is
stored on submit, once per ticket, with the same 1-2 flag as a chat rating. Forged or damaged links get
404, expired ones 410, a second answer 409 -- each with a page that says so, and nothing stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from handoff.actions import Translate
from handoff.i18n import choose_language, other_language
from handoff.survey import MAX_COMMENT_CHARS, SurveyLinkError, link_secret, rate_ticket, read_link_token
from handoff.webinput import InputError, read_text_form
from models import Conversation, Ticket


@dataclass(frozen=True, slots=True)
class SurveyWeb:
    translate: Translate
    secret_key: str
    clock: Callable[[], datetime]
    notify: Callable[[str, dict[str, Any]], None]
    env: jinja2.Environment


SURVEY_WEB = web.AppKey("survey_web", SurveyWeb)


def _choose_lang(request: web.Request, fallback: str) -> str:
    return choose_language(request.query.get("lang"), fallback)


def _page(request: web.Request, *, lang: str, status: int = 200, **context: Any) -> web.Response:
    survey = request.app[SURVEY_WEB]

    def t(key: str, **values: object) -> str:
        return survey.translate(lang, key, **values)

    body = survey.env.get_template("survey.html").render(
        t=t, lang=lang, other_lang=other_language(lang), action=request.path, **context
    )
    response = web.Response(text=body, content_type="text/html", status=status)
    response.headers["Cache-Control"] = "no-store"
    # The token is in the address: it must not leak to another site through the Referer header.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


async def _ticket_for(request: web.Request) -> tuple[Ticket, str] | web.Response:
    survey = request.app[SURVEY_WEB]
    lang = _choose_lang(request, "id")
    try:
        ticket_id = read_link_token(request.match_info["token"], secret=await link_secret(survey.secret_key),
                                    clock=survey.clock)
    except SurveyLinkError as problem:
        status = 410 if problem.reason == "expired" else 404
        return _page(request, lang=lang, status=status, state=problem.reason)
    ticket = await Ticket.get_or_none(id=ticket_id)
    if ticket is None or ticket.survey_sent_at is None:
        return _page(request, lang=lang, status=404, state="unavailable")
    conversation = await Conversation.get(id=ticket.conversation_id)
    return ticket, _choose_lang(request, conversation.language)


async def survey_page(request: web.Request) -> web.Response:
    found = await _ticket_for(request)
    if isinstance(found, web.Response):
        return found
    ticket, lang = found
    if ticket.survey_rating is not None:
        return _page(request, lang=lang, state="already", ticket=ticket.number)
    raw = request.query.get("r", "")
    selected = int(raw) if raw in ("1", "2", "3", "4", "5") else None
    return _page(request, lang=lang, state="form", ticket=ticket.number, selected=selected, comment="",
                 max_comment=MAX_COMMENT_CHARS)


async def survey_submit(request: web.Request) -> web.Response:
    survey = request.app[SURVEY_WEB]
    found = await _ticket_for(request)
    if isinstance(found, web.Response):
        return found
    ticket, lang = found
    if ticket.survey_rating is not None:
        return _page(request, lang=lang, status=409, state="already", ticket=ticket.number)
    try:
        form = await read_text_form(request)
    except InputError as problem:  # the form comes back, empty, with a sentence saying to send it again
        return _page(request, lang=lang, status=problem.status, state="form", ticket=ticket.number,
                     error="survey_page_unreadable", selected=None, comment="", max_comment=MAX_COMMENT_CHARS)
    raw_rating = form.get("rating", "")
    comment = form.get("comment", "").replace("\r\n", "\n").strip()
    error = ""
    if raw_rating not in ("1", "2", "3", "4", "5"):
        error = "survey_page_pick"
    elif len(comment) > MAX_COMMENT_CHARS:
        error = "survey_page_too_long"
    if error:  # the page comes back with what the user typed, so nothing is lost
        return _page(request, lang=lang, status=400, state="form", ticket=ticket.number, error=error,
                     selected=int(raw_rating) if raw_rating in ("1", "2", "3", "4", "5") else None,
                     comment=comment, max_comment=MAX_COMMENT_CHARS)
    rated = await rate_ticket(ticket=ticket, rating=int(raw_rating), now=survey.clock(), comment=comment, via="web")
    if rated is None:  # answered in the chat (or another tab) a moment ago
        return _page(request, lang=lang, status=409, state="already", ticket=ticket.number)
    survey.notify("ticket.survey", {"ticket_id": rated.id})
    return _page(request, lang=lang, state="thanks_low" if rated.flagged else "thanks", ticket=rated.number)


def setup_survey_web(
    app: web.Application,
    *,
    translate: Translate,
    secret_key: str = "",
    clock: Callable[[], datetime] | None = None,
    notify: Callable[[str, dict[str, Any]], None] = lambda _name, _data: None,
) -> None:
    """Mount the survey page on ``app``; ``translate`` is the end-user catalogue (handoff never imports bot)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("handoff", "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
    )
    app[SURVEY_WEB] = SurveyWeb(translate=translate, secret_key=secret_key, clock=clock or (lambda: datetime.now(UTC)),
                                notify=notify, env=env)
    app.router.add_static("/survey/static", Path(__file__).parent / "static", name="survey_static")
    app.router.add_get("/survey/{token}", survey_page, name="survey_page")
    app.router.add_post("/survey/{token}", survey_submit, name="survey_submit")
