"""health marks: account_days, each contact's and account's good_day and not_bad_day, and the
thresholds they were computed with (store/write/health_marks.py)

Revision ID: 0006_health_marks
Revises: 0005_sign_in_failures

Filled from contact_days and memberships for every project, with the thresholds of its
settings (domain/health.py's defaults when it has none): on 10,000,000 events (1.5 M contact-days)
this is a minute or two, in the migration's transaction.
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0006_health_marks"
down_revision = "0005_sign_in_failures"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
DEFAULTS = {"good_above": 4, "bad_at_most": 0}  # health.HealthRule's


def upgrade() -> None:
    op.create_table(
        "account_days",
        sa.Column("account_id", Id, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("project_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
        ),
        sa.PrimaryKeyConstraint("account_id", "day"),
    )
    op.create_index("ix_account_days_project_day", "account_days", ["project_id", "day"], unique=False)
    op.create_table(
        "health_marks",
        sa.Column("project_id", Id, nullable=False),
        sa.Column("good_above", sa.Integer(), nullable=False),
        sa.Column("bad_at_most", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
        ),
        sa.PrimaryKeyConstraint("project_id"),
    )
    for table in ("contacts", "accounts"):
        op.add_column(table, sa.Column("good_day", sa.Date(), nullable=True))
        op.add_column(table, sa.Column("not_bad_day", sa.Date(), nullable=True))
        op.create_index(f"ix_{table}_good_day", table, ["project_id", "good_day"], unique=False)
        op.create_index(f"ix_{table}_not_bad_day", table, ["project_id", "not_bad_day"], unique=False)

    bind = op.get_bind()
    bind.execute(
        sa.text(
            "INSERT INTO account_days (account_id, day, project_id) "
            "SELECT DISTINCT m.account_id, d.day, m.project_id FROM memberships m "
            "JOIN contact_days d ON d.contact_id = m.contact_id"
        )
    )
    for project_id, settings in bind.execute(sa.text("SELECT id, settings FROM projects")).all():
        if isinstance(settings, str):
            settings = json.loads(settings)
        health = {**DEFAULTS, **{k: v for k, v in (settings.get("health") or {}).items() if k in DEFAULTS}}
        good, not_bad = int(health["good_above"]), int(health["bad_at_most"])
        bind.execute(
            sa.text("INSERT INTO health_marks (project_id, good_above, bad_at_most) VALUES (:p, :g, :b)"),
            {"p": project_id, "g": good, "b": not_bad},
        )
        for table, days, owner in (
            ("contacts", "contact_days", "contact_id"),
            ("accounts", "account_days", "account_id"),
        ):

            def nth(offset: str, days: str = days, owner: str = owner, table: str = table) -> str:
                return f"(SELECT day FROM {days} WHERE {owner} = {table}.id ORDER BY day DESC LIMIT 1 OFFSET {offset})"

            bind.execute(
                sa.text(f"UPDATE {table} SET good_day = {nth(':g')}, not_bad_day = {nth(':b')} WHERE project_id = :p"),
                {"p": project_id, "g": good, "b": not_bad},
            )


def downgrade() -> None:
    for table in ("accounts", "contacts"):
        op.drop_index(f"ix_{table}_not_bad_day", table_name=table)
        op.drop_index(f"ix_{table}_good_day", table_name=table)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("not_bad_day")
            batch_op.drop_column("good_day")
    op.drop_table("health_marks")
    op.drop_index("ix_account_days_project_day", table_name="account_days")
    op.drop_table("account_days")
