"""``carebiz.web.fields.form_field`` writes what the ``field`` macro of ``macros.html`` writes
(the 360° page's entry form uses it instead of five macro calls): the same HTML for every
kind of field and state, but for the whitespace between tags."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    EmailField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional

from carebiz.web.admin_forms import options
from carebiz.web.fields import form_field


class _Form(FlaskForm):
    class Meta:
        csrf = False

    kind = SelectField("What", choices=options([("call", "Call"),
                                                ("visit", 'Visit "in" <person>')]))
    subject = StringField("Subject", validators=[Length(max=200)])
    name = StringField("Name <b>", validators=[DataRequired()],
                       render_kw={"autocomplete": "off", "data_role": "name"})
    styled = StringField("Styled", render_kw={"class": "ignored", "placeholder": "a & b"})
    body = TextAreaField("Details", render_kw={"rows": 2})
    due_at = DateTimeLocalField("Due", validators=[Optional()], format="%Y-%m-%dT%H:%M",
                                description="For tasks & return visits.")
    email = EmailField("E-mail")
    count = IntegerField("Count")
    done = BooleanField("Done")
    secret = HiddenField()
    branch = SelectField("Branch", choices=options([("1", "A")]))


def _macro(app: Any, field: Any) -> str:
    template = app.jinja_env.from_string(
        '{% from "macros.html" import field as f %}{{ f(field) }}')
    return template.render(field=field)


def _same(html: str) -> str:
    return re.sub(r">\s+<", "><", html).strip()


@pytest.mark.parametrize("state", ["empty", "filled", "invalid"])
def test_form_field_writes_what_the_field_macro_writes(app, state):
    data = {"kind": "visit", "subject": 'He said "hi" & left', "name": "Wang <Wei>",
            "styled": "x", "body": "line 1\nline <2>", "due_at": "2026-12-04T10:00",
            "email": "a@b.cn", "count": "7", "done": "y", "secret": "s&t", "branch": "1"}
    with app.test_request_context(method="POST", data=data if state != "empty" else {}):
        form = _Form()
        if state == "invalid":
            form.validate()
            form.subject.errors = ["Too long & wrong."]
            form.done.errors = ["Say <yes>."]
        form.branch.flags.hidden = True
        for field in form:
            assert _same(str(form_field(field))) == _same(_macro(app, field)), field.name


def test_entry_form_on_the_360_page_is_written_by_form_field(client_for, app, seeded):
    from carebiz.testing import make_customer

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        party = make_customer(sess, "Lin Fang", seeded["branches"]["A"])
        sess.commit()
        party_id = party.id
    page = client_for("sales").get(f"/customers/{party_id}").data.decode()
    form = page.split('data-testid="timeline-form"', 1)[1].split("</form>", 1)[0]
    assert '<label class="form-label" for="kind">' in form
    assert '<input class="form-control" id="subject" maxlength="200" name="subject" ' \
           'type="text" value="">' in form
    assert '<textarea class="form-control" id="body" name="body" rows="2">' in form
    assert 'type="datetime-local"' in form and 'class="form-text"' in form
