"""The list pages' filter form, and its conversion to and from the list query language.

A CSM fills in a search box, a health band, an activity choice, a sort and free conditions
(`plan=pro`, `mrr>100`, one per line). The page turns those into the query language of
domain/list_query.py (`q=acme&health=bad&active_days_14=0&plan=pro&sort=-mrr`), which is what
the list shows, what a saved segment stores and what GET /v1/accounts takes. Reading a saved
segment goes the other way, so its filter shows in the form, ready to change. Both ways read
terms with the language's own grammar (read_term); the form only adds that a typed line may
have spaces around its value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote_plus

from starlette.datastructures import QueryParams

from salesmachine_server.domain.health import LEVELS
from salesmachine_server.domain.list_query import DEFAULT_SORT, join_terms, read_term, split_terms

# The activity menu: choice -> the condition it stands for.
ACTIVITY = {
    "active_14": "active_days_14>0",
    "inactive_14": "active_days_14=0",
    "active_30": "active_days_30>0",
    "inactive_30": "active_days_30=0",
}
ACTIVITY_LABELS = {
    "": "any activity",
    "active_14": "active in the last 14 days",
    "inactive_14": "inactive for 14 days",
    "active_30": "active in the last 30 days",
    "inactive_30": "inactive for 30 days",
}
SORTS = {
    "-last_seen_at": "last seen, newest first",
    "-mrr": "mrr, highest first",
    "mrr": "mrr, lowest first",
    "-first_seen_at": "signed up, newest first",
    "last_seen_at": "last seen, oldest first",
}


def _typed_term(text: str) -> tuple[str, str, str] | None:
    """A typed condition as field, operator and value, without the spaces around the value."""
    term = read_term(text)
    return None if term is None or not term.field else (term.field, term.op, term.value.strip())


# The owner menu's values other than an e-mail address: anyone (no filter), me, nobody.
OWNER_ME = "me"
OWNER_NOBODY = "nobody"


def owner_term(owner: str) -> str | None:
    """The filter an owner choice stands for: owner=me, owner= (nobody), owner=<e-mail>."""
    if not owner:
        return None
    return "owner=" if owner == OWNER_NOBODY else f"owner={owner}"


@dataclass
class ListForm:
    q: str = ""
    health: str = ""
    activity: str = ""
    owner: str = ""  # "", "me", "nobody" or a user's e-mail address
    sort: str = DEFAULT_SORT
    conditions: list[str] = field(default_factory=list)

    @classmethod
    def from_params(cls, params: QueryParams) -> ListForm:
        """The form as the browser sent it (GET, so the page's address is shareable)."""
        lines: list[str] = []
        for value in params.getlist("where"):
            lines += [line.strip() for line in value.splitlines() if line.strip()]
        health = params.get("health", "")
        activity = params.get("activity", "")
        return cls(
            q=params.get("q", "").strip(),
            health=health if health in LEVELS else "",
            activity=activity if activity in ACTIVITY else "",
            # Read by the language (domain/list_query.py), which refuses what is no address.
            owner=params.get("owner", "").strip().lower(),
            sort=params.get("sort") or DEFAULT_SORT,
            conditions=lines,
        )

    @classmethod
    def from_language(cls, query: str) -> ListForm:
        """The form that a saved segment's filter stands for."""
        form = cls()
        conditions = {v: k for k, v in ACTIVITY.items()}
        for text in split_terms(query):
            name, op, value = _typed_term(text) or ("", "", "")
            if name == "q" and op == "=":
                form.q = value
            elif name == "sort" and op == "=":
                form.sort = value
            elif name == "health" and op == "=" and value in LEVELS and not form.health:
                form.health = value
            elif name == "owner" and op == "=" and not form.owner:
                form.owner = value.lower() or OWNER_NOBODY
            elif f"{name}{op}{value}" in conditions and not form.activity:
                form.activity = conditions[f"{name}{op}{value}"]
            elif name not in ("cursor", "limit"):
                form.conditions.append(text)
        return form

    def language(self, with_sort: bool = True) -> str:
        """The filter language for this form: what a segment saves and the API takes."""
        pairs = [f"q={self.q}"] if self.q else []
        if self.health:
            pairs.append(f"health={self.health}")
        if self.activity:
            pairs.append(ACTIVITY[self.activity])
        if owner := owner_term(self.owner):
            pairs.append(owner)
        for text in self.conditions:
            term = _typed_term(text)
            pairs.append("".join(term) if term else text)
        if with_sort and self.sort != DEFAULT_SORT:
            pairs.append(f"sort={self.sort}")
        return join_terms(pairs)

    def address(self, **extra: str) -> str:
        """The query string of the list page showing this form (plus `extra`, e.g. a cursor)."""
        fields = [
            ("q", self.q),
            ("health", self.health),
            ("activity", self.activity),
            ("owner", self.owner),
            ("where", "\n".join(self.conditions)),
            ("sort", self.sort if self.sort != DEFAULT_SORT else ""),
        ]
        fields += list(extra.items())
        return "&".join(f"{k}={quote_plus(v)}" for k, v in fields if v)

    @property
    def is_filtered(self) -> bool:
        return bool(self.q or self.health or self.activity or self.owner or self.conditions)
