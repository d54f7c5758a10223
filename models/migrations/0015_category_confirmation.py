"""Category confirmation (SOP step 7): who confirmed a ticket's category, when, and whether it was the
classifier's guess; and the back-fill of tickets from before.

Back-fill: a ticket counts as confirmed when an agent saved its category before this migration, that is
when it has a ``categorized`` ticket event written by an agent. Until now the console's "Save category"
(and the API's ``categorize``) was the only writer of that event and the only way a person set a
category, so the event is the record of an agent's decision, even when they saved the pre-filled guess
unchanged: that is what confirming means. The latest such event gives who and when. Whether it agreed
with the guess is read from the ticket as it stands (its category against ``predicted_category``), not
from the event's JSON, which the two databases would need spelled differently. A ticket that only ever
had the classifier's guess stays unconfirmed: that is the truth about it, and it is exactly what the
dashboard's "closed without a confirmed category" and the figures must now tell apart.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

# The latest ``categorized`` event an agent wrote on the ticket being updated (ticket_events has an
# index on (ticket_id, id), 0012). Plain SQL that SQLite and PostgreSQL read alike.
_LATEST = (
    "SELECT {column} FROM ticket_events e WHERE e.ticket_id = tickets.id AND e.kind = 'categorized' "
    "AND e.actor_kind = 'agent' ORDER BY e.id DESC LIMIT 1"
)
BACKFILL = (
    "UPDATE tickets SET "
    f"category_confirmed_at = ({_LATEST.format(column='e.created_at')}), "
    f"category_confirmed_by_id = ({_LATEST.format(column='e.actor_id')}), "
    "category_agreed = CASE WHEN predicted_category IS NULL THEN NULL "
    "ELSE predicted_category = (SELECT k.slug FROM categories k WHERE k.id = tickets.category_id) END "
    "WHERE category_id IS NOT NULL AND EXISTS ("
    "SELECT 1 FROM ticket_events e WHERE e.ticket_id = tickets.id AND e.kind = 'categorized' "
    "AND e.actor_kind = 'agent')"
)


class Migration(migrations.Migration):
    dependencies = [('models', '0014_identity_address')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Ticket',
            name='category_agreed',
            field=fields.BooleanField(null=True),
        ),
        ops.AddField(
            model_name='Ticket',
            name='category_confirmed_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Ticket',
            name='category_confirmed_by',
            field=fields.ForeignKeyField('models.User', source_field='category_confirmed_by_id', null=True, db_constraint=True, to_field='id', related_name='confirmed_tickets', on_delete=OnDelete.SET_NULL),
        ),
        ops.RunSQL(BACKFILL, reverse_sql=ops.RunSQL.noop),
        ops.AddIndex(
            model_name='Ticket',
            index=Index(fields=['status', 'category_confirmed_at', 'category_id']),
        ),
    ]
