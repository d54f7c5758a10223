from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0010_live_events')]

    initial = False

    operations = [
        ops.CreateModel(
            name='LoginThrottle',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account', fields.CharField(max_length=64)),
                ('address', fields.CharField(max_length=64)),
                ('failures', fields.IntField(default=0)),
                ('last_failed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('succeeded_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'login_throttle', 'app': 'models', 'unique_together': (('account', 'address'),), 'pk_attr': 'id', 'table_description': 'Failed console sign-ins, kept in the database so every process and a restart see the same count.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='ApiToken',
            name='expires_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
