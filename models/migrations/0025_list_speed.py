"""Issue 12, the supervisor's pages at 100,000 tickets (benchmarks/list_bench.py): the dashboard's agreement
with the bot's guess and its backlog read from indexes alone, closed tickets left without a category found by
a seek, whether a conversation was handed off in a period answered from an index, and the ticket list's
filters (channel, agent, category, team) counted and paged in a period from an index each."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0024_staff_telegram')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Ticket',
            index=Index(fields=['status', 'resolved_at', 'predicted_category', 'category_id', 'category_confirmed_at']),
        ),
        ops.AddIndex(
            model_name='Ticket',
            index=Index(fields=['status', 'category_id', 'category_confirmed_at']),
        ),
        ops.AddIndex(
            model_name='Ticket',
            index=Index(fields=['status', 'assignee_id', 'opened_at', 'due_at']),
        ),
        ops.AddIndex(
            model_name='Ticket',
            index=Index(fields=['conversation_id', 'opened_at']),
        ),
        ops.AddIndex(
            model_name='Ticket',
            index=Index(fields=['channel', 'opened_at']),
        ),
        ops.AddIndex(
            model_name='Ticket',
            index=Index(fields=['assignee_id', 'opened_at']),
        ),
        ops.AddIndex(
            model_name='Ticket',
            index=Index(fields=['category_id', 'opened_at']),
        ),
        ops.AddIndex(
            model_name='Ticket',
            index=Index(fields=['team_id', 'opened_at']),
        ),
    ]
