"""Storage: the schema, its migrations, and the engines for SQLite and PostgreSQL."""
