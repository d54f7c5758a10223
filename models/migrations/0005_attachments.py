from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0004_inbound_processing')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Attachment',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('message', fields.ForeignKeyField('models.Message', source_field='message_id', db_constraint=True, to_field='id', related_name='attachments', on_delete=OnDelete.CASCADE)),
                ('position', fields.SmallIntField()),
                ('filename', fields.CharField(max_length=255)),
                ('content_type', fields.CharField(max_length=127)),
                ('size', fields.BigIntField(default=0)),
                ('sha256', fields.CharField(null=True, max_length=64)),
                ('storage_key', fields.CharField(null=True, max_length=64)),
                ('refused_reason', fields.CharField(null=True, max_length=32)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'attachments', 'app': 'models', 'unique_together': (('message', 'position'),), 'pk_attr': 'id', 'table_description': 'A file that came or went with a message. The bytes live under DATA_DIR, named by their SHA-256'},
            bases=['Model'],
        ),
    ]
