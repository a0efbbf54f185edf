"""Queries that read: profiles, lists, timelines, counts, the live feed, exports."""
