"""From the journal and the stored data to the model: the projector process (projector.py)
applies what the request workers made durable (ingest/journal.py) to the store (store/write/);
the health history is kept current and rebuilt; playbooks' triggers fire."""
