"""The console and the API with malformed input: 400/404 with a sentence (the API's in its JSON shape),
never a 500; the console's socket and redirect stay on the console's own origin."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from yarl import URL

from bot.config import Settings
from handoff.auth import create_api_token
from handoff.i18n import console_catalog
from models import Ticket, UserRole
from tests.handoff.console.conftest import Console, Served, serve_console

BAD_FORMS = [
    ("multipart/form-data", b"x"),  # no boundary: ValueError in request.post()
    ("application/x-www-form-urlencoded; charset=nope", b"email=a"),  # LookupError
    ("application/x-www-form-urlencoded", b"email=\xff\xfe"),  # UnicodeDecodeError
    ("multipart/form-data; boundary=b", b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n"
     b"Content-Transfer-Encoding: rot13\r\n\r\nx\r\n--b--\r\n"),  # an encoding aiohttp does not know
    ("multipart/form-data; boundary=b", b"--b\r\nX: " + b"a" * 9000 + b"\r\n\r\nx\r\n--b--\r\n"),  # LineTooLong
]


def no_errors(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_sign_in_with_an_unreadable_form_is_a_400_with_a_sentence(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    async with aiohttp.ClientSession() as http:
        for content_type, body in BAD_FORMS:
            async with http.post(f"{served.url}/console/login", data=body,
                                 headers={"Content-Type": content_type}) as response:
                assert response.status == 400, content_type
                assert await response.text() == console_catalog("id")("error_unreadable_form")
    no_errors(caplog)


async def test_a_signed_in_form_that_cannot_be_read_is_a_400(
    served: Served, console: Console, caplog: pytest.LogCaptureFixture
) -> None:
    ticket = await served.hand_off()
    await console.login("ana@cc.test")
    for content_type, body in BAD_FORMS:
        async with console.http.post(f"{served.url}/console/t/{ticket.id}/note", data=body, headers={
                "Content-Type": content_type, "X-CSRF-Token": console.csrf}) as response:
            assert response.status == 400, content_type
    no_errors(caplog)


async def test_ids_no_row_can_have_are_refused_not_failed(
    served: Served, console: Console, caplog: pytest.LogCaptureFixture
) -> None:
    ticket = await served.hand_off()
    await console.login("sari@cc.test")
    for path in ("/console/t/99999999999999999999", "/console/t/²", "/console/attachments/99999999999999999999"):
        assert (await console.get(path)).status == 404
    await console.post(f"/console/t/{ticket.id}/take", {})
    for user_id in ("99999999999999999999", "²", "٣"):
        response = await console.post(f"/console/t/{ticket.id}/assign", {"user_id": user_id})
        assert response.headers["Location"].endswith("notice=error_unknown_user")
    for incident in ("99999999999999999999", "²"):
        response = await console.post(f"/console/t/{ticket.id}/escalate", {"summary": "x", "incident": incident})
        assert response.headers["Location"].endswith("notice=error_unknown_incident")
    assert (await console.post("/console/incidents/99999999999999999999/fix", {"text": "x"})).status == 404
    response = await console.post("/console/admin/categories", {
        "slug": "baru", "name_id": "Baru", "sort_order": "9" * 30})  # an IntField: a 500 on save before
    assert response.status == 303
    assert (await Ticket.get(id=ticket.id)).assignee_id == served.supervisor.id  # type: ignore[attr-defined]
    no_errors(caplog)


REFERERS_ELSEWHERE = [
    "http://127.0.0.1.evil.invalid/console/queue",  # starts like a site at http://127.0.0.1
    "http://127.0.0.1.evil.invalid:99999/console/queue",
    "https://evil.invalid/console/queue",
    "{site}//evil.invalid/console/queue",
    "{site}@evil.invalid/console/queue",  # starts with the site's address, is evil.invalid: followed before
    "{site}@evil.invalid:99999/console/queue",  # the same with a port no URL can have: a 500 before
    "{site}/chat",  # the site, but not a console page
    "not a url",
]


async def test_availability_goes_back_only_to_a_console_page_of_this_site(served: Served, console: Console) -> None:
    await console.login("ana@cc.test")
    for referer in REFERERS_ELSEWHERE:
        response = await console.http.post(f"{served.url}/console/availability", allow_redirects=False,
                                           data={"csrf": console.csrf, "available": "1"},
                                           headers={"Referer": referer.format(site=served.url)})
        assert response.status == 303, referer
        assert response.headers["Location"] == "/console/queue", referer


async def test_availability_goes_back_to_the_console_page_it_was_on(served: Served, console: Console) -> None:
    await console.login("ana@cc.test")
    response = await console.http.post(f"{served.url}/console/availability", allow_redirects=False,
                                       data={"csrf": console.csrf, "available": "1"},
                                       headers={"Referer": f"{served.url}/console/queue?view=all"})
    assert response.headers["Location"] == "/console/queue?view=all"


async def test_the_live_socket_refuses_other_schemes_and_answers_a_deep_frame_with_an_error_frame(
    served: Served, console: Console, caplog: pytest.LogCaptureFixture
) -> None:
    await console.login("ana@cc.test")
    host = URL(served.url).authority
    for scheme in ("https", "foo"):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await console.http.ws_connect(f"{served.url}/console/ws", headers={"Origin": f"{scheme}://{host}"})
        assert refused.value.status == 403
    async with console.http.ws_connect(f"{served.url}/console/ws", headers={"Origin": served.url}) as ws:
        await ws.send_str("[" * 3000)  # within the socket's 4 KiB frames, past the parser's recursion limit
        frame = await ws.receive_json(timeout=10)
        assert (frame["type"], frame["error"]) == ("error", "bad_request")
        await ws.send_json({"csrf": console.csrf, "action": "view", "ticket_id": 10**20})
        await ws.send_str("not json")
        assert (await ws.receive_json(timeout=10))["type"] == "error"  # still answering
    no_errors(caplog)


async def api(served: Served, method: str, path: str, token: str, *, headers: dict[str, str] | None = None,
              **kwargs: Any) -> tuple[int, str, Any]:
    async with aiohttp.ClientSession() as http, http.request(
        method, f"{served.url}/api/v1{path}", headers={"Authorization": f"Bearer {token}", **(headers or {})}, **kwargs
    ) as response:
        return response.status, response.content_type, await response.json(content_type=None)


async def test_the_api_answers_ids_it_cannot_hold_with_its_json_404(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    _, token = await create_api_token(name="crm", role=UserRole.SUPERVISOR, user=served.supervisor)
    for path in ("/tickets/99999999999999999999", "/tickets/²", "/conversations/99999999999999999999/messages",
                 "/conversations/٣/messages"):
        status, content_type, body = await api(served, "GET", path, token)
        assert (status, content_type, body["error"]) == (404, "application/json", "not_found")
    for path in ("/incidents/²/fix", "/incidents/99999999999999999999/fix", "/tickets/99999999999999999999/take"):
        status, _, body = await api(served, "POST", path, token, json={"text": "x"})
        assert (status, body["error"]) == (404, "not_found")
    status, _, body = await api(served, "GET", "/tickets?limit=٣", token)
    assert (status, body["error"]) == (400, "bad_request")
    no_errors(caplog)


async def test_the_api_refuses_numbers_no_column_holds_and_deep_json_in_its_json_shape(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    ticket = await served.hand_off()
    _, token = await create_api_token(name="crm", role=UserRole.SUPERVISOR, user=served.supervisor)
    assert (await api(served, "POST", f"/tickets/{ticket.id}/take", token))[0] == 200
    status, _, body = await api(served, "POST", f"/tickets/{ticket.id}/assign", token, json={"user_id": 10**20})
    assert (status, body["error"]) == (400, "unknown_user")
    status, _, body = await api(served, "POST", f"/tickets/{ticket.id}/escalate", token,
                                json={"summary": "x", "incident_id": 10**20})
    assert (status, body["error"]) == (400, "unknown_incident")
    for raw in (b"[" * 100_000, b'{"text": NaN}', b"\xff"):
        status, content_type, body = await api(served, "POST", f"/tickets/{ticket.id}/note", token, data=raw,
                                               headers={"Content-Type": "application/json"})
        assert (status, content_type, body["error"]) == (400, "application/json", "bad_request")
    no_errors(caplog)


async def test_sign_in_with_nul_in_the_address_is_a_failed_sign_in_on_every_database(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with serve_console(tmp_path, Settings(data_dir=tmp_path, database_url=db_url)) as served:
        console = Console(served.url)
        try:
            # PostgreSQL refuses NUL in a query: a 500 before. Dropped, the address is the user's.
            assert (await console.login("sari@cc.test\x00", "wrong password")).status == 401
            assert (await console.login("sa\x00ri@cc.test")).status == 200
        finally:
            await console.close()
    no_errors(caplog)
