"""Enrichment: where visitors are (geo.py), what they use (agents.py), which company an account
is (domains.py), what is kept of their address (ip_storage.py), applied to each event on the
write path (events.py) and to data stored before (backfill.py). docs/enrichment.md."""
