"""Reading untrusted request input: the one place a body, an id or an origin from the outside is parsed.

Every endpoint (webhooks, web chat, API, console, survey) reads what it was sent through these functions,
so each kind of bad input fails the same way everywhere: an ``InputError`` carrying the HTTP status
(400, or 413 for a body over the limit) and a plain English reason for a provider or an operator. A view
turns it into its own shape (a JSON problem for the API, a translated page for a person, an error frame on
a WebSocket); nothing a client can send reaches the error boundary as an exception.

What is refused, and why:
- form bodies: every failure of aiohttp's ``request.post()`` (an unknown charset, a multipart body
  without a boundary or with a part it cannot decode, bytes that are not valid in the declared charset,
  header lines over its limit) is the client's, not ours;
- JSON bodies and frames: not UTF-8, not JSON (``NaN`` and ``Infinity`` are not JSON either), nested more
  than ``MAX_JSON_DEPTH`` levels (Python's parser would raise ``RecursionError`` long before the end of
  ``'[' * 100000``, and anything a little less deep could still fail later, when it is written out again
  for the inbox or the log), or not an object where one is expected;
- text that no database stores: NUL, lone surrogates (``clean_text``, applied to every form field and
  JSON string read here, and by the channels to what they read elsewhere);
- ids: ASCII digits only (``str.isdigit`` accepts ``'²'`` and ``'٣'``, which ``int()`` then refuses or
  reads as another number), within the column's range: every id column here is a 32-bit signed
  ``IntField``; a larger number can name no row, and the databases refuse to compare with it.
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from itertools import accumulate
from typing import Any, TypeGuard

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDictProxy
from tortoise.models import Model
from yarl import URL

from models import Message

# Every primary key in models is an IntField: 32-bit signed on PostgreSQL, and the range SQLite is asked for.
MAX_ID = 2**31 - 1
# Deeper than any payload a provider or our own clients send (a Telegram update is about 6 levels deep).
MAX_JSON_DEPTH = 32

_STRINGS = re.compile(r'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class InputError(Exception):
    """What was sent cannot be read. ``reason`` is safe to show: it never repeats the input."""

    def __init__(self, reason: str, *, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def _too_large(exc: web.HTTPRequestEntityTooLarge) -> InputError:
    return InputError(exc.text or "the request body is too large", status=413)


# What reading a body raises when the client breaks the framing: a compressed body that does not
# decompress or a chunked one cut short (aiohttp wraps those as RequestPayloadError), a lying
# Content-Length or a connection dropped mid-body.
_CUT_SHORT = (HttpProcessingError, web.RequestPayloadError, ConnectionResetError)


# --- text --------------------------------------------------------------------------------------------


def clean_text(value: str) -> str:
    """Text as the databases can store it: PostgreSQL refuses NUL in text and in JSON, and no database
    driver (nor a UTF-8 file) takes a lone surrogate (a JSON ``"\\ud800"`` decodes to one). NUL is dropped:
    it is never part of what a person wrote (a provider or a client library pads with it), and dropped, the
    rest reads as sent, so ``"ha\\x00lo"`` is the word "halo" and an address with a NUL is the address. A
    lone surrogate becomes U+FFFD, the replacement character, so the reader sees that a character was
    there; a surrogate pair written as two escapes is joined into its character. Any other text comes back
    unchanged."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value


def clean_json(value: Any) -> Any:
    """``clean_text`` on every string of a parsed JSON document, keys included (depth is bounded by
    ``MAX_JSON_DEPTH`` before anything is parsed)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [clean_json(item) for item in value]
    if isinstance(value, dict):
        return {clean_text(key): clean_json(item) for key, item in value.items()}
    return value


# --- forms -------------------------------------------------------------------------------------------


async def read_form(request: web.Request) -> MultiDictProxy[Any]:
    """``request.post()``, with each way it fails on a malformed body turned into an ``InputError``."""
    try:
        return await request.post()
    except web.HTTPRequestEntityTooLarge as exc:
        raise _too_large(exc) from None
    except LookupError:
        raise InputError("the form's charset is unknown") from None
    except UnicodeError:
        raise InputError("the form is not valid text in its charset") from None
    except (ValueError, *_CUT_SHORT):
        # A multipart body without a boundary, a part without a name, a header line over aiohttp's limit,
        # a body that is not the length or the encoding it claims...
        raise InputError("the form body is malformed") from None
    except (RuntimeError, TypeError, zlib.error):
        # A part with a Content-Encoding or Content-Transfer-Encoding aiohttp does not know, or bad data in it.
        raise InputError("a part of the form has an unsupported or broken encoding") from None


async def read_text_form(request: web.Request) -> dict[str, str]:
    """The form's text fields, cleaned (``clean_text``); files are left out, and of a repeated name the
    last value wins."""
    return text_fields(await read_form(request))


def text_fields(form: MultiDictProxy[Any] | dict[str, Any]) -> dict[str, str]:
    return {clean_text(k): clean_text(v) for k, v in form.items() if isinstance(v, str)}


# --- JSON --------------------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def nested_too_deep(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text nests (or, if malformed, opens) more than ``limit`` arrays and objects.

    Linear, and in C but for one pass over the brackets: strings are dropped (a bracket in them is text),
    then the running count of open brackets is followed to its highest point."""
    brackets = _NOT_BRACKETS.sub("", _STRINGS.sub("", text))
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0) > limit


def parse_json(data: str | bytes | bytearray) -> Any:
    """A JSON document from a body or a WebSocket frame, or an ``InputError`` saying why not."""
    if isinstance(data, bytes | bytearray):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise InputError("the body is not UTF-8") from None
    else:
        text = data
    if nested_too_deep(text):
        raise InputError(f"the JSON is malformed or nested more than {MAX_JSON_DEPTH} levels deep")
    try:
        return clean_json(json.loads(text, parse_constant=_reject_constant))
    except RecursionError:  # cannot happen after the depth check; kept so no parser limit can ever be a 500
        raise InputError(f"the JSON is nested more than {MAX_JSON_DEPTH} levels deep") from None
    except ValueError:  # JSONDecodeError, NaN/Infinity, an integer over Python's digit limit
        raise InputError("the body is not valid JSON") from None


def parse_json_object(data: str | bytes | bytearray) -> dict[str, Any]:
    value = parse_json(data)
    if not isinstance(value, dict):
        raise InputError("the body must be a JSON object")
    return value


async def read_json(request: web.Request) -> Any:
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise _too_large(exc) from None
    except _CUT_SHORT:
        raise InputError("the body could not be read") from None
    return parse_json(body)


async def read_json_object(request: web.Request, *, empty: bool = False) -> dict[str, Any]:
    """The body as a JSON object; with ``empty=True`` no body at all reads as ``{}``."""
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise _too_large(exc) from None
    except _CUT_SHORT:
        raise InputError("the body could not be read") from None
    if empty and not body.strip():
        return {}
    return parse_json_object(body)


# --- ids ---------------------------------------------------------------------------------------------


def parse_id(raw: str | None) -> int | None:
    """A row id from a path, a query or a form field: ASCII digits naming a value an id column can hold.
    ``None`` for anything else; a path answers 404 to it, a form or query field 400."""
    if raw is None or not raw or len(raw) > 10 or not (raw.isascii() and raw.isdigit()):
        return None
    value = int(raw)
    return value if value <= MAX_ID else None


def json_id(value: object) -> int | None:
    """An id given as a JSON number: a true integer (``true`` is not 1) an id column can hold."""
    if type(value) is not int or not 0 <= value <= MAX_ID:
        return None
    return value


def ascii_int(raw: str, *, low: int, high: int) -> int | None:
    """A bounded integer from a query or form field (an optional ``-`` sign, then ASCII digits)."""
    digits = raw.removeprefix("-")
    if not digits or len(digits) > 18 or not (digits.isascii() and digits.isdigit()):
        return None
    value = int(raw)
    return value if low <= value <= high else None


def fits(value: object, model: type[Model], field: str) -> TypeGuard[str]:
    """Whether a value from a request can be looked up in a text column: Tortoise refuses (an exception,
    not a miss) to compare a CharField with a longer value, or with anything but a string."""
    limit: int = model._meta.fields_map[field].max_length  # type: ignore[attr-defined]
    return isinstance(value, str) and len(value) <= limit


# --- provider ids --------------------------------------------------------------------------------------

# The (channel, provider id) unique key of the inbox and of the messages, as wide as the column.
PROVIDER_KEY_CHARS: int = Message._meta.fields_map["provider_message_id"].max_length  # type: ignore[attr-defined]
_HASHED_PREFIX = "sha256:"


def provider_key(provider_id: str) -> str:
    """The dedupe key stored for a provider's message id. An id that fits the column is kept as it is; a
    longer one is replaced by a stable hash of all of it, so a re-delivery still matches (cutting it short
    could make two messages one). The full id stays in the message's raw payload."""
    if len(provider_id) <= PROVIDER_KEY_CHARS:
        return provider_id
    return _HASHED_PREFIX + hashlib.sha256(provider_id.encode("utf-8", "surrogatepass")).hexdigest()


# --- origins -------------------------------------------------------------------------------------------


def _origin_of(url: URL) -> tuple[str, str, int | None] | None:
    # A browser's Origin is a page's: http or https, never ws:, file: or an extension's scheme.
    if not url.is_absolute() or url.scheme not in ("http", "https") or not url.host:
        return None
    try:
        port = url.port  # the scheme's default when none is written, so :443 and nothing are the same
    except ValueError:
        return None
    return url.scheme, url.host.lower().rstrip("."), port


def own_origin(request: web.Request, public_url: str = "") -> str:
    """The site's own origin: PUBLIC_URL's when set (behind a proxy ``request.url`` is not what the browser
    sees), otherwise this request's."""
    return str(URL(public_url).origin()) if public_url else str(request.url.origin())


def same_origin(candidate: str, own: str) -> bool:
    """Whether a browser's ``Origin`` (or a Referer) is the site itself: scheme, host and port all equal."""
    try:
        theirs = _origin_of(URL(candidate))
        ours = _origin_of(URL(own))
    except (ValueError, TypeError):
        return False
    return theirs is not None and theirs == ours


def same_origin_path(referer: str | None, *, own: str, under: str, default: str) -> str:
    """Where to send a browser back to: the Referer's path and query when it is a page of this site under
    ``under``, else ``default``. Never a prefix match on the text: ``http://site.evil/`` starts like
    ``http://site``, and ``//evil/`` is a path that leaves the site."""
    if not referer or not same_origin(referer, own):
        return default
    url = URL(referer)
    path = url.raw_path
    if path != under and not path.startswith(under.rstrip("/") + "/"):
        return default
    return path + (f"?{url.raw_query_string}" if url.raw_query_string else "")
