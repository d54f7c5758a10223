"""Proven identity (issue 13): each channel address is claimed or proven; one-time codes; attempt limits.

Back-fill: before this migration a matching NIM/NIP was enough to verify a contact, so every address of a
verified contact is only a *claim* of that contact's number, whatever the contact's ``verified`` flag says.
The addresses are marked claimed (not proven): until the person proves one again (a code, an address the
directory lists, the LMS, an agent), the bot shows them nothing personal there. That costs returning users
one proof; the other choice would keep every past takeover in place.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from models.enums import ProofLevel, ProofMethod
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

# Plain SQL that SQLite and PostgreSQL read alike.
BACKFILL = (
    "UPDATE channel_identities SET proof = 'claimed', "
    "claimed_number = (SELECT c.id_number FROM contacts c WHERE c.id = channel_identities.contact_id) "
    "WHERE contact_id IN (SELECT id FROM contacts WHERE verified AND id_number IS NOT NULL)"
)


class Migration(migrations.Migration):
    dependencies = [('models', '0015_category_confirmation')]

    initial = False

    operations = [
        ops.CreateModel(
            name='IdentityAttempt',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('address_key', fields.CharField(max_length=64)),
                ('number_key', fields.CharField(null=True, max_length=64)),
                ('outcome', fields.CharField(max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'identity_attempts', 'app': 'models', 'indexes': [Index(fields=['address_key', 'created_at']), Index(fields=['number_key', 'created_at'])], 'pk_attr': 'id', 'table_description': 'One identity claim or proof try, for the limits that make guessing the directory expensive.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ProofCode',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('identity', fields.ForeignKeyField('models.ChannelIdentity', source_field='identity_id', db_constraint=True, to_field='id', related_name='proof_codes', on_delete=OnDelete.CASCADE)),
                ('number', fields.CharField(max_length=32)),
                ('code_hash', fields.CharField(max_length=128)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('tries', fields.IntField(default=0)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'proof_codes', 'app': 'models', 'indexes': [Index(fields=['identity_id', 'created_at'])], 'pk_attr': 'id', 'table_description': 'A one-time code sent to the campus e-mail address on record, to prove one channel address.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='ChannelIdentity',
            name='claimed_number',
            field=fields.CharField(null=True, max_length=32),
        ),
        ops.AddField(
            model_name='ChannelIdentity',
            name='proof',
            field=fields.CharEnumField(default=ProofLevel.NONE, db_default=ProofLevel.NONE.value, description='NONE: none\nCLAIMED: claimed\nPROVEN: proven', enum_type=ProofLevel, max_length=8),
        ),
        ops.AddField(
            model_name='ChannelIdentity',
            name='proof_method',
            field=fields.CharEnumField(null=True, description='CODE: code\nADDRESS: address\nLMS: lms\nAGENT: agent', enum_type=ProofMethod, max_length=8),
        ),
        ops.AddField(
            model_name='ChannelIdentity',
            name='proven_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.RunSQL(BACKFILL, reverse_sql=ops.RunSQL.noop),
    ]
