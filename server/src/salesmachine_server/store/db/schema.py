"""The one schema both engines share.

Conventions that hold for every table:
- every row carries `project_id`; no query crosses projects;
- times are naive UTC datetimes (SQLite has no time zone type; PostgreSQL gets the same);
- `params` are JSON objects (JSONB on PostgreSQL so that the read API can filter on them).

The migrations under `migrations/versions` build exactly this; `tests/test_schema.py` checks it.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

# BIGINT ids on PostgreSQL; SQLite only auto-increments a column declared INTEGER.
Id = BigInteger().with_variant(Integer(), "sqlite")
Params = JSON().with_variant(JSONB(), "postgresql")

metadata = MetaData()

projects = Table(
    "projects",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("token", String(64), nullable=False, unique=True),
    # SHA-256 of the secret: the secret itself is shown once, at creation.
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("settings", Params, nullable=False),
    Column("created_at", DateTime, nullable=False),
)

contacts = Table(
    "contacts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("project_id", Id, ForeignKey("projects.id"), nullable=False),
    # The first uid the contact was known by; every uid, this one included, is in contact_uids.
    Column("contact_uid", String(255), nullable=False),
    Column("params", Params, nullable=False),
    Column("first_seen_at", DateTime, nullable=False),
    # Time of the latest event or pageview; NULL until the contact does something.
    Column("last_seen_at", DateTime),
    Column("updated_at", DateTime, nullable=False),
    # Health marks (store/write/health_marks.py): the contact's (good_above + 1)-th and
    # (bad_at_most + 1)-th most recent active days, NULL when it has fewer. Good while the
    # health window starts on or before good_day; bad once it starts after not_bad_day.
    Column("good_day", Date),
    Column("not_bad_day", Date),
    Index("ix_contacts_good_day", "project_id", "good_day"),
    Index("ix_contacts_not_bad_day", "project_id", "not_bad_day"),
    # The first day whose health may have changed since the history was last brought up to
    # date (project/health_history.py); NULL when it is current. Set by the write path in the
    # statement that notes first and last seen, so marking costs no statement of its own.
    Column("health_dirty_from", Date),
    Index(
        "ix_contacts_health_dirty",
        "project_id",
        "id",
        sqlite_where=text("health_dirty_from IS NOT NULL"),
        postgresql_where=text("health_dirty_from IS NOT NULL"),
    ),
    # The newest contacts, on the home page (store/read/signups.py).
    Index("ix_contacts_project_first_seen", "project_id", "first_seen_at", "id"),
    # Who looks after the contact: a dashboard user (migration 0011, store/records/owners.py).
    Column("owner_user_id", Id, ForeignKey("users.id")),
    Index("ix_contacts_owner", "project_id", "owner_user_id"),
    # Half of each page free, so that the projector's updates stay on the row's page (migration 0017).
    postgresql_with={"fillfactor": 50},
)

contact_uids = Table(
    "contact_uids",
    metadata,
    Column("project_id", Id, ForeignKey("projects.id"), primary_key=True),
    Column("uid", String(255), primary_key=True),
    Column("contact_id", Id, ForeignKey("contacts.id"), nullable=False, index=True),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("project_id", Id, ForeignKey("projects.id"), nullable=False),
    Column("account_uid", String(255), nullable=False),
    Column("params", Params, nullable=False),
    Column("first_seen_at", DateTime, nullable=False),
    Column("last_seen_at", DateTime),
    Column("updated_at", DateTime, nullable=False),
    # Health marks, as on contacts, over the account's active days (account_days).
    Column("good_day", Date),
    Column("not_bad_day", Date),
    UniqueConstraint("project_id", "account_uid", name="uq_accounts_project_uid"),
    Index("ix_accounts_good_day", "project_id", "good_day"),
    Index("ix_accounts_not_bad_day", "project_id", "not_bad_day"),
    Column("health_dirty_from", Date),  # as on contacts
    Index(
        "ix_accounts_health_dirty",
        "project_id",
        "id",
        sqlite_where=text("health_dirty_from IS NOT NULL"),
        postgresql_where=text("health_dirty_from IS NOT NULL"),
    ),
    # Who looks after the account: a dashboard user (migration 0011, store/records/owners.py).
    Column("owner_user_id", Id, ForeignKey("users.id")),
    Index("ix_accounts_owner", "project_id", "owner_user_id"),
    postgresql_with={"fillfactor": 50},  # as contacts
)

memberships = Table(
    "memberships",
    metadata,
    Column("account_id", Id, ForeignKey("accounts.id"), primary_key=True),
    Column("contact_id", Id, ForeignKey("contacts.id"), primary_key=True),
    Column("project_id", Id, ForeignKey("projects.id"), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Index("ix_memberships_contact", "contact_id"),
)

# No foreign keys: each cost a lookup and a lock per event on PostgreSQL, guarding nothing the
# write path does not ensure itself (migration 0016_events_without_foreign_keys says how).
events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("project_id", Id, nullable=False),
    Column("contact_id", Id, nullable=False),
    Column("account_id", Id),
    Column("name", String(255), nullable=False),
    # "pageview" for pageviews, "event" for everything else: the timeline filters on it.
    Column("kind", String(16), nullable=False),
    Column("params", Params, nullable=False),
    Column("occurred_at", DateTime, nullable=False),
    Column("received_at", DateTime, nullable=False),
    Column("message_id", String(255)),
    # Enrichment (migration 0003, enrich/): derived on the write path from `visit_ip` and
    # `visit_agent` (or a browser's User-Agent), kept beside the params the client sent.
    # Where: the address's scope (public, private, loopback, link_local, multicast,
    # unspecified, reserved, invalid; NULL without an address); country (ISO 3166-1 alpha-2)
    # for a public one; region, city and coordinates from an optional .mmdb file.
    Column("ip_scope", String(16)),
    Column("country", String(2)),
    Column("region", String(255)),
    Column("city", String(255)),
    Column("latitude", Float),
    Column("longitude", Float),
    # With what: browser and operating system families and versions, device type (desktop,
    # mobile, tablet, bot).
    Column("browser", String(64)),
    Column("browser_version", String(32)),
    Column("os", String(64)),
    Column("os_version", String(32)),
    Column("device", String(16)),
    # Which version of enrichment was applied; NULL for events stored before it existed (or
    # with it turned off), which `salesmachine enrich --backfill` finds through the partial
    # index below (new enriched rows never enter it).
    Column("enrichment", Integer),
    Index("ix_events_contact_time", "contact_id", "occurred_at"),
    Index("ix_events_account_time", "account_id", "occurred_at"),
    Index("ix_events_project_time", "project_id", "occurred_at"),
    Index(
        "ix_events_unenriched",
        "id",
        sqlite_where=text("enrichment IS NULL"),
        postgresql_where=text("enrichment IS NULL"),
    ),
)

# Events and pageviews per contact per calendar day in the project's time zone. Derived from
# `events` in the same transaction, kept exact: active days, health and the usage map read it
# instead of scanning events (100,000 contacts' health is one small aggregate).
contact_days = Table(
    "contact_days",
    metadata,
    Column("contact_id", Id, ForeignKey("contacts.id"), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("project_id", Id, ForeignKey("projects.id"), nullable=False),
    Column("events", Integer, nullable=False),
    Index("ix_contact_days_project_day", "project_id", "day"),
)

# The days any contact of an account was active (the union of its members' contact_days),
# kept exact in the same transactions: an account's health marks are read from it by key.
account_days = Table(
    "account_days",
    metadata,
    Column("account_id", Id, ForeignKey("accounts.id"), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("project_id", Id, ForeignKey("projects.id"), nullable=False),
    Index("ix_account_days_project_day", "project_id", "day"),
)

# The thresholds the health marks of a project's contacts and accounts were computed with. A
# read uses the marks only when they match its project's rule; a writer computes new marks
# with these, and changing the thresholds recomputes every mark (store/write/health_marks.py).
health_marks = Table(
    "health_marks",
    metadata,
    Column("project_id", Id, ForeignKey("projects.id"), primary_key=True),
    Column("good_above", Integer, nullable=False),
    Column("bad_at_most", Integer, nullable=False),
)

# One row each time a contact's or an account's mrr took a new value: revenue history.
mrr_changes = Table(
    "mrr_changes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("project_id", Id, ForeignKey("projects.id"), nullable=False),
    Column("contact_id", Id, ForeignKey("contacts.id")),
    Column("account_id", Id, ForeignKey("accounts.id")),
    # NULL when mrr was removed (sent as null).
    Column("mrr", Float),
    Column("effective_at", DateTime, nullable=False),
    Column("received_at", DateTime, nullable=False),
    Index("ix_mrr_changes_contact", "contact_id", "effective_at"),
    Index("ix_mrr_changes_account", "account_id", "effective_at"),
    Index("ix_mrr_changes_project", "project_id", "effective_at"),
    # A project's paying contacts found without reading its accounts' rows, and a count of
    # those rows without reading the table (store/read/revenue.py).
    Index("ix_mrr_changes_project_owner", "project_id", "contact_id", "account_id", "id"),
)

# Client message ids already applied: a retried message is acknowledged, not applied twice.
message_ids = Table(
    "message_ids",
    metadata,
    Column("project_id", Id, ForeignKey("projects.id"), primary_key=True),
    Column("message_id", String(255), primary_key=True),
    Column("received_at", DateTime, nullable=False),
)

# What was refused, with why: nothing sent is silently gone.
rejected_items = Table(
    "rejected_items",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("project_id", Id, ForeignKey("projects.id"), nullable=False),
    Column("received_at", DateTime, nullable=False),
    Column("path", String(64), nullable=False),
    # Position in the batch; NULL for a single call.
    Column("item_index", Integer),
    Column("raw", Text, nullable=False),
    Column("code", String(64), nullable=False),
    Column("field", String(255)),
    Column("reason", Text, nullable=False),
    Index("ix_rejected_project_time", "project_id", "received_at"),
)

# -- the dashboard (migration 0002) ------------------------------------------------------------
# People who sign in to the dashboard. A person may work on several projects, so users are not
# per project; what each one may see is `project_members`.
users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    # Lower-cased: sign-in must not depend on how the address was typed.
    Column("email", String(320), nullable=False, unique=True),
    # argon2id, with its salt and parameters (store/records/users.py).
    Column("password_hash", String(255), nullable=False),
    Column("created_at", DateTime, nullable=False),
)

project_members = Table(
    "project_members",
    metadata,
    Column("project_id", Id, ForeignKey("projects.id"), primary_key=True),
    Column("user_id", Id, ForeignKey("users.id"), primary_key=True),
    Column("created_at", DateTime, nullable=False),
    Index("ix_project_members_user", "user_id"),
)

# Signed-in browsers. The cookie holds a random token; only its SHA-256 is kept, so a dump of
# the database signs nobody in. Signing out deletes the row: the cookie is dead at once.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False),
    # Every form of the session carries it back (web/forms.py).
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Index("ix_web_sessions_user", "user_id"),
)

# Sign-in attempts that did not succeed, for throttling (store/records/sign_in_attempts.py): in the
# database, so that every server process on it keeps one count. Rows older than the window are
# deleted as new ones come; a successful sign-in deletes its account's rows.
sign_in_failures = Table(
    "sign_in_failures",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("email", String(320)),  # as stored in users (lower-cased); NULL when not an address
    Column("address", String(64)),  # the client's IP (an IPv6 client's /64); NULL when unknown
    Column("failed_at", DateTime, nullable=False),
    Index("ix_sign_in_failures_email", "email", "failed_at"),
    Index("ix_sign_in_failures_address", "address", "failed_at"),
    Index("ix_sign_in_failures_failed_at", "failed_at"),
)

# A list filter saved under a name: `query` is the filter language of domain/list_query.py, exactly what
# GET /v1/contacts or /v1/accounts takes, so a segment can be read through the API too.
saved_segments = Table(
    "segments",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("project_id", Id, ForeignKey("projects.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # "contacts" or "accounts"
    Column("name", String(200), nullable=False),
    Column("query", Text, nullable=False),
    Column("created_by", Id, ForeignKey("users.id")),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("project_id", "kind", "name", name="uq_segments_project_kind_name"),
)

# -- operations (migration 0004_rate_limit_buckets) -----------------------------------------------------------
# The rate limit's token bucket of each project, shared by every `serve` process on one
# PostgreSQL (serving/ratelimit.py): the tokens left, and when (the database's clock, in seconds since
# the epoch) they were counted. Written only when a rate limit is set; SQLite, served by one
# process, keeps its buckets in memory and leaves this table empty.
rate_limit_buckets = Table(
    "rate_limit_buckets",
    metadata,
    Column("project_id", Id, ForeignKey("projects.id"), primary_key=True, autoincrement=False),
    Column("tokens", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# -- periodic work (migration 0008_retention_leases) ----------------------------------------------------
# Who runs each periodic task (serving/periodic.py, store/records/leases.py): one row per task,
# held by one `serve` process until `expires_at`, renewed while it lives. Times are the database's
# clock in seconds since the epoch, the one clock every process on it shares. `ran_at` is when
# the task last completed, so that a restart neither repeats daily work nor postpones it forever.
leases = Table(
    "leases",
    metadata,
    Column("task", String(64), primary_key=True),
    Column("holder", String(255)),  # host:pid:random of the process; NULL once released
    Column("expires_at", Float, nullable=False),
    Column("ran_at", Float),
)

# -- data rights (migration 0009_data_rights, docs/privacy.md) ---------------------------------------
# The uids of erased contacts and accounts, kept only as keyed hashes (domain/data_rights.py):
# a write naming one is refused or dropped (ingest/suppression.py) and never stored again.
suppressions = Table(
    "suppressions",
    metadata,
    Column("project_id", Id, ForeignKey("projects.id"), primary_key=True),
    Column("uid_hash", String(64), primary_key=True),
    Column("created_at", DateTime, nullable=False),
)

# Every erasure's signed receipt (domain/receipts.py), as it was returned: counts per kind, when,
# by whom, the uid hashes. `document` is the JSON text whose signature verifies.
erasure_receipts = Table(
    "erasure_receipts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("project_id", Id, ForeignKey("projects.id"), nullable=False),
    Column("erased_at", DateTime, nullable=False),
    Column("document", Text, nullable=False),
    Index("ix_erasure_receipts_project", "project_id", "erased_at"),
)

# What was done to people's data and to settings, and who signed in (store/records/audit_log.py).
# `project_id` is NULL for sign-ins (users are not per project); `detail` never holds a uid.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("project_id", Id, ForeignKey("projects.id")),
    Column("at", DateTime, nullable=False),
    Column("actor", String(320), nullable=False),  # "user:<email>", "api:<token>", "cli:<login>"
    Column("action", String(64), nullable=False),
    Column("detail", Params, nullable=False),
    Index("ix_audit_log_project_time", "project_id", "at"),
    Index("ix_audit_log_actor_time", "actor", "at"),
)

# -- playbooks (migration 0013_playbooks, docs/playbooks.md) ------------------------------------
# A playbook is one JSON document (domain/playbooks.py); its trigger's type and event name are
# kept beside it so that the write path asks in one indexed look whether any enabled playbook
# of a project listens (store/write/trigger_inbox.py). `primed` is False from enabling until the
# runner enrolled who matched the trigger's state at that moment (project/playbook_runner.py).
playbooks = Table(
    "playbooks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("project_id", Id, ForeignKey("projects.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("document", Params, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("trigger_type", String(32), nullable=False),
    Column("trigger_event", String(255)),
    Column("primed", Boolean, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Index("ix_playbooks_listening", "project_id", "enabled", "trigger_type"),
)

# Who a playbook enrolled, and for which occurrence of its trigger: "" for a playbook that runs
# once per customer, else the source of the firing (an inbox row, a history row, a day). The
# unique key makes a firing count once even if two runners ever raced.
playbook_enrollments = Table(
    "playbook_enrollments",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("project_id", Id, ForeignKey("projects.id"), nullable=False),
    Column("playbook_id", Id, nullable=False),
    Column("subject", String(16), nullable=False),
    Column("customer_id", Id, nullable=False),
    Column("occurrence", String(64), nullable=False),
    Column("enrolled_at", DateTime, nullable=False),
    UniqueConstraint("playbook_id", "subject", "customer_id", "occurrence", name="uq_playbook_enrollments"),
    Index("ix_playbook_enrollments_project", "project_id", "playbook_id", "enrolled_at"),
)

# Each time a playbook ran its actions for an enrollment: what fired it and what was done
# (task ids, delivery ids), for the playbook's page.
playbook_runs = Table(
    "playbook_runs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("project_id", Id, ForeignKey("projects.id"), nullable=False),
    Column("playbook_id", Id, nullable=False),
    Column("enrollment_id", Id, nullable=False),
    Column("ran_at", DateTime, nullable=False),
    Column("fired_by", Params, nullable=False),
    Column("done", Params, nullable=False),
    Index("ix_playbook_runs_playbook", "playbook_id", "ran_at"),
)

# Events and mrr moves that an enabled playbook listens to, written by the write path in the
# transaction of the data (store/write/trigger_inbox.py), consumed and deleted by the runner in
# the transaction of what it fires.
trigger_inbox = Table(
    "trigger_inbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("project_id", Id, ForeignKey("projects.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # "event" or "mrr"
    Column("contact_id", Id),
    Column("account_id", Id),
    Column("name", String(255)),  # the event's name
    Column("params", Params, nullable=False),  # the event's params; for mrr {"before", "after"}
    Column("occurred_at", DateTime, nullable=False),
    # Ids never reused (SQLite's AUTOINCREMENT): a firing's enrollment is keyed by its row's id,
    # and SQLite would otherwise give a consumed row's id to the next one.
    sqlite_autoincrement=True,
)

# Who matched a scanned trigger's state at the runner's last look (segment members, stale
# Pulses, renewals coming): a customer that appears is "entered", one that goes is "left".
playbook_matches = Table(
    "playbook_matches",
    metadata,
    Column("playbook_id", Id, primary_key=True),
    Column("subject", String(16), primary_key=True),
    Column("customer_id", Id, primary_key=True),
    Column("key", String(64), nullable=False),  # what matched: a renewal's date, else ""
)

# How far the runner read a source it follows by position (health_history's ids).
playbook_positions = Table(
    "playbook_positions",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("position", BigInteger, nullable=False),
)

# -- health history (migration 0010_health_history, docs/health.md) ------------------------------
# Each contact's and account's status, stage, health band and reason as intervals of local days:
# a row per state, [from_day, to_day), to_day NULL for the state in force. Storage grows with
# changes, not with days (project/health_history.py keeps it). `customer_id` is a contact's or an
# account's id by `subject`; no foreign key, so erasing a customer deletes its rows explicitly.
health_history = Table(
    "health_history",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("project_id", Id, ForeignKey("projects.id"), nullable=False),
    Column("subject", String(16), nullable=False),  # "account" or "contact"
    Column("customer_id", Id, nullable=False),
    Column("from_day", Date, nullable=False),
    Column("to_day", Date),
    Column("status", String(16), nullable=False),
    Column("stage", String(200)),
    Column("band", String(16)),
    Column("reason", Text, nullable=False),
    Column("written_by", String(16), nullable=False),  # "live" or "rebuild"
    Column("written_at", DateTime, nullable=False),
    Index("ix_health_history_customer", "project_id", "subject", "customer_id", "from_day"),
    Index("ix_health_history_band", "project_id", "subject", "to_day", "band"),
)

# Every health model document a project saved (domain/health_model.py); the newest is in force.
health_models = Table(
    "health_models",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("project_id", Id, ForeignKey("projects.id"), nullable=False),
    Column("document", Params, nullable=False),
    Column("saved_at", DateTime, nullable=False),
    Column("saved_by", String(320)),
    Index("ix_health_models_project", "project_id", "id"),
)

# A manager's rating of an account, 0 to 5, with why: the Pulse.
pulses = Table(
    "pulses",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("project_id", Id, ForeignKey("projects.id"), nullable=False),
    Column("account_id", Id, nullable=False),
    Column("score", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("author", String(320), nullable=False),
    Column("rated_at", DateTime, nullable=False),
    Index("ix_pulses_account", "project_id", "account_id", "rated_at"),
)

# How far each project's history was brought: the model it was built with (health_models.id, 0
# for the model of the project's settings; `model_key` tells those apart too: "saved:<id>" or
# "settings:<window>:<good_above>:<bad_at_most>"), the time zone its days are in, and the last
# day evaluated for everyone.
health_cursors = Table(
    "health_cursors",
    metadata,
    Column("project_id", Id, ForeignKey("projects.id"), primary_key=True, autoincrement=False),
    Column("model_id", Id, nullable=False),
    Column("model_key", String(128), nullable=False),
    Column("zone", String(64), nullable=False),
    Column("through_day", Date, nullable=False),
)

# -- work items (migration 0011_work_items, docs/work.md) ----------------------------------------------
# Free text a user wrote about an account or a contact (`subject`: "account" or "contact", and
# its id in `customer_id`). `author` keeps the writer's address as it was, so a note still says
# who wrote it should the user go; `author_user_id` decides who may edit it.
notes = Table(
    "notes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("project_id", Id, ForeignKey("projects.id"), nullable=False),
    Column("subject", String(16), nullable=False),
    Column("customer_id", Id, nullable=False),
    Column("author_user_id", Id, ForeignKey("users.id")),
    Column("author", String(320), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Index("ix_notes_customer", "project_id", "subject", "customer_id", "created_at"),
)

# Work for a person about an account or a contact. `playbook_id` names the playbook that made it
# (NULL when a person did); no foreign key, so that the parts merge in any order. `completed_at`
# is when it was marked done or dismissed.
tasks = Table(
    "tasks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("project_id", Id, ForeignKey("projects.id"), nullable=False),
    Column("title", String(500), nullable=False),
    Column("subject", String(16), nullable=False),
    Column("customer_id", Id, nullable=False),
    Column("assignee_user_id", Id, ForeignKey("users.id")),
    Column("due_on", Date),
    Column("status", String(16), nullable=False),  # "open", "done" or "dismissed"
    Column("playbook_id", Id),
    Column("created_at", DateTime, nullable=False),
    Column("completed_at", DateTime),
    # A user's inbox: their open tasks by due day; a profile's tasks.
    Index("ix_tasks_assignee", "project_id", "assignee_user_id", "status", "due_on"),
    Index("ix_tasks_customer", "project_id", "subject", "customer_id", "status"),
)

# -- deliveries (deliver/, docs/deliveries.md) ---------------------------------------------------

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("project_id", Id, ForeignKey("projects.id"), nullable=False),
    # The playbook that sent it, if one did; no foreign key, so that the parts merge in any order.
    Column("playbook_id", Id),
    Column("channel", String(16), nullable=False),  # "webhook", "slack" or "email"
    # Where to: {"url", "secret"} (webhook), {"url"} (slack), {"to"} (email). Never shown back
    # whole: a secret and a Slack URL's token are left out of every answer and page.
    Column("target", Params, nullable=False),
    Column("payload", Params, nullable=False),  # what to send, as the caller made it
    Column("status", String(16), nullable=False),  # "pending", "delivered" or "failed"
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime),  # NULL once delivered or failed
    # A sender working on it until then; a claim that ran out (a crash) is taken again.
    Column("claimed_until", DateTime),
    # When the current round of retries started (enqueued, or resent): it gives up a retry
    # window after this.
    Column("retry_from", DateTime, nullable=False),
    Column("last_error", Text),
    Column("created_at", DateTime, nullable=False),
    Column("delivered_at", DateTime),
    # The sender's question, across projects: what is due now.
    Index("ix_deliveries_due", "status", "next_attempt_at"),
    # The log, newest first, by project and by playbook.
    Index("ix_deliveries_project", "project_id", "id"),
    Index("ix_deliveries_project_playbook", "project_id", "playbook_id", "id"),
)

delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("delivery_id", Id, ForeignKey("deliveries.id"), nullable=False),
    Column("project_id", Id, ForeignKey("projects.id"), nullable=False),
    Column("attempted_at", DateTime, nullable=False),
    Column("duration_ms", Float, nullable=False),
    # What was sent, without secrets: method, url (tokens left out), headers, body (cut to a size).
    Column("request", Params, nullable=False),
    Column("response_status", Integer),  # the HTTP status, or the SMTP reply code; NULL: no answer
    Column("response_body", Text),  # the answer, cut to a size
    Column("error", Text),  # why it did not count as delivered; NULL when it did
    Index("ix_delivery_attempts_delivery", "delivery_id", "id"),
)

# A project's SMTP server, through which its e-mail deliveries go. The password is kept to be
# used and is never shown back (docs/deliveries.md says what that means for the database).
smtp_settings = Table(
    "smtp_settings",
    metadata,
    Column("project_id", Id, ForeignKey("projects.id"), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("port", Integer, nullable=False),
    Column("username", String(255), nullable=False),
    Column("password", Text, nullable=False),
    Column("from_address", String(320), nullable=False),
    Column("security", String(16), nullable=False),  # "starttls", "ssl" or "none"
    Column("updated_at", DateTime, nullable=False),
)

# Home's weekly health bands (store/read/attention.py weekly_bands) read the history's states in
# force and those ended in the last twelve weeks from this index alone (migration
# 0015_display_settings).
Index(
    "ix_health_history_weeks",
    health_history.c.project_id,
    health_history.c.subject,
    health_history.c.to_day,
    health_history.c.band,
    health_history.c.from_day,
)

# -- the projector (migration 0014_journal, project/projector.py) ---------------------------------------
# How far the projector of each journal has applied it: the last journal seq whose entry is in
# the store. Written in the same transaction as what it applied, so that a projector killed at
# any moment starts again exactly after the last entry committed: nothing twice, nothing lost.
# One row per journal (its uuid, made when the journal file was created: ingest/journal.py).
journal_positions = Table(
    "journal_positions",
    metadata,
    Column("journal_id", String(36), primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)
