"""Issue 13, proof by a one-time code: the flow step that waits for the code (its enum's description).

SQLite rebuilds the conversations table for this change; the indexes the model declares are created again
after (IF NOT EXISTS, so PostgreSQL, which alters in place, is unchanged), as 0019 does.
tests/models/test_migrated_schema.py compares the result with a database generated from the models.
(``EscalationMail.ticket``, which a code mail leaves empty, became nullable in 0021 for the digests.)
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from models.enums import FlowStep
from tortoise import fields
from tortoise.migrations.schema_editor.base import BaseSchemaEditor
from tortoise.migrations.schema_generator.state_apps import StateApps

RESTORE_SQLITE_INDEXES = """
CREATE INDEX IF NOT EXISTS "idx_conversatio_identit_389c65" ON "conversations" ("identity_id", "id");
CREATE INDEX IF NOT EXISTS "idx_conversatio_contact_7b5bd7" ON "conversations" ("contact_id");
CREATE INDEX IF NOT EXISTS "idx_conversatio_created_0a52ca" ON "conversations" ("created_at", "status");
"""


async def restore_sqlite_indexes(_apps: StateApps, schema_editor: BaseSchemaEditor) -> None:
    if schema_editor.DIALECT == "sqlite":
        await schema_editor.client.execute_script(RESTORE_SQLITE_INDEXES)


class Migration(migrations.Migration):
    dependencies = [('models', '0021_digest')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='Conversation',
            name='step',
            field=fields.CharEnumField(default=FlowStep.NEW, description='NEW: new\nAWAITING_IDENTITY: awaiting_identity\nAWAITING_CODE: awaiting_code\nAWAITING_QUESTION: awaiting_question\nAWAITING_FEEDBACK: awaiting_feedback\nAWAITING_CLARIFICATION: awaiting_clarification\nAWAITING_SURVEY: awaiting_survey\nAWAITING_SURVEY_COMMENT: awaiting_survey_comment\nWITH_AGENT: with_agent\nDONE: done', enum_type=FlowStep, max_length=24),
        ),
        ops.RunPython(restore_sqlite_indexes, reverse_code=ops.RunPython.noop),
    ]
