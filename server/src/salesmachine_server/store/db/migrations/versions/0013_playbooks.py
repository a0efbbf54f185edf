"""playbooks: documents, enrollments, runs, the trigger inbox, scanned matches, positions

Revision ID: 0013_playbooks
Revises: 0012_deliveries
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013_playbooks"
down_revision = "0012_deliveries"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_PARAMS = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "playbooks",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("project_id", _ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("document", _PARAMS, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("trigger_type", sa.String(length=32), nullable=False),
        sa.Column("trigger_event", sa.String(length=255), nullable=True),
        sa.Column("primed", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_playbooks_listening", "playbooks", ["project_id", "enabled", "trigger_type"], unique=False)
    op.create_table(
        "playbook_enrollments",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("project_id", _ID, nullable=False),
        sa.Column("playbook_id", _ID, nullable=False),
        sa.Column("subject", sa.String(length=16), nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("occurrence", sa.String(length=64), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("playbook_id", "subject", "customer_id", "occurrence", name="uq_playbook_enrollments"),
    )
    op.create_index(
        "ix_playbook_enrollments_project",
        "playbook_enrollments",
        ["project_id", "playbook_id", "enrolled_at"],
        unique=False,
    )
    op.create_table(
        "playbook_runs",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("project_id", _ID, nullable=False),
        sa.Column("playbook_id", _ID, nullable=False),
        sa.Column("enrollment_id", _ID, nullable=False),
        sa.Column("ran_at", sa.DateTime(), nullable=False),
        sa.Column("fired_by", _PARAMS, nullable=False),
        sa.Column("done", _PARAMS, nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_playbook_runs_playbook", "playbook_runs", ["playbook_id", "ran_at"], unique=False)
    op.create_table(
        "trigger_inbox",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("project_id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("contact_id", _ID, nullable=True),
        sa.Column("account_id", _ID, nullable=True),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("params", _PARAMS, nullable=False),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"]),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "playbook_matches",
        sa.Column("playbook_id", _ID, nullable=False),
        sa.Column("subject", sa.String(length=16), nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("playbook_id", "subject", "customer_id"),
    )
    op.create_table(
        "playbook_positions",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("source"),
    )


def downgrade() -> None:
    op.drop_table("playbook_positions")
    op.drop_table("playbook_matches")
    op.drop_table("trigger_inbox")
    op.drop_index("ix_playbook_runs_playbook", table_name="playbook_runs")
    op.drop_table("playbook_runs")
    op.drop_index("ix_playbook_enrollments_project", table_name="playbook_enrollments")
    op.drop_table("playbook_enrollments")
    op.drop_index("ix_playbooks_listening", table_name="playbooks")
    op.drop_table("playbooks")
