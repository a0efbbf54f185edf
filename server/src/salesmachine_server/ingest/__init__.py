"""The write path, from a request (or an imported file) to rows committed in the store.

One vocabulary, used by every module here and nowhere else for anything else:

- **accept**: validate at the door. One item runs through the item pipeline (pipeline.py:
  limit, parse, verify identity, visit IP, enrich) and comes out an accepted `Message` or a
  `Refusal` naming the field and the rule. The write endpoints (endpoints.py, one
  `WriteRequest` per HTTP request) and the importer (importer.py) both run it.
- **journal**: the accepted messages and the refusals of one request are one `Submission`
  (group_commit.py); `JournalAppend` (journal_append.py) gathers the submissions of concurrent
  requests and appends them to the journal (journal.py, encoded by journal_codec.py) in one
  fsynced transaction, then answers each request: 201 means on this server's disk.
- **apply**: the projector (project/projector.py) applies the journal to the store in large
  groups; the store's transaction (store/write/) turns their messages into rows. The importer
  commits its own groups with `commit_group` (group_commit.py), straight into the store.

A "write" is a request to a write endpoint (/v1/contact, /v1/batch, ...), nothing else here.
How requests arrive: wire.py (the request forms), body.py (reading bodies), client_ip.py,
verification.py; import_reading.py and import_columns.py read the importer's files.
"""
