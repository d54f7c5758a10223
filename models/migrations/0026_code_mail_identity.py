"""Issue 13's leftover: a proof code's mail names the address it proves (escalation_mails.identity_id), so a
newer code drops the older one's mail while it still waits. Adding a column rebuilds nothing on SQLite."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0025_list_speed')]

    initial = False

    operations = [
        ops.AddField(
            model_name='EscalationMail',
            name='identity',
            field=fields.ForeignKeyField('models.ChannelIdentity', source_field='identity_id', null=True, db_constraint=True, to_field='id', related_name='code_mails', on_delete=OnDelete.SET_NULL),
        ),
    ]
