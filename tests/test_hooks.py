"""One test per hook specification, each driving the sample plugin's implementation through
the platform (not by calling the plugin directly). ``test_every_hook_has_a_test`` fails when a
hook is added to carebiz.hookspecs without a ``test_hook_<name>`` here."""

from __future__ import annotations

import inspect
import io
import re
from pathlib import Path
from types import SimpleNamespace

from click.testing import CliRunner
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select

from carebiz import hookspecs
from tests.conftest import login, token_for


def hook_names() -> list[str]:
    return sorted(name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
                  if hasattr(fn, "carebiz_spec"))


def test_every_hook_has_a_test():
    source = Path(__file__).read_text()
    tested = set(re.findall(r"^def test_hook_(\w+)\(", source, re.M))
    missing = [n for n in hook_names() if n not in tested]
    assert hook_names(), "no hook specifications found"
    assert missing == [], f"hooks without a test_hook_<name> test: {missing}"


def test_every_hook_has_a_contract():
    for name in hook_names():
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        assert len(doc) > 60, f"hook {name} needs a docstring that states its contract"


def test_every_hook_argument_is_typed_and_documented():
    """Real types (never ``Any``) and a ``:param name:`` line for every argument."""
    for name in hook_names():
        fn = getattr(hookspecs, name)
        doc = inspect.getdoc(fn) or ""
        annotations = {**fn.__annotations__}
        returned = annotations.pop("return")
        assert not re.search(r"\bAny\b", returned), f"hook {name} returns Any"
        for arg in inspect.signature(fn).parameters:
            assert f":param {arg}:" in doc, f"hook {name} does not document {arg}"
            assert not re.search(r"\bAny\b", annotations[arg]), f"{name}({arg}) is untyped"


def test_hooks_are_called_with_keyword_arguments_only(sample_app):
    """pluggy refuses positional calls; the host always passes keywords."""
    import pytest

    host = sample_app.extensions["carebiz"].host
    with pytest.raises(TypeError):
        host.pm.hook.menu_items(None)


def test_hook_init_app(sample_app):
    from tests.sample_plugin import plugin

    assert plugin.INIT_CALLS[-1] is sample_app
    assert sample_app.jinja_env.filters["shout"]("hi") == "HI!"


def test_hook_models(sample_app):
    ext = sample_app.extensions["carebiz"]
    assert ext.table_owner["sample_record"] == "sample"
    assert ext.table_owner["user_account"] == "core"
    assert ext.table_owner["user_role"] == "core"  # association tables follow their owner
    assert "sample_record" in sa_inspect(ext.engine).get_table_names()


def test_hook_web_blueprints(sample_app, sample_seeded):
    client = sample_app.test_client()
    login(client, "sales")
    assert client.get("/sample/").status_code == 200
    assert sample_app.extensions["carebiz"].blueprint_owner["sample"] == "sample"


def test_hook_api_blueprints(sample_app, sample_seeded):
    headers = {"Authorization": "Bearer " + token_for(sample_app, "sales")}
    resp = sample_app.test_client().get("/api/v1/sample/ping", headers=headers)
    assert resp.get_json() == {"pong": True}
    spec = sample_app.test_client().get("/api/v1/openapi.json").get_json()
    assert "/api/v1/sample/ping" in spec["paths"]


def test_hook_menu_items(sample_app, sample_seeded):
    client = sample_app.test_client()
    login(client, "sales")
    html = client.get("/").get_data(as_text=True)
    # ordered by weight then name; filtered by permission
    assert html.index('data-menu="sample.first"') < html.index('data-menu="sample.a"') \
        < html.index('data-menu="sample.b"')
    assert 'data-menu="admin.users"' not in html
    viewer = sample_app.test_client()
    login(viewer, "viewer")
    html = viewer.get("/").get_data(as_text=True)
    assert 'data-menu="sample.first"' in html and 'data-menu="sample.a"' not in html


def test_hook_permissions(sample_app, sample_seeded):
    from carebiz.models import User
    from carebiz.security import can

    with sample_app.test_request_context():
        from carebiz import db

        sess = db.session()
        sales = sess.get(User, sample_seeded["users"]["sales"])
        viewer = sess.get(User, sample_seeded["users"]["viewer"])
        admin = sess.get(User, sample_seeded["users"]["admin"])
        assert can(sales, "sample.view")  # granted through default_roles
        assert not can(viewer, "sample.view")  # default deny
        assert not can(sales, "sample.secret")
        assert can(admin, "sample.secret")  # superuser
        assert not can(admin, "sample.unregistered")  # unknown names are denied to everyone


def test_hook_row_filters(sample_app, sample_seeded):
    from carebiz import db
    from carebiz.models import User
    from carebiz.security import visible
    from tests.sample_plugin.models import SampleRecord

    a, b = sample_seeded["branches"]["A"], sample_seeded["branches"]["B"]
    with sample_app.test_request_context():
        sess = db.session()
        sess.add_all([SampleRecord(title="a-open", branch_id=a),
                      SampleRecord(title="a-secret", branch_id=a, secret=True),
                      SampleRecord(title="b-open", branch_id=b)])
        sess.commit()

        def titles(username):
            user = sess.scalar(select(User).where(User.username == username))
            stmt = visible(select(SampleRecord).order_by(SampleRecord.title), SampleRecord, user)
            return [r.title for r in sess.scalars(stmt)]

        assert titles("sales") == ["a-open"]  # core branch rule + plugin's secret rule
        assert titles("admin") == ["a-open", "a-secret", "b-open"]
        assert titles("manager") == ["a-open", "b-open"]
    client = sample_app.test_client()
    login(client, "sales")
    assert client.get("/sample/").data == b"[a-open]"


def test_hook_customer_panels(sample_app):
    host = sample_app.extensions["carebiz"].host
    with sample_app.test_request_context():
        panels = host.collect("customer_panels", session=None, customer=SimpleNamespace(id=42),
                              user=None)
    assert [(p.name, p.summary) for p in panels] == [("sample", {"customer": 42})]


def test_hook_vehicle_panels(sample_app):
    host = sample_app.extensions["carebiz"].host
    with sample_app.test_request_context():
        panels = host.collect("vehicle_panels", session=None,
                              vehicle=SimpleNamespace(vin="LSVAB4BR0EN000001"), user=None)
    assert panels[0].html == "<p>LSVAB4BR0EN000001</p>"


def test_hook_home_widgets(sample_app, sample_seeded):
    """The plugin's widget is on its user's home page, after the core's."""
    client = sample_app.test_client()
    login(client, "sales")
    html = client.get("/").get_data(as_text=True)
    assert 'data-widget="sample.home"' in html and "work of sales" in html
    assert html.index('data-widget="crm.followups"') < html.index('data-widget="sample.home"')


def test_hook_audit_labels(sample_app):
    from carebiz.services.audit_labels import vocabulary

    host = sample_app.extensions["carebiz"].host
    with sample_app.test_request_context():
        vocab = vocabulary(host)
        assert str(vocab.fields["sample_record"]["title"]) == "Title"
        assert vocab.values["sample_record"]["status"]["new"] == "Brand new"
        assert vocab.events["sample.record_saved"] == "Sample record saved"
        assert str(vocab.events["customer.created"]) == "Customer registered"  # the core's
        assert vocabulary(host) is vocab  # a registration: merged once


def test_hook_timeline_kinds(sample_app):
    with sample_app.test_request_context():
        kinds = sample_app.extensions["carebiz"].host.collect("timeline_kinds")
    assert [k.name for k in kinds][-1] == "sample.visit"  # after the core's own kinds
    assert "return_visit" in [k.name for k in kinds]


def test_hook_query_sources(sample_app):
    from tests.sample_plugin.models import SampleRecord

    with sample_app.test_request_context():
        sources = sample_app.extensions["carebiz"].host.collect("query_sources")
    assert sources[0].model is SampleRecord and sources[0].fields[0].name == "title"


def test_hook_export_formats(sample_app):
    with sample_app.test_request_context():
        formats = {f.name: f for f in sample_app.extensions["carebiz"].host.collect(
            "export_formats")}
    fmt = formats["pipe"]
    from carebiz.export.table import Column, Table

    out = io.BytesIO()
    table = Table("t", [Column("a", "A", "number"), Column("b", "B")], [{"a": 1, "b": "x"}])
    assert fmt.writer(table, out) == 1
    assert (fmt.name, out.getvalue()) == ("pipe", b"1|x\n")


def test_hook_document_types(sample_app):
    with sample_app.test_request_context():
        docs = {d.name: d for d in sample_app.extensions["carebiz"].host.collect(
            "document_types")}
    assert set(docs) == {"customer_statement", "sample.slip"}  # the core's and the plugin's
    assert docs["sample.slip"].template == "sample/slip.html"


def test_hook_cli_commands(sample_app):
    result = CliRunner().invoke(sample_app.cli, ["sample-hello", "dealer"])
    assert result.exit_code == 0, result.output
    assert result.output == "hello dealer\n"


def test_hook_hookspecs(sample_app):
    host = sample_app.extensions["carebiz"].host
    assert host.declared_hooks == {"sample_words": "sample"}
    assert host.collect("sample_words", count=2) == ["hello", "sample"]


def test_hook_capabilities(sample_app):
    host = sample_app.extensions["carebiz"].host
    with sample_app.app_context():
        assert host.capability("sample.echo").echo("hi") == "sample says hi"
        assert host.capability("sample.nothing") is None


def test_hook_demo_data(sample_app):
    from carebiz.demo import load_demo
    from tests.sample_plugin.models import SampleRecord

    load_demo(sample_app)
    load_demo(sample_app)  # safe to run twice
    with sample_app.app_context(), sample_app.extensions["carebiz"].session_factory() as sess:
        assert sess.scalars(select(SampleRecord.title)).all() == ["demo"]


def test_hook_tasks(sample_app, sample_seeded):
    headers = {"Authorization": "Bearer " + token_for(sample_app, "sales")}
    client = sample_app.test_client()
    resp = client.post("/api/v1/jobs", json={"task": "sample.count", "params": {"n": 4}},
                       headers=headers)
    assert resp.status_code == 202, resp.get_json()
    job = client.get(f"/api/v1/jobs/{resp.get_json()['id']}", headers=headers).get_json()
    assert (job["status"], job["progress"], job["result"]) == ("finished", 100, {"counted": 4})
    assert client.post("/api/v1/jobs", json={"task": "sample.secret"},
                       headers=headers).status_code == 403


def test_hook_scheduled_jobs(sample_app):
    from carebiz.jobs.worker import due_schedules, run_schedules

    assert {s.name for s in due_schedules(sample_app)} == {
        "core.purge_jobs.daily", "crm.refresh_scores.nightly", "sample.count.hourly",
        "core.notify.retry.minutely", "core.notify.purge.daily"}
    run_schedules(sample_app)
    assert due_schedules(sample_app) == []


def test_hook_settings(sample_app):
    from carebiz.services import settings

    host = sample_app.extensions["carebiz"].host
    with sample_app.app_context(), sample_app.extensions["carebiz"].session_factory() as sess:
        assert settings.get(sess, host, "sample.limit") == 10
        settings.set_value(sess, host, "sample.limit", "25")
        sess.commit()
        assert settings.get(sess, host, "sample.limit") == 25


def test_hook_event_receivers(sample_app):
    from carebiz.events import emit
    from tests.sample_plugin import plugin, signals

    plugin.RECEIVED.clear()
    with sample_app.app_context(), sample_app.extensions["carebiz"].session_factory() as sess:
        emit(sess, signals.record_created, record_id=7)
        assert plugin.RECEIVED == []  # not before commit
        sess.commit()
    assert plugin.RECEIVED == [{"record_id": 7}]


def test_settings_back_to_default_unpins_and_types_are_checked(sample_app):
    import pytest

    from carebiz.errors import ValidationFailed
    from carebiz.models import SettingValue
    from carebiz.services import settings

    host = sample_app.extensions["carebiz"].host
    with sample_app.app_context(), sample_app.extensions["carebiz"].session_factory() as sess:
        settings.set_value(sess, host, "sample.limit", 11)
        sess.commit()
        assert sess.get(SettingValue, "sample.limit").value == 11
        settings.set_value(sess, host, "sample.limit", "10")
        sess.commit()
        assert sess.get(SettingValue, "sample.limit") is None
        with pytest.raises(ValidationFailed, match="whole number"):
            settings.set_value(sess, host, "sample.limit", "ten")
        with pytest.raises(ValidationFailed, match="not allowed"):
            settings.set_value(sess, host, "sample.mode", "z")


def _person(sess, name, phone, branch_id):
    from carebiz.crm.services.parties import create_party

    return create_party(sess, {"name": name, "phones": [phone], "branch_id": branch_id},
                        allow_duplicates=True)


def test_hook_customer_lookup(sample_app, sample_seeded):
    from carebiz.crm.services.lookup import lookup
    from carebiz.models import User

    with sample_app.test_request_context():
        from carebiz import db

        sess = db.session()
        party = _person(sess, "王伟", "13800138000", sample_seeded["branches"]["A"])
        sess.commit()
        sales = sess.get(User, sample_seeded["users"]["sales"])
        hits = lookup(sess, sales, f"card-{party.id}")
        assert [(h.party.id, h.score, h.reasons) for h in hits] == [
            (party.id, 98, ["sample.card"])]


def test_hook_customer_merge(sample_app, sample_seeded):
    from carebiz.crm.services.merge import merge_parties
    from tests.sample_plugin.models import SampleRecord

    a = sample_seeded["branches"]["A"]
    with sample_app.app_context(), sample_app.extensions["carebiz"].session_factory() as sess:
        keep = _person(sess, "王伟", "13800138000", a)
        gone = _person(sess, "王 伟", "13900139000", a)
        sess.add(SampleRecord(title="x", branch_id=a, customer_id=gone.id))
        sess.flush()
        merge_parties(sess, keep, gone)
        sess.commit()
        assert sess.scalars(select(SampleRecord.customer_id)).all() == [keep.id]


def test_hook_record_pages(sample_app, sample_seeded):
    """Timeline entries referring to a plugin's document link to its page, for users who may
    open it; the audit log and recent trail use the same links."""
    from carebiz.models import User
    from carebiz.web.links import record_url

    with sample_app.test_request_context():
        from flask_login import login_user

        from carebiz import db

        sess = db.session()
        login_user(sess.get(User, sample_seeded["users"]["sales"]))
        assert record_url("sample_record", 5) == "/sample/records/5"
        assert record_url("party", "7") == "/customers/7"
        assert record_url("sample_record", "x") is None and record_url("nothing", 1) is None
    with sample_app.test_request_context():
        login_user(db.session().get(User, sample_seeded["users"]["viewer"]))
        assert record_url("sample_record", 5) is None  # viewer lacks sample.view


def test_hook_exchange_rates(sample_app):
    import datetime as dt
    from decimal import Decimal

    from carebiz.currency.money import Money
    from carebiz.currency.rates import add_rate, convert, rate_on

    ext = sample_app.extensions["carebiz"]
    with sample_app.app_context(), ext.session_factory() as sess:
        day = dt.date(2026, 1, 5)
        # no stored rate: the plugin's newest quote in force on the day answers, both ways
        assert rate_on(sess, "USD", "HKD", day) == Decimal("7.80")
        assert convert(sess, Money("78.00", "HKD"), "USD", day) == Money("10.00", "USD")
        # a stored rate wins over the plugin
        add_rate(sess, "USD", "HKD", "7.9", dt.date(2026, 1, 1))
        assert rate_on(sess, "USD", "HKD", day) == Decimal("7.9")
        assert rate_on(sess, "USD", "HKD", dt.date(2025, 12, 31)) == Decimal("7.80")


def test_hook_reports(sample_app, sample_seeded):
    from carebiz import db
    from tests.sample_plugin.models import SampleRecord

    with sample_app.test_request_context():
        names = [r.name for r in sample_app.extensions["carebiz"].host.collect("reports")]
    assert "sample.titles" in names and "crm.new_customers_by_month" in names
    with sample_app.app_context():
        sess = db.session()
        a, b = sample_seeded["branches"]["A"], sample_seeded["branches"]["B"]
        sess.add_all([SampleRecord(title="demo one", branch_id=a),
                      SampleRecord(title="other", branch_id=a),
                      SampleRecord(title="demo far", branch_id=b)])
        sess.commit()
    client = sample_app.test_client()
    login(client, "sales")
    resp = client.get("/query/reports/sample.titles?word=demo")
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert "<svg" in page and "demo one" in page
    assert "other" not in page and "demo far" not in page  # param and branch row filter
    index = client.get("/query/").get_data(as_text=True)
    assert 'data-report="sample.titles"' in index
    viewer = sample_app.test_client()
    login(viewer, "viewer")  # read_only: no sample.view
    assert viewer.get("/query/reports/sample.titles").status_code == 403


def test_hook_export_tables(sample_app, sample_seeded):
    """A plugin's list exports in every format through /export/<name>, row-filtered."""
    from tests.sample_plugin.models import SampleRecord

    with sample_app.app_context(), sample_app.extensions["carebiz"].session_factory() as s:
        s.add_all([SampleRecord(title="mine", branch_id=sample_seeded["branches"]["A"]),
                   SampleRecord(title="theirs", branch_id=sample_seeded["branches"]["B"])])
        s.commit()
    client = sample_app.test_client()
    login(client, "sales")
    resp = client.get("/export/sample.records?format=csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert resp.get_data(as_text=True).lstrip("\ufeff").splitlines() == ["Title", "mine"]
    assert client.get("/export/sample.records?format=nope").status_code == 422
    assert client.get("/export/nothing?format=csv").status_code == 404
    viewer = sample_app.test_client()
    login(viewer, "viewer")
    assert viewer.get("/export/sample.records?format=csv").status_code == 403


def _sample_user_with_phone(app, phone="+8613800138000"):
    from carebiz.services.users import update_user
    from carebiz.testing import seed

    seed(app)
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        from sqlalchemy import select

        from carebiz.models import User

        user = sess.scalar(select(User).where(User.username == "sales"))
        update_user(sess, user, phone=phone)
        sess.commit()
        return user.id


def test_hook_notification_channels(sample_app):
    from carebiz.notify import Notice, Recipient, channels, send, set_preferences
    from tests.sample_plugin import plugin

    host = sample_app.extensions["carebiz"].host
    assert set(channels(host, sample_app)) == {"inapp", "pager"}  # e-mail: no SMTP host
    user_id = _sample_user_with_phone(sample_app)
    plugin.PAGED.clear()
    with sample_app.app_context(), sample_app.extensions["carebiz"].session_factory() as sess:
        from carebiz.models import User

        assert send(sess, Notice(Recipient.user(user_id), "Hi")) == ["inapp"]  # off by default
        set_preferences(sess, host, sess.get(User, user_id), {"pager": True})
        assert send(sess, Notice(Recipient.user(user_id), "Hello")) == ["inapp", "pager"]
        assert plugin.PAGED == []  # not before commit
        sess.commit()
    assert [(n.subject, address) for n, address in plugin.PAGED] == [
        ("Hello", "+8613800138000")]


def test_hook_inbound_message(sample_app):
    user_id = _sample_user_with_phone(sample_app)
    assert user_id
    client = sample_app.test_client()
    sample_app.config["CAREBIZ_INBOUND_TOKENS"] = "sms=s3cret"
    answer = client.post("/api/v1/notifications/inbound/sms", json={
        "sender": "138 0013 8000", "text": "ping"}, headers={"X-Gateway-Token": "s3cret"})
    assert answer.status_code == 200
    assert answer.get_json() == {"reply": "pong for sales on sms"}
    other = client.post("/api/v1/notifications/inbound/sms", json={
        "sender": "+8613800138000", "text": "what?"}, headers={"X-Gateway-Token": "s3cret"})
    assert "not understood" in other.get_json()["reply"]
