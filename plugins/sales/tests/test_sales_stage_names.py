"""Stage names in English and Chinese (each reader sees theirs, else the other one, else a
built-in code's built-in name), an older client's single ``label`` put by its script
without erasing a translation, the migration that split existing names, and the stage
set's ``version`` on ``GET/PUT /api/v1/sales/pipeline/stages`` (stale: 409)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask_babel import force_locale
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from carebiz.concurrency import VersionConflict
from carebiz.errors import ValidationFailed
from carebiz.models import User
from carebiz.query.labels import Labeller
from carebiz_plugins.sales.models import SalesPipelineStage
from carebiz_plugins.sales.queries import SOURCES
from carebiz_plugins.sales.services import opportunities as rules
from carebiz_plugins.sales.services import stage_names as names

STAGES_URL = "/api/v1/sales/pipeline/stages"
EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}

#: lead in both languages, offer only in Chinese, the built-in won and lost codes unnamed
BYD = [{"code": "lead", "labels": {"en": "Lead", "zh_Hans": "线索"}, "probability": 5},
       {"code": "offer", "labels": {"zh_Hans": "报价单"}, "probability": 60},
       {"code": "won", "probability": 100, "kind": "won"},
       {"code": "lost", "probability": 0, "kind": "lost"}]


def read(app: Flask, session: Session, branch_id: int | None, brand: str,
         locale: str) -> list[str]:
    with app.test_request_context(), force_locale(locale):
        return [s.label for s in rules.stages_for(session, branch_id, brand)]


# -- services --------------------------------------------------------------------------------

def test_each_reader_sees_their_language_else_the_other_else_the_built_in_name(
        app: Flask, session: Session, seeded: dict[str, Any]) -> None:
    rules.set_stages(session, None, "BYD", BYD, user=None)
    session.commit()
    assert read(app, session, None, "BYD", "en") == ["Lead", "报价单", "Won", "Lost"]
    assert read(app, session, None, "BYD", "zh_CN") == ["线索", "报价单", "成交", "战败"]
    saved = rules.stages_for(session, None, "BYD")
    assert [s.labels for s in saved[:2]] == [{"en": "Lead", "zh_Hans": "线索"},
                                             {"en": "", "zh_Hans": "报价单"}]
    # the built-in stages read in the reader's language too
    assert read(app, session, None, "", "zh_CN")[0] == "初次接触"
    assert read(app, session, None, "", "en")[0] == "First contact"


def test_one_label_goes_by_its_script_and_erases_no_translation(
        session: Session, seeded: dict[str, Any]) -> None:
    rules.set_stages(session, None, "BYD", BYD, user=None)
    legacy = [{"code": "lead", "label": "线索"},  # a name it has: both kept
              {"code": "offer", "label": "Offer sent"},  # a new English name
              {"code": "won", "label": "成交"},  # the built-in name: stays built-in
              {"code": "lost", "label": "战败了", "kind": "lost"}]
    legacy[2]["kind"] = "won"
    rules.set_stages(session, None, "BYD", legacy, user=None)
    got = {s.code: (s.label_en, s.label_zh) for s in rules.stages_for(session, None, "BYD")}
    assert got == {"lead": ("Lead", "线索"), "offer": ("Offer sent", ""), "won": ("", ""),
                   "lost": ("", "战败了")}
    assert names.language_of("Test drive 试驾") == names.ZH
    assert names.language_of("Tëst") == names.EN


def test_names_in_another_language_are_refused(session: Session,
                                               seeded: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed) as bad:
        rules.set_stages(session, None, "", [
            {"code": "a", "labels": {"fr": "Piste"}}, {"code": "w", "kind": "won"},
            {"code": "l", "kind": "lost"}], user=None)
    assert "stages[0].labels" in bad.value.errors
    assert "en, zh_Hans" in str(bad.value.errors["stages[0].labels"])


def test_the_version_changes_with_either_name_and_a_stale_one_is_refused(
        session: Session, seeded: dict[str, Any]) -> None:
    a = seeded["branches"]["A"]
    empty = rules.stages_version(session, a, "BYD")
    rules.set_stages(session, a, "BYD", BYD, user=None, expected_version=empty)
    first = rules.stages_version(session, a, "BYD")
    assert first != empty
    renamed = [dict(BYD[0], labels={"en": "Lead", "zh_Hans": "潜客"}), *BYD[1:]]
    rules.set_stages(session, a, "BYD", renamed, user=None, expected_version=[first])
    assert rules.stages_version(session, a, "BYD") != first
    with pytest.raises(VersionConflict) as stale:
        rules.set_stages(session, a, "BYD", BYD, user=None, expected_version=first)
    assert stale.value.details["current_version"] == rules.stages_version(session, a, "BYD")
    assert rules.stages_for(session, a, "BYD")[0].label_zh == "潜客"


def test_the_query_source_labels_stages_in_the_readers_language(
        app: Flask, session: Session, seeded: dict[str, Any]) -> None:
    rules.set_stages(session, None, "BYD", BYD, user=None)
    rules.set_stages(session, seeded["branches"]["A"], "BYD", [
        {"code": "lead", "labels": {"en": "Branch lead"}}, *BYD[2:]], user=None)
    session.commit()
    source = next(s for s in SOURCES if s.name == "sales_opportunities")
    stage = next(f for f in source.fields if f.name == "stage")
    for locale, lead, first in (("en", "Lead", "First contact"), ("zh_CN", "线索", "初次接触")):
        with app.test_request_context(), force_locale(locale):
            labeller = Labeller(session, source)
            assert labeller.label(stage, "lead") == lead  # the company's make set wins
            assert labeller.label(stage, "first_contact") == first
            assert labeller.label(stage, "dropped") == "dropped"
            assert [code for code, _label in stage.choices][:7] == list(rules.DEFAULT_STAGES)


def test_migration_0004_puts_existing_names_by_their_script(
        make_app: Callable[..., Flask]) -> None:
    from alembic import command

    from carebiz import migrate

    app = make_app(schema=False, CAREBIZ_PLUGINS="sales")
    engine = app.extensions["carebiz"].engine
    with engine.begin() as conn:
        command.upgrade(migrate.alembic_config(app, "core", conn), "heads")
        command.upgrade(migrate.alembic_config(app, "sales", conn), "sales_0003")
    with engine.begin() as conn:
        for i, label in enumerate(("Lead", "线索", "", "VIP 试驾")):
            conn.execute(text(
                "INSERT INTO sales_pipeline_stage (brand, code, label, position, probability, "
                "kind, created_at, updated_at) VALUES ('', :c, :l, :p, 10, 'open', :t, :t)"),
                {"c": f"s{i}", "l": label, "p": i, "t": "2026-01-01 00:00:00+00:00"})
    migrate.upgrade(app)
    assert migrate.current(app)["sales"] == ("sales_0004",)
    assert migrate.differences(app, "sales") == []
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT code, label, label_zh FROM sales_pipeline_stage "
                                 "ORDER BY position")).all()
    assert [tuple(r) for r in rows] == [("s0", "Lead", ""), ("s1", "", "线索"), ("s2", "", ""),
                                        ("s3", "", "VIP 试驾")]
    with engine.begin() as conn:
        command.downgrade(migrate.alembic_config(app, "sales", conn), "sales_0003")
    with engine.connect() as conn:
        labels = conn.execute(text("SELECT label FROM sales_pipeline_stage "
                                   "ORDER BY position")).scalars().all()
    assert labels == ["Lead", "线索", "", "VIP 试驾"]


# -- the API ---------------------------------------------------------------------------------

def test_get_and_put_carry_the_sets_version(app: Flask, api_client: Any,
                                            seeded: dict[str, Any]) -> None:
    api = api_client("manager")
    scope = {"branch": seeded["branches"]["A"], "brand": "BYD"}
    got = api.get(STAGES_URL, query_string=scope, headers=ZH)
    body = got.get_json()
    assert got.status_code == 200 and body["inherited"] is True
    assert body["stages"][0]["label"] == "初次接触"
    assert got.headers["ETag"] == f'"{body["version"]}"'
    saved = api.put(STAGES_URL, query_string=scope, headers=ZH,
                    json={"stages": BYD, "version": body["version"]})
    assert saved.status_code == 200, saved.get_json()
    after = saved.get_json()
    assert after["inherited"] is False and after["version"] != body["version"]
    assert [s["label"] for s in after["stages"]] == ["线索", "报价单", "成交", "战败"]
    assert after["stages"][1]["labels"] == {"en": "", "zh_Hans": "报价单"}
    english = api.get(STAGES_URL, query_string=scope, headers=EN).get_json()
    assert [s["label"] for s in english["stages"]] == ["Lead", "报价单", "Won", "Lost"]
    assert english["version"] == after["version"]

    stale = api.put(STAGES_URL, query_string=scope,
                    json={"stages": [], "version": body["version"]})
    assert stale.status_code == 409
    problem = stale.get_json()
    assert problem["current_version"] == after["version"]
    assert "Someone else changed these stages" in problem["message"]
    by_header = api.put(STAGES_URL, query_string=scope, json={"stages": []},
                        headers={"If-Match": f'"{body["version"]}"'})
    assert by_header.status_code == 409
    differ = api.put(STAGES_URL, query_string=scope, json={"stages": [], "version": 1},
                     headers={"If-Match": f'"{after["version"]}"'})
    assert differ.status_code == 422
    # without a version the last save wins, as on every versioned write
    assert api.put(STAGES_URL, query_string=scope, json={"stages": []}).status_code == 200
    assert api.get(STAGES_URL, query_string=scope).get_json()["inherited"] is True


def test_the_api_refuses_names_it_cannot_keep(api_client: Any) -> None:
    api = api_client("manager")
    for labels in ({"fr": "Piste"}, {"en": "x" * 81}, "Lead"):
        bad = api.put(STAGES_URL, json={"stages": [{"code": "a", "labels": labels},
                                                   {"code": "w", "kind": "won"},
                                                   {"code": "l", "kind": "lost"}]})
        assert bad.status_code == 422, labels
    bad_version = api.put(STAGES_URL, json={"stages": [], "version": "new"})
    assert bad_version.status_code == 422


def test_opportunities_name_their_stage_in_the_readers_language(
        app: Flask, session: Session, seeded: dict[str, Any], api_client: Any,
        client_for: Any, people: dict[str, int]) -> None:
    rules.set_stages(session, None, "BYD", BYD, user=None)
    session.commit()
    api = api_client("sales")
    made = api.post("/api/v1/sales/opportunities", json={
        "customer_id": people["alice"], "brand": "BYD", "model": "汉 EV",
        "expected_value": "220000"}).get_json()
    url = f"/api/v1/sales/opportunities/{made['id']}"
    assert api.get(url, headers=EN).get_json()["stage_label"] == "Lead"
    assert api.get(url, headers=ZH).get_json()["stage_label"] == "线索"
    web = client_for("sales")
    assert "Lead" in web.get("/sales/pipeline", headers=EN).get_data(as_text=True)
    board = web.get("/sales/pipeline", headers=ZH).get_data(as_text=True)
    assert "线索" in board and ">Lead <" not in board
    listed = web.get("/sales/opportunities", headers=ZH).get_data(as_text=True)
    assert "线索" in listed
    exported = web.get("/sales/opportunities?format=csv", headers=EN).get_data(as_text=True)
    assert "Lead" in exported


# -- the setup page --------------------------------------------------------------------------

def test_the_setup_page_edits_both_names(app: Flask, session: Session,
                                        seeded: dict[str, Any], client_for: Any) -> None:
    web = client_for("manager")
    page = web.get("/sales/pipeline/setup?brand=BYD", headers=ZH).get_data(as_text=True)
    assert 'name="label_en-0"' in page and 'name="label_zh-0"' in page
    assert 'placeholder="初次接触"' in page and 'placeholder="First contact"' in page
    assert "中文名称" in page and "英文名称" in page
    version = re.search(r'name="version" type="hidden" value="(\d+)"', page) or re.search(
        r'name="version" value="(\d+)"', page)
    assert version
    data = {"version": version.group(1)}
    for i, (code, en, zh, probability, kind) in enumerate((
            ("lead", "Lead", "线索", "5", "open"), ("offer", "", "报价单", "60", "open"),
            ("deal", "Deal", "", "100", "won"), ("gone", "Lost", "战败", "0", "lost"))):
        data.update({f"code-{i}": code, f"label_en-{i}": en, f"label_zh-{i}": zh,
                     f"probability-{i}": probability, f"kind-{i}": kind,
                     f"position-{i}": str(i + 1)})
    saved = web.post("/sales/pipeline/setup?brand=BYD", data=data)
    assert saved.status_code == 302, saved.get_data(as_text=True)[:1500]
    rows = session.scalars(select(SalesPipelineStage).where(
        SalesPipelineStage.brand == "BYD").order_by(SalesPipelineStage.position)).all()
    assert [(r.code, r.label, r.label_zh) for r in rows] == [
        ("lead", "Lead", "线索"), ("offer", "", "报价单"), ("deal", "Deal", ""),
        ("gone", "Lost", "战败")]
    again = web.get("/sales/pipeline/setup?brand=BYD").get_data(as_text=True)
    assert 'name="label_zh-1" value="报价单"' in again and 'name="label_en-1" value=""' in again
    # a branch inheriting the make's set starts from its names, not from empty boxes
    branch = web.get(f"/sales/pipeline/setup?brand=BYD&branch_id={seeded['branches']['A']}")
    html = branch.get_data(as_text=True)
    assert "data-inherited" in html and 'name="label_en-0" value="Lead"' in html


def test_demo_pipeline_is_named_in_both_languages(app: Flask, session: Session,
                                                 seeded: dict[str, Any]) -> None:
    from carebiz.models import Branch
    from carebiz_plugins.sales import demo, demo_pipeline

    branches = list(session.scalars(select(Branch).order_by(Branch.id)))
    users = {u.username: u for u in session.scalars(select(User))}
    users["salesperson"] = users["sales"]
    demo.load(session, branches, users)
    session.commit()
    own = rules.own_stages(session, branches[0].id, demo_pipeline.MAKE)
    assert [r.code for r in own] == [code for code, *_rest in demo_pipeline.STAGES]
    assert all(r.label and r.label_zh for r in own)
    assert read(app, session, branches[0].id, demo_pipeline.MAKE, "zh_CN")[-2] == "已签单"
    version = rules.stages_version(session, branches[0].id, demo_pipeline.MAKE)
    demo.load(session, branches, users)
    session.commit()
    assert rules.stages_version(session, branches[0].id, demo_pipeline.MAKE) == version


def test_two_first_company_sets_saved_at_once_keep_one(app: Flask,
                                                       seeded: dict[str, Any]) -> None:
    """The company's first set of a make has no row to lock: two saves from the same (empty)
    version at the same moment must not both pass the version check — one is saved, the
    other is a 409 naming the set now saved."""
    import threading

    from carebiz.testing import token_for

    headers = {"Authorization": f"Bearer {token_for(app, 'admin')}"}
    scope = {"brand": "NIO"}
    empty = app.test_client().get(STAGES_URL, query_string=scope,
                                  headers=headers).get_json()["version"]
    barrier = threading.Barrier(2)
    answers: list[Any] = [None, None]

    def save(i: int, first: str) -> None:
        client = app.test_client()
        stages = [dict(BYD[0], labels={"en": first}), *BYD[1:]]
        barrier.wait()
        answers[i] = client.put(STAGES_URL, query_string=scope, headers=headers,
                                json={"stages": stages, "version": empty})

    threads = [threading.Thread(target=save, args=(i, name))
               for i, name in enumerate(("Lead one", "Lead two"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(a.status_code for a in answers) == [200, 409], [a.get_json() for a in answers]
    won = next(a for a in answers if a.status_code == 200).get_json()
    lost = next(a for a in answers if a.status_code == 409).get_json()
    assert lost["current_version"] == won["version"]
    now = app.test_client().get(STAGES_URL, query_string=scope, headers=headers).get_json()
    assert now["version"] == won["version"] and now["inherited"] is False
