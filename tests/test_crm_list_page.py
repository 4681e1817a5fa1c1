"""The customers page's rows, written in Python (``carebiz.crm.list_page``) instead of a
Jinja loop: everything from the database is escaped as the template's autoescape did, and
each row has a cell under every column the table's head names."""

from __future__ import annotations

import datetime as dt
import re
from types import SimpleNamespace
from typing import Any

from flask import Flask
from markupsafe import Markup

from carebiz.crm.list_page import RowContext, customer_rows
from carebiz.crm.models import PartyValue
from carebiz.crm.services import parties

LABELS = {"kind": {"organization": "Organisation"}, "role": {"customer": "Customer"},
          "segment": {"vip": "VIP"}, "reason": {"phone": "phone", "name": "name"}}


def context(**changes: Any) -> RowContext:
    values: dict[str, Any] = {
        "customer_url": lambda ident: f"/customers/{int(ident)}",
        "tag_urls": {"a&b<i>": "/customers?tag=a%26b%3Ci%3E&x=1"},
        "branch_codes": {1: "<B1>"}, "labels": LABELS,
        "phone": lambda e164: f"<{e164}>", "date": lambda value: value.isoformat(),
        "do_not_contact": "Do not contact"}
    values.update(changes)
    return RowContext(**values)


def row(**changes: Any) -> Any:
    values = {"id": 7, "kind": "person", "name": "Wang Wei", "do_not_contact": False,
              "branch_id": 1, "created_at": dt.date(2026, 5, 8)}
    values.update(changes)
    return SimpleNamespace(**values)


def details(**changes: Any) -> dict[int, dict[str, list[str]]]:
    values = {"phones": ["+8613800138000", "+8613912345678", "+8613700000000"],
              "roles": ["customer", "<odd>"], "tags": ["a&b<i>"], "segment": []}
    values.update(changes)
    return {7: values}


def test_a_name_with_markup_shows_as_text() -> None:
    html = customer_rows([row(name='<script>alert(1)</script> & "Co"')], details(),
                         context())
    assert isinstance(html, Markup)
    assert "<script>" not in html
    assert '&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;Co&#34;</a>' in html
    # every other value from the database too: tag, its link, role code, branch, phone
    assert 'href="/customers?tag=a%26b%3Ci%3E&amp;x=1">a&amp;b&lt;i&gt;</a>' in html
    assert ">&lt;odd&gt;</span>" in html and "<td>&lt;B1&gt;</td>" in html
    assert 'href="tel:+8613800138000"' in html and ">&lt;+8613800138000&gt;</a>" in html


def test_a_row_shows_two_phones_badges_and_the_optional_columns() -> None:
    plain = customer_rows([row()], details(), context())
    assert plain.count("tel:") == 2  # the first two numbers, as the template did
    assert "text-bg-danger" not in plain and "Organisation" not in plain
    assert plain.count("<td") == 6  # no segment, no "Found by"

    marked = customer_rows([row(kind="organization", do_not_contact=True, branch_id=9)],
                           details(segment=["vip"]),
                           context(see_value=True, searched=True,
                                   reasons={7: ["phone", "name"]}))
    assert '<span class="badge text-bg-light border">Organisation</span>' in marked
    assert '<span class="badge text-bg-danger">Do not contact</span>' in marked
    assert '<span class="badge text-bg-primary">VIP</span>' in marked
    assert '<td class="small text-muted">phone, name</td>' in marked
    assert "<td></td>" in marked  # the unknown branch shows nothing
    assert marked.count("<td") == 8
    assert customer_rows([], {}, context()) == ""


def cells_per_row(page: str) -> tuple[int, list[int]]:
    """The table head's column count and each body row's cell count."""
    table = page[page.index('data-testid="customer-list"'):]
    head = table[:table.index("</thead>")]
    body = table[table.index("<tbody>"):table.index("</tbody>")]
    return head.count("<th>"), [r.count("<td") for r in body.split("<tr ")[1:]]


def test_the_page_escapes_names_and_fills_every_column(
        app: Flask, seeded: dict[str, Any], client_for: Any) -> None:
    a = seeded["branches"]["A"]
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        party = parties.create_party(
            sess, {"name": "<script>alert(1)</script>", "phones": ["13800138000"],
                   "branch_id": a, "tags": ["R&D"], "do_not_contact": True},
            allow_duplicates=True)
        sess.add(PartyValue(party_id=party.id, segment="vip", currency="CNY"))
        parties.create_party(sess, {"name": "Li Na", "branch_id": a, "kind": "organization"},
                             allow_duplicates=True)
        sess.commit()
        ident = party.id

    for user, segment in (("admin", True), ("viewer", False)):
        client = client_for(user)
        for query in ({}, {"q": "13800138000"}):
            page = client.get("/customers", query_string=query).get_data(as_text=True)
            assert "<script>alert" not in page
            assert f'<a href="/customers/{ident}">&lt;script&gt;alert(1)&lt;/script&gt;</a>' \
                in page
            assert re.search(r'href="/customers\?[^"]*tag=R%26D">R&amp;D</a>', page)
            assert "Do not contact</span>" in page
            assert ('text-bg-light border">Organisation' in page) is not query  # Li Na
            columns, rows = cells_per_row(page)
            assert rows and all(n == columns for n in rows), (user, query)
            assert ("text-bg-primary" in page) is segment
            assert bool(re.search(r'<td class="small text-muted">phone', page)) is bool(query)


def test_export_links_and_layout_links_are_those_url_for_builds(app: Flask) -> None:
    """The export link built once per request with each format put in, and the layout's
    links kept per process, read as ``url_for`` builds them."""
    from flask import url_for

    from carebiz.web.exports import export_url
    from carebiz.web.layout import fixed_url

    query = "q=a%26b&tag=x&tag=y&page=3&format=pdf&xformat=carebizformatmark"
    with app.test_request_context(f"/customers?{query}"):
        args = {"q": "a&b", "tag": ["x", "y"], "xformat": "carebizformatmark"}
        for fmt in ("csv", "xlsx", "csv", "odd fmt"):
            assert export_url("crm.customers", fmt) == url_for(
                "exports.export", name="crm.customers", format=fmt, **args)
        assert export_url("crm.customers", "csv", {"kind": "person"}) == url_for(
            "exports.export", name="crm.customers", format="csv", **args, kind="person")
    for root in ("", "/crm"):
        with app.test_request_context("/customers", base_url=f"http://localhost{root}"):
            for _ in range(2):
                assert fixed_url("static", filename="carebiz.css") == \
                    f"{root}/static/carebiz.css"
                assert fixed_url("auth.set_language", code="zh_CN") == url_for(
                    "auth.set_language", code="zh_CN")


def test_local_day_is_the_day_the_zone_converts_to_around_its_transitions() -> None:
    """Each hour (and the minutes next to each transition) of two years in zones with
    summer time, half-hour offsets and none: the day the zone's own conversion gives."""
    import pytz

    from carebiz.crm.list_page import local_day

    for name in ("Europe/Berlin", "America/St_Johns", "Australia/Lord_Howe",
                 "Asia/Shanghai", "America/Sao_Paulo", "UTC"):
        zone = pytz.timezone(name)
        start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        instants = [start + dt.timedelta(minutes=30 * i) for i in range(2 * 365 * 48)]
        transitions = [t.replace(tzinfo=dt.UTC) for t in getattr(
            zone, "_utc_transition_times", []) if 1970 < t.year < 2037]
        instants += [t + dt.timedelta(microseconds=d) for t in transitions
                     for d in (-1, 0, 1)]
        for value in instants:
            assert local_day(value, zone) == zone.normalize(value.astimezone(zone)).date(), \
                (name, value)
        naive = dt.datetime(2026, 3, 29, 0, 59)
        assert local_day(naive, zone) == zone.normalize(
            naive.replace(tzinfo=dt.UTC).astimezone(zone)).date()


def test_day_formatter_keeps_each_languages_text() -> None:
    import pytz

    from carebiz.crm.list_page import day_formatter

    zone = pytz.timezone("Asia/Shanghai")
    late = dt.datetime(2026, 5, 8, 17, 30, tzinfo=dt.UTC)  # already the 9th in Shanghai
    english = day_formatter(zone, "en", lambda day: f"en {day.isoformat()}")
    chinese = day_formatter(zone, "zh_CN", lambda day: f"zh {day.isoformat()}")
    assert english(late) == "en 2026-05-09" and chinese(late) == "zh 2026-05-09"
    assert english(dt.date(2026, 5, 8)) == "en 2026-05-08" and english(None) == ""


def test_the_page_in_chinese_writes_days_as_the_date_filter(
        app: Flask, seeded: dict[str, Any], client_for: Any) -> None:
    from carebiz.crm.models import Party
    from carebiz.i18n import date_filter

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        party = parties.create_party(sess, {"name": "Wang Wei", "branch_id":
                                            seeded["branches"]["A"]}, allow_duplicates=True)
        sess.commit()
        created = sess.get(Party, party.id).created_at
    client = client_for("admin")
    client.post("/language/zh_CN", data={"next": "/"})
    page = client.get("/customers").get_data(as_text=True)
    with app.test_request_context("/"):
        from flask_babel import force_locale

        with force_locale("zh_CN"):
            assert f'<td class="text-nowrap">{date_filter(created)}</td>' in page
