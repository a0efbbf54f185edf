"""data rights: suppressed uid hashes, erasure receipts, the audit log

Revision ID: 0009_data_rights
Revises: 0008_retention_leases
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009_data_rights"
down_revision = "0008_retention_leases"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_PARAMS = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "suppressions",
        sa.Column("project_id", _ID, nullable=False),
        sa.Column("uid_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
        ),
        sa.PrimaryKeyConstraint("project_id", "uid_hash"),
    )
    op.create_table(
        "erasure_receipts",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("project_id", _ID, nullable=False),
        sa.Column("erased_at", sa.DateTime(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_erasure_receipts_project", "erasure_receipts", ["project_id", "erased_at"], unique=False)
    op.create_table(
        "audit_log",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("project_id", _ID, nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("detail", _PARAMS, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_log_project_time", "audit_log", ["project_id", "at"], unique=False)
    op.create_index("ix_audit_log_actor_time", "audit_log", ["actor", "at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_audit_log_actor_time", table_name="audit_log")
    op.drop_index("ix_audit_log_project_time", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index("ix_erasure_receipts_project", table_name="erasure_receipts")
    op.drop_table("erasure_receipts")
    op.drop_table("suppressions")
