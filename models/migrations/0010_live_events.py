from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0009_inbox')]

    initial = False

    operations = [
        ops.CreateModel(
            name='RelayedEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=64)),
                ('data', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'live_events', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A console live event on its way from a process without console clients (worker, clock) to the web'},
            bases=['Model'],
        ),
    ]
