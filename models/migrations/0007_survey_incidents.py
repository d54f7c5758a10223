from tortoise import migrations
from tortoise.migrations import operations as ops
from models.enums import DeliveryStatus, FlowStep, IncidentStatus
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0005_attachments')]

    initial = False

    operations = [
        ops.CreateModel(
            name='EscalationMail',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('ticket', fields.ForeignKeyField('models.Ticket', source_field='ticket_id', db_constraint=True, to_field='id', related_name='escalation_mails', on_delete=OnDelete.CASCADE)),
                ('recipients', fields.TextField(unique=False)),
                ('subject', fields.CharField(max_length=200)),
                ('body', fields.TextField(unique=False)),
                ('status', fields.CharEnumField(default=DeliveryStatus.QUEUED, description='QUEUED: queued\nSENT: sent\nDELIVERED: delivered\nREAD: read\nFAILED: failed\nUNKNOWN: unknown', enum_type=DeliveryStatus, max_length=16)),
                ('attempts', fields.IntField(default=0)),
                ('last_error', fields.CharField(null=True, max_length=500)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'escalation_mails', 'app': 'models', 'pk_attr': 'id', 'table_description': 'An escalation summary mailed to the developer team, stored first so a failed send is retried'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Incident',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('title', fields.CharField(max_length=200)),
                ('status', fields.CharEnumField(default=IncidentStatus.OPEN, description='OPEN: open\nFIXED: fixed', enum_type=IncidentStatus, max_length=8)),
                ('fix_text', fields.TextField(null=True, unique=False)),
                ('fixed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('fixed_by', fields.ForeignKeyField('models.User', source_field='fixed_by_id', null=True, db_constraint=True, to_field='id', related_name='incidents_fixed', on_delete=OnDelete.SET_NULL)),
                ('created_by', fields.ForeignKeyField('models.User', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name='incidents_opened', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'incidents', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A problem the developer team works on. Escalated tickets link to it and share its fix.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StoredSecret',
            fields=[
                ('name', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('value', fields.CharField(max_length=128)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'stored_secrets', 'app': 'models', 'pk_attr': 'name', 'table_description': 'A random secret made once per installation (e.g. for survey links when SECRET_KEY is not set).'},
            bases=['Model'],
        ),
        ops.AlterField(
            model_name='Conversation',
            name='step',
            field=fields.CharEnumField(default=FlowStep.NEW, description='NEW: new\nAWAITING_IDENTITY: awaiting_identity\nAWAITING_QUESTION: awaiting_question\nAWAITING_FEEDBACK: awaiting_feedback\nAWAITING_SURVEY: awaiting_survey\nAWAITING_SURVEY_COMMENT: awaiting_survey_comment\nWITH_AGENT: with_agent\nDONE: done', enum_type=FlowStep, max_length=24),
        ),
        ops.AddField(
            model_name='Ticket',
            name='fix_notified_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Ticket',
            name='incident',
            field=fields.ForeignKeyField('models.Incident', source_field='incident_id', null=True, db_constraint=True, to_field='id', related_name='tickets', on_delete=OnDelete.SET_NULL),
        ),
        ops.AddField(
            model_name='Ticket',
            name='survey_comment',
            field=fields.TextField(null=True, unique=False),
        ),
    ]
