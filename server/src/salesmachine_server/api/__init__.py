"""The read API: profiles, timelines, lists, revenue and export. Token and secret required."""
