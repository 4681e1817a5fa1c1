"""Company templates of documents (sandboxed overrides, terms, colour, logo) and documents
printed by background jobs."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest

from tests.test_documents import CUSTOMER, add_customer

TYPE = "customer_statement"
EDIT = f"/documents/templates/{TYPE}"
# a 1x1 transparent PNG
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8"
                       "AAAAASUVORK5CYII=")
PNG_URI = "data:image/png;base64," + base64.b64encode(PNG).decode("ascii")


@pytest.fixture
def customer(app: Any, seeded: dict[str, Any]) -> int:
    return add_customer(app, seeded["branches"]["A"])


def html_of(client: Any, party_id: int) -> str:
    resp = client.get(f"/api/v1/documents/{TYPE}/{party_id}?format=html")
    assert resp.status_code == 200, resp.data
    return resp.get_data(as_text=True)


def save(client: Any, **data: Any) -> Any:
    form = {"body": "", "terms": "", "colour": ""}
    form.update(data)
    return client.post(EDIT, data=form, content_type="multipart/form-data")


def test_pages_need_the_settings_permission(app: Any, seeded: dict[str, Any]) -> None:
    from tests.conftest import login

    client = app.test_client()
    login(client, "sales")
    assert client.get("/documents/templates").status_code == 403
    assert client.get(EDIT).status_code == 403


def test_list_and_form_prefilled_with_the_default(admin_client: Any) -> None:
    page = admin_client.get("/documents/templates")
    assert page.status_code == 200
    assert EDIT in page.get_data(as_text=True)
    form = admin_client.get(EDIT)
    assert form.status_code == 200
    body = form.get_data(as_text=True)
    assert "{% extends &#34;documents/base.html&#34; %}" in body \
        or "{% extends &quot;documents/base.html&quot; %}" in body
    assert f"{EDIT}/preview" in body


def test_custom_body_renders(admin_client: Any, customer: int, app: Any) -> None:
    body = ("<html><body><h1 class='mine'>{{ doc.title }} / {{ doc.customer.name }}</h1>"
            "{% for line in doc.lines %}<p>{{ line.ref }}</p>{% endfor %}"
            "<p>{{ _('Total') }}: {{ doc.total_text }}</p></body></html>")
    resp = save(admin_client, body=body)
    assert resp.status_code == 302, resp.data
    html = html_of(admin_client, customer)
    assert "<h1 class='mine'>" in html and CUSTOMER in html
    assert f"RO-{customer}-1" in html
    assert "12,446.67" in html
    pdf = admin_client.get(f"/api/v1/documents/{TYPE}/{customer}?format=pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    # the edit page shows the saved body, the preview renders it with sample data
    assert "class=&#39;mine&#39;" in admin_client.get(EDIT).get_data(as_text=True)
    preview = admin_client.get(f"{EDIT}/preview")
    assert preview.status_code == 200 and "class='mine'" in preview.get_data(as_text=True)
    # the change is audited
    from sqlalchemy import select

    from carebiz.models import AuditEntry

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        entry = sess.scalars(select(AuditEntry)
                             .where(AuditEntry.entity_type == "document_template")).one()
        assert entry.entity_id == TYPE and entry.actor_name == "admin"


def test_the_default_template_source_can_be_saved_and_extended(admin_client: Any,
                                                               customer: int,
                                                               app: Any) -> None:
    from carebiz.documents import custom as customs
    from carebiz.documents import service

    with app.test_request_context():
        default = customs.default_source(service.get_type(TYPE))
    changed = default.replace("<h1>{{ doc.title }}</h1>", "<h1>{{ doc.title }} (copy)</h1>")
    assert changed != default
    assert save(admin_client, body=changed).status_code == 302
    assert "(copy)" in html_of(admin_client, customer)
    # saving the default unchanged drops the override's body
    assert save(admin_client, body=default).status_code == 302
    assert "(copy)" not in html_of(admin_client, customer)


def test_error_is_422_with_the_line(admin_client: Any, customer: int) -> None:
    resp = save(admin_client, body="<p>one</p>\n<p>two</p>\n{% for x in doc.lines %}\n")
    assert resp.status_code == 422
    text = resp.get_data(as_text=True)
    assert "line 4" in text or "line 3" in text
    assert "invalid-feedback" in text
    # a runtime error also names its line
    resp = save(admin_client, body="<p>ok</p>\n<p>{{ doc.count / 0 }}</p>")
    assert resp.status_code == 422
    assert "line 2" in resp.get_data(as_text=True)
    # nothing was saved: the default template still prints
    assert "<h1>" in html_of(admin_client, customer)


@pytest.mark.parametrize("body", [
    "{{ ''.__class__.__mro__ }}",
    "{{ doc.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
])
def test_the_sandbox_blocks_unsafe_attributes(admin_client: Any, body: str) -> None:
    resp = save(admin_client, body=f"<p>x</p>\n{body}")
    assert resp.status_code == 422, resp.data
    text = resp.get_data(as_text=True)
    assert "line 2" in text


def test_sandbox_service_raises_validation(app: Any) -> None:
    from jinja2.sandbox import SecurityError

    from carebiz.documents import custom as customs
    from carebiz.documents import service
    from carebiz.errors import ValidationFailed

    with app.test_request_context():
        doc_type = service.get_type(TYPE)
        with pytest.raises(SecurityError):
            customs.render_body("{{ ''.__class__.__mro__ }}", {})
        with pytest.raises(ValidationFailed) as info:
            customs.check_body(doc_type, "{{ ''.__class__.__mro__ }}")
        assert info.value.status == 422 and "line 1" in info.value.message
        # no app globals beyond the safe ones
        assert customs.render_body("{{ config }}{{ url_for }}{{ request }}", {}) == ""


def test_terms_colour_logo_in_the_default_template(admin_client: Any, customer: int) -> None:
    resp = save(admin_client, terms="款项请于30日内结清。\nThank you.", colour="#1F5FA8",
                logo=(io.BytesIO(PNG), "logo.png", "image/png"))
    assert resp.status_code == 302, resp.data
    html = html_of(admin_client, customer)
    assert "款项请于30日内结清。" in html and "data-doc-terms" in html
    assert "#1f5fa8" in html
    assert PNG_URI in html
    pdf = admin_client.get(f"/api/v1/documents/{TYPE}/{customer}?format=pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    # the logo is kept when the form is saved again without a file, removed on request
    assert save(admin_client, terms="x").status_code == 302
    assert PNG_URI in html_of(admin_client, customer)
    assert save(admin_client, terms="x", remove_logo="y").status_code == 302
    assert PNG_URI not in html_of(admin_client, customer)


def test_bad_colour_and_logo_are_422(admin_client: Any, app: Any) -> None:
    resp = save(admin_client, colour="blue")
    assert resp.status_code == 422 and "#rrggbb" in resp.get_data(as_text=True)
    resp = save(admin_client, logo=(io.BytesIO(b"GIF89a"), "logo.gif", "image/gif"))
    assert resp.status_code == 422
    big = b"\x89PNG" + b"0" * (500 * 1024 + 10)
    resp = save(admin_client, logo=(io.BytesIO(big), "logo.png", "image/png"))
    assert resp.status_code == 422 and "500 KB" in resp.get_data(as_text=True)

    from carebiz.documents import custom as customs
    from carebiz.errors import ValidationFailed

    for bad in ("data:text/html;base64,PGI+", "data:image/png;base64,@@@",
                "https://example.com/logo.png"):
        with pytest.raises(ValidationFailed):
            customs.check_logo(bad)
    assert customs.check_logo(PNG_URI) == PNG_URI


def test_batch_of_25_is_a_background_job(admin_client: Any, app: Any,
                                         seeded: dict[str, Any]) -> None:
    ids = [add_customer(app, seeded["branches"]["A"], f"客户{i}", lines=1) for i in range(25)]
    resp = admin_client.post(f"/api/v1/documents/{TYPE}/batch", json={"ids": ids})
    assert resp.status_code == 202, resp.data
    job = resp.get_json()
    assert job["task"] == "documents.render"
    assert job["status"] == "finished", job
    assert job["result"]["filename"] == f"{TYPE}-batch-25.pdf"
    assert resp.headers["Location"].endswith(f"/api/v1/jobs/{job['id']}")
    page = admin_client.get(f"/jobs/{job['id']}")
    assert page.status_code == 200
    assert f"/export/download/{job['id']}" in page.get_data(as_text=True)
    download = admin_client.get(f"/export/download/{job['id']}")
    assert download.status_code == 200
    assert download.mimetype == "application/pdf"
    assert download.data.startswith(b"%PDF")
    assert f"{TYPE}-batch-25.pdf" in download.headers["Content-Disposition"]

    # only the owner downloads it
    from tests.conftest import login

    other = app.test_client()
    login(other, "manager")
    assert other.get(f"/export/download/{job['id']}").status_code == 404


def test_background_single_document_and_failures(admin_client: Any, app: Any,
                                                 customer: int, seeded: dict[str, Any]) -> None:
    resp = admin_client.get(f"/api/v1/documents/{TYPE}/{customer}?background=1")
    assert resp.status_code == 202, resp.data
    job = resp.get_json()
    assert job["status"] == "finished" and job["result"]["filename"] == f"{TYPE}-{customer}.pdf"
    assert admin_client.get(
        f"/api/v1/documents/{TYPE}/{customer}?background=1&format=docx").status_code == 422
    assert admin_client.get(
        f"/api/v1/documents/nope/{customer}?background=1").status_code == 404
    # a record that does not exist fails the job with a message, nothing to download
    ids = [customer] * 20 + [999999]
    resp = admin_client.post(f"/api/v1/documents/{TYPE}/batch", json={"ids": ids})
    assert resp.status_code == 202
    failed = resp.get_json()
    assert failed["status"] == "failed" and "999999" in failed["error"]
    assert admin_client.get(f"/export/download/{failed['id']}").status_code == 404
