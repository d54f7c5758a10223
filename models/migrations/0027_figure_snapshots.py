"""Issue 12, the dashboard's stored figures: a period's reading of the database kept with the moment it was
taken (figure_snapshots), one per period and time zone, so a page view reads one row instead of two periods
of tickets (handoff.reports.snapshots)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0026_code_mail_identity')]

    initial = False

    operations = [
        ops.CreateModel(
            name='FigureSnapshot',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('period_start', fields.DateField()),
                ('period_end', fields.DateField()),
                ('tz', fields.CharField(max_length=64)),
                ('version', fields.SmallIntField()),
                ('reading', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('computed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('viewed_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'figure_snapshots', 'app': 'models', 'unique_together': (('period_start', 'period_end', 'tz'),), 'pk_attr': 'id', 'table_description': "A period's figures as the database stood at ``computed_at`` (handoff.reports.snapshots): the"},
            bases=['Model'],
        ),
    ]
