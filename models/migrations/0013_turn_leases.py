from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0012_indexes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='TurnLease',
            fields=[
                ('person', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=300)),
                ('holder', fields.CharField(max_length=120)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'turn_leases', 'app': 'models', 'indexes': [Index(fields=['holder'])], 'pk_attr': 'person', 'table_description': "Who runs one person's turns (bot.turns): one process at a time holds an unexpired lease per person."},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Message',
            name='parked_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Message',
            name='turn_error',
            field=fields.CharField(null=True, max_length=500),
        ),
        ops.AddIndex(
            model_name='Message',
            index=Index(fields=['parked_at', 'id']),
        ),
    ]
