"""``carebiz.crm.timeline_html`` writes the 360° page's timeline entries and follow-up "done"
forms in Python: byte for byte what the ``timeline_item`` and ``complete_form`` macros of
``crm/_crm.html`` write (the vehicle page and "My day" still use them), for every state of an
entry, and with every value escaped as Jinja's autoescaping escapes it."""

from __future__ import annotations

import datetime as dt
import itertools
from types import SimpleNamespace
from typing import Any

from flask import render_template_string
from flask_login import login_user

from carebiz.models import User

NOW = dt.datetime(2026, 12, 3, 8, 0, tzinfo=dt.UTC)
EVIL = '<script>alert("x")</script> & \'q\''

_MACROS = ('{% from "crm/_crm.html" import timeline_item, complete_form with context %}'
           '{{ timeline_item(e, kinds, people, now, vehicle=vehicle, customer=customer) }}'
           '|{{ complete_form(e, done_form, next_url) }}')


def _entry(number: int, **values: Any) -> Any:
    base = {"id": number, "kind": "call", "status": "done", "subject": "Called", "body": "",
            "occurred_at": NOW - dt.timedelta(days=number), "due_at": None, "outcome": "",
            "satisfaction": None, "ref_type": None, "ref_id": None, "created_by": None}
    return SimpleNamespace(**{**base, **values})


def _entries() -> list[Any]:
    """Every branch of the macro: status × kind × due, then each optional part alone."""
    made = []
    states = itertools.product(("open", "cancelled", "done"),
                               ("call", "task", "return_visit", "gone.kind"),
                               (None, NOW - dt.timedelta(hours=1), NOW + dt.timedelta(hours=1)))
    for number, (status, kind, due) in enumerate(states, start=1):
        made.append(_entry(number, status=status, kind=kind, due_at=due))
    made += [_entry(100, body="line 1\nline <2> & 3", subject=EVIL),
             _entry(101, outcome=EVIL, satisfaction=4),
             _entry(102, ref_type="party", ref_id="7"),
             _entry(103, ref_type="nothing_here", ref_id="x<1>"),
             _entry(104, created_by=1), _entry(105, created_by=99)]
    return made


def test_entries_and_forms_are_what_the_macros_write(app, seeded):
    from carebiz import db
    from carebiz.crm import forms as f
    from carebiz.crm.services.timeline import known_kinds
    from carebiz.crm.timeline_html import TimelineHtml
    from carebiz.crm.views import labels

    with app.test_request_context("/customers/7"):
        login_user(db.session().get(User, seeded["users"]["admin"]))
        kinds = known_kinds(db.session())
        people = {1: 'Wang "Wei" <admin>'}
        writer = TimelineHtml(kinds, people, NOW, labels()["status"])
        done_form = f.CompleteForm(formdata=None)
        vehicles = [None, SimpleNamespace(id=3, plate="沪A<1>", vin="VIN"),
                    SimpleNamespace(id=4, plate=None, vin="LVIN&0")]
        customers = [None, SimpleNamespace(id=8, name=EVIL)]
        checked = 0
        for e in _entries():
            for vehicle, customer in itertools.product(vehicles, customers):
                want = render_template_string(
                    _MACROS, e=e, kinds=kinds, people=people, now=NOW, vehicle=vehicle,
                    customer=customer, done_form=done_form, next_url="/customers/7?a=1&b=<2>")
                got = (f"{writer.entry(e, vehicle, customer)}"
                       f"|{writer.complete_form(e, '/customers/7?a=1&b=<2>')}")
                assert got == want, (e, vehicle, customer)
                checked += 1
        assert checked == len(_entries()) * 6


def test_values_are_escaped_and_markup_is_kept_out(app, seeded):
    from carebiz import db
    from carebiz.crm.services.timeline import known_kinds
    from carebiz.crm.timeline_html import TimelineHtml
    from carebiz.crm.views import labels

    with app.test_request_context("/customers/7"):
        login_user(db.session().get(User, seeded["users"]["admin"]))
        writer = TimelineHtml(known_kinds(db.session()), {1: "<b>boss</b>"}, NOW,
                              labels()["status"])
        html = str(writer.entry(
            _entry(1, kind="<i>kind</i>", subject=EVIL, body=EVIL, outcome=EVIL,
                   created_by=1),
            SimpleNamespace(id=3, plate="<u>plate</u>", vin=""),
            SimpleNamespace(id=8, name=EVIL)))
        assert "<script>" not in html and "<b>" not in html and "<u>" not in html
        assert "<i>" not in html and "&lt;i&gt;kind&lt;/i&gt;" in html
        assert html.count("&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#39;q&#39;") \
            == 4  # subject, body, outcome, the customer's name
        assert "by &lt;b&gt;boss&lt;/b&gt;" in html
        form = str(writer.complete_form(_entry(2, kind="return_visit"), '/x?"><script>'))
        assert 'value="/x?&#34;&gt;&lt;script&gt;"' in form and "<script>" not in form


def test_words_and_kind_labels_are_kept_per_language(app, seeded):
    """Translated once per language and kept: English, Chinese, English again."""
    from flask_babel import force_locale, gettext

    from carebiz import db
    from carebiz.crm.services.timeline import known_kinds
    from carebiz.crm.timeline_html import TimelineHtml
    from carebiz.crm.views import labels

    shown = []
    for locale in ("en", "zh_CN", "en"):
        with app.test_request_context("/customers/7"), force_locale(locale):
            login_user(db.session().get(User, seeded["users"]["admin"]))
            writer = TimelineHtml(known_kinds(db.session()), {}, NOW, labels()["status"])
            html = str(writer.entry(_entry(1, kind="call", due_at=NOW)))
            assert str(writer.kind("call")) == gettext("Call")
            assert f"<span>{gettext('Due')}: " in html
            shown.append(str(writer.kind("call")))
    assert shown[0] == shown[2] == "Call" and shown[1] != "Call"


def test_vehicle_title_is_what_the_vehicle_name_macro_writes(app):
    from carebiz.crm.views import vehicle_title

    macro = '{% from "crm/_crm.html" import vehicle_name with context %}{{ vehicle_name(v) }}'
    with app.test_request_context("/"):
        for v in (SimpleNamespace(make="BMW", model="X5", year=2021, vin="V1"),
                  SimpleNamespace(make="<b>Tata</b> & Co", model=None, year=None, vin="V2"),
                  SimpleNamespace(make="", model="", year=None, vin="LVIN<1>"),
                  SimpleNamespace(make=None, model=None, year=None, vin=None)):
            assert str(vehicle_title(v)) == render_template_string(macro, v=v), v


def test_done_form_written_in_python_passes_the_csrf_check(make_app):
    """The 360° page's "done" form carries a CSRF token the view accepts (and a post
    without it is refused), though no ``CompleteForm`` is built to write it."""
    import re

    from carebiz.crm.models import Party, TimelineEntry
    from carebiz.crm.services import timeline
    from carebiz.db import utcnow
    from carebiz.testing import PASSWORD, make_customer, seed

    app = make_app(WTF_CSRF_ENABLED=True)
    ids = seed(app)
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        party = make_customer(sess, "Lin Fang", ids["branches"]["A"])
        entry = timeline.add_entry(sess, sess.get(Party, party.id), "task", subject="Call back",
                                   due_at=utcnow() + dt.timedelta(days=1))
        sess.commit()
        party_id, entry_id = party.id, entry.id
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    client.post("/login", data={"username": "admin", "password": PASSWORD,
                                "csrf_token": token})
    page = client.get(f"/customers/{party_id}").get_data(as_text=True)
    form = page.split('data-testid="complete-form"', 1)[1].split("</form>", 1)[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    assert client.post(f"/timeline/{entry_id}/complete",
                       data={"outcome": "done", "next": f"/customers/{party_id}"}
                       ).status_code == 400  # no token: refused
    resp = client.post(f"/timeline/{entry_id}/complete",
                       data={"outcome": "Called", "csrf_token": token,
                             "next": f"/customers/{party_id}"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/customers/{party_id}")
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        assert sess.get(TimelineEntry, entry_id).status == "done"


def test_fresh_entry_form_is_what_wtforms_writes(app, seeded):
    """The entry form of a page opened afresh is written without building the form: the
    hidden tag and each field are WTForms' own text (``form.hidden_tag()``, ``form_field``)
    for every starting kind, a preselected vehicle, labels that need escaping, no due date,
    in both languages; the CSRF token is the request's."""
    from flask_babel import force_locale

    from carebiz import db
    from carebiz.crm import forms as f
    from carebiz.crm.timeline_html import ENTRY_FIELDS, entry_form
    from carebiz.web.fields import form_field

    kinds = [("call", "Call"), ("task", 'Task "<b>" & co'), ("return_visit", "回访")]
    vehicles = [("", "—"), ("3", '粤B <12345> "x"'), ("14", "BMW X5 & trailer")]
    due = dt.datetime(2026, 12, 4, 10, 0, tzinfo=dt.UTC)
    # the test app runs without CSRF; the form is checked with it too (this app only)
    with app.test_request_context("/customers/7"):
        login_user(db.session().get(User, seeded["users"]["admin"]))
        for csrf, code, kind, vehicle, when in itertools.product(
                (True, False), ("en", "zh_CN"), ("call", "task", "return_visit", "gone"),
                ("", "14", "99"), (due, None)):
            app.config["WTF_CSRF_ENABLED"] = csrf
            with force_locale(code):
                form = f.TimelineForm(data={"kind": kind, "vehicle_id": vehicle,
                                            "due_at": when})
                form.kind.choices = f.options(kinds)
                form.vehicle_id.choices = f.options(vehicles)
                written = entry_form(kinds, kind, vehicles, vehicle, when)
                assert written["hidden"] == form.hidden_tag()
                for name in ENTRY_FIELDS:
                    assert written[name] == form_field(form[name]), (code, name)
        app.config["WTF_CSRF_ENABLED"] = True
        assert 'name="csrf_token"' in entry_form(kinds, "call", vehicles, "", due)["hidden"]
        assert "回访" in entry_form(kinds, "call", vehicles, "", due)["kind"]
