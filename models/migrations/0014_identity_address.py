"""An identity's address may be a whole e-mail address: up to 254 characters (was 191).

On SQLite, Tortoise changes a column by rebuilding the table, and the rebuilt ``channel_identities`` came
back without its unique (channel, external_id) constraint and its contact_id index (the planner test
found full scans, and the constraint is what makes one identity per address). They are created again
here, under the names Tortoise gives them, so a fresh database and an upgraded one have the same indexes
(tests/models/test_migrations.py compares the two). PostgreSQL alters the column in place and keeps both.
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops
from tortoise.migrations.schema_editor.base import BaseSchemaEditor
from tortoise.migrations.schema_generator.state_apps import StateApps

RESTORE_SQLITE_INDEXES = """
CREATE UNIQUE INDEX IF NOT EXISTS "uid_channel_ide_channel_8a240f" ON "channel_identities" ("channel", "external_id");
CREATE INDEX IF NOT EXISTS "idx_channel_ide_contact_f7cb53" ON "channel_identities" ("contact_id");
"""


async def restore_sqlite_indexes(_apps: StateApps, schema_editor: BaseSchemaEditor) -> None:
    if schema_editor.DIALECT == "sqlite":
        await schema_editor.client.execute_script(RESTORE_SQLITE_INDEXES)


class Migration(migrations.Migration):
    dependencies = [("models", "0013_turn_leases")]

    initial = False

    operations = [
        ops.AlterField(
            model_name="ChannelIdentity",
            name="external_id",
            field=fields.CharField(max_length=255),
        ),
        ops.RunPython(restore_sqlite_indexes, reverse_code=ops.RunPython.noop),
    ]
