"""The write transaction: messages applied to contacts, accounts, events and day counts."""
