"""Helpers shared by the REST API views: paging a select, versions as ETags."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import request
from flask_smorest import Page

from capcourse.errors import PreconditionFailedError, PreconditionRequiredError
from capcourse.extensions import db
from capcourse.frameworks.services import count_rows
from capcourse.guards import INT64_MAX

#: OpenAPI documentation of endpoints that need an API key.
AUTH_DOC: dict[str, Any] = {"security": [{"apiKey": []}]}


def select_pager(serialise: Callable[[Any], Any], *, rows: bool = False) -> type[Page]:
    """A flask-smorest pager for views that return a SQLAlchemy select.

    Counting and slicing happen in the database; ``serialise`` turns each row
    into what the response schema dumps: the first column's value, or (``rows``)
    the whole row, for a select of several columns.
    """

    class SelectPage(Page):  # type: ignore[misc]
        @property
        def item_count(self) -> int:
            return count_rows(db.session(), self.collection)

        @property
        def items(self) -> list[Any]:
            if self.page_params.first_item > INT64_MAX:
                return []  # a page past any table's end, and past what OFFSET can hold
            query = self.collection.offset(self.page_params.first_item).limit(self.page_params.page_size)
            found = db.session.execute(query) if rows else db.session.scalars(query)
            return [serialise(row) for row in found]

    return SelectPage


def etag(version: int) -> str:
    """The ETag of a row at ``version``."""
    return f'"{version}"'


def expected_version() -> int:
    """The version the client read, from its ``If-Match`` header.

    :raises PreconditionRequiredError: no ``If-Match`` (428): updates must say what they change.
    :raises PreconditionFailedError: an ``If-Match`` that is no version of ours (412).
    """
    if not request.if_match.as_set() and not request.if_match.star_tag:
        raise PreconditionRequiredError(
            "Send the ETag you read as If-Match, so a change made meanwhile by someone else is not overwritten.",
            {"If-Match": ["Required."]},
        )
    tags = list(request.if_match.as_set())
    if len(tags) != 1 or not tags[0].isdigit():
        raise PreconditionFailedError("If-Match must be one ETag as returned by this API.", {"If-Match": ["Invalid."]})
    return int(tags[0])
