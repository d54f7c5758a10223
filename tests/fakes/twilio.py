"""A loopback stand-in for Twilio's Messages API (2010-04-01), driven by the real ``twilio`` client.

Each request is checked against twilio-oai's specification (../shared/specs/twilio/twilio_api_v2010.json)
and Twilio's documented rules (Body <= 1600 characters, ContentVariables only with ContentSid, a sender
belonging to the account); a violation is answered with Twilio's 400 envelope and recorded, failing the
test at teardown. The fake also plays WhatsApp's 24-hour rule (a free-form message outside the window is
accepted, then fails with 63016 in its status callback) and signs callbacks and inbound posts as Twilio.

The Messages list (``GET .../Messages.json``: To, From, DateSent, DateSent<, DateSent>, PageSize, Page,
PageToken) answers what the fake created, newest first, in pages with ``next_page_uri``, each record checked
against the spec's message schema. A message's ``date_sent`` stays empty until a "sent" status is played,
as on Twilio while a message waits in its queue. ``stall`` makes the next create hang without an answer,
after creating the message (a send cut off after Twilio took it) or before (Twilio never got it): the
client then times out, or the test cancels the sending task as a SIGKILL would.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from twilio.request_validator import RequestValidator

from bot.app import INBOUND
from tests.fakes.spec import check_twilio_form, check_twilio_query, check_twilio_record, twilio_datetime

ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "f" * 32
SENDER = "whatsapp:+14155238886"
MESSAGES = "/2010-04-01/Accounts/{AccountSid}/Messages.json"


@dataclass
class Failure:
    status: int
    code: int
    message: str
    delay: float = 0.0


@dataclass
class FakeTwilio:
    public_url: str
    base_url: str = ""
    messages: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[float] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    # WhatsApp address → time.time() of the user's last message, as WhatsApp counts it.
    last_inbound: dict[str, float] = field(default_factory=dict)
    # Media the fake serves, by the media SID in the URL: (bytes, content type).
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    media_requests: list[str] = field(default_factory=list)
    # Media answered with a redirect instead, as Twilio sends media on to its CDN: media SID → Location.
    redirects: dict[str, str] = field(default_factory=dict)
    # Requests to the fake's CDN (``/cdn/<media SID>``), with the Authorization header each carried.
    cdn_requests: list[tuple[str, str]] = field(default_factory=list)
    # Requests to the Messages list, as the query each carried.
    list_requests: list[dict[str, str]] = field(default_factory=list)
    _failures: list[Failure] = field(default_factory=list)
    _list_failures: list[Failure] = field(default_factory=list)
    _stalls: list[bool] = field(default_factory=list)  # per coming create: True = created before hanging
    # Set at teardown, so a stalled request's handler ends with the fake.
    released: asyncio.Event = field(default_factory=asyncio.Event)
    stalled: asyncio.Event = field(default_factory=asyncio.Event)  # a create is hanging now
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def validator(self) -> RequestValidator:
        return RequestValidator(AUTH_TOKEN)

    def fail(self, status: int, code: int, message: str = "error", *, times: int = 1, delay: float = 0.0) -> None:
        self._failures.extend(Failure(status, code, message, delay) for _ in range(times))

    def fail_list(self, status: int, code: int, message: str = "error", *, times: int = 1) -> None:
        self._list_failures.extend(Failure(status, code, message) for _ in range(times))

    def stall(self, *, created: bool) -> None:
        """The next create hangs and never answers: with the message created first (Twilio took it) or
        not (Twilio never got it). ``stalled`` is set once it hangs."""
        self._stalls.append(created)

    def bodies(self, to: str | None = None) -> list[str]:
        return [m.get("Body", "") for m in self.messages if to is None or m["To"] == to]

    # -- the REST API -------------------------------------------------------------------------------

    async def create_message(self, request: web.Request) -> web.Response:
        self.attempts.append(time.monotonic())
        expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return self._error(401, 20003, "Authenticate")
        if request.match_info["sid"] != ACCOUNT_SID:
            return self._error(404, 20404, "The requested resource was not found")
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        problem = check_twilio_form(MESSAGES, "post", form) or self._rules(form)
        if problem is not None:
            self.violations.append(problem)
            return self._error(400, 21602 if "Body" in problem else 20001, problem)
        if self._failures:
            failure = self._failures.pop(0)
            if failure.delay:
                await asyncio.sleep(failure.delay)
            return self._error(failure.status, failure.code, failure.message)
        stall = self._stalls.pop(0) if self._stalls else None
        if stall is False:
            return await self._hang()
        sid = f"SM{uuid.uuid4().hex}"
        outside = "ContentSid" not in form and not self.window_open(form["To"])
        self.messages.append({**form, "sid": sid, "outside_window": outside, "date_created": datetime.now(UTC),
                              "date_sent": None, "status": "queued"})
        if stall is True:
            return await self._hang()
        return web.json_response(
            {"sid": sid, "account_sid": ACCOUNT_SID, "status": "queued", "to": form["To"], "from": form["From"],
             "body": form.get("Body", ""), "direction": "outbound-api", "api_version": "2010-04-01",
             "num_media": "0", "num_segments": "1", "error_code": None, "error_message": None},
            status=201,
        )

    async def _hang(self) -> web.Response:
        self.stalled.set()
        await self.released.wait()
        return self._error(503, 20503, "stalled")  # read by nobody: the client gave up long before

    def record(self, message: dict[str, Any]) -> dict[str, Any]:
        """A created message as the Messages resource shows it. A template send lists its rendered text:
        here the template's SID and its variables, which is what a test can tell it by."""
        body = message.get("Body", "")
        if "ContentSid" in message:
            body = " ".join([f"[{message['ContentSid']}]", *json.loads(message.get("ContentVariables", "{}")).values()])
        created: datetime = message["date_created"]
        sent: datetime | None = message["date_sent"]
        return {
            "sid": message["sid"], "account_sid": ACCOUNT_SID, "to": message["To"], "from": message["From"],
            "body": body, "status": message["status"], "direction": "outbound-api", "api_version": "2010-04-01",
            "num_media": str(len([k for k in message if k.startswith("MediaUrl")])), "num_segments": "1",
            "date_created": format_datetime(created), "date_updated": format_datetime(sent or created),
            "date_sent": format_datetime(sent) if sent else None, "error_code": None, "error_message": None,
            "price": None, "price_unit": "USD", "messaging_service_sid": None,
            "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{message['sid']}.json",
            "subresource_uris": {"media": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{message['sid']}/Media.json"},
        }

    async def list_messages(self, request: web.Request) -> web.Response:
        """GET Messages.json: what the fake created, filtered and paged as Twilio does, newest first."""
        query = dict(request.query)
        self.list_requests.append(query)
        expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return self._error(401, 20003, "Authenticate")
        if request.match_info["sid"] != ACCOUNT_SID:
            return self._error(404, 20404, "The requested resource was not found")
        problem = check_twilio_query(MESSAGES, "get", query)
        if problem is not None:
            self.violations.append(problem)
            return self._error(400, 20001, problem)
        if self._list_failures:
            failure = self._list_failures.pop(0)
            return self._error(failure.status, failure.code, failure.message)
        found = [m for m in self.messages
                 if m["To"] == query.get("To", m["To"]) and m["From"] == query.get("From", m["From"])]
        for name, keep in (("DateSent", lambda sent, at: sent.date() == at.date()),
                           ("DateSent>", lambda sent, at: sent >= at), ("DateSent<", lambda sent, at: sent <= at)):
            if name in query:
                at = twilio_datetime(query[name])
                found = [m for m in found if m["date_sent"] is not None and at is not None and keep(m["date_sent"], at)]
        found.sort(key=lambda m: m["date_created"], reverse=True)
        size = int(query.get("PageSize", "50"))
        page = int(query.get("Page", "0"))
        records = [self.record(m) for m in found[page * size:(page + 1) * size]]
        for record in records:
            problem = check_twilio_record("api.v2010.account.message", record)
            if problem is not None:
                self.violations.append(f"the fake's own answer: {problem}")
        path = request.path
        base = {k: v for k, v in query.items() if k not in ("Page", "PageToken")}
        more = (page + 1) * size < len(found)
        return web.json_response({
            "messages": records, "page": page, "page_size": size, "start": page * size,
            "end": page * size + max(len(records) - 1, 0), "uri": f"{path}?{urlencode(query)}",
            "first_page_uri": f"{path}?{urlencode({**base, 'Page': 0})}",
            "next_page_uri": f"{path}?{urlencode({**base, 'Page': page + 1, 'PageToken': f'PA{page + 1}'})}"
            if more else None,
            "previous_page_uri": f"{path}?{urlencode({**base, 'Page': page - 1})}" if page else None,
        })

    def add_media(self, media_sid: str, data: bytes, content_type: str) -> str:
        self.media[media_sid] = (data, content_type)
        return f"{self.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM{'0' * 32}/Media/{media_sid}"

    async def get_media(self, request: web.Request) -> web.StreamResponse:
        self.media_requests.append(request.match_info["media"])
        expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return self._error(401, 20003, "Authenticate")
        location = self.redirects.get(request.match_info["media"])
        if location is not None:
            return web.Response(status=302, headers={"Location": location})
        found = self.media.get(request.match_info["media"])
        if found is None:
            return self._error(404, 20404, "The requested resource was not found")
        return web.Response(body=found[0], content_type=found[1])

    def cdn_url(self, media_sid: str) -> str:
        return f"{self.base_url}/cdn/{media_sid}"

    async def get_cdn(self, request: web.Request) -> web.StreamResponse:
        """The short-lived CDN URL a media URL redirects to: no credentials needed, none expected."""
        self.cdn_requests.append((request.match_info["media"], request.headers.get("Authorization", "")))
        found = self.media.get(request.match_info["media"])
        if found is None:
            return web.Response(status=404)
        return web.Response(body=found[0], content_type=found[1])

    def _rules(self, form: dict[str, str]) -> str | None:
        if form.get("From") != SENDER:
            return f"From {form.get('From')!r} is not a sender of this account"
        if not form["To"].startswith("whatsapp:+"):
            return "a WhatsApp sender can only write to whatsapp:+E.164 addresses"
        if not any(k in form for k in ("Body", "ContentSid", "MediaUrl")):
            return "one of Body, ContentSid or MediaUrl is required"
        if len(form.get("Body", "")) > 1600:
            return "Body exceeds 1600 characters"
        if "ContentVariables" in form:
            if "ContentSid" not in form:
                return "ContentVariables without ContentSid"
            variables = json.loads(form["ContentVariables"])
            if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
                return "ContentVariables must be a JSON object of strings"
            if any("\n" in v or "\t" in v for v in variables.values()):
                return "template variables may not contain new lines or tabs"
        return None

    def _error(self, status: int, code: int, message: str) -> web.Response:
        return web.json_response({"code": code, "message": message,
                                  "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status},
                                 status=status)

    def window_open(self, address: str) -> bool:
        last = self.last_inbound.get(address)
        return last is not None and time.time() - last < 24 * 3600

    # -- what Twilio posts to the app ---------------------------------------------------------------

    def sign(self, url: str, form: dict[str, str]) -> str:
        return str(self.validator.compute_signature(url, form))

    async def post_signed(self, client: TestClient[Any, Any], url: str, form: dict[str, str],
                          *, signature: str | None = None) -> Any:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        headers = {"X-Twilio-Signature": signature if signature is not None else self.sign(url, form)}
        return await client.post(path, data=form, headers=headers)

    def inbound_form(self, sender: str, body: str, **extra: str) -> dict[str, str]:
        number = next(self._counter)
        return {
            "SmsMessageSid": f"SM{number:032x}", "MessageSid": f"SM{number:032x}", "AccountSid": ACCOUNT_SID,
            "From": sender, "To": SENDER, "Body": body, "NumMedia": "0", "NumSegments": "1",
            "ProfileName": "Ana", "WaId": sender.removeprefix("whatsapp:+"), "SmsStatus": "received",
            "ApiVersion": "2010-04-01", **extra,
        }

    async def user_says(self, client: TestClient[Any, Any], sender: str, body: str, **extra: str) -> Any:
        self.last_inbound[sender] = time.time()
        form = self.inbound_form(sender, body, **extra)
        response = await self.post_signed(client, f"{self.public_url}/webhooks/twilio/whatsapp", form)
        # The webhook answers once the message is stored and the turn runs after it: a user "saying"
        # something is over when the bot has answered (post_signed is the raw post, for ack tests).
        assert client.app is not None
        await client.app[INBOUND].idle()
        return response

    async def status_callback(self, client: TestClient[Any, Any], message: dict[str, Any], status: str,
                              error_code: str | None = None) -> Any:
        form = {"MessageSid": message["sid"], "SmsSid": message["sid"], "AccountSid": ACCOUNT_SID,
                "MessageStatus": status, "SmsStatus": status, "To": message["To"], "From": message["From"],
                "ApiVersion": "2010-04-01", "ChannelPrefix": "whatsapp"}
        if error_code is not None:
            form["ErrorCode"] = error_code
        message["status"] = status
        if status in ("sent", "delivered", "read") and message.get("date_sent") is None:
            message["date_sent"] = datetime.now(UTC)
        return await self.post_signed(client, message["StatusCallback"], form)

    async def play_callbacks(self, client: TestClient[Any, Any]) -> None:
        """What Twilio would report for every message sent so far: delivered, or 63016 outside the window."""
        for message in self.messages:
            if "StatusCallback" not in message:
                continue
            if message["outside_window"]:
                await self.status_callback(client, message, "failed", "63016")
            else:
                await self.status_callback(client, message, "sent")
                await self.status_callback(client, message, "delivered")


@pytest.fixture
async def fake_twilio() -> AsyncIterator[FakeTwilio]:
    fake = FakeTwilio(public_url="https://care.example.ac.id")
    api = web.Application()
    api.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", fake.create_message)
    api.router.add_get("/2010-04-01/Accounts/{sid}/Messages.json", fake.list_messages)
    api.router.add_get("/2010-04-01/Accounts/{sid}/Messages/{message}/Media/{media}", fake.get_media)
    api.router.add_get("/cdn/{media}", fake.get_cdn)
    runner = web.AppRunner(api)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    fake.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield fake
    finally:
        fake.released.set()
        await runner.cleanup()
    assert fake.violations == [], "requests the real Twilio API would reject"
