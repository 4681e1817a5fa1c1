"""Languages: per-user choice remembered, Accept-Language, <html lang>, locale formatting."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask import render_template_string

from tests.conftest import login


def test_accept_language_and_html_lang(app, seeded):
    client = app.test_client()
    page = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert b'<html lang="zh-CN">' in page.data
    page = client.get("/login", headers={"Accept-Language": "en-US"})
    assert b'<html lang="en">' in page.data


def test_language_switch_is_remembered_per_user(app, seeded):
    client = app.test_client()
    login(client, "sales")
    resp = client.post("/language/zh_CN", data={"next": "/"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    assert b'<html lang="zh-CN">' in client.get("/").data
    other = app.test_client()  # a new browser: the user's saved choice wins
    login(other, "sales")
    assert b'<html lang="zh-CN">' in other.get("/", headers={"Accept-Language": "en"}).data
    assert client.post("/language/xx").status_code == 302


def test_locale_formatting(app):
    when = dt.datetime(2026, 3, 1, 4, 30, tzinfo=dt.UTC)
    tpl = "{{ n|number }} | {{ a|money('CNY') }} | {{ a|money('USD') }} | {{ w|date }}"
    with app.test_request_context(headers={"Accept-Language": "en"}):
        out = render_template_string(tpl, n=Decimal("1234.5"), a=Decimal("1234.5"), w=when)
    assert out == "1,234.5 | CN¥1,234.50 | $1,234.50 | Mar 1, 2026"
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        out = render_template_string(tpl, n=Decimal("1234.5"), a=Decimal("1234.5"), w=when)
    assert out == "1,234.5 | ¥1,234.50 | US$1,234.50 | 2026年3月1日"


def test_audit_summaries_and_job_status_are_shown_in_the_readers_language(app, seeded):
    from carebiz.models import AuditEntry, Job

    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        from carebiz import db

        entry = db.session().query(AuditEntry).filter_by(event="user.created").first()
        assert entry.summary == "User %(name)s created"  # stored untranslated
        assert entry.summary_text == f"用户 {entry.summary_args['name']} 已创建"
        assert entry.actor_label == "系统"
        assert Job(status="running").status_label == "运行中"
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert entry.summary_text == f"User {entry.summary_args['name']} created"


def test_http_errors_in_the_readers_language(app):
    client = app.test_client()
    resp = client.get("/api/v1/nowhere", headers={"Accept-Language": "zh-CN"})
    assert resp.status_code == 404
    assert resp.get_json()["message"] == "该内容不存在，或其所属子系统已关闭。"
    page = client.get("/nowhere", headers={"Accept-Language": "en"})
    assert b"This does not exist, or its subsystem is switched off." in page.data


def test_number_reads_as_a_records_number_in_headers_and_numeric_as_a_field_type(app):
    """编号 heads a column of record numbers; 数字 is the kind of value a custom field holds."""
    from carebiz.crm.forms import FIELD_TYPE_LABELS

    host = app.extensions["carebiz"].host
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        sources = {s.name: s for s in host.collect("query_sources")}
        id_labels = {str(f.label) for s in sources.values() for f in s.fields if f.name == "id"}
        assert id_labels == {"编号"}
        assert str(FIELD_TYPE_LABELS["number"]) == "数字"
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert str(FIELD_TYPE_LABELS["number"]) == "Number"


def test_datetime_filter_reads_as_babel_writes_it(app):
    """The filter looks Babel's patterns up once per language; the text stays Babel's own."""
    import random

    from flask_babel import force_locale, format_datetime

    from carebiz.i18n import datetime_filter

    rng = random.Random(8)
    start = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    values = [start + dt.timedelta(seconds=rng.randrange(0, 10**8)) for _ in range(60)]
    values += [v.replace(tzinfo=None) for v in values[:10]]  # naive values are UTC
    with app.test_request_context("/"):
        for code in ("en", "zh_CN"):
            with force_locale(code):
                for fmt in ("short", "medium", "long", "full", "yyyy-MM-dd HH:mm"):
                    for value in values:
                        assert datetime_filter(value, fmt) == format_datetime(value, fmt)
        assert datetime_filter(None) == ""


def test_remembered_catalog_follows_each_language_change(app):
    """The request's catalog is remembered, but ``force_locale`` (e-mails and documents in
    the recipient's language) and ``refresh`` (a language switch) still translate in the
    language they name, and lazy labels follow."""
    from flask_babel import force_locale, gettext, lazy_gettext, refresh

    label = lazy_gettext("Vehicle")
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert (gettext("Customers"), str(label)) == ("Customers", "Vehicle")
        with force_locale("zh_CN"):
            assert (gettext("Customers"), str(label)) == ("客户", "车辆")
        assert (gettext("Customers"), str(label)) == ("Customers", "Vehicle")
        from flask import session

        session["locale"] = "zh_CN"
        refresh()
        assert (gettext("Customers"), str(label)) == ("客户", "车辆")
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert gettext("Customers") == "客户"
    with app.app_context():  # no request: the configured default language
        assert gettext("Customers") == "Customers"


def test_days_and_times_in_the_business_zone_as_babel_writes_them(make_app):
    """The date and datetime filters find the language and zone once per request; the day
    of a late-evening UTC moment is the next day in Shanghai, as Babel says, and naive
    values count as UTC."""
    from flask_babel import force_locale, format_date, format_datetime

    from carebiz.i18n import date_filter, datetime_filter

    app = make_app(CAREBIZ_TIMEZONE="Asia/Shanghai", BABEL_DEFAULT_TIMEZONE="Asia/Shanghai")
    late = dt.datetime(2026, 3, 1, 20, 30, tzinfo=dt.UTC)
    with app.test_request_context("/"):
        for code in ("en", "zh_CN"):
            with force_locale(code):
                for value in (late, late.replace(tzinfo=None)):
                    assert date_filter(value) == format_date(value)
                    assert datetime_filter(value, "short") == format_datetime(value, "short")
        assert date_filter(late) == "Mar 2, 2026"
        assert date_filter(dt.date(2026, 3, 1)) == "Mar 1, 2026"


def test_time_of_day_written_as_babel_writes_it():
    """The time of a plain pattern is written without Babel: every minute of the day (each
    with another second) reads as Babel's own text, in both languages and in patterns with
    quoted text and padded fields; a pattern with any other field goes to Babel."""
    from babel import Locale
    from babel.dates import get_time_format, parse_pattern

    from carebiz.i18n import _datetime_patterns, _time_writer

    day = dt.date(2026, 3, 1)
    moments = [dt.datetime.combine(day, dt.time(minute // 60, minute % 60, minute * 7 % 60))
               for minute in range(24 * 60)]
    for code in ("en", "zh_Hans_CN"):
        locale = Locale.parse(code)
        patterns = [get_time_format(fmt, locale=locale).pattern for fmt in ("short", "medium")]
        patterns += ["HH:mm:ss", "hh 'o''clock' a, {m}", "H'h'm", "a h:mm:ss"]
        for pattern in patterns:
            write, parsed = _time_writer(pattern, locale), parse_pattern(pattern)
            assert write is not None, pattern
            for moment in moments:
                assert write(moment, locale) == parsed.apply(moment.time(), locale), \
                    (code, pattern, moment)
        for pattern in ("h:mm:ss a zzzz", "K:mm", "HH:mm:ss.SSS", "B h:mm"):
            assert _time_writer(pattern, locale) is None
        # the formats with a zone keep Babel's writer
        assert _datetime_patterns(code, "full")[1](moments[600], locale) == parse_pattern(
            get_time_format("full", locale=locale)).apply(moments[600].timetz(), locale,
                                                          reference_date=day)


def test_templates_translate_as_jinjas_own_gettext_does(app):
    """``_``, ``gettext``, ``ngettext`` and ``{% trans %}`` in templates ask the request's
    catalog directly; what they write is what Jinja's new-style callables write, escaped
    where the template escapes and not where it does not."""
    import jinja2

    from carebiz.i18n import translations

    source = ('{{ _("Customers") }}|{{ gettext("For %(name)s", name="<b>&") }}|'
              '{{ ngettext("%(num)s return visit", "%(num)s return visits", 3) }}|'
              '{{ ngettext("%(num)s return visit", "%(num)s return visits", 1) }}|'
              '{% trans %}Customers{% endtrans %}|{{ _("100%% sure") }}|'
              '{% autoescape false %}{{ _("For %(name)s", name="<b>") }}{% endautoescape %}')
    stock = jinja2.Environment(extensions=["jinja2.ext.i18n"], autoescape=True)
    stock.install_gettext_callables(
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n), newstyle=True)
    for code in ("en", "zh-CN"):
        with app.test_request_context(headers={"Accept-Language": code}):
            ours = app.jinja_env.from_string(source).render()
            assert ours == stock.from_string(source).render()
            assert "&lt;b&gt;&amp;" in ours and ours.endswith("<b>")
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert app.jinja_env.from_string('{{ _("Customers") }}').render() == "客户"
