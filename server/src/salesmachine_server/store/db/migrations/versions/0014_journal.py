"""journal_positions: how far the projector of each journal has applied it (project/projector.py)

Revision ID: 0014_journal
Revises: 0009_data_rights
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_journal"
down_revision = "0013_playbooks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "journal_positions",
        sa.Column("journal_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("journal_id"),
    )


def downgrade() -> None:
    op.drop_table("journal_positions")
