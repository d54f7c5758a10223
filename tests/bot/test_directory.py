"""The directory adapters: the imported table and an HTTP identity service (a loopback stand-in)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from bot.demo import DEMO_DIRECTORY
from bot.directory import DatabaseDirectory, HttpDirectory, import_records
from bot.identity import Identity, IdentityKind
from models import ContactRole


async def test_database_directory_finds_by_number_and_email(db: str) -> None:
    await import_records(DEMO_DIRECTORY)
    directory = DatabaseDirectory()
    by_nim = await directory.lookup(Identity(IdentityKind.NIM, "13521045"))
    by_email = await directory.lookup(Identity(IdentityKind.EMAIL, "dewi.sampel@itb.ac.id"))
    assert by_nim is not None
    assert by_nim.name == "Budi Contoh (Fiktif)"
    assert by_email is not None
    assert by_email.role == ContactRole.LECTURER
    assert await directory.lookup(Identity(IdentityKind.NIM, "13521999")) is None


@pytest.fixture
async def identity_service() -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []

    async def lookup(request: web.Request) -> web.Response:
        seen.append({"auth": request.headers.get("Authorization", ""), **request.query})
        if request.query.get("value") in ("13521045", "+6281200000001"):
            return web.json_response(
                {"id_number": "13521045", "name": "Budi", "email": "B@ITB.AC.ID", "role": "student", "faculty": "STEI",
                 "phone": "0812-0000-0001"}
            )
        if request.query.get("value") == "500":
            return web.json_response({"error": "down"}, status=500)
        return web.json_response({"error": "not found"}, status=404)

    app = web.Application()
    app.router.add_get("/lookup", lookup)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/lookup", seen
    finally:
        await runner.cleanup()


async def test_http_directory(identity_service: tuple[str, list[dict[str, str]]]) -> None:
    url, seen = identity_service
    directory = HttpDirectory(url, token="s3cret")
    record = await directory.lookup(Identity(IdentityKind.NIM, "13521045"))
    assert record is not None
    assert (record.name, record.email, record.role, record.status) == (
        "Budi",
        "b@itb.ac.id",
        ContactRole.STUDENT,
        "active",
    )
    assert seen[0] == {"auth": "Bearer s3cret", "kind": "nim", "value": "13521045"}
    assert await directory.lookup(Identity(IdentityKind.NIM, "13521046")) is None
    # The WhatsApp number on record, asked for as kind=phone and answered normalised to E.164.
    by_phone = await directory.lookup(Identity(IdentityKind.PHONE, "+6281200000001"))
    assert by_phone is not None
    assert (by_phone.id_number, by_phone.phone) == ("13521045", "+6281200000001")
    assert seen[-1] == {"auth": "Bearer s3cret", "kind": "phone", "value": "+6281200000001"}


async def test_http_directory_outage_raises_for_the_flow_to_handle(
    identity_service: tuple[str, list[dict[str, str]]],
) -> None:
    url, _ = identity_service
    with pytest.raises(Exception, match="500"):
        await HttpDirectory(url).lookup(Identity(IdentityKind.NIM, "500"))
