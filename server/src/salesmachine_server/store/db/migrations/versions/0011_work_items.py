"""work items: owners of accounts and contacts, notes, tasks (docs/work.md)

Revision ID: 0011_work_items
Revises: 0010_health_history

The owner columns are added without rewriting the tables: on SQLite an ADD COLUMN with a
REFERENCES clause and no default (SQLite accepts that without copying, where Alembic's
add_column would ask for batch mode, a copy of every contact), on PostgreSQL a nullable column
and its foreign key (both catalogue-only).
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_work_items"
down_revision = "0010_health_history"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in ("accounts", "contacts"):
        if sqlite:
            op.execute(f"ALTER TABLE {table} ADD COLUMN owner_user_id INTEGER REFERENCES users (id)")
        else:
            op.add_column(table, sa.Column("owner_user_id", _ID, nullable=True))
            op.create_foreign_key(f"{table}_owner_user_id_fkey", table, "users", ["owner_user_id"], ["id"])
        op.create_index(f"ix_{table}_owner", table, ["project_id", "owner_user_id"], unique=False)
    op.create_table(
        "notes",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("project_id", _ID, nullable=False),
        sa.Column("subject", sa.String(length=16), nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("author_user_id", _ID, nullable=True),
        sa.Column("author", sa.String(length=320), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["author_user_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_notes_customer", "notes", ["project_id", "subject", "customer_id", "created_at"], unique=False)
    op.create_table(
        "tasks",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("project_id", _ID, nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("subject", sa.String(length=16), nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("assignee_user_id", _ID, nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("playbook_id", _ID, nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["assignee_user_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_tasks_assignee", "tasks", ["project_id", "assignee_user_id", "status", "due_on"], unique=False)
    op.create_index("ix_tasks_customer", "tasks", ["project_id", "subject", "customer_id", "status"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_tasks_customer", table_name="tasks")
    op.drop_index("ix_tasks_assignee", table_name="tasks")
    op.drop_table("tasks")
    op.drop_index("ix_notes_customer", table_name="notes")
    op.drop_table("notes")
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in ("accounts", "contacts"):
        op.drop_index(f"ix_{table}_owner", table_name=table)
        if sqlite:  # SQLite drops a column under a foreign key only by copying the table
            with op.batch_alter_table(table) as batch:
                batch.drop_column("owner_user_id")
        else:
            op.drop_constraint(f"{table}_owner_user_id_fkey", table, type_="foreignkey")
            op.drop_column(table, "owner_user_id")
