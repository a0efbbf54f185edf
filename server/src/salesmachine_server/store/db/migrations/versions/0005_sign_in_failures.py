"""sign-in throttling: failed sign-in attempts, counted per account and per client address

Revision ID: 0005_sign_in_failures
Revises: 0004_rate_limit_buckets
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_sign_in_failures"
down_revision = "0004_rate_limit_buckets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("failed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sign_in_failures", schema=None) as batch_op:
        batch_op.create_index("ix_sign_in_failures_email", ["email", "failed_at"], unique=False)
        batch_op.create_index("ix_sign_in_failures_address", ["address", "failed_at"], unique=False)
        batch_op.create_index("ix_sign_in_failures_failed_at", ["failed_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sign_in_failures", schema=None) as batch_op:
        batch_op.drop_index("ix_sign_in_failures_failed_at")
        batch_op.drop_index("ix_sign_in_failures_address")
        batch_op.drop_index("ix_sign_in_failures_email")

    op.drop_table("sign_in_failures")
