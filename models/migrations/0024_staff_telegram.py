"""Issue 12, Telegram for supervisors: one-time codes that link a console user's chat (staff_link_codes), the
linked chats (staff_telegram_links), and the staff outbox's channel (escalation_mails.channel: e-mail, or
Telegram to a linked chat). Adding a column rebuilds nothing on SQLite, so no index needs restoring."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from models.enums import ChannelKind
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0023_incident_match')]

    initial = False

    operations = [
        ops.CreateModel(
            name='StaffLinkCode',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='telegram_link_codes', on_delete=OnDelete.CASCADE)),
                ('code_hash', fields.CharField(unique=True, max_length=64)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'staff_link_codes', 'app': 'models', 'indexes': [Index(fields=['user_id', 'created_at'])], 'pk_attr': 'id', 'table_description': "A one-time code that links a console user's Telegram chat (handoff.staff_telegram): only its keyed"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StaffTelegramLink',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.OneToOneField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='telegram_link', on_delete=OnDelete.CASCADE)),
                ('chat_id', fields.CharField(unique=True, max_length=32)),
                ('linked_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('broken_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('broken_reason', fields.CharField(null=True, max_length=200)),
            ],
            options={'table': 'staff_telegram_links', 'app': 'models', 'pk_attr': 'id', 'table_description': "A console user's own Telegram chat, where their notices go (handoff.staff_telegram): one chat per user"},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='EscalationMail',
            name='channel',
            field=fields.CharEnumField(default=ChannelKind.EMAIL, description='WEBCHAT: webchat\nTELEGRAM: telegram\nWHATSAPP: whatsapp\nEMAIL: email', db_default='email', enum_type=ChannelKind, max_length=16),
        ),
    ]
