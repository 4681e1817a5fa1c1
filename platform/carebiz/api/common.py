"""Shared pieces of list endpoints: paging arguments and the ``{"items", "total"}`` answer."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

MAX_PER_PAGE = 500


class ListArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PER_PAGE))


def page_of(session: Session, stmt: Select[Any], page: int, per_page: int) -> dict[str, Any]:
    """One page of ``stmt`` and the total count of rows it selects."""
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    items = session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)).all()
    return {"items": items, "total": total or 0, "page": page, "per_page": per_page}


def page_schema(item: type[Schema], name: str) -> type[Schema]:
    """A ``{"items": [item], "total": N, "page", "per_page"}`` schema for ``item``."""
    return Schema.from_dict({
        "items": fields.List(fields.Nested(item)),
        "total": fields.Integer(),
        "page": fields.Integer(),
        "per_page": fields.Integer(),
    }, name=name)
