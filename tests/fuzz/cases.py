"""Generated requests per endpoint family, from one seeded ``random.Random`` (the same seed, the same cases).

Each family mixes what a careless provider, a broken browser and an attacker send: every method, content
types with unknown or wrong charsets, multipart bodies without a boundary or with parts aiohttp cannot
decode, bytes that are not UTF-8, bodies up to and past the 1 MiB limit, compressed bodies that do not
decompress, lying Content-Lengths and broken chunks (as raw bytes), JSON that is deep, of the wrong type
or not JSON, and ids that are huge, negative, empty or made of other scripts' digits (``²``, ``٣``). Part
of each family is well-formed and authenticated (signed Twilio posts, Telegram's secret, a console session
with its CSRF token, an API token, a valid survey link), so the checks behind the door are fuzzed too."""

from __future__ import annotations

import gzip
import json
import random
import string
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

from twilio.request_validator import RequestValidator

from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, SENDER
from tests.fuzz.harness import TELEGRAM_SECRET, Case, Http, Raw, Seeds, Socket

LIMIT = 1024 * 1024  # Settings.max_body_bytes
VALIDATOR = RequestValidator(AUTH_TOKEN)

IDS = ["1", "2", "0", "-1", "99999999999999999999", "2147483647", "2147483648", "9223372036854775808", "²",
       "٣", "１", "1e3", "0x10", "%20", "1%00", "abc", "1.5", "+1", "9" * 400]
TEXTS = ["halo", "", " ", "13521045", "agen", "2", "<script>alert(1)</script>", "{name.__class__}", "\u202e",
         "😀" * 50, "a" * 5000, "\x00", "lupa password", "%s%s%n", "' OR 1=1 --", "\ud7ff", "ﷺ" * 10]
CHARSETS = ["utf-8", "nope", "utf-16", "latin-1", "", "utf-32", "x" * 300, "utf-8'", "\"utf-8\""]


def rand_text(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return rng.choice(TEXTS)
    alphabet = string.printable + "éß漢字٣²€\u200b"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))


def rand_json(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 4 or roll < 0.45:
        return rng.choice([rand_text(rng), rng.randint(-(2**70), 2**70), rng.randint(-5, 5), 1.5, True, False, None,
                           10**30, -1, 0, ""])
    if roll < 0.7:
        return [rand_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rand_text(rng)[:20]: rand_json(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def deep_json(rng: random.Random) -> bytes:
    depth = rng.choice([33, 200, 1000, 5000, 100_000])
    opener, closer = rng.choice([("[", "]"), ('{"a":', "}")])
    return (opener * depth + ("1" + closer * depth if rng.random() < 0.5 else "")).encode()


def bad_bytes(rng: random.Random) -> bytes:
    return rng.choice([b"\xff\xfe\xfd", b"a=\xc3\x28", b"%ff%fe=1", b"\x00" * 10, bytes(rng.randrange(256) for _ in
                                                                                          range(rng.randint(1, 200)))])


def oversize(rng: random.Random) -> bytes:
    return b"a=" + b"x" * rng.choice([LIMIT - 100, LIMIT, LIMIT + 1, LIMIT * 2])


def multipart(rng: random.Random, fields: dict[str, str]) -> tuple[str, bytes]:
    """A multipart body, well-formed or broken in one of the ways aiohttp's reader refuses."""
    boundary = "fuzzb"
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    flaw = rng.choice(["none", "no_boundary", "bad_cte", "long_line", "no_name", "nested", "bad_charset", "gzip_part",
                       "truncated", "bad_utf8"])
    if flaw == "bad_cte":
        parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"x\"\r\nContent-Transfer-Encoding: "
                     f"rot13\r\n\r\nabc\r\n".encode())
    elif flaw == "long_line":
        parts.append(f"--{boundary}\r\nX-Long: {'a' * 10000}\r\n\r\nabc\r\n".encode())
    elif flaw == "no_name":
        parts.append(f"--{boundary}\r\nContent-Disposition: form-data\r\n\r\nabc\r\n".encode())
    elif flaw == "nested":
        parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"n\"\r\nContent-Type: multipart/mixed; "
                     f"boundary=inner\r\n\r\n--inner\r\n\r\nx\r\n--inner--\r\n\r\n".encode())
    elif flaw == "bad_charset":
        parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"c\"\r\nContent-Type: text/plain; "
                     f"charset=nope\r\n\r\nabc\r\n".encode())
    elif flaw == "gzip_part":
        parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"g\"\r\nContent-Encoding: gzip\r\n\r\n"
                     f"notgzip\r\n".encode())
    elif flaw == "bad_utf8":
        parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"u\"\r\n\r\n".encode() + b"\xff\xfe\r\n")
    body = b"".join(parts) + (b"" if flaw == "truncated" else f"--{boundary}--\r\n".encode())
    content_type = "multipart/form-data" if flaw == "no_boundary" else f"multipart/form-data; boundary={boundary}"
    return content_type, body


def form_body(rng: random.Random, fields: dict[str, str]) -> tuple[str, bytes]:
    """Fields as one of many bodies: url-encoded with some charset, multipart, JSON, garbage, oversize."""
    roll = rng.random()
    if roll < 0.35:
        charset = "" if rng.random() < 0.5 else f"; charset={rng.choice(CHARSETS)}"
        return "application/x-www-form-urlencoded" + charset, urlencode(fields).encode()
    if roll < 0.55:
        return multipart(rng, fields)
    if roll < 0.65:
        return "application/x-www-form-urlencoded", bad_bytes(rng)
    if roll < 0.72:
        return "application/x-www-form-urlencoded", oversize(rng)
    if roll < 0.8:
        return "application/json", json.dumps(fields).encode()
    return rng.choice(["text/plain", "", "application/xml", "multipart/mixed", "*/*", "x" * 200]), bad_bytes(rng)


def json_body(rng: random.Random, good: dict[str, Any]) -> bytes:
    roll = rng.random()
    if roll < 0.3:
        return json.dumps(good).encode()
    if roll < 0.5:
        return json.dumps({**good, **{k: rand_json(rng) for k in rng.sample(sorted(good) or ["x"], 1)}}).encode()
    if roll < 0.6:
        return deep_json(rng)
    if roll < 0.7:
        return json.dumps(rand_json(rng)).encode()
    if roll < 0.78:
        return rng.choice([b"NaN", b'{"text": Infinity}', b'{"a": 1e999}', b'{"a": ' + b"9" * 5000 + b"}", b"",
                           b'{"a":', b"[1,]", b'"\\ud800"'])
    if roll < 0.85:
        return oversize(rng)
    return bad_bytes(rng)


def maybe_gzip(rng: random.Random, headers: dict[str, str], body: bytes) -> bytes:
    """Now and then a compressed body (aiohttp decompresses requests), or one that claims to be and is not."""
    roll = rng.random()
    if roll < 0.03:
        headers["Content-Encoding"] = "gzip"
        return gzip.compress(body)
    if roll < 0.06:
        headers["Content-Encoding"] = rng.choice(["gzip", "deflate", "br", "zstd", "nope"])
        return body
    if roll < 0.07:  # a small bomb: 1 KiB in, past the limit out
        headers["Content-Encoding"] = "gzip"
        return gzip.compress(b"a=" + b"0" * (LIMIT * 3))
    return body


def raw_case(rng: random.Random, method: str, path: str, headers: dict[str, str], body: bytes) -> Raw:
    """The same request with the framing broken: a lying Content-Length, bad chunks, two lengths."""
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items() if k.lower() != "content-length")
    flaw = rng.choice(["short", "long", "chunks", "both", "bad_te", "space"])
    if flaw == "short":
        framing, payload = f"Content-Length: {max(0, len(body) // 2)}\r\n", body
    elif flaw == "long":
        framing, payload = f"Content-Length: {len(body) + 10}\r\n", body  # the rest never comes
    elif flaw == "chunks":
        framing, payload = "Transfer-Encoding: chunked\r\n", f"{len(body) + 5:x}\r\n".encode() + body + b"\r\nzz\r\n"
    elif flaw == "both":
        framing, payload = f"Content-Length: {len(body)}\r\nTransfer-Encoding: chunked\r\n", body
    elif flaw == "bad_te":
        framing, payload = "Transfer-Encoding: gzip, chunked, nope\r\n", body
    else:
        framing, payload = f"Content-Length: {len(body)}\r\nX-Bad Header: 1\r\n", body
    request = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{head}{framing}\r\n".encode()
    return Raw(request + payload)


def finish(rng: random.Random, method: str, path: str, headers: dict[str, str], body: bytes | None,
           lane: str | None = None) -> Case:
    if body is not None:
        body = maybe_gzip(rng, headers, body)
    if body is not None and rng.random() < 0.04:
        return raw_case(rng, method, path, headers, body)
    return Http(method, path, headers, body, lane=lane)


def weird_method(rng: random.Random, usual: str) -> str:
    return usual if rng.random() < 0.85 else rng.choice(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])


# --- webhooks ------------------------------------------------------------------------------------------


def _twilio_fields(rng: random.Random) -> dict[str, str]:
    sid = rng.choice([f"SM{rng.getrandbits(128):032x}", "SM" + "a" * rng.choice([200, 400]), "", "²", "SM/../x"])
    sender = rng.choice(["whatsapp:+6281200000001", "whatsapp:+62812" + str(rng.randint(0, 10**7)),
                         "whatsapp:+" + "1" * rng.choice([25, 200]), "whatsapp:budi", "+62812", "", "whatsapp:"])
    fields = {"MessageSid": sid, "SmsMessageSid": sid, "AccountSid": rng.choice([ACCOUNT_SID, ACCOUNT_SID, "AC0"]),
              "From": sender, "To": SENDER, "Body": rand_text(rng), "NumMedia": rng.choice(["0", "0", "1", "11", "²",
                                                                                          "-1", "٣", ""]),
              "ProfileName": rand_text(rng)[:300]}
    if fields["NumMedia"] in ("1", "٣"):
        fields["MediaUrl0"] = rng.choice(["https://api.twilio.com/x", "http://169.254.169.254/", "file:///etc/passwd",
                                          "https://user:pw@api.twilio.com:99999/x", ""])
        fields["MediaContentType0"] = rng.choice(["image/jpeg", "text/html", "", "x" * 300])
    if rng.random() < 0.2:
        fields["ButtonPayload"] = rand_text(rng)
    return fields


def _status_fields(rng: random.Random) -> dict[str, str]:
    return {"MessageSid": rng.choice([f"SM{rng.getrandbits(64):016x}", "", "x" * 300]),
            "MessageStatus": rng.choice(["sent", "delivered", "read", "failed", "undelivered", "queued", "", "²"]),
            "ErrorCode": rng.choice(["63016", "21211", "²", "٣", "99999999999999999999", "", "-1", "abc"]),
            "AccountSid": ACCOUNT_SID}


def _telegram_update(rng: random.Random) -> Any:
    chat = rng.choice([5550001, 5550002, -100123, 2**70, "abc"])
    message: dict[str, Any] = {
        "message_id": rng.choice([rng.randint(1, 10**6), 0, -1, 2**70, "x"]),
        "date": rng.choice([1_700_000_000, 0, 10**20, "yesterday", -5]),
        "chat": {"id": chat, "type": rng.choice(["private", "private", "group", "channel", 5])},
        "from": {"id": chat, "is_bot": rng.choice([False, False, True, "no"]),
                 "first_name": rng.choice(["Ana", 123, {"a": 1}, None, "x" * 500])},
        "text": rand_text(rng),
    }
    update: dict[str, Any] = {"update_id": rng.choice([rng.randint(1, 10**9), "x", -1, 2**80])}
    if rng.random() < 0.8:
        update["message"] = message
    else:
        update["callback_query"] = {"id": rng.choice(["cb1", "q" * 400, 5]), "chat_instance": "c",
                                    "data": rng.choice(["1", "2", "", 5]), "from": message["from"],
                                    "message": {k: message[k] for k in ("message_id", "date", "chat")}}
    # Then a few random changes anywhere in it: dropped keys, values of other types, extra objects.
    for _ in range(rng.randint(0, 3)):
        target = update.get("message") or update.get("callback_query") or update
        if not isinstance(target, dict) or not target:
            break
        key = rng.choice(sorted(target, key=str))
        roll = rng.random()
        if roll < 0.3:
            del target[key]
        elif roll < 0.7:
            target[key] = rand_json(rng)
        else:
            target[rng.choice(["photo", "document", "contact", "entities", "sticker", "reply_to_message"])] = (
                rand_json(rng))
    return rng.choice([update] * 8 + [rand_json(rng), [update]])


def webhook_cases(rng: random.Random, seeds: Seeds, count: int) -> list[Case]:
    cases: list[Case] = []
    for _ in range(count):
        target = rng.random()
        headers: dict[str, str] = {}
        if target < 0.45:  # Twilio inbound, signed over the public URL for most url-encoded bodies
            path = "/webhooks/twilio/whatsapp"
            fields = _twilio_fields(rng)
        elif target < 0.65:
            query = rng.choice(["", "", f"?m={rng.choice(IDS)}", f"?m={quote(rng.choice(IDS))}"])
            path = "/webhooks/twilio/status" + query
            fields = _status_fields(rng)
        elif target < 0.7:
            path = f"/webhooks/twilio/media/{rng.choice(IDS)}/{rng.choice(IDS)}/{'a' * rng.choice([0, 64])}/x.pdf"
            cases.append(finish(rng, weird_method(rng, "GET"), quote(path, safe="/%"), headers, None))
            continue
        else:  # Telegram: mostly with the secret, so the update itself is read
            if rng.random() < 0.85:
                headers["X-Telegram-Bot-Api-Secret-Token"] = TELEGRAM_SECRET
            headers["Content-Type"] = rng.choice(["application/json"] * 5 + ["text/plain", ""])
            roll = rng.random()
            body = (json.dumps(_telegram_update(rng)).encode() if roll < 0.75 else
                    deep_json(rng) if roll < 0.85 else bad_bytes(rng) if roll < 0.95 else oversize(rng))
            cases.append(finish(rng, weird_method(rng, "POST"), "/webhooks/telegram", headers, body))
            continue
        if rng.random() < 0.6:
            content_type = "application/x-www-form-urlencoded"
            body = urlencode(fields).encode()
            if rng.random() < 0.9:
                headers["X-Twilio-Signature"] = VALIDATOR.compute_signature(f"{seeds.public_url}{path}", fields)
        else:
            content_type, body = form_body(rng, fields)
            if rng.random() < 0.5:
                headers["X-Twilio-Signature"] = rng.choice(["", "forged", "\u00e9" * 3, "a" * 500])
        headers["Content-Type"] = content_type
        cases.append(finish(rng, weird_method(rng, "POST"), path, headers, body))
    return cases


# --- web chat --------------------------------------------------------------------------------------------


def webchat_cases(rng: random.Random, seeds: Seeds, count: int) -> list[Case]:
    """Several visitors side by side, each sending one message at a time (see Http.lane: one session's
    messages at once are a race of the conversation flow reported apart, not an input this suite covers)."""
    cases: list[Case] = []
    for n in range(count):
        headers: dict[str, str] = {}
        session = rng.randrange(len(seeds.chat_cookies))
        if rng.random() < 0.85:
            headers["Cookie"] = rng.choice([f"cc_chat={seeds.chat_cookies[session]}"] * 6 + [
                "cc_chat=short", "cc_chat=" + "x" * 500, "cc_chat="])
        target = rng.random()
        if target < 0.45:
            headers["Content-Type"] = rng.choice(["application/json"] * 4 + ["text/plain", ""])
            body = json_body(rng, {"id": f"fuzz-{n:08d}", "text": rand_text(rng)})
            query = rng.choice(["", "", "?lang=en", "?lang=" + "x" * 300, "?lang=%ff"])
            cases.append(finish(rng, weird_method(rng, "POST"), "/chat/messages" + query, headers, body,
                                lane=f"visitor-{session}"))
        elif target < 0.53:
            # A message with a file (issue 14): a real image, bytes named as one, an empty file; in a form
            # well-formed or broken (multipart's flaws).
            content_type, body = multipart(rng, {"id": f"files-{n:08d}", "text": rand_text(rng)})
            data = rng.choice([b"\x89PNG\r\n\x1a\n" + b"\0" * 32, b"%PDF-1.4\n", b"<svg onload=alert(1)/>", b""])
            file_part = (b'--fuzzb\r\nContent-Disposition: form-data; name="file"; filename="f.png"\r\n'
                         b"Content-Type: image/png\r\n\r\n" + data + b"\r\n")
            headers["Content-Type"] = content_type
            cases.append(finish(rng, weird_method(rng, "POST"), "/chat/files", headers, file_part + body,
                                lane=f"visitor-{session}"))
        elif target < 0.6:
            cases.append(finish(rng, weird_method(rng, "GET"), f"/chat/attachments/{quote(rng.choice(IDS))}",
                                headers, None))
        elif target < 0.7:
            path = rng.choice(["/chat", "/chat/", "/chat/history", "/chat?lang=en", "/chat?lang=%c3%28", "/",
                               "/healthz", "/static/chat.js", "/static/../../etc/passwd", "/chat/%2e%2e/"])
            cases.append(finish(rng, weird_method(rng, "GET"), path, headers, None))
        else:
            origin = rng.choice([seeds.public_url] * 6 + ["https://evil.invalid", "null", "foo://care.example.ac.id",
                                                          "http://care.example.ac.id", seeds.url, ""])
            frames: list[str | bytes] = []
            for k in range(rng.randint(1, 3)):
                roll = rng.random()
                frames.append(json.dumps({"id": f"ws-{n:06d}-{k}", "text": rand_text(rng)}) if roll < 0.4 else
                              "[" * rng.choice([33, 1000, 30_000]) if roll < 0.55 else
                              json.dumps(rand_json(rng)) if roll < 0.75 else
                              rng.choice(["not json", "", "NaN", '{"text": 5}', "\ud7ff"]) if roll < 0.9 else
                              bytes(rng.randrange(256) for _ in range(20)))
            cases.append(Socket("/chat/ws", {**headers, **({"Origin": origin} if origin else {})}, frames,
                                replies_expected=True, lane=f"visitor-{session}"))
    return cases


# --- API ------------------------------------------------------------------------------------------------

ACTIONS = ["take", "assign", "reply", "note", "categorize", "escalate", "close"]


def api_cases(rng: random.Random, seeds: Seeds, count: int) -> list[Case]:
    cases: list[Case] = []
    for _ in range(count):
        headers: dict[str, str] = {}
        token = rng.choice([seeds.api_token] * 6 + [seeds.reader_token, "", "nope", "x" * 2000, "é"])
        if token:
            headers["Authorization"] = rng.choice(["Bearer "] * 8 + ["bearer ", "Basic ", ""]) + token
        some_id = rng.choice([str(rng.choice(seeds.ticket_ids))] * 3 + IDS)
        target = rng.random()
        if target < 0.55:
            action = rng.choice(ACTIONS)
            good = {"text": rand_text(rng), "user_id": rng.choice([1, 2, 10**20, -1, "1", True]),
                    "email": rng.choice(["ana@cc.test", "sari@cc.test", 5]),
                    "category": rng.choice(["akun-login", "x"]),
                    "summary": rand_text(rng), "incident_id": rng.choice([None, 1, 10**20, "1"]),
                    "incident_title": rng.choice(["", "Gangguan", 7])}
            headers["Content-Type"] = rng.choice(["application/json"] * 4 + ["text/plain", "", "multipart/form-data"])
            body = json_body(rng, {k: v for k, v in good.items() if rng.random() < 0.5})
            cases.append(finish(rng, weird_method(rng, "POST"), f"/api/v1/tickets/{quote(some_id)}/{action}", headers,
                                body))
        elif target < 0.65:
            headers["Content-Type"] = "application/json"
            body = json_body(rng, {"text": rand_text(rng), "notify_users": rng.choice([True, False, "yes", 1])})
            cases.append(finish(rng, weird_method(rng, "POST"), f"/api/v1/incidents/{quote(rng.choice(IDS))}/fix",
                                headers, body))
        else:
            params = {name: rng.choice(values) for name, values in {
                "status": ["open", "resolved", "x", "", "²"], "channel": ["webchat", "x", ""],
                "since": ["2026-11-01T00:00:00+07:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00",
                          "x", "2026-13-01", ""],
                "limit": IDS, "offset": IDS}.items() if rng.random() < 0.4}
            conversation = rng.choice([str(rng.choice(seeds.conversation_ids))] * 2 + IDS)
            path = rng.choice(["/api/v1/tickets", f"/api/v1/tickets/{quote(some_id)}", "/api/v1/incidents",
                               f"/api/v1/conversations/{quote(conversation)}/messages", "/api/v1/openapi.json"])
            cases.append(finish(rng, weird_method(rng, "GET"), path + ("?" + urlencode(params) if params else ""),
                                headers, None))
    return cases


# --- console --------------------------------------------------------------------------------------------

CONSOLE_POSTS = [
    "/console/t/{id}/take", "/console/t/{id}/reply", "/console/t/{id}/note", "/console/t/{id}/categorize",
    "/console/t/{id}/assign", "/console/t/{id}/waiting", "/console/t/{id}/escalate", "/console/t/{id}/fixed",
    "/console/availability", "/console/incidents/{id}/fix", "/console/admin/categories",
    "/console/admin/categories/{id}", "/console/admin/templates/{id}/id", "/console/admin/users/{id}",
    "/console/admin/teams", "/console/admin/teams/{id}", "/console/admin/teams/category/{id}",
    "/console/admin/settings", "/console/password",
]
CONSOLE_GETS = ["/console/queue", "/console/queue?view=x", "/console/t/{id}", "/console/attachments/{id}",
                "/console/admin/dashboard", "/console/incidents", "/console/login", "/console/queue?lang=%ff",
                "/console/queue?notice=" + "x" * 300]


def console_cases(rng: random.Random, seeds: Seeds, count: int) -> list[Case]:
    cases: list[Case] = []
    session = f"cc_console={seeds.console_cookie}"
    login = f"cc_console_login={seeds.login_csrf}"
    for _ in range(count):
        headers: dict[str, str] = {}
        some_id = quote(rng.choice([str(rng.choice(seeds.ticket_ids))] * 3 + IDS))
        fields = {k: rng.choice([rand_text(rng), rng.choice(IDS), "1", ""]) for k in rng.sample(
            ["text", "user_id", "category", "incident", "incident_title", "summary", "available", "slug", "name_id",
             "sort_order", "capacity", "role", "active", "team", "team_id", "name", "delete", "body", "waiting",
             "notify", "open_0", "sla_hours", "current", "new", "confirm", "email"], rng.randint(0, 6))}
        target = rng.random()
        if target < 0.4:  # the sign-in form, with and without its CSRF cookie
            fields.update({"email": rng.choice(["sari@cc.test", "ana@cc.test", rand_text(rng), "x" * 400]),
                           "password": rng.choice(["wrong", rand_text(rng), "x" * 5000])})
            if rng.random() < 0.7:
                fields["csrf"] = seeds.login_csrf
                headers["Cookie"] = login
            content_type, body = form_body(rng, fields)
            headers["Content-Type"] = content_type
            cases.append(finish(rng, weird_method(rng, "POST"), "/console/login", headers, body))
        elif target < 0.8:  # a signed-in supervisor's forms (not sign-out: the session is shared by every case)
            headers["Cookie"] = session
            if rng.random() < 0.45:  # the header the console's script sends; reaches past unreadable bodies
                headers["X-CSRF-Token"] = seeds.console_csrf
            elif rng.random() < 0.9:
                fields["csrf"] = seeds.console_csrf
            if rng.random() < 0.3:
                headers["Referer"] = rng.choice([f"{seeds.url}/console/queue", "http://127.0.0.1.evil.invalid/console/",
                                                 "http://127.0.0.1.evil.invalid:99999/x", "//evil", "%ff"])
            content_type, body = form_body(rng, fields)
            headers["Content-Type"] = content_type
            path = rng.choice(CONSOLE_POSTS).format(id=some_id)
            cases.append(finish(rng, weird_method(rng, "POST"), path, headers, body))
        elif target < 0.92:
            headers["Cookie"] = rng.choice([session, session, "cc_console=nope", ""])
            cases.append(finish(rng, "GET", rng.choice(CONSOLE_GETS).format(id=some_id), headers, None))
        else:
            origin = rng.choice([seeds.url] * 4 + ["https://127.0.0.1", "foo://127.0.0.1", "null"])
            frames: list[str | bytes] = [
                rng.choice([json.dumps({"csrf": seeds.console_csrf, "action": rng.choice(["view", "typing", "leave"]),
                                        "ticket_id": rng.choice([1, 2, 10**20, "1", None, -1])}),
                            "[" * rng.choice([100, 3000]), json.dumps(rand_json(rng)), "x", ""])
                for _ in range(rng.randint(1, 3))]
            cases.append(Socket("/console/ws", {"Cookie": session, "Origin": origin}, frames, replies_expected=False))
    return cases


# --- survey ---------------------------------------------------------------------------------------------


def survey_cases(rng: random.Random, seeds: Seeds, count: int) -> list[Case]:
    cases: list[Case] = []
    for _ in range(count):
        good = rng.choice(seeds.survey_paths)
        path = rng.choice([good] * 5 + ["/survey/x", "/survey/" + "a" * 3000, good + "x", good[:-3],
                                        "/survey/%ff%fe", "/survey/" + quote("²٣"), good + "/x"])
        query = rng.choice(["", "?lang=en", "?r=5", "?r=²", "?r=" + "9" * 400, "?lang=%ff", "?r=1&r=2"])
        headers: dict[str, str] = {}
        if rng.random() < 0.35:
            cases.append(finish(rng, weird_method(rng, "GET"), path + query, headers, None))
            continue
        fields = {"rating": rng.choice(["1", "5", "0", "6", "²", "٣", "", "99999999999999999999"]),
                  "comment": rng.choice([rand_text(rng), "x" * 2001, "x" * 3000])}
        content_type, body = form_body(rng, fields)
        headers["Content-Type"] = content_type
        cases.append(finish(rng, weird_method(rng, "POST"), path + query, headers, body))
    return cases


FAMILIES: dict[str, Callable[[random.Random, Seeds, int], list[Case]]] = {
    "webhooks": webhook_cases,
    "webchat": webchat_cases,
    "api": api_cases,
    "console": console_cases,
    "survey": survey_cases,
}
