"""Running a :class:`~carebiz.lists.definition.ListDefinition` against the request's
arguments: the page, the JSON endpoint and every export format call these functions, so
they list the same rows in the same order for the same arguments.

Nothing here reads the request or calls a hook: the arguments come in as a mapping and the
session and user as values, so export jobs (no request) run the same code, and a hot list
page costs only its statements."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from carebiz.errors import ValidationFailed
from carebiz.export.table import Table
from carebiz.lists.definition import PREFIXED, DateRange, ListDefinition
from carebiz.lists.paging import PER_PAGE, Page, count, page_of
from carebiz.lists.sorting import ordered
from carebiz.security.permissions import can
from carebiz.security.rows import visible


@dataclass
class Listing:
    """A list as the arguments select it: the filtered, row-filtered, sorted statement, the
    sort used, the filter values (by filter name), the search text and why each searched row
    matched."""

    definition: ListDefinition
    stmt: Select[Any]
    sort: str
    default_sort: str
    values: dict[str, Any] = field(default_factory=dict)
    q: str = ""
    reasons: Mapping[Any, Sequence[str]] = field(default_factory=dict)

    def described(self) -> list[str]:
        """What the user selected, one line each, for an export file's header."""
        lines = [f"{_('Search')}: {self.q}"] if self.q else []
        for flt in self.definition.filters:
            value = self.values.get(flt.name)
            if value is None or value == flt.default:
                continue
            if isinstance(value, dict):
                lines += [f"{flt.name}.{k}: {v}" for k, v in value.items()]
            elif isinstance(value, DateRange):
                lines.append(f"{flt.name}: {value.start or ''}–{value.end or ''}")
            else:
                lines.append(f"{flt.name}: {value}")
        return lines


def prepare(definition: ListDefinition, args: Mapping[str, Any], session: Session,
            user: Any) -> Listing:
    """The list for these arguments. Every problem with the arguments is reported at once
    (422, each argument with its messages); the row filters are applied last, always."""
    stmt = definition.base() if definition.base else select(definition.model)
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for flt in definition.filters:
        try:
            value = flt.parse(args)
        except ValidationFailed as exc:
            errors.update(exc.errors)
            continue
        if value is None:
            continue
        if flt.permission and not can(user, flt.permission) and value != flt.default:
            errors[flt.name] = [_("You may not filter by this.")]
            continue
        values[flt.name] = value
    q = ""
    if definition.search is not None:
        q = str(args.get("q") or "").strip()
        if len(q) > definition.search.max_length:
            errors["q"] = [_("At most %(count)s characters.",
                             count=definition.search.max_length)]
    if errors:
        raise ValidationFailed(_("Some filters are not valid: %(names)s.",
                                 names=", ".join(sorted(errors))), errors)
    for flt in definition.filters:
        if flt.name in values and (flt.type != PREFIXED or values[flt.name]):
            stmt = flt.apply(stmt, values[flt.name], user)
    sorts = dict(definition.sorts)
    default = definition.default_sort
    reasons: Mapping[Any, Sequence[str]] = {}
    if q and definition.search is not None:
        searched = definition.search.apply(session, user, stmt, q)
        stmt, reasons = searched.stmt, searched.reasons
        if searched.rank is not None:
            sorts["rank"] = searched.rank
            default = "rank"
    stmt = visible(stmt, definition.model, user)
    stmt, sort = ordered(stmt, str(args.get("sort") or ""), sorts, default, definition.key,
                         definition.sort_aliases)
    return Listing(definition, stmt, sort, default, values, q, reasons)


def page(listing: Listing, session: Session, number: int, per_page: int = PER_PAGE, *,
         options: Sequence[Any] = (), clamp: bool = False,
         columns: Sequence[Any] = ()) -> Page:
    """One page of the list (``options``: loader options of what the caller shows;
    ``columns``: only these columns, as plain rows)."""
    stmt = listing.stmt.options(*options) if options else listing.stmt
    return page_of(session, stmt, number, per_page, clamp=clamp, columns=columns)


def table(definition: ListDefinition, session: Session, user: Any,
          args: Mapping[str, Any]) -> Table:
    """The whole list as an export table, for any format (the ``build`` of its
    :class:`~carebiz.contributions.ExportTable`)."""
    listing = prepare(definition, args, session, user)
    spec = definition.export
    rows: Iterator[Mapping[str, Any]] = spec.rows(session, user, listing.stmt)
    return Table(str(spec.title), list(spec.columns(user)), rows,
                 filters=listing.described(), total=count(session, listing.stmt))
