"""A page's title block is the text of its <title>: markup there is shown as text in the tab
(two merged sections once landed in the settings page's title)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import salesmachine_server.web

pytestmark = pytest.mark.fast

TEMPLATES = Path(salesmachine_server.web.__file__).parent / "templates"
TITLE = re.compile(r"{%\s*block title\s*%}(.*?){%\s*endblock\s*%}", re.S)


def test_every_title_block_is_plain_text() -> None:
    titled = 0
    for template in sorted(TEMPLATES.glob("*.html")):
        for title in TITLE.findall(template.read_text(encoding="utf-8")):
            titled += 1
            assert "<" not in title and "\n" not in title.strip(), f"{template.name}: {title[:80]!r}"
    assert titled > 10  # the pages were found
