"""Company templates are bounded in time and memory (issue 8): loops, big strings, big
numbers and big output are refused on save with the reason, and a template over a limit at
print time answers a clear error instead of hanging the worker."""

from __future__ import annotations

from typing import Any

import pytest

from tests.test_document_templates import EDIT, TYPE, save
from tests.test_documents import add_customer


@pytest.fixture
def customer(app: Any, seeded: dict[str, Any]) -> int:
    return add_customer(app, seeded["branches"]["A"])


LOOPS = "{% for i in range(3000) %}{% for j in range(3000) %}{% endfor %}{% endfor %}"


@pytest.mark.parametrize(("body", "reason"), [
    (LOOPS, "loop"),
    ("{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(1000) %}"
     "{% endfor %}{% endfor %}{% endfor %}", "loop"),
    ("{{ 'x' * 50000000 }}", "too long"),
    ("{{ ['x'] * 50000000 }}", "too long"),
    ("{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
     "{% endfor %}{{ ns.s|length }}", "too long"),
    ("{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}"
     "{% endfor %}{{ ns.s|length }}", "too long"),
    ("{{ 'x'|center(100000000) }}", "too long"),
    ("{{ 'x'.ljust(100000000) }}", "too long"),
    ("{{ '%100000000d'|format(1) }}", "too long"),
    ("{{ '%100000000d' % 1 }}", "too long"),
    ("{{ '{:>100000000}'.format(1) }}", "too long"),
    ("{{ 10 ** (10 ** 10) }}", "too large"),
    ("{{ range(10 ** 9)|list|length }}", "range"),
    ("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}", "output"),
])
def test_costly_templates_are_refused_on_save(admin_client: Any, body: str,
                                              reason: str) -> None:
    resp = save(admin_client, body=f"<p>x</p>\n{body}")
    assert resp.status_code == 422, resp.data[:500]
    text = resp.get_data(as_text=True)
    assert "invalid-feedback" in text
    assert reason in text.lower(), text[:2000]


def test_ordinary_loops_and_strings_still_work(admin_client: Any, customer: int) -> None:
    body = ("<p>{% for i in range(200) %}{% for line in doc.lines %}{{ line.ref }}"
            "{% endfor %}{% endfor %}</p><p>{{ '-' * 40 }}</p><p>{{ 2 ** 10 }}</p>"
            "<p>{{ '{:>8}'.format(doc.count) }}|{{ '%05d'|format(7) }}</p>")
    resp = save(admin_client, body=body)
    assert resp.status_code == 302, resp.data[:500]
    html = admin_client.get(f"/api/v1/documents/{TYPE}/{customer}?format=html")
    assert html.status_code == 200
    text = html.get_data(as_text=True)
    assert "-" * 40 in text and "1024" in text and "|00007" in text


def test_a_template_over_the_limits_at_print_time(app: Any, admin_client: Any,
                                                  customer: int) -> None:
    """Stored before the limits existed (or fine with sample data but not with a real
    record): printing answers a clear 422, at once."""
    from carebiz.documents.models import DocumentTemplate

    body = ("{% for line in doc.lines %}{% for i in range(1000) %}{% for j in range(1000) %}"
            "{% endfor %}{% endfor %}{% endfor %}")
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        sess.add(DocumentTemplate(doc_type=TYPE, body=body, terms=""))
        sess.commit()
    resp = admin_client.get(f"/api/v1/documents/{TYPE}/{customer}?format=html")
    assert resp.status_code == 422, resp.data[:500]
    body = resp.get_json()
    assert "loop" in body["message"].lower()
    resp = admin_client.get(f"/api/v1/documents/{TYPE}/{customer}?format=pdf")
    assert resp.status_code == 422
    preview = admin_client.get(f"{EDIT}/preview")
    assert preview.status_code == 422


def test_the_template_source_size_is_limited(admin_client: Any) -> None:
    from carebiz.documents.custom import MAX_BODY

    resp = save(admin_client, body="<p>x</p>" * (MAX_BODY // 8 + 1))
    assert resp.status_code == 422
    assert "At most" in resp.get_data(as_text=True)


def test_a_long_chinese_template_reaches_the_check(admin_client: Any) -> None:
    """A template of 180,000 Chinese characters is 540 KB of form data: more than Werkzeug's
    default for a form field, but within the template's own limit, so it is checked and
    saved; one character more than the limit is refused with the limit, not a bare 413."""
    from carebiz.documents.custom import MAX_BODY

    resp = save(admin_client, body="<p>" + "字" * 180_000 + "</p>")
    assert resp.status_code == 302, resp.data[:300]
    resp = save(admin_client, body="字" * (MAX_BODY + 1))
    assert resp.status_code == 422
    assert "At most" in resp.get_data(as_text=True)
