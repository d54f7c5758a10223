from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0011_auth')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='ChannelIdentity',
            index=Index(fields=['contact_id']),
        ),
        ops.AddIndex(
            model_name='Conversation',
            index=Index(fields=['identity_id', 'id']),
        ),
        ops.AddIndex(
            model_name='Conversation',
            index=Index(fields=['contact_id']),
        ),
        ops.AddIndex(
            model_name='Conversation',
            index=Index(fields=['created_at', 'status']),
        ),
        ops.AddIndex(
            model_name='EscalationMail',
            index=Index(fields=['ticket_id']),
        ),
        ops.AddIndex(
            model_name='EscalationMail',
            index=Index(fields=['status', 'id']),
        ),
        ops.RemoveIndex(
            model_name='Message',
            name=None,
            fields=['direction', 'processed_at'],
        ),
        ops.AddIndex(
            model_name='Message',
            index=Index(fields=['direction', 'processed_at', 'id']),
        ),
        ops.AddIndex(
            model_name='Message',
            index=Index(fields=['conversation_id', 'id']),
        ),
        ops.AddIndex(
            model_name='Message',
            index=Index(fields=['ticket_id', 'id']),
        ),
        ops.AddIndex(
            model_name='Message',
            index=Index(fields=['delivery_status', 'id']),
        ),
        ops.AddIndex(
            model_name='Ticket',
            index=Index(fields=['status', 'due_at']),
        ),
        ops.AddIndex(
            model_name='Ticket',
            index=Index(fields=['status', 'id']),
        ),
        ops.AddIndex(
            model_name='Ticket',
            index=Index(fields=['status', 'channel']),
        ),
        ops.AddIndex(
            model_name='Ticket',
            index=Index(fields=['assignee_id', 'status']),
        ),
        ops.AddIndex(
            model_name='Ticket',
            index=Index(fields=['contact_id']),
        ),
        ops.AddIndex(
            model_name='Ticket',
            index=Index(fields=['conversation_id']),
        ),
        ops.AddIndex(
            model_name='Ticket',
            index=Index(fields=['category_id', 'status']),
        ),
        ops.AddIndex(
            model_name='Ticket',
            index=Index(fields=['incident_id']),
        ),
        ops.AddIndex(
            model_name='Ticket',
            index=Index(fields=['channel', 'id']),
        ),
        ops.AddIndex(
            model_name='Ticket',
            index=Index(fields=['opened_at', 'conversation_id']),
        ),
        ops.AddIndex(
            model_name='Ticket',
            index=Index(fields=['resolved_at', 'predicted_category', 'category_id']),
        ),
        ops.AddIndex(
            model_name='Ticket',
            index=Index(fields=['survey_answered_at', 'survey_rating']),
        ),
        ops.AddIndex(
            model_name='Ticket',
            index=Index(fields=['flagged', 'id']),
        ),
        ops.AddIndex(
            model_name='TicketEvent',
            index=Index(fields=['ticket_id', 'id']),
        ),
    ]
