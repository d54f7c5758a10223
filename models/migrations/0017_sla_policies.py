"""SLA policies (issue 12): each ticket's targets, counting, pause and next check; one row per SLA notice;
and the escalation mails' table as the outbox of every helpdesk mail (a kind, an HTML part).

Back-fill: a ticket still open and not yet marked breached gets ``sla_next_check_at = due_at``, so the
sweep still records its resolution breach (its target is read back as due_at - opened_at, as before);
it has no first-response target, because none was promised when it opened.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from models.enums import SlaCounting, SlaTarget
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

BACKFILL = ("UPDATE tickets SET sla_next_check_at = due_at "
            "WHERE status <> 'resolved' AND breached_at IS NULL")


class Migration(migrations.Migration):
    dependencies = [('models', '0015_category_confirmation')]

    initial = False

    operations = [
        ops.CreateModel(
            name='SlaNotice',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('ticket', fields.ForeignKeyField('models.Ticket', source_field='ticket_id', db_constraint=True, to_field='id', related_name='sla_notices', on_delete=OnDelete.CASCADE)),
                ('target', fields.CharEnumField(description='FIRST_RESPONSE: first_response\nRESOLUTION: resolution', enum_type=SlaTarget, max_length=16)),
                ('threshold', fields.SmallIntField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'sla_notices', 'app': 'models', 'unique_together': (('ticket_id', 'target', 'threshold'),), 'pk_attr': 'id', 'table_description': 'One SLA warning or breach notice of one ticket: the unique key (ticket, target, threshold) is the'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Ticket',
            name='first_response_due_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Ticket',
            name='sla_counting',
            field=fields.CharEnumField(default=SlaCounting.CALENDAR, db_default='calendar', description='CALENDAR: calendar\nOPERATING: operating', enum_type=SlaCounting, max_length=16),
        ),
        ops.AddField(
            model_name='Ticket',
            name='sla_first_response_s',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='Ticket',
            name='sla_next_check_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Ticket',
            name='sla_paused_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Ticket',
            name='sla_paused_s',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='Ticket',
            name='sla_pauses',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='Ticket',
            name='sla_resolution_s',
            field=fields.IntField(null=True),
        ),
        ops.AddIndex(
            model_name='Ticket',
            index=Index(fields=['sla_next_check_at']),
        ),
        ops.RunSQL(BACKFILL, reverse_sql=ops.RunSQL.noop),
        # The escalation mails' table becomes the helpdesk's mail outbox: SLA breach mails (handoff.notify).
        ops.AlterModelOptions(
            name='EscalationMail',
            options={'table': 'escalation_mails', 'app': 'models', 'indexes': [Index(fields=['ticket_id']), Index(fields=['status', 'id'])], 'pk_attr': 'id', 'table_description': 'A mail the helpdesk sends about a ticket, stored first so a failed send is retried'},
        ),
        ops.AddField(
            model_name='EscalationMail',
            name='html',
            field=fields.TextField(null=True, unique=False),
        ),
        ops.AddField(
            model_name='EscalationMail',
            name='kind',
            field=fields.CharField(default='escalation', db_default='escalation', max_length=32),
        ),
    ]
