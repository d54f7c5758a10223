"""Upgrading a database from 0015 with contacts in it: migration 0016 marks every address of a contact
that a NIM/NIP alone verified as a *claim* of that number (issue 13), never as proven, and leaves an
unverified contact's addresses with nothing claimed, on SQLite and PostgreSQL."""

from __future__ import annotations

from tortoise.context import TortoiseContext
from tortoise.migrations.api import migrate

from models import ChannelIdentity, ProofLevel, open_database
from models.db import run_migrations, tortoise_config
from tests.models.test_migrations import empty_db_url, raw_sql

__all__ = ["empty_db_url"]

BEFORE = "models.0015_category_confirmation"
AT = "'2026-11-20 01:00:00+00:00'"

SEED = f"""
INSERT INTO contacts (role, id_number, name, faculty, program, verified, language, created_at, updated_at)
VALUES ('student', '13521045', 'Budi', 'STEI', 'Informatika', TRUE, 'id', {AT}, {AT}),
       ('other', NULL, '', '', '', FALSE, 'id', {AT}, {AT});
INSERT INTO channel_identities (contact_id, channel, external_id, display_name, unreachable, created_at)
VALUES ((SELECT id FROM contacts WHERE id_number = '13521045'), 'telegram', '5550001', 'Budi', FALSE, {AT}),
       ((SELECT id FROM contacts WHERE id_number = '13521045'), 'webchat', 'web-1', '', FALSE, {AT}),
       ((SELECT id FROM contacts WHERE id_number IS NULL), 'telegram', '5550002', 'Anon', FALSE, {AT});
"""


async def test_addresses_verified_by_a_number_alone_become_claims_after_the_upgrade(empty_db_url: str) -> None:
    async with TortoiseContext():
        await migrate(config=tortoise_config(empty_db_url), target=BEFORE)
    async with raw_sql(empty_db_url) as connection:
        await connection.execute_script(SEED)
    await run_migrations(empty_db_url)
    database = await open_database(empty_db_url)
    try:
        found = {
            i.external_id: (i.proof, i.claimed_number, i.proof_method, i.proven_at)
            for i in await ChannelIdentity.all()
        }
        assert found == {
            "5550001": (ProofLevel.CLAIMED, "13521045", None, None),
            "web-1": (ProofLevel.CLAIMED, "13521045", None, None),
            "5550002": (ProofLevel.NONE, None, None, None),
        }
    finally:
        await database.close()
