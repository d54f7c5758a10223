"""The corpus files themselves: the XSS list is what its generator writes, and each payload names itself."""

from __future__ import annotations

import base64
import re

from tests.corpora import corpus
from tests.corpora.generate_xss import MAX_CHARS, numbered, vectors


def test_the_xss_corpus_is_what_the_generator_writes() -> None:
    assert corpus("xss.txt") == numbered(vectors())


def test_every_xss_payload_fits_every_field_and_calls_back_with_its_own_number() -> None:
    payloads = corpus("xss.txt")
    assert len(payloads) >= 300
    assert len(set(payloads)) == len(payloads)
    assert max(map(len, payloads)) <= MAX_CHARS
    for number, payload in enumerate(payloads, start=1):
        encoded = re.findall(r"atob\('([A-Za-z0-9+/=]+)'\)", payload)
        readable = payload + "".join(base64.b64decode(part).decode() for part in encoded)
        assert re.search(rf"(?<!\d){number}(?!\d)", readable), payload
