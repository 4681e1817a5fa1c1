"""The rows of the customers page, written in Python.

A page shows fifty rows of eight cells; written by Jinja each row cost ~85 µs (a generator
step, an attribute look-up through the environment and an ``escape`` call for every
expression), half the page's work. Here a row is one f-string: every value that comes
from the database is escaped with :func:`markupsafe.escape` exactly as the template's
autoescape did, and the translated labels are taken as Jinja's ``_()`` takes them (as
markup). The HTML is the same, byte for byte, as the loop it replaces in
``crm/customers.html``, whose ``<thead>`` names the same columns in the same order (the
segment column only with ``see_value``, "Found by" only for a search)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape


@dataclass(frozen=True)
class RowContext:
    """What every row of a page shares: links, labels and formatters of this request."""

    #: ``party id -> URL`` of the customer's page (:func:`carebiz.web.links.id_url`)
    customer_url: Callable[[Any], str]
    #: the filter link of each tag on the page
    tag_urls: Mapping[str, str]
    #: branch id -> code
    branch_codes: Mapping[Any, str]
    #: translated code labels (``crm_labels`` of the templates)
    labels: Mapping[str, Mapping[str, str]]
    #: the ``phone`` and ``date`` template filters
    phone: Callable[[Any], str]
    date: Callable[[Any], str]
    #: the translated "Do not contact" badge text
    do_not_contact: str
    #: the segment column is shown
    see_value: bool = False
    #: the page lists a search ("Found by" column)
    searched: bool = False
    #: why each searched row matched (party id -> reason codes)
    reasons: Mapping[Any, Sequence[str]] | None = None


def customer_rows(rows: Sequence[Any], details: Mapping[Any, Mapping[str, list[str]]],
                  ctx: RowContext) -> Markup:
    """The ``<tr>`` of each row (``id``, ``name``, ``kind``, ``do_not_contact``,
    ``branch_id``, ``created_at``) with its ``details`` (:func:`~carebiz.crm.lists.page_details`:
    phones, roles, tags and segment), each preceded and followed by the template's
    indentation."""
    labels = ctx.labels
    role_labels, segment_labels, reason_labels = (labels["role"], labels["segment"],
                                                  labels["reason"])
    organization = (f'<span class="badge text-bg-light border">'
                    f'{escape(labels["kind"]["organization"])}</span>')
    # translations are markup in the templates (Jinja's newstyle ``_()`` under autoescape)
    do_not_contact = f'<span class="badge text-bg-danger">{Markup(ctx.do_not_contact)}</span>'
    codes, tag_urls, phone, date = ctx.branch_codes, ctx.tag_urls, ctx.phone, ctx.date
    reasons = ctx.reasons or {}
    # a page repeats a handful of roles, tags, segments and branches: each badge or cell is
    # written once per page and reused (dict look-ups instead of escapes per row)
    role_html: dict[str, str] = {}
    tag_html: dict[str, str] = {}
    segment_html: dict[str | None, str] = {None: "<td></td>", "": "<td></td>"}
    branch_html: dict[Any, str] = {}
    url = ctx.customer_url
    out: list[str] = []
    for p in rows:
        ident = int(p.id)  # an integer key: nothing to escape
        d = details[p.id]
        phones = "".join(f'<a href="tel:{escape(ph)}" class="text-nowrap d-block">'
                         f'{escape(phone(ph))}</a>' for ph in d["phones"][:2])
        roles = ""
        for r in d["roles"]:
            badge = role_html.get(r)
            if badge is None:
                badge = role_html[r] = (f'<span class="badge text-bg-light border me-1">'
                                        f'{escape(role_labels.get(r, r))}</span>')
            roles += badge
        tags = ""
        for t in d["tags"]:
            link = tag_html.get(t)
            if link is None:
                link = tag_html[t] = (f'<a class="badge text-bg-info text-decoration-none '
                                      f'me-1" href="{escape(tag_urls[t])}">{escape(t)}</a>')
            tags += link
        branch = branch_html.get(p.branch_id)
        if branch is None:
            code = codes.get(p.branch_id)
            branch = branch_html[p.branch_id] = "" if code is None else str(escape(code))
        segment = ""
        if ctx.see_value:
            found = d.get("segment")
            value = found[0] if found else None
            segment = segment_html.get(value)
            if segment is None:
                segment = segment_html[value] = (
                    f'<td><span class="badge text-bg-primary">'
                    f'{escape(segment_labels.get(value, value))}</span></td>')
        why = ""
        if ctx.searched:
            why = ('<td class="small text-muted">'
                   + ", ".join(escape(reason_labels.get(r, r)) for r in reasons.get(p.id, []))
                   + "</td>")
        out.append(
            f'\n  <tr data-party-id="{ident}" data-row-id="{ident}">\n'
            f'    <td><a href="{escape(url(ident))}">{escape(p.name)}</a>\n'
            f'      {organization if p.kind == "organization" else ""}\n'
            f'      {do_not_contact if p.do_not_contact else ""}</td>\n'
            f'    \n'
            f'    <td>{phones}</td>\n'
            f'    <td>{roles}</td>\n'
            f'    <td>{tags}</td>\n'
            f'    <td>{branch}</td>\n'
            f'    {segment}\n'
            f'    {why}\n'
            f'    <td class="text-nowrap">{escape(date(p.created_at))}</td>\n'
            f'  </tr>\n  ')
    return Markup("".join(out))


#: (zone, UTC day) -> the zone's UTC offset all that day, or None when it changes that day
_DAY_OFFSETS: dict[tuple[str, dt.date], dt.timedelta | None] = {}
_DAY = dt.timedelta(days=1) - dt.timedelta(microseconds=1)


def local_day(value: dt.datetime, tzinfo: Any) -> dt.date:
    """The day of ``value`` (naive: UTC) in the zone ``tzinfo``: what the ``date`` filter
    shows of a datetime, found without converting each value. Converting one into the zone
    (pytz's ``astimezone`` and ``normalize``) cost a third of writing its row; a zone's offset
    is the same all day on all but its few transition days, so it is looked up once per
    process for each UTC day (at the day's first and last microsecond: equal offsets mean no
    transition between them, as a zone never shifts and shifts back within a day), and
    transition days are converted value by value."""
    utc = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    day = utc.date()
    key = (str(tzinfo), day)
    try:
        offset = _DAY_OFFSETS[key]
    except KeyError:
        start = dt.datetime.combine(day, dt.time(), dt.UTC)
        first, last = start.astimezone(tzinfo).utcoffset(), (start + _DAY).astimezone(
            tzinfo).utcoffset()
        if len(_DAY_OFFSETS) >= 8192:
            _DAY_OFFSETS.clear()
        offset = _DAY_OFFSETS[key] = first if first == last else None
    if offset is None:
        return tzinfo.normalize(utc.astimezone(tzinfo)).date() if hasattr(
            tzinfo, "normalize") else utc.astimezone(tzinfo).date()
    return (utc.replace(tzinfo=None) + offset).date()


#: (day, language) -> the day as the ``date`` filter writes it, per process
_DAY_TEXTS: dict[tuple[dt.date, str], str] = {}


def day_formatter(tzinfo: Any, language: str,
                  format_day: Callable[[Any], str]) -> Callable[[Any], str]:
    """``date`` for :class:`RowContext`: a datetime's day in ``tzinfo`` (:func:`local_day`)
    written by ``format_day`` (the ``date`` filter) for ``language``, the request's, and
    kept per process by day and language (the filter finds the request's language and zone
    again for every value)."""

    def date(value: Any) -> str:
        if not value:
            return ""
        day = local_day(value, tzinfo) if isinstance(value, dt.datetime) else value
        key = (day, language)
        text = _DAY_TEXTS.get(key)
        if text is None:
            if len(_DAY_TEXTS) >= 8192:
                _DAY_TEXTS.clear()
            text = _DAY_TEXTS[key] = format_day(day)
        return text

    return date
