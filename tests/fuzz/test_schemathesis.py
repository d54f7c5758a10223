"""Schemathesis against /api/v1/openapi.json on the real app (loopback port, SQLite): every operation the
document describes, reads and writes, with generated valid and invalid input. No 5xx, and every response
matches the document (status codes, content types, bodies)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance
from schemathesis.generation import GenerationMode

from bot.app import FLOW
from bot.channels.base import InboundMessage
from bot.config import Settings
from bot.conversation.inline import handle_inbound
from bot.demo import DEMO_DIRECTORY
from bot.directory import import_records
from handoff.auth import create_api_token, create_user
from models import ChannelKind, UserRole
from tests.fuzz.sizes import FULL, SCHEMATHESIS_EXAMPLES
from tests.fuzz.threaded import ThreadedSite, serve_in_thread


async def seed(_app: web.Application) -> str:
    """A supervisor with a token, and a few tickets for the generated ids to find."""
    await import_records(DEMO_DIRECTORY)
    supervisor = await create_user(email="sari@cc.test", role=UserRole.SUPERVISOR, password="x" * 20, name="Sari")
    await create_user(email="ana@cc.test", role=UserRole.AGENT, password="x" * 20, name="Ana")
    for n, nim in enumerate(("13521045", "16522101", "10623077"), start=1):
        for m, text in enumerate(("halo", nim, "agen"), start=1):
            await handle_inbound(InboundMessage(
                channel=ChannelKind.WEBCHAT, external_id=f"visitor-{n}", provider_message_id=f"v{n}-{m}", text=text,
                received_at=datetime.now(UTC)), _app[FLOW])
    _, raw = await create_api_token(name="schemathesis", role=UserRole.SUPERVISOR, user=supervisor)
    return raw


@pytest.fixture(scope="module")
def api_site(tmp_path_factory: pytest.TempPathFactory, _templates: dict[str, str]) -> Iterator[
        tuple[ThreadedSite, str]]:
    folder = tmp_path_factory.mktemp("schemathesis")
    database = folder / "api.sqlite3"
    database.write_bytes(Path(_templates["sqlite"]).read_bytes())
    with serve_in_thread(Settings(data_dir=folder, database_url=f"sqlite://{database}"), setup=seed) as running:
        yield running


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_api_matches_its_document(api_site: tuple[ThreadedSite, str], mode: GenerationMode) -> None:
    # Driven through Hypothesis directly (Schemathesis's pytest plugin does not load under pytest 9).
    site, token = api_site
    document = schemathesis.openapi.from_url(f"{site.url}/api/v1/openapi.json")
    failures: list[str] = []
    operations = [result.ok() for result in document.get_all_operations()]
    assert len(operations) >= 12  # reads, the seven ticket actions, incidents: the writes are described too
    with requests.Session() as session:
        for operation in operations:

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=SCHEMATHESIS_EXAMPLES, deadline=None, database=None, derandomize=not FULL,
                      suppress_health_check=list(HealthCheck))
            def conforms(case: Any) -> None:
                # Not "valid input must be accepted": a valid body can break a business rule (an empty reply,
                # an unknown category) and get its documented 400.
                case.call_and_validate(base_url=f"{site.url}/api/v1", session=session,
                                       headers={"Authorization": f"Bearer {token}"},
                                       excluded_checks=[positive_data_acceptance])

            try:
                conforms()
            except (Exception, BaseExceptionGroup) as failure:  # every operation is tried; all reported together
                failures.append(f"{operation.label}: {failure}")
    assert failures == [], "\n\n".join(failures)
