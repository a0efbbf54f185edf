"""leases: which server process runs each periodic task (retention first; serving/periodic.py)

Revision ID: 0008_retention_leases
Revises: 0007_home_reads
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_retention_leases"
down_revision = "0007_home_reads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("task", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=255), nullable=True),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("ran_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("task"),
    )


def downgrade() -> None:
    op.drop_table("leases")
