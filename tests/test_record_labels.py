"""A reference to a record reads as its record page's label and id ("Wash ticket 12") in the
reader's language, on the timeline, in the audit log and in the recent trail."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_babel import force_locale
from flask_login import login_user

from carebiz import db
from carebiz.crm.timeline import add_entry
from carebiz.models import User
from carebiz.testing import login, make_customer
from carebiz.web.links import record_label


def test_labels_read_label_and_id_in_the_readers_language(
        sample_app: Flask, sample_seeded: dict[str, Any]) -> None:
    with sample_app.test_request_context():
        login_user(db.session().get(User, sample_seeded["users"]["sales"]))
        with force_locale("en"):
            assert record_label("sample_record", 12) == "Wash ticket 12"
            assert record_label("party", "7") == "Customer 7"
        with force_locale("zh_CN"):
            assert record_label("party", 7) == "客户 7"
            assert record_label("vehicle", 3) == "车辆 3"
            # no Chinese text for the plugin's label in any catalog: its English text
            assert record_label("sample_record", 12) == "Wash ticket 12"
        assert record_label("no_page_for_this", 4) == "no_page_for_this 4"


def test_a_timeline_link_to_a_plugin_record_reads_its_label(
        sample_app: Flask, sample_seeded: dict[str, Any]) -> None:
    ext = sample_app.extensions["carebiz"]
    with sample_app.test_request_context(), ext.session_factory() as sess:
        party = make_customer(sess, "王小明", sample_seeded["branches"]["A"])
        add_entry(sess, party_id=party.id, kind="sample.visit", subject="Washed",
                  ref_type="sample_record", ref_id=12, user=None)
        sess.commit()
        party_id = party.id
    client = sample_app.test_client()
    assert login(client, "sales").status_code == 302
    html = client.get(f"/customers/{party_id}", headers={"Accept-Language": "en"}
                      ).get_data(as_text=True)
    assert '<a href="/sample/records/12">Wash ticket 12</a>' in html
    assert "sample_record 12" not in html


def test_the_audit_log_names_records_by_label(sample_app: Flask,
                                               sample_seeded: dict[str, Any]) -> None:
    ext = sample_app.extensions["carebiz"]
    with sample_app.test_request_context(), ext.session_factory() as sess:
        party = make_customer(sess, "李娜", sample_seeded["branches"]["A"])
        sess.commit()
        party_id = party.id
    client = sample_app.test_client()
    assert login(client, "admin").status_code == 302
    html = client.get(f"/admin/audit?entity_type=party&entity_id={party_id}",
                      headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert f"客户 {party_id}</a>" in html
    assert f"party {party_id}</a>" not in html


def test_the_recent_trail_names_an_unnamed_record_by_its_label(
        sample_app: Flask, sample_seeded: dict[str, Any]) -> None:
    from carebiz.crm.services.recent import record_view

    ext = sample_app.extensions["carebiz"]
    with sample_app.test_request_context(), ext.session_factory() as sess:
        record_view(sess, sess.get(User, sample_seeded["users"]["sales"]), "sample_record",
                    12, "")  # a plugin that stores no name for its record
        sess.commit()
    client = sample_app.test_client()
    assert login(client, "sales").status_code == 302
    html = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'data-recent="sample_record">Wash ticket 12</a>' in html


def test_id_urls_are_built_once_per_process_and_stay_url_for(app, seeded):
    """``id_url`` keeps its URL functions per app, host and script root: each id and fixed
    value reads as ``url_for`` writes it, a second request builds nothing, an app served
    under another root or host gets its own, and an unknown endpoint raises as ``url_for``."""
    import pytest
    from flask import url_for
    from werkzeug.routing import BuildError

    from carebiz.web import links
    from carebiz.web.links import id_url

    with app.test_request_context("/"):
        edit = id_url("crm.customer_edit", "party_id")
        assert [edit(i) for i in (1, "42", 918273645)] == [
            url_for("crm.customer_edit", party_id=i) for i in (1, 42, 918273645)]
        pdf = id_url("documents_api.DocumentItem", "record_id", type_name="a b", format="pdf")
        assert pdf(7) == url_for("documents_api.DocumentItem", type_name="a b", record_id=7,
                                 format="pdf")
        assert id_url("crm.vehicle_new", "owner_id")(5) == url_for("crm.vehicle_new",
                                                                   owner_id=5)
        with pytest.raises(BuildError):
            id_url("no.such_endpoint", "x")
    built = len(app.extensions[links.ID_URLS])
    with app.test_request_context("/"):
        assert id_url("crm.customer_edit", "party_id") is edit
    assert len(app.extensions[links.ID_URLS]) == built
    with app.test_request_context("/", base_url="http://shop.example/carebiz/"):
        moved = id_url("crm.customer_edit", "party_id")
        assert moved(3) == url_for("crm.customer_edit", party_id=3)
        assert moved(3).startswith("/carebiz/") and moved is not edit
