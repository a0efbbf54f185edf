"""What the product means, with no I/O: messages, the list query language, health, revenue, time zones."""
