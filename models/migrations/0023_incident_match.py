"""Issue 14, incident-aware answers: the conversations the bot told "we know, the developers are on it"
instead of opening a ticket (incident_followers), so that the incident's fix notice reaches them once."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0022_code_step')]

    initial = False

    operations = [
        ops.CreateModel(
            name='IncidentFollower',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('incident', fields.ForeignKeyField('models.Incident', source_field='incident_id', db_constraint=True, to_field='id', related_name='followers', on_delete=OnDelete.CASCADE)),
                ('conversation', fields.ForeignKeyField('models.Conversation', source_field='conversation_id', db_constraint=True, to_field='id', related_name='incidents_followed', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('notified_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'incident_followers', 'app': 'models', 'unique_together': (('incident', 'conversation'),), 'pk_attr': 'id', 'table_description': 'A conversation told "we know, the developers are on it" instead of opening a ticket (bot.flow): the'},
            bases=['Model'],
        ),
    ]
