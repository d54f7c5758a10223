"""An identity's address may be a whole e-mail address: up to 254 characters (was 191)."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0013_turn_leases")]

    initial = False

    operations = [
        ops.AlterField(
            model_name="ChannelIdentity",
            name="external_id",
            field=fields.CharField(max_length=255),
        ),
    ]
