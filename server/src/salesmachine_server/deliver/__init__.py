"""Outbound deliveries: webhooks (signed), Slack messages and e-mails, through one queue.

The vocabulary: a delivery is *enqueued* in the transaction of whatever caused it
(`queue.enqueue`), so the cause and the message commit together; the *sender*
(`sender.py`, a leased periodic task of `salesmachine serve`) *claims* what is due, *attempts*
it (`webhooks.py`, `email.py`; addresses checked by `addresses.py`), *records* the attempt, and
either marks it delivered or schedules a retry (`backoff.py`) until its retry window ends, when
it is failed: visible in the log (`GET /v1/deliveries`, the dashboard), never silent.
docs/deliveries.md is the user's description.
"""
