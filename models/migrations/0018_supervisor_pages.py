"""Issue 12, the supervisor's pages: the monthly reports generated on the 1st (generated_reports), and the
index the ticket list needs to filter a period by status (benchmarks/list_bench.py)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0017_sla_policies')]

    initial = False

    operations = [
        ops.CreateModel(
            name='GeneratedReport',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('month', fields.DateField()),
                ('format', fields.CharField(max_length=8)),
                ('lang', fields.CharField(max_length=5)),
                ('content', fields.BinaryField()),
                ('size', fields.IntField()),
                ('generated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'generated_reports', 'app': 'models', 'unique_together': (('month', 'format', 'lang'),), 'pk_attr': 'id', 'table_description': 'A monthly report generated on the 1st for the month before (handoff.reports.archive), kept for the'},
            bases=['Model'],
        ),
        ops.AddIndex(
            model_name='Ticket',
            index=Index(fields=['status', 'opened_at']),
        ),
    ]
