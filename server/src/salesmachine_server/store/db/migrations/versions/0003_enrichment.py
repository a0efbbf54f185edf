"""enrichment: where an event came from and with what (geolocation, user agent)

Revision ID: 0003
Revises: 0002

Columns only (nullable, no default): on both engines adding them rewrites no row, so this is
quick on a large events table. Events stored before are NULL in `enrichment` and found by the
partial index ix_events_unenriched, which `salesmachine enrich --backfill` walks.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COLUMNS = (
    ("ip_scope", sa.String(length=16)),
    ("country", sa.String(length=2)),
    ("region", sa.String(length=255)),
    ("city", sa.String(length=255)),
    ("latitude", sa.Float()),
    ("longitude", sa.Float()),
    ("browser", sa.String(length=64)),
    ("browser_version", sa.String(length=32)),
    ("os", sa.String(length=64)),
    ("os_version", sa.String(length=32)),
    ("device", sa.String(length=16)),
    ("enrichment", sa.Integer()),
)


def upgrade() -> None:
    for name, type_ in COLUMNS:
        op.add_column("events", sa.Column(name, type_, nullable=True))
    op.create_index(
        "ix_events_unenriched",
        "events",
        ["id"],
        unique=False,
        sqlite_where=sa.text("enrichment IS NULL"),
        postgresql_where=sa.text("enrichment IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_events_unenriched", table_name="events")
    with op.batch_alter_table("events", schema=None) as batch_op:
        for name, _ in reversed(COLUMNS):
            batch_op.drop_column(name)
