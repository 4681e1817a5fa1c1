"""Pages of a list: the page the request names, its rows and the total, and the links that
change one argument of the list on screen (filters, sort and page stay bookmarkable)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import g, request, url_for
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

#: rows of a list page
PER_PAGE = 50


@dataclass
class Page:
    """One page of a list, with what the pagination bar needs (and what the API answers:
    ``items``, ``total``, ``page``, ``per_page``)."""

    items: list[Any]
    total: int
    page: int
    per_page: int = PER_PAGE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def first(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.total else 0

    @property
    def last(self) -> int:
        return min(self.total, self.page * self.per_page)


def count(session: Session, stmt: Select[Any]) -> int:
    """How many rows ``stmt`` selects (its order dropped: counting needs none)."""
    return session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0


def page_of(session: Session, stmt: Select[Any], page: int, per_page: int = PER_PAGE, *,
            clamp: bool = False, columns: Sequence[Any] = ()) -> Page:
    """Page ``page`` of ``stmt`` and the total. ``clamp`` moves a page beyond the last to the
    last (pages, where a stale link should still show rows); the API answers it empty.
    With ``columns`` the items are plain rows of those columns instead of what ``stmt``
    selects (a page that shows a few columns need not build an object per row)."""
    # counted over the shown columns too: the count's subquery need not name every column
    # of an entity (building and cache-keying it cost more than the count itself)
    total = count(session, stmt.with_only_columns(*columns) if columns else stmt)
    page = max(1, page)
    if clamp:
        page = min(page, max(1, -(-total // per_page)))
    sliced = stmt.limit(per_page).offset((page - 1) * per_page)
    items: list[Any] = (list(session.execute(sliced.with_only_columns(*columns)))
                        if columns else list(session.scalars(sliced)))
    return Page(items, total, page, per_page)


def paginate(stmt: Select[Any], per_page: int = PER_PAGE) -> Page:
    """The page named by ``?page=`` (clamped to the existing pages) and the total count."""
    from carebiz import db

    number = request.args.get("page", 1, type=int) or 1
    return page_of(db.session(), stmt, number, per_page, clamp=True)


def list_url(**changes: Any) -> str:
    """The current list page's URL with some query arguments changed (None or "" drops one),
    so filters, sort and page stay bookmarkable. Changing anything but the page resets it.

    A list page asks for dozens of these (a tag link per row, the sort headers, the pages):
    the page's own path is built once per request and only the query string per call, with
    the encoding ``url_for`` gives query arguments."""
    path, current = _list_base()
    args = dict(current)
    if "page" not in changes:
        args.pop("page", None)
    for key, value in changes.items():
        if value is None or value == "" or (key == "page" and value == 1):
            args.pop(key, None)
        else:
            args[key] = value
    if not args:
        return path
    return f"{path}?{urlencode(list(args.items()), safe=QUERY_SAFE)}"


#: the characters ``url_for`` (werkzeug) leaves unescaped in a query string
QUERY_SAFE = "!$'()*,/:;?@"


def _list_base() -> tuple[str, dict[str, Any]]:
    """The current page's path (without query) and its query arguments, once per request."""
    memo: tuple[str, dict[str, Any]] | None = g.get("_carebiz_list_base")
    if memo is None:
        path = url_for(request.endpoint or "home.index", **(request.view_args or {}))
        memo = g._carebiz_list_base = (path, request.args.to_dict())
    return memo
