"""The directory's optional WhatsApp number (issue 13): a message from the number the directory lists for a
person proves that address theirs. E.164, indexed for that look-up; empty for every existing entry.

AddField does not create the column's index (the migrated-schema test found it missing on both databases):
it is created here under the name Tortoise gives it, so a fresh and an upgraded database agree.
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops
from tortoise.migrations.schema_editor.base import BaseSchemaEditor
from tortoise.migrations.schema_generator.state_apps import StateApps

# Plain SQL that SQLite and PostgreSQL read alike.
PHONE_INDEX = 'CREATE INDEX IF NOT EXISTS "idx_directory_e_phone_7874c0" ON "directory_entries" ("phone");'


async def create_phone_index(_apps: StateApps, schema_editor: BaseSchemaEditor) -> None:
    await schema_editor.client.execute_script(PHONE_INDEX)


class Migration(migrations.Migration):
    dependencies = [('models', '0019_clarification')]

    initial = False

    operations = [
        ops.AddField(
            model_name='DirectoryEntry',
            name='phone',
            field=fields.CharField(null=True, db_index=True, max_length=16),
        ),
        ops.RunPython(create_phone_index, reverse_code=ops.RunPython.noop),
    ]
