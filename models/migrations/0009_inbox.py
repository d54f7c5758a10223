from tortoise import migrations
from tortoise.migrations import operations as ops
from models.enums import ChannelKind
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0008_admin')]

    initial = False

    operations = [
        ops.CreateModel(
            name='InboxEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('channel', fields.CharEnumField(description='WEBCHAT: webchat\nTELEGRAM: telegram\nWHATSAPP: whatsapp\nEMAIL: email', enum_type=ChannelKind, max_length=16)),
                ('provider_message_id', fields.CharField(max_length=191)),
                ('address', fields.CharField(max_length=255)),
                ('payload', fields.TextField(unique=False)),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('stored_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('message_id', fields.IntField(null=True)),
                ('attempts', fields.IntField(default=0)),
                ('error', fields.CharField(null=True, max_length=500)),
            ],
            options={'table': 'inbox', 'app': 'models', 'unique_together': (('channel', 'provider_message_id'),), 'indexes': [Index(fields=['stored_at', 'id'])], 'pk_attr': 'id', 'table_description': "A webhook's receipt: what a provider delivered, kept before it is answered (bot.inbound)."},
            bases=['Model'],
        ),
    ]
