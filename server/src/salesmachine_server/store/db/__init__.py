"""The database: engines, schema, migrations, and the dialect helpers every statement goes through."""
