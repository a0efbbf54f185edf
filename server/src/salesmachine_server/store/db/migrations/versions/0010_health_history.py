"""health history: status, stage and band of every contact and account as intervals of days,
the saved health models, Pulses, and where the history stands (project/health_history.py)

Revision ID: 0010_health_history
Revises: 0009_data_rights

Every customer starts marked dirty from no day (NULL): the server builds the history of each
project at its first look (a cursor is missing), so the migration itself is quick.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010_health_history"
down_revision = "0009_data_rights"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_PARAMS = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    for table in ("contacts", "accounts"):
        op.add_column(table, sa.Column("health_dirty_from", sa.Date(), nullable=True))
        op.create_index(
            f"ix_{table}_health_dirty",
            table,
            ["project_id", "id"],
            unique=False,
            sqlite_where=sa.text("health_dirty_from IS NOT NULL"),
            postgresql_where=sa.text("health_dirty_from IS NOT NULL"),
        )
    op.create_table(
        "health_history",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("project_id", _ID, nullable=False),
        sa.Column("subject", sa.String(length=16), nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("from_day", sa.Date(), nullable=False),
        sa.Column("to_day", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("stage", sa.String(length=200), nullable=True),
        sa.Column("band", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("written_by", sa.String(length=16), nullable=False),
        sa.Column("written_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_health_history_customer", "health_history", ["project_id", "subject", "customer_id", "from_day"]
    )
    op.create_index("ix_health_history_band", "health_history", ["project_id", "subject", "to_day", "band"])
    op.create_table(
        "health_models",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("project_id", _ID, nullable=False),
        sa.Column("document", _PARAMS, nullable=False),
        sa.Column("saved_at", sa.DateTime(), nullable=False),
        sa.Column("saved_by", sa.String(length=320), nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_health_models_project", "health_models", ["project_id", "id"])
    op.create_table(
        "pulses",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("project_id", _ID, nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=320), nullable=False),
        sa.Column("rated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_pulses_account", "pulses", ["project_id", "account_id", "rated_at"])
    op.create_table(
        "health_cursors",
        sa.Column("project_id", _ID, autoincrement=False, nullable=False),
        sa.Column("model_id", _ID, nullable=False),
        sa.Column("model_key", sa.String(length=128), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.Column("through_day", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"]),
        sa.PrimaryKeyConstraint("project_id"),
    )


def downgrade() -> None:
    op.drop_table("health_cursors")
    op.drop_index("ix_pulses_account", table_name="pulses")
    op.drop_table("pulses")
    op.drop_index("ix_health_models_project", table_name="health_models")
    op.drop_table("health_models")
    op.drop_index("ix_health_history_band", table_name="health_history")
    op.drop_index("ix_health_history_customer", table_name="health_history")
    op.drop_table("health_history")
    for table in ("contacts", "accounts"):
        op.drop_index(f"ix_{table}_health_dirty", table_name=table)
        op.drop_column(table, "health_dirty_from")
