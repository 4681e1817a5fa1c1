"""A document builder written from the guide (``DocumentBuilder``) is called exactly as
documented: with the user, so its row filters apply and another branch's record is 404."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask import Flask

from carebiz.testing import token_for
from carebiz.testing.plugin import ApiClient
from tests.sample_plugin import plugin as sample


def add_record(app: Flask, branch_id: int, title: str) -> int:
    from tests.sample_plugin.models import SampleRecord

    ext = app.extensions["carebiz"]
    with app.app_context(), ext.session_factory() as sess:
        record = SampleRecord(title=title, branch_id=branch_id)
        sess.add(record)
        sess.commit()
        return record.id


@pytest.fixture
def records(sample_app: Flask, sample_seeded: dict[str, Any]) -> dict[str, int]:
    branches = sample_seeded["branches"]
    return {"own": add_record(sample_app, branches["A"], "Own slip"),
            "other": add_record(sample_app, branches["B"], "Other slip")}


def slip_url(record_id: int) -> str:
    return f"/api/v1/documents/sample.slip/{record_id}?format=docx"


def test_the_builder_receives_the_user_and_the_locale(sample_app: Flask,
                                                      records: dict[str, int]) -> None:
    from docx import Document

    sample.SLIP_CALLS.clear()
    client = ApiClient(sample_app, token_for(sample_app, "sales"))
    resp = client.get(slip_url(records["own"]), headers={"Accept-Language": "en"})
    assert resp.status_code == 200, resp.get_json()
    (call,) = sample.SLIP_CALLS
    assert call == {"record_id": records["own"], "user": "sales", "locale": "en"}
    text = "\n".join(p.text for p in Document(io.BytesIO(resp.data)).paragraphs)
    assert "Own slip" in text


def test_a_branch_limited_user_cannot_print_another_branchs_record(
        sample_app: Flask, records: dict[str, int]) -> None:
    sales = ApiClient(sample_app, token_for(sample_app, "sales"))  # branch A only
    resp = sales.get(slip_url(records["other"]))
    assert resp.status_code == 404
    assert resp.get_json()["code"] == 404
    manager = ApiClient(sample_app, token_for(sample_app, "manager"))  # every branch
    assert manager.get(slip_url(records["other"])).status_code == 200


def test_the_cores_statement_applies_row_filters_through_the_user(
        sample_app: Flask, sample_seeded: dict[str, Any]) -> None:
    from carebiz.documents import service
    from carebiz.errors import NotFound
    from carebiz.services.users import get_user
    from carebiz.testing import make_customer

    ext = sample_app.extensions["carebiz"]
    with sample_app.test_request_context(), ext.session_factory() as sess:
        other = make_customer(sess, "李娜", sample_seeded["branches"]["B"])
        sess.commit()
        doc_type = service.get_type("customer_statement")
        data = service.build(sess, doc_type, other.id, get_user(sess, "manager"), "zh_CN")
        assert data["customer"]["name"] == "李娜"
        with pytest.raises(NotFound):
            service.build(sess, doc_type, other.id, get_user(sess, "sales"), "zh_CN")
