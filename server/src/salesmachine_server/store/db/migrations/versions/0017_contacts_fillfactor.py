"""contacts and accounts with room on their pages (PostgreSQL): updates in place

The projector updates every contact and account a group touches (first and last seen, params,
health marks). PostgreSQL writes each update as a new row version; with the pages full (the
default fillfactor of 100) that version lands on another page, and every index of the table
(seven on contacts) gets a new entry. With half of each page left free, the new version stays
on the row's page and, when no indexed value changed, no index is touched (a heap-only tuple).
Measured with `bench/projector_cpu.py postgres` (300,000 items in groups of 50,000, two
interleaved pairs): 33,099 / 33,232 -> 36,181 / 36,306 items/s, PostgreSQL's own CPU per item
14.6 / 14.8 -> 12.0 / 11.9 µs (70 gave 34,800 / 35,200). The tables take up to twice the space;
events, most of the data, are not updated and keep full pages. Pages written before this keep
their layout until a VACUUM FULL rewrites them. SQLite updates in place anyway: nothing to do.

Revision ID: 0017_contacts_fillfactor
Revises: 0016_events_without_foreign_keys
"""

from alembic import op

revision = "0017_contacts_fillfactor"
down_revision = "0016_events_without_foreign_keys"
branch_labels = None
depends_on = None

FILLFACTOR = 50


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in ("contacts", "accounts"):
            op.execute(f"ALTER TABLE {table} SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in ("contacts", "accounts"):
            op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
