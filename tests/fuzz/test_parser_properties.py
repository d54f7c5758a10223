"""Properties of every parser of what providers and clients send (Hypothesis): each either refuses in its
one documented way or returns something bounded that the database can store. No I/O: the parsers are pure.

- WhatsApp: ``WhatsAppChannel.to_inbound`` (the inbound form, after the signature check) and ``read_status``
  (the status callback): a result or ``BadFormError``;
- Telegram: ``read_update`` then ``read_message`` / ``read_button_press``: an InboundMessage or an
  "ignored:..." outcome, for any JSON at all and for valid updates with any field changed;
- e-mail: ``parse_mail``: a ParsedMail or None, for any bytes and for mail-shaped ones;
- ``handoff.webinput``: JSON, ids and text cleaning, which every endpoint reads through."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram import Bot

from bot.channels.mail import parse_mail
from bot.channels.telegram import read_button_press, read_message, read_update
from bot.channels.whatsapp import MAX_MEDIA, BadFormError, WhatsAppChannel, read_status
from handoff.webinput import (
    MAX_ID,
    MAX_JSON_DEPTH,
    PROVIDER_KEY_CHARS,
    InputError,
    clean_json,
    clean_text,
    nested_too_deep,
    parse_id,
    parse_json,
    provider_key,
    text_fields,
)
from models import ChannelKind
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, SENDER
from tests.fuzz.sizes import FULL, PROPERTY_EXAMPLES

PROPERTY = settings(max_examples=PROPERTY_EXAMPLES, deadline=None, derandomize=not FULL, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PHONE_CHARS = 32  # Contact.phone
ADDRESS_CHARS = 191  # ChannelIdentity.external_id

text = st.text(alphabet=st.characters(codec="utf-8"), max_size=300) | st.sampled_from(
    ["", "\x00", "²", "٣", "99999999999999999999", "-1", "whatsapp:+62812", "a" * 400])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=30,
)


def storable(value: str) -> bool:
    return "\x00" not in value and clean_text(value) == value


def no_nul(value: Any) -> bool:
    return json.dumps(value, ensure_ascii=False, default=str).count("\\u0000") == 0


# --- WhatsApp ----------------------------------------------------------------------------------------------

TWILIO_FIELDS = ["MessageSid", "SmsMessageSid", "AccountSid", "From", "To", "Body", "NumMedia", "ProfileName",
                 "ButtonPayload", "MediaUrl0", "MediaContentType0", "MessageStatus", "ErrorCode"]
forms = st.dictionaries(st.sampled_from(TWILIO_FIELDS) | text, text, max_size=12)
good_form = st.fixed_dictionaries({
    "MessageSid": st.just("SM" + "0" * 32) | text, "AccountSid": st.just(ACCOUNT_SID),
    "From": st.just("whatsapp:+6281200000001") | st.from_regex(r"whatsapp:\+?[0-9]{0,40}", fullmatch=True) | text,
    "To": st.just(SENDER), "Body": text, "NumMedia": st.sampled_from(["0", "1", "10", "11", "²", "٣", "", "-1"]),
    "MediaUrl0": text, "MediaContentType0": text, "ProfileName": text,
})


@pytest.fixture(scope="module")
def whatsapp() -> WhatsAppChannel:
    return WhatsAppChannel(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, from_number=SENDER)


@PROPERTY
@given(form=forms | good_form)
def test_the_whatsapp_form_is_a_bounded_message_or_refused(whatsapp: WhatsAppChannel, form: dict[str, str]) -> None:
    try:
        message = whatsapp.to_inbound(text_fields(form))
    except BadFormError:
        return
    assert message.channel == ChannelKind.WHATSAPP
    assert len(message.provider_message_id) <= PROVIDER_KEY_CHARS
    assert len(message.external_id) <= ADDRESS_CHARS
    assert message.phone is not None
    assert len(message.phone) <= PHONE_CHARS
    assert len(message.raw["media"]) <= MAX_MEDIA
    assert storable(message.text)
    assert storable(message.display_name)


@PROPERTY
@given(form=forms, m=text)
def test_the_status_callback_is_read_or_refused(form: dict[str, str], m: str) -> None:
    try:
        callback = read_status(text_fields(form), m)
    except BadFormError:
        return
    assert len(callback.key) <= PROVIDER_KEY_CHARS
    assert callback.message_id is None or 0 <= callback.message_id <= MAX_ID
    assert callback.error_code is None or 0 <= callback.error_code <= 10**9


# --- Telegram ----------------------------------------------------------------------------------------------

BOT = Bot("123456:PROPERTY-token_abcdefghijklmnopqr")


def telegram_update(message: dict[str, Any], kind: str) -> dict[str, Any]:
    return {"update_id": 1, kind: message}


valid_message = st.fixed_dictionaries({
    "message_id": st.integers(min_value=1, max_value=2**31),
    "date": st.integers(min_value=0, max_value=2**32),
    "chat": st.fixed_dictionaries({"id": st.integers(min_value=1, max_value=2**52), "type": st.just("private")}),
    "from": st.fixed_dictionaries({"id": st.integers(min_value=1, max_value=2**52), "is_bot": st.just(False),
                                   "first_name": text}),
    "text": text,
})


@st.composite
def changed_updates(draw: st.DrawFn) -> Any:
    """A valid update with fields dropped or replaced by any JSON value, at any level."""
    message = draw(valid_message)
    for _ in range(draw(st.integers(0, 4))):
        target = message
        if draw(st.booleans()):
            nested = draw(st.sampled_from(["chat", "from"]))
            if isinstance(message.get(nested), dict):
                target = message[nested]
        key = draw(st.sampled_from([*sorted(target), "photo", "document", "contact", "caption", "entities"]))
        if draw(st.booleans()) and key in target:
            del target[key]
        else:
            target[key] = draw(json_values)
    kind = draw(st.sampled_from(["message", "callback_query"]))
    if kind == "callback_query":
        return {"update_id": draw(st.integers()), "callback_query": {
            "id": draw(text | st.integers()), "from": message.get("from"), "chat_instance": "c",
            "data": draw(text | json_values), "message": message}}
    return {"update_id": draw(st.integers(min_value=0) | json_values), "message": message}


@PROPERTY
@given(data=json_values | changed_updates())
def test_any_telegram_update_is_a_bounded_message_or_an_outcome(data: Any) -> None:
    data = clean_json(data)  # what webinput's JSON reading hands the webhook
    update = read_update(data, BOT)
    if update is None:
        return
    read = read_button_press if update.callback_query is not None else read_message
    message = read(update, data)
    if isinstance(message, str):
        assert message.startswith("ignored:")
        return
    assert message.channel == ChannelKind.TELEGRAM
    assert -(2**63) <= int(message.external_id) < 2**63
    assert len(message.provider_message_id) <= PROVIDER_KEY_CHARS
    assert storable(message.text)
    assert storable(message.display_name)
    assert message.phone is None or len(message.phone) <= PHONE_CHARS
    assert no_nul(message.raw)


# --- e-mail ------------------------------------------------------------------------------------------------


@st.composite
def mails(draw: st.DrawFn) -> bytes:
    headers = {"From": draw(text | st.just("Budi <budi@students.itb.ac.id>")), "Subject": draw(text),
               "Message-ID": draw(text | st.just("<" + "m" * 400 + "@x>")), "Content-Type": draw(
                   st.sampled_from(["text/plain; charset=utf-8", "text/html", "text/plain; charset=nope",
                                    "multipart/mixed; boundary=b", "multipart/report"]))}
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items() if "\n" not in v and "\r" not in v)
    body = draw(st.binary(max_size=500) | text.map(lambda t: t.encode("utf-8", "surrogatepass")))
    return head.encode("utf-8", "surrogatepass") + b"\r\n" + body


@PROPERTY
@given(raw=st.binary(max_size=2000) | mails())
def test_any_mail_is_read_bounded_or_skipped(raw: bytes) -> None:
    mail = parse_mail(raw, own_address="care@cc.test")
    if mail is None:
        return
    assert "@" in mail.sender
    # Decoding never lengthens a mail (the store step cuts what is kept: bot.channels.base.MAX_STORED_CHARS).
    assert len(mail.text) <= len(raw)
    assert len(provider_key(mail.message_id)) <= PROVIDER_KEY_CHARS
    for value in (mail.sender, mail.name, mail.message_id, mail.subject, mail.text, mail.references):
        assert storable(value)


# --- what every endpoint reads through -----------------------------------------------------------------------


def depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    return 0


deep_values = st.recursive(st.integers() | text, lambda inner: st.lists(inner, min_size=1, max_size=2) |
                           st.dictionaries(text, inner, min_size=1, max_size=2), max_leaves=60)


@PROPERTY
@given(value=json_values | deep_values)
def test_the_depth_check_agrees_with_the_document(value: Any) -> None:
    assert nested_too_deep(json.dumps(value)) == (depth(value) > MAX_JSON_DEPTH)


@PROPERTY
@given(data=st.binary(max_size=300) | text | json_values.map(json.dumps) |
       st.integers(30, 3000).map(lambda n: "[" * n))
def test_json_is_read_clean_or_refused_with_a_reason(data: bytes | str) -> None:
    try:
        value = parse_json(data)
    except InputError as problem:
        refused = problem.status
    else:
        refused = 0
    if refused:
        assert refused == 400
        return
    assert no_nul(value)
    assert clean_json(value) == value


@PROPERTY
@given(raw=text | st.integers().map(str) | st.from_regex(r"[0-9²٣]{1,25}", fullmatch=True))
def test_an_id_is_ascii_digits_within_the_column_or_none(raw: str) -> None:
    found = parse_id(raw)
    if found is None:
        return
    assert raw.isascii()
    assert int(raw) == found
    assert 0 <= found <= MAX_ID


@PROPERTY
@given(value=text | st.text())
def test_cleaned_text_is_storable_and_stays_as_it_is(value: str) -> None:
    cleaned = clean_text(value)
    cleaned.encode("utf-8")
    assert "\x00" not in cleaned
    assert clean_text(cleaned) == cleaned
    if storable(value):
        assert cleaned == value
