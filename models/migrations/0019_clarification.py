"""The conversation step AWAITING_CLARIFICATION: the bot offered choices (issue 14).

Only the step column's description changes (the new value fits its max_length of 24); the options on offer
live in Conversation.last_prediction, a JSON field the conversation already has. On SQLite Tortoise
changes a column by rebuilding the table, and the rebuilt ``conversations`` came back without its three
indexes (tests/models/test_migrated_schema.py found it): they are created again here under the names
Tortoise gives them, as 0014 does for channel_identities. PostgreSQL alters the column in place.
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops
from tortoise.migrations.schema_editor.base import BaseSchemaEditor
from tortoise.migrations.schema_generator.state_apps import StateApps

from models.enums import FlowStep

RESTORE_SQLITE_INDEXES = """
CREATE INDEX IF NOT EXISTS "idx_conversatio_identit_389c65" ON "conversations" ("identity_id", "id");
CREATE INDEX IF NOT EXISTS "idx_conversatio_contact_7b5bd7" ON "conversations" ("contact_id");
CREATE INDEX IF NOT EXISTS "idx_conversatio_created_0a52ca" ON "conversations" ("created_at", "status");
"""


async def restore_sqlite_indexes(_apps: StateApps, schema_editor: BaseSchemaEditor) -> None:
    if schema_editor.DIALECT == "sqlite":
        await schema_editor.client.execute_script(RESTORE_SQLITE_INDEXES)


class Migration(migrations.Migration):
    dependencies = [("models", "0018_supervisor_pages")]

    initial = False

    operations = [
        ops.AlterField(
            model_name="Conversation",
            name="step",
            field=fields.CharEnumField(default=FlowStep.NEW, description="NEW: new\nAWAITING_IDENTITY: awaiting_identity\nAWAITING_QUESTION: awaiting_question\nAWAITING_FEEDBACK: awaiting_feedback\nAWAITING_CLARIFICATION: awaiting_clarification\nAWAITING_SURVEY: awaiting_survey\nAWAITING_SURVEY_COMMENT: awaiting_survey_comment\nWITH_AGENT: with_agent\nDONE: done", enum_type=FlowStep, max_length=24),
        ),
        ops.RunPython(restore_sqlite_indexes, reverse_code=ops.RunPython.noop),
    ]
