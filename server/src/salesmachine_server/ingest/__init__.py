"""The write path: from decoded JSON to committed rows."""
