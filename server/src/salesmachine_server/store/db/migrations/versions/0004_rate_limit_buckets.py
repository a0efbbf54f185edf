"""rate limit buckets shared by the server processes of one database

Revision ID: 0004_rate_limit_buckets
Revises: 0003

A new, empty table: quick on any database.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_rate_limit_buckets"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_limit_buckets",
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"]),
        sa.PrimaryKeyConstraint("project_id"),
    )


def downgrade() -> None:
    op.drop_table("rate_limit_buckets")
