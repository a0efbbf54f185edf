"""the dashboard home's reads: the newest contacts by an index, and an index over each
project's revenue history by owner (store/read/signups.py, store/read/revenue.py)

Revision ID: 0007_home_reads
Revises: 0006_health_marks

On SQLite, a database that has statistics (sqlite_stat1, from an ANALYZE) gets them for the new
indexes too: with statistics for every index but these, the planner takes an index it knows
nothing of for one it knows, and GET /v1/contacts?health=bad went from 40 to 120 ms on the
benchmark's database (ix_contacts_project_first_seen read instead of ix_contacts_not_bad_day).
A database without statistics is left without: its planner weighs every index alike.
PostgreSQL's planner uses the columns' statistics, which an index does not change.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_home_reads"
down_revision = "0006_health_marks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_contacts_project_first_seen", "contacts", ["project_id", "first_seen_at", "id"], unique=False)
    op.create_index(
        "ix_mrr_changes_project_owner", "mrr_changes", ["project_id", "contact_id", "account_id", "id"], unique=False
    )
    bind = op.get_bind()
    if (
        bind.dialect.name == "sqlite"
        and bind.execute(sa.text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")).first() is not None
    ):
        bind.execute(sa.text("ANALYZE ix_contacts_project_first_seen"))
        bind.execute(sa.text("ANALYZE ix_mrr_changes_project_owner"))


def downgrade() -> None:
    op.drop_index("ix_mrr_changes_project_owner", table_name="mrr_changes")
    op.drop_index("ix_contacts_project_first_seen", table_name="contacts")
