"""The one place the client's version is written (pyproject.toml repeats it for packaging)."""

VERSION = "1.0.0"
