"""A list definition's page as an API route answers it: the one call a JSON endpoint of a
list makes, so every plugin's collection answers ``{"items", "total", "page",
"per_page"}`` the same way its page and exports list (the dict shape of
:func:`carebiz.api.common.page_of`, which pages a bare statement).

Unlike :mod:`carebiz.lists.runner` this reads the request: the filters from its query
string, the session and the logged-in user of the request — what every API route would
otherwise pass by hand."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from carebiz.lists.definition import ListDefinition
from carebiz.lists.runner import page, prepare


def api_page(definition: ListDefinition, paging: Mapping[str, Any],
             out: Callable[[list[Any]], Any] | None = None, *,
             args: Mapping[str, Any] | None = None, session: Session | None = None,
             user: Any = None) -> dict[str, Any]:
    """One page of ``definition`` filtered, row-filtered and sorted by the request's query
    arguments (``args`` to give others), paged by ``paging`` (the route's parsed ``page`` and
    ``per_page``); ``out`` turns the page's rows into what the schema dumps (default: the
    rows themselves)."""
    from flask import request
    from flask_login import current_user

    from carebiz import db

    sess = session if session is not None else db.session()
    who = user if user is not None else current_user._get_current_object()
    listing = prepare(definition, request.args if args is None else args, sess, who)
    found = page(listing, sess, paging["page"], paging["per_page"])
    rows = list(found.items)
    return {"items": out(rows) if out is not None else rows, "total": found.total,
            "page": found.page, "per_page": found.per_page}
