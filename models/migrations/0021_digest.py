"""Issue 12, the digests: which scheduled mails each supervisor receives (users.digest_*), the claim that sends
each once (digest_deliveries), and the mail outbox carrying mails about no one ticket (escalation_mails.ticket
nullable) with a stored monthly report attached by reference (escalation_mails.report).

On SQLite, making ticket_id nullable rebuilds escalation_mails, which comes back without its two indexes
(tests/models/test_migrated_schema.py): they are created again under Tortoise's names, as 0014 does.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.migrations.schema_editor.base import BaseSchemaEditor
from tortoise.migrations.schema_generator.state_apps import StateApps

RESTORE_SQLITE_INDEXES = """
CREATE INDEX IF NOT EXISTS "idx_escalation__ticket__d3ad70" ON "escalation_mails" ("ticket_id");
CREATE INDEX IF NOT EXISTS "idx_escalation__status_0dbe6b" ON "escalation_mails" ("status", "id");
"""


async def restore_sqlite_indexes(_apps: StateApps, schema_editor: BaseSchemaEditor) -> None:
    if schema_editor.DIALECT == "sqlite":
        await schema_editor.client.execute_script(RESTORE_SQLITE_INDEXES)


class Migration(migrations.Migration):
    dependencies = [('models', '0020_directory_phone')]

    initial = False

    operations = [
        ops.CreateModel(
            name='DigestDelivery',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharField(max_length=16)),
                ('period_start', fields.DateField()),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='digest_deliveries', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'digest_deliveries', 'app': 'models', 'unique_together': (('kind', 'period_start', 'user_id'),), 'pk_attr': 'id', 'table_description': 'One scheduled mail (daily digest, weekly summary, monthly report) to one supervisor for one period:'},
            bases=['Model'],
        ),
        ops.AlterField(
            model_name='EscalationMail',
            name='ticket',
            field=fields.ForeignKeyField('models.Ticket', source_field='ticket_id', null=True, db_constraint=True, to_field='id', related_name='escalation_mails', on_delete=OnDelete.CASCADE),
        ),
        ops.RunPython(restore_sqlite_indexes, reverse_code=ops.RunPython.noop),
        ops.AddField(
            model_name='EscalationMail',
            name='report',
            field=fields.ForeignKeyField('models.GeneratedReport', source_field='report_id', null=True, db_constraint=True, to_field='id', related_name='mails', on_delete=OnDelete.SET_NULL),
        ),
        ops.AddField(
            model_name='User',
            name='digest_daily',
            field=fields.BooleanField(default=True, db_default=True),
        ),
        ops.AddField(
            model_name='User',
            name='digest_monthly',
            field=fields.BooleanField(default=True, db_default=True),
        ),
        ops.AddField(
            model_name='User',
            name='digest_weekly',
            field=fields.BooleanField(default=True, db_default=True),
        ),
    ]
