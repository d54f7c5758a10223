from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0003_auto_20261123_2344')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Message',
            name='claimed_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Message',
            name='processed_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        # Messages from before this migration were answered in-line: none of them may run again.
        ops.RunSQL(
            "UPDATE messages SET processed_at = created_at WHERE direction = 'in' AND processed_at IS NULL",
            reverse_sql=ops.RunSQL.noop,
        ),
        ops.AddIndex(
            model_name='Message',
            index=Index(fields=['direction', 'processed_at']),
        ),
    ]
