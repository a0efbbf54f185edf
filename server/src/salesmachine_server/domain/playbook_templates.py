"""The text templates of playbook actions: `Call {{account.name}} ({{account.mrr}} a month)`.

Deliberately small, and safe on text that users type: a placeholder is `{{ root.path }}`, a
dotted name looked up in plain dictionaries; there are no expressions, filters, calls or
attribute access on Python objects, so a template cannot reach anything but the values it is
handed (unlike Jinja on user input, which needs its sandbox). Roots:

- `account` and `contact`: `uid`, `name`, `email`, `mrr`, `health`, `owner` (an e-mail), `url`
  (its dashboard page), and any param by its key (`{{account.plan}}`, `{{account.params.plan}}`);
- `event` (event triggers): `name`, `occurred_at`, and its params (`{{event.amount}}`);
- `playbook`: `name`; `trigger`: `type`, `description`.

A name that holds nothing renders as the empty text. `{{` without its `}}` is an error, shown
when the playbook is saved.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ROOTS = ("account", "contact", "customer", "event", "playbook", "trigger")
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*(\.[A-Za-z0-9_\-]+)*$")


class TemplateError(ValueError):
    pass


@dataclass(frozen=True)
class Template:
    parts: tuple[str | tuple[str, ...], ...]  # literal text, or a placeholder's dotted path

    def render(self, values: Mapping[str, Any]) -> str:
        out: list[str] = []
        for part in self.parts:
            out.append(part if isinstance(part, str) else _shown(_lookup(values, part)))
        return "".join(out)


def parse_template(text: str, *, with_event: bool = True) -> Template:
    """The template `text` holds; TemplateError naming what cannot be read."""
    parts: list[str | tuple[str, ...]] = []
    position = 0
    for match in _PLACEHOLDER.finditer(text):
        parts.append(text[position : match.start()])
        name = match.group(1)
        if not _NAME.match(name):
            raise TemplateError(f"{{{{{name}}}}} is not a name: write {{{{account.name}}}}")
        path = tuple(name.split("."))
        if path[0] not in ROOTS:
            raise TemplateError(f"{{{{{name}}}}} starts with {path[0]!r}; a name starts with {', '.join(ROOTS)}")
        if path[0] == "event" and not with_event:
            raise TemplateError(f"{{{{{name}}}}}: only an event trigger has an event")
        if len(path) < 2:
            raise TemplateError(f"{{{{{name}}}}} names no field: write {{{{{name}.name}}}}")
        parts.append(path)
        position = match.end()
    rest = text[position:]
    if "{{" in rest:
        raise TemplateError("a {{ has no closing }}")
    parts.append(rest)
    return Template(tuple(p for p in parts if p != ""))


def render(text: str, values: Mapping[str, Any]) -> str:
    """`text` with its placeholders filled from `values` (a template checked when saved)."""
    try:
        return parse_template(text).render(values)
    except TemplateError:
        return text  # saved before a rule changed: sent as written rather than lost


def _lookup(values: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    current: Any = values
    for index, key in enumerate(path):
        if not isinstance(current, Mapping):
            return None
        if key in current:
            current = current[key]
        elif index >= 1 and isinstance(current.get("params"), Mapping) and key in current["params"]:
            current = current["params"][key]  # {{account.plan}} is {{account.params.plan}}
        else:
            return None
    return current


def _shown(value: Any) -> str:
    if value is None or isinstance(value, (dict, list)):
        return "" if value is None else str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value):,}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
