"""the dashboard home's reads: the newest contacts by an index, and an index over each
project's revenue history by owner (store/read/signups.py, store/read/revenue.py)

Revision ID: 0007_home_reads
Revises: 0006_health_marks
"""
from alembic import op


revision = '0007_home_reads'
down_revision = '0006_health_marks'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_contacts_project_first_seen', 'contacts', ['project_id', 'first_seen_at', 'id'], unique=False)
    op.create_index('ix_mrr_changes_project_owner', 'mrr_changes', ['project_id', 'contact_id', 'account_id', 'id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_mrr_changes_project_owner', table_name='mrr_changes')
    op.drop_index('ix_contacts_project_first_seen', table_name='contacts')
