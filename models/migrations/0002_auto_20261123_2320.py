from tortoise import migrations
from tortoise.migrations import operations as ops
from models.enums import FlowStep
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ConsoleSession',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='console_sessions', on_delete=OnDelete.CASCADE)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('csrf_token', fields.CharField(max_length=64)),
                ('session_version', fields.IntField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_seen_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'console_sessions', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A signed-in console browser. Server-side so that signing out (or a password change) ends it at once.'},
            bases=['Model'],
        ),
        ops.AlterField(
            model_name='Conversation',
            name='step',
            field=fields.CharEnumField(default=FlowStep.NEW, description='NEW: new\nAWAITING_IDENTITY: awaiting_identity\nAWAITING_QUESTION: awaiting_question\nAWAITING_FEEDBACK: awaiting_feedback\nAWAITING_SURVEY: awaiting_survey\nWITH_AGENT: with_agent\nDONE: done', enum_type=FlowStep, max_length=24),
        ),
        ops.AddField(
            model_name='Ticket',
            name='escalated_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Ticket',
            name='flagged',
            field=fields.BooleanField(default=False),
        ),
        ops.AddField(
            model_name='Ticket',
            name='survey_answered_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Ticket',
            name='survey_rating',
            field=fields.SmallIntField(null=True),
        ),
        ops.AddField(
            model_name='Ticket',
            name='survey_sent_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
