"""The survey page with malformed input, and its token kept out of the log."""

from __future__ import annotations

import logging

import aiohttp
import pytest
from markupsafe import escape

import handoff.survey_web
from bot.i18n import catalog
from models import Ticket
from tests.handoff.test_survey_web import Site, site, webchat_ticket_closed

__all__ = ["site"]


@pytest.mark.parametrize(("content_type", "body"), [
    ("multipart/form-data", b"x"),
    ("application/x-www-form-urlencoded; charset=nope", b"rating=5"),
    ("application/x-www-form-urlencoded", b"rating=5&comment=\xff\xfe"),
])
async def test_an_unreadable_answer_gets_the_form_again_with_a_sentence_and_stores_nothing(
    site: Site, content_type: str, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    ticket, link = await webchat_ticket_closed(site)
    async with aiohttp.ClientSession() as http, http.post(
        f"{site.url}{link}", data=body, headers={"Content-Type": content_type}
    ) as response:
        assert response.status == 400
        assert str(escape(catalog("id").t("survey_page_unreadable"))) in await response.text()
    assert (await Ticket.get(id=ticket.id)).survey_rating is None
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_an_error_on_the_survey_page_is_logged_without_its_token(
    site: Site, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ticket, link = await webchat_ticket_closed(site)

    async def broken(**_: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(handoff.survey_web, "rate_ticket", broken)
    async with aiohttp.ClientSession() as http, http.post(f"{site.url}{link}", data={"rating": "5"}) as response:
        assert response.status == 500
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors
    token = link.removeprefix("/survey/")
    assert all(token not in r.getMessage() for r in errors)
    assert "/survey/{token}" in errors[0].getMessage()
