"""The one place the client's version is written (pyproject.toml repeats it for packaging)."""

VERSION = "2.0.0"
