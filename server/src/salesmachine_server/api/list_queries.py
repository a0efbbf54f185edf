"""The list query language (domain/list_query.py) on the read API: a query it cannot read is a
400 naming the field and the rule, as every client reads errors (errors.py)."""

from __future__ import annotations

from starlette.requests import Request

from salesmachine_server.domain.list_query import ListQuery, QueryError, Subject, parse_list_query
from salesmachine_server.errors import ApiError


def refused(error: QueryError) -> ApiError:
    """The 400 for a query the language refuses: its message, field and rule unchanged."""
    return ApiError(400, error.message, field=error.field, rule=error.rule)


def list_query(request: Request, subject: Subject) -> ListQuery:
    """The list of `subject` the request's query string asks for."""
    try:
        return parse_list_query(request.url.query, subject)
    except QueryError as exc:
        raise refused(exc) from None
