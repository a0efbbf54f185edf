"""CSV cells that a spreadsheet would run as formulas, made inert on export and restored on import.

A spreadsheet opening a CSV file takes a cell starting with `=`, `+`, `-` or `@` (and, in some,
a tab or a carriage return) for a formula: a uid like `=HYPERLINK(...)` sent by anyone who can
write would run on the computer of whoever opens the export. As OWASP advises, such a cell is
written with a single quote before it, which spreadsheets show as text (the writer also quotes
the field).

The rule is reversible, so `salesmachine import` gives back the exact value: a value made of
quotes then a formula character gets one more quote (`'=x` is written `''=x`), and on import a
cell made of one or more quotes then a formula character loses one. Any other value, a quote
included (`'s-Hertogenbosch`), is written as it is. Numbers are not strings: `-33.87` stays a
number in its cell.
"""

from __future__ import annotations

import re

# Quotes, then a character that starts a formula: what is neutralised.
_FORMULA = re.compile(r"'*[=+\-@\t\r]")
# What an export's neutralised cell looks like: at least one quote before that character.
_NEUTRALISED = re.compile(r"'+[=+\-@\t\r]")


def neutralise(text: str) -> str:
    """The cell to write for a string value."""
    return "'" + text if _FORMULA.match(text) else text


def restore(cell: str) -> str:
    """The value a cell written by `neutralise` stands for."""
    return cell[1:] if _NEUTRALISED.match(cell) else cell
